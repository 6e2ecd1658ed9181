"""Executors for the actions that change the ticket itself: type, priority, queue, assignee,
status, tags, SLA, notes, replies, escalation and closing. Registered with the gate at
start-up; only the gate calls them. Directory, RMM and software actions arrive with their
tool adapters.

Each one records its change on the timeline as whoever proposed it (rule, model, agent or
technician), with the action id and the approver in the event's data, and returns what undo
needs to put things back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.text import slugify

from governance.executors import ExecutionError, Executor, executor_register
from governance.kinds import ticket_field_value
from governance.models import Action
from tickets.models import Priority, StaffMember, Ticket, TicketEvent
from tickets.services import (
    Actor,
    ticket_change,
    ticket_message_add,
    ticket_sla_restore,
    ticket_sla_set,
    ticket_tag_add,
)

_ACTOR_KINDS: dict[str, str] = {
    Action.Proposer.RULE: TicketEvent.ActorKind.RULE,
    Action.Proposer.MODEL: TicketEvent.ActorKind.MODEL,
    Action.Proposer.PLAYBOOK: TicketEvent.ActorKind.AGENT,
    Action.Proposer.AGENT: TicketEvent.ActorKind.AGENT,
}


def actor_for(action: Action) -> Actor:
    data: dict[str, Any] = {"action_id": action.id}
    if action.decided_by_id and action.proposer_kind != Action.Proposer.HUMAN:
        data["approved_by"] = action.decided_by_id
    if action.proposer_kind == Action.Proposer.HUMAN:
        return Actor(kind=TicketEvent.ActorKind.HUMAN, staff=action.proposed_by_staff, data=data)
    return Actor(kind=_ACTOR_KINDS[action.proposer_kind], name=action.proposer_label, data=data)


def _undo_actor(staff: StaffMember, action: Action) -> Actor:
    return Actor(kind=TicketEvent.ActorKind.HUMAN, staff=staff, data={"undo_of_action": action.id})


class FieldExecutor(Executor):
    """Sets one ticket field from the action's single parameter."""

    undoable = True

    def __init__(self, field: str, param: str) -> None:
        self.field = field
        self.param = param

    def execute(self, action: Action) -> dict[str, Any]:
        value = action.params[self.param]
        previous = ticket_change(
            ticket_id=action.ticket_id, actor=actor_for(action), changes={self.field: value}
        )
        return {"previous": previous, "changed": bool(previous)}

    def verify(self, action: Action) -> bool | None:
        ticket = Ticket.objects.get(pk=action.ticket_id)
        return bool(ticket_field_value(ticket, self.field) == action.params[self.param])

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        return _restore(action, staff)


def _restore(action: Action, staff: StaffMember) -> dict[str, Any]:
    previous = action.result.get("previous", {})
    if not previous:
        return {"restored": {}}
    ticket_change(ticket_id=action.ticket_id, actor=_undo_actor(staff, action), changes=previous)
    return {"restored": previous}


class MessageExecutor(Executor):
    """An internal note or a reply to the requester. Replies reach the requester through the
    ticket's source once PSA and mail write-back is connected; here the timeline is the record."""

    def __init__(self, public: bool) -> None:
        self.public = public

    def execute(self, action: Action) -> dict[str, Any]:
        ticket = Ticket.objects.get(pk=action.ticket_id)
        event = ticket_message_add(
            ticket=ticket, actor=actor_for(action), body=action.params["body"], public=self.public
        )
        return {"event_id": event.id}

    def verify(self, action: Action) -> bool | None:
        return TicketEvent.objects.filter(pk=action.result.get("event_id")).exists()


class EscalateExecutor(Executor):
    """Moves the ticket to the escalation queue one priority level higher, with the reason
    as an internal note."""

    undoable = True

    def execute(self, action: Action) -> dict[str, Any]:
        ticket = Ticket.objects.get(pk=action.ticket_id)
        if ticket.status in Ticket.DONE_STATUSES:
            raise ExecutionError("The ticket is already resolved; reopen it before escalating.")
        actor = actor_for(action)
        higher = max(Priority.CRITICAL, ticket.priority - 1)
        previous = ticket_change(
            ticket_id=ticket.id,
            actor=actor,
            changes={"queue": action.params["queue"], "priority": higher},
        )
        ticket_message_add(
            ticket=ticket, actor=actor, body=f"Escalated: {action.params['reason']}", public=False
        )
        return {"previous": previous}

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        return _restore(action, staff)


class CloseExecutor(Executor):
    """Resolves the ticket with the resolution as an internal note."""

    undoable = True

    def execute(self, action: Action) -> dict[str, Any]:
        ticket = Ticket.objects.get(pk=action.ticket_id)
        actor = actor_for(action)
        ticket_message_add(
            ticket=ticket,
            actor=actor,
            body=f"Resolution: {action.params['resolution']}",
            public=False,
        )
        previous = ticket_change(
            ticket_id=ticket.id, actor=actor, changes={"status": Ticket.Status.RESOLVED}
        )
        return {"previous": previous}

    def verify(self, action: Action) -> bool | None:
        return Ticket.objects.filter(pk=action.ticket_id, status__in=Ticket.DONE_STATUSES).exists()

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        return _restore(action, staff)


class TagExecutor(Executor):
    """Puts a tag on the ticket (created on first use)."""

    def execute(self, action: Action) -> dict[str, Any]:
        added = ticket_tag_add(
            ticket_id=action.ticket_id, actor=actor_for(action), name=action.params["tag"]
        )
        return {"added": added}

    def verify(self, action: Action) -> bool | None:
        return Ticket.objects.filter(
            pk=action.ticket_id, tags__slug=slugify(action.params["tag"])
        ).exists()


class SlaExecutor(Executor):
    """Sets the ticket's SLA due times to minutes after it was opened."""

    undoable = True

    def execute(self, action: Action) -> dict[str, Any]:
        previous = ticket_sla_set(
            ticket_id=action.ticket_id,
            actor=actor_for(action),
            response_minutes=action.params.get("response_minutes"),
            resolution_minutes=action.params["resolution_minutes"],
        )
        return {"previous_due": previous}

    def verify(self, action: Action) -> bool | None:
        ticket = Ticket.objects.get(pk=action.ticket_id)
        due = ticket.opened_at + dt.timedelta(minutes=action.params["resolution_minutes"])
        return ticket.sla_resolution_due_at == due

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        previous = action.result.get("previous_due", {})
        ticket_sla_restore(
            ticket_id=action.ticket_id, actor=_undo_actor(staff, action), due=previous
        )
        return {"restored": previous}


def register_ticket_executors() -> None:
    executor_register("set_type", FieldExecutor("type", "ticket_type"))
    executor_register("set_subtype", FieldExecutor("subtype", "subtype"))
    executor_register("set_priority", FieldExecutor("priority", "priority"))
    executor_register("set_queue", FieldExecutor("queue", "queue"))
    executor_register("assign", FieldExecutor("assignee", "assignee"))
    executor_register("set_status", FieldExecutor("status", "status"))
    executor_register("add_note", MessageExecutor(public=False))
    executor_register("reply", MessageExecutor(public=True))
    executor_register("escalate", EscalateExecutor())
    executor_register("close", CloseExecutor())
    executor_register("add_tag", TagExecutor())
    executor_register("set_sla", SlaExecutor())
