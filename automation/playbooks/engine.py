"""Running a playbook on a ticket: one step at a time, each a proposal to the gate. A step
the gate queues (autonomous) or puts up for approval is waited for; when it settles, the
next step is proposed. A step the policy keeps to a suggestion or refuses, or that is
rejected, blocked or fails, ends the run: the ticket is handed to a technician with the
reason on its timeline. In shadow mode the steps are recorded, not executed, and the run
ends as shadow."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation.models import PlaybookRun
from automation.playbooks.base import Playbook
from automation.playbooks.catalogue import PLAYBOOKS, playbook_get
from governance.gate import rule_resolve
from governance.kinds import KINDS, Mode
from governance.models import Action
from governance.services import Proposal, actions_propose
from tickets.models import Ticket, TicketEvent

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
    runs = playbooks_start([ticket])
    return runs[0] if runs else None


def playbooks_start(tickets: Sequence[Ticket]) -> list[PlaybookRun]:
    """Start each ticket's playbook, if one applies and none ran on it yet — for a batch (the
    pipeline's) in bulk: the runs are created in one statement, their first notes written in
    one, and their first steps proposed in one `actions_propose` call. A run whose first
    proposal is not simply waited for (shadow, suggestion only, refused, invalid) or that has
    no step to take carries on on its own."""
    starting = [(t, p) for t in tickets if (p := _startable(t)) is not None]
    runs = _runs_create(starting)
    if not runs:
        return []
    fresh = Ticket.objects.select_related("type", "contact", "client").in_bulk(
        [run.ticket_id for run, _ in runs]
    )
    started: list[tuple[PlaybookRun, Playbook, str]] = []
    handed: list[tuple[PlaybookRun, Playbook, str]] = []
    finishing: list[tuple[PlaybookRun, Playbook]] = []
    proposing: list[tuple[PlaybookRun, Playbook, Ticket, Proposal]] = []
    for run, playbook in runs:
        ticket = fresh[run.ticket_id]
        refusal = playbook.refusal(ticket, run.state)
        if refusal:
            handed.append((run, playbook, refusal))
            continue
        how = run.state.get("owner_how", "the ticket qualifies")
        started.append((run, playbook, f"Started: {how}."))
        proposal = _step_proposal(run, playbook, ticket)
        if proposal is None:
            finishing.append((run, playbook))
        else:
            proposing.append((run, playbook, ticket, proposal))
    _hand_over_many(handed)
    _say_many(started)
    for run, playbook in finishing:
        _finish(run, playbook)
    _propose_steps(proposing)
    return [run for run, _ in runs]


def _startable(ticket: Ticket) -> Playbook | None:
    """The ticket's playbook, when the ticket is open and the manager lets the agent near
    the playbook's first step."""
    if ticket.status in Ticket.DONE_STATUSES:
        return None
    playbook = playbook_for(ticket)
    if playbook is None or rule_resolve(ticket, playbook.steps[0].kind).mode == Mode.OFF:
        return None
    return playbook


def _runs_create(starting: list[tuple[Ticket, Playbook]]) -> list[tuple[PlaybookRun, Playbook]]:
    """New runs for the tickets that have had none of their playbook (a re-run starts
    nothing); one at a time if a concurrent worker started one of them first."""
    if not starting:
        return []
    ran = set(
        PlaybookRun.objects.filter(ticket__in=[t for t, _ in starting]).values_list(
            "ticket_id", "playbook"
        )
    )
    new = [(t, p) for t, p in starting if (t.pk, p.slug) not in ran]
    try:
        with transaction.atomic():
            created = PlaybookRun.objects.bulk_create(
                [PlaybookRun(ticket=t, playbook=p.slug) for t, p in new]
            )
    except IntegrityError:
        raced = []
        for ticket, playbook in new:
            try:
                with transaction.atomic():
                    run = PlaybookRun.objects.create(ticket=ticket, playbook=playbook.slug)
            except IntegrityError:
                continue  # that one is already running
            raced.append((run, playbook))
        return raced
    return [(run, playbook) for run, (_, playbook) in zip(created, new, strict=True)]


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
    proposal = _step_proposal(run, playbook, ticket)
    if proposal is None:
        _finish(run, playbook)
        return
    _propose_steps([(run, playbook, ticket, proposal)])


def _step_proposal(run: PlaybookRun, playbook: Playbook, ticket: Ticket) -> Proposal | None:
    """The proposal for the run's current step, moving past steps with nothing to do; None
    when no step is left."""
    while run.step < len(playbook.steps):
        step = playbook.steps[run.step]
        params = step.params(ticket, run.state)
        if params is not None:
            return Proposal(
                kind=step.kind,
                params=params,
                proposer_kind=Action.Proposer.PLAYBOOK,
                proposer_name=playbook.title,
                confidence=1.0,
                rationale=step.rationale,
                dedupe_key=f"playbook:{run.id}:{run.step}",
            )
        run.step += 1
    return None


def _propose_steps(items: list[tuple[PlaybookRun, Playbook, Ticket, Proposal]]) -> None:
    """Each run's step to the gate, all in one call. The proposals and the runs' notes of
    them commit together: the gate executes an action only after this commits, so its
    settling always finds its run waiting. Runs whose step is not waited for go on here."""
    if not items:
        return
    with transaction.atomic():
        outcomes = actions_propose(items=[(ticket, proposal) for _, _, ticket, proposal in items])
        waiting = []
        now = timezone.now()
        for (run, _, _, _), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Action):
                run.state["action"] = outcome.id
                if outcome.status in _WAITING:
                    run.status, run.updated_at = PlaybookRun.Status.WAITING, now
                    waiting.append(run)
        PlaybookRun.objects.bulk_update(waiting, ["step", "state", "status", "updated_at"])
    for (run, playbook, _, _), outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, ValidationError):
            step = f"Step {run.step + 1} was not valid: {' '.join(outcome.messages)}"
            _hand_over(run, playbook, step)
        elif outcome.status == Action.Status.SHADOW:
            run.status = PlaybookRun.Status.SHADOW
            run.step += 1
            run.save(update_fields=["step", "state", "status", "updated_at"])
            _next(run, playbook)
        elif outcome.status not in _WAITING:
            reason = _STOPPING.get(str(outcome.status), outcome.status_reason or outcome.status)
            _hand_over(run, playbook, f"{KINDS[outcome.kind].label}: {reason}.")


def _finish(run: PlaybookRun, playbook: Playbook) -> None:
    shadow = run.status == PlaybookRun.Status.SHADOW
    run.status = PlaybookRun.Status.SHADOW if shadow else PlaybookRun.Status.DONE
    run.save(update_fields=["step", "state", "status", "updated_at"])
    if shadow:
        _say(run, playbook, "Shadow run complete: every step recorded, none executed.")
    else:
        _say(run, playbook, f"Done. {playbook.done_note}")


def _hand_over(run: PlaybookRun, playbook: Playbook, reason: str) -> None:
    _hand_over_many([(run, playbook, reason)])


def _hand_over_many(items: list[tuple[PlaybookRun, Playbook, str]]) -> None:
    """End the runs, each with its reason on its ticket's timeline. The technician's brief
    (similar tickets, KB passages, recent alerts) is on the ticket page, gathered when they
    open it — not here, where it would slow every pipeline batch for tickets nobody has
    looked at yet."""
    now = timezone.now()
    for run, _, reason in items:
        run.status, run.reason, run.updated_at = PlaybookRun.Status.HANDED_OVER, reason, now
    PlaybookRun.objects.bulk_update(
        [run for run, _, _ in items], ["step", "state", "status", "reason", "updated_at"]
    )
    _say_many(
        [(run, playbook, f"Handed to a technician: {reason}") for run, playbook, reason in items]
    )


def _say(run: PlaybookRun, playbook: Playbook, text: str) -> None:
    _say_many([(run, playbook, text)])


def _say_many(notes: list[tuple[PlaybookRun, Playbook, str]]) -> None:
    """The runs' notes on their tickets' timelines, in one statement."""
    now = timezone.now()
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket_id=run.ticket_id,
                kind=TicketEvent.Kind.PLAYBOOK,
                actor_kind=TicketEvent.ActorKind.AGENT,
                actor_name=f"Playbook \u201c{playbook.title}\u201d",
                body=text,
                data={"playbook": playbook.slug, "run": run.id, "step": run.step},
                occurred_at=now,
            )
            for run, playbook, text in notes
        ]
    )


def on_action_settled(*, action_id: int, status: str, **kwargs: Any) -> None:
    """The governance signal's receiver: advance a playbook waiting on this action, and
    start one when a ticket's type was just decided."""
    run = playbook_advance(action_id=action_id, status=status)
    if run is None and status in Action.DONE_OK_STATUSES:
        action = Action.objects.select_related("ticket__type").get(pk=action_id)
        if action.kind == "set_type":
            playbook_start(action.ticket)
