"""Running a playbook on a ticket: one step at a time, each a proposal to the gate. A step
the gate queues (autonomous) or puts up for approval is waited for; when it settles, the
next step is proposed. A step the policy keeps to a suggestion or refuses, or that is
rejected, blocked or fails, ends the run: the ticket is handed to a technician with the
reason on its timeline. In shadow mode the steps are recorded, not executed, and the run
ends as shadow."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from automation.models import PlaybookRun
from automation.playbooks.base import Playbook
from automation.playbooks.catalogue import PLAYBOOKS, playbook_get
from governance.gate import rule_resolve
from governance.kinds import KINDS, Mode
from governance.models import Action
from governance.services import Proposal, action_propose
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_event_record

log = logging.getLogger(__name__)
_WAITING = (Action.Status.PROPOSED, Action.Status.QUEUED, Action.Status.EXECUTING)
_STOPPING: dict[str, str] = {
    Action.Status.SUGGESTED: "the policy lets the agent only suggest it",
    Action.Status.REFUSED: "the policy does not allow it",
}


def playbook_for(ticket: Ticket) -> Playbook | None:
    return next((p for p in PLAYBOOKS if p.applies_to(ticket)), None)


def playbook_start(ticket: Ticket) -> PlaybookRun | None:
    """Start the ticket's playbook, if one applies and none ran on it yet."""
    if ticket.status in Ticket.DONE_STATUSES:
        return None
    playbook = playbook_for(ticket)
    if playbook is None or rule_resolve(ticket, playbook.steps[0].kind).mode == Mode.OFF:
        return None  # no playbook, or the manager has not let the agent near its first step
    try:
        with transaction.atomic():
            run = PlaybookRun.objects.create(ticket=ticket, playbook=playbook.slug)
    except IntegrityError:
        return None  # it already ran, or is running
    refusal = playbook.refusal(ticket, run.state)
    if refusal:
        _hand_over(run, playbook, refusal)
        return run
    _say(run, playbook, f"Started: {run.state.get('owner_how', 'the ticket qualifies')}.")
    _next(run, playbook)
    return run


def playbook_advance(*, action_id: int, status: str) -> PlaybookRun | None:
    """The gate settled one of a run's actions: take the next step or hand over."""
    run = (
        PlaybookRun.objects.select_related("ticket__type", "ticket__contact", "ticket__client")
        .filter(state__action=action_id, status=PlaybookRun.Status.WAITING)
        .first()
    )
    if run is None:
        return None
    playbook = playbook_get(run.playbook)
    if status in Action.DONE_OK_STATUSES:
        run.step += 1
        _next(run, playbook)
    else:
        action = Action.objects.get(pk=action_id)
        why = action.error or action.status_reason or action.get_status_display().lower()
        _hand_over(
            run,
            playbook,
            f"{KINDS[action.kind].label} {action.get_status_display().lower()}: {why}",
        )
    return run


def _next(run: PlaybookRun, playbook: Playbook) -> None:
    """Propose the run's current step (skipping steps with nothing to do); finish when
    there are none left."""
    ticket = Ticket.objects.select_related("type", "contact", "client").get(pk=run.ticket_id)
    while run.step < len(playbook.steps):
        step = playbook.steps[run.step]
        params = step.params(ticket, run.state)
        if params is not None:
            break
        run.step += 1
    else:
        _finish(run, playbook)
        return
    try:
        # The proposal and the run's note of it commit together: the gate executes the
        # action only after this commits, so its settling always finds the run waiting.
        with transaction.atomic():
            action = action_propose(
                ticket=ticket,
                proposal=Proposal(
                    kind=step.kind,
                    params=params,
                    proposer_kind=Action.Proposer.PLAYBOOK,
                    proposer_name=playbook.title,
                    confidence=1.0,
                    rationale=step.rationale,
                    dedupe_key=f"playbook:{run.id}:{run.step}",
                ),
            )
            run.state["action"] = action.id
            waiting = action.status in _WAITING
            if waiting:
                run.status = PlaybookRun.Status.WAITING
                run.save(update_fields=["step", "state", "status", "updated_at"])
    except ValidationError as error:
        _hand_over(run, playbook, f"Step {run.step + 1} was not valid: {' '.join(error.messages)}")
        return
    if waiting:
        return
    if action.status == Action.Status.SHADOW:
        run.status = PlaybookRun.Status.SHADOW
        run.step += 1
        run.save(update_fields=["step", "state", "status", "updated_at"])
        _next(run, playbook)
    else:
        reason = _STOPPING.get(str(action.status), action.status_reason or str(action.status))
        _hand_over(run, playbook, f"{KINDS[action.kind].label}: {reason}.")


def _finish(run: PlaybookRun, playbook: Playbook) -> None:
    shadow = run.status == PlaybookRun.Status.SHADOW
    run.status = PlaybookRun.Status.SHADOW if shadow else PlaybookRun.Status.DONE
    run.save(update_fields=["step", "state", "status", "updated_at"])
    if shadow:
        _say(run, playbook, "Shadow run complete: every step recorded, none executed.")
    else:
        _say(run, playbook, f"Done. {playbook.done_note}")


def _hand_over(run: PlaybookRun, playbook: Playbook, reason: str) -> None:
    """End the run with the reason on the timeline. The technician's brief (similar tickets,
    KB passages, recent alerts) is on the ticket page, gathered when they open it — not here,
    where it would slow every pipeline batch for tickets nobody has looked at yet."""
    run.status, run.reason = PlaybookRun.Status.HANDED_OVER, reason
    run.save(update_fields=["step", "state", "status", "reason", "updated_at"])
    _say(run, playbook, f"Handed to a technician: {reason}")


def _say(run: PlaybookRun, playbook: Playbook, text: str) -> None:
    ticket_event_record(
        ticket=Ticket.objects.get(pk=run.ticket_id),
        kind=TicketEvent.Kind.PLAYBOOK,
        actor_kind=TicketEvent.ActorKind.AGENT,
        actor_name=f"Playbook “{playbook.title}”",
        body=text,
        data={"playbook": playbook.slug, "run": run.id, "step": run.step},
    )


def on_action_settled(*, action_id: int, status: str, **kwargs: Any) -> None:
    """The governance signal's receiver: advance a playbook waiting on this action, and
    start one when a ticket's type was just decided."""
    run = playbook_advance(action_id=action_id, status=status)
    if run is None and status in Action.DONE_OK_STATUSES:
        action = Action.objects.select_related("ticket__type").get(pk=action_id)
        if action.kind == "set_type":
            playbook_start(action.ticket)
