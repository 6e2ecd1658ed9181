"""Reads for the dispatch pages: the queues with their policies, the technicians as dispatch
sees them now, and the "try it" ranking of one ticket — always through the user's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from automation.dispatch import (
    DispatchInput,
    DispatchOutcome,
    Technician,
    dispatch_outcomes,
    technicians_load,
)
from automation.models import DispatchPolicy
from tickets.models import Queue, Ticket
from tickets.selectors import UserLike, tickets_visible_to

TRY_CHOICES = 50


@dataclass(frozen=True)
class PolicyRow:
    """One card on the page: the default (queue None) or a queue, with its own policy if it
    has one and what applies to it."""

    queue: Queue | None
    own: DispatchPolicy | None
    applied: DispatchPolicy
    members: list[Technician]

    @property
    def key(self) -> str:
        return str(self.queue.id) if self.queue else "default"

    @property
    def name(self) -> str:
        return self.queue.name if self.queue else "Default"


def policy_rows(technicians: list[Technician]) -> list[PolicyRow]:
    """The default first, then each active queue by name. Two queries."""
    saved = DispatchPolicy.objects.select_related("updated_by__user")
    policies = {policy.queue_id: policy for policy in saved}
    default = policies.get(None) or DispatchPolicy()
    rows = [PolicyRow(None, policies.get(None), default, [])]
    for queue in Queue.objects.filter(is_active=True).only("id", "name"):
        own = policies.get(queue.id)
        members = [tech for tech in technicians if queue.id in tech.queue_ids]
        rows.append(PolicyRow(queue, own, own or default, members))
    return rows


def technician_rows(technicians: list[Technician]) -> list[tuple[Technician, list[str]]]:
    """Each technician with the names of their queues. One query."""
    names = dict(Queue.objects.values_list("id", "name"))
    return [
        (tech, sorted(names[queue_id] for queue_id in tech.queue_ids if queue_id in names))
        for tech in technicians
    ]


def board_technicians(*, now: dt.datetime) -> list[Technician]:
    return technicians_load(now, with_rotation=False)


def try_choices(*, user: UserLike) -> QuerySet[Ticket]:
    """Open, unassigned tickets in the user's scope, newest first, to try dispatch on."""
    return (
        tickets_visible_to(user)
        .filter(status__in=Ticket.OPEN_STATUSES, assignee__isnull=True)
        .select_related("client")
        .only("id", "summary", "client__name")
        .order_by("-opened_at", "-id")[:TRY_CHOICES]
    )


def try_ticket(*, user: UserLike, ticket_id: int) -> Ticket:
    """The ticket to try dispatch on, or 404 outside the user's scope."""
    ticket = (
        tickets_visible_to(user)
        .select_related("client", "type", "queue", "assignee__user")
        .filter(id=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket in your clients.")
    return ticket


def dispatch_try(*, ticket: Ticket, now: dt.datetime) -> DispatchOutcome:
    """How dispatch would rank technicians for the ticket as it stands (its queue, type and
    priority), even if it already has an assignee. Nothing is proposed."""
    item = DispatchInput(
        ticket=ticket, queue_id=ticket.queue_id, type_id=ticket.type_id, priority=ticket.priority
    )
    return dispatch_outcomes([item], now=now, preview=True)[ticket.id]
