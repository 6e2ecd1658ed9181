"""The desk's chores, as gated proposals like every other change:

- **acknowledge** a requester's new ticket with a reply that names its number;
- **chase** a ticket waiting on the customer after `CHASE_AFTER` without an answer, and
  **auto-close** it `CLOSE_AFTER` after the chase if still nothing;
- **escalate** an open ticket whose resolution deadline is within `ESCALATE_BEFORE` (or
  past) to the escalation queue.

Each is keyed (`dedupe_key`) so re-running the schedule proposes nothing twice; what each
may do on its own is the ticket type's policy for `reply`, `close` and `escalate`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max, Q
from django.utils import timezone

from governance.gate import rule_resolve
from governance.kinds import Mode
from governance.models import Action
from governance.services import Proposal, actions_propose
from tickets.models import Queue, Ticket, TicketEvent

PROPOSER = "Desk chores"
CHASE_AFTER = dt.timedelta(days=2)
CLOSE_AFTER = dt.timedelta(days=3)
ESCALATE_BEFORE = dt.timedelta(minutes=30)


def _propose(items: Sequence[tuple[Ticket, Proposal]]) -> int:
    if not items:
        return 0
    outcomes = actions_propose(items=list(items))
    return sum(1 for outcome in outcomes if not isinstance(outcome, ValidationError))


def acknowledge(tickets: Iterable[Ticket]) -> int:
    """A reply to each new requester ticket that has had none — where the ticket type's
    policy lets the agent reply on its own (an acknowledgement waiting for approval would
    arrive too late to be one)."""
    items = []
    for ticket in tickets:
        if ticket.contact is None or ticket.first_response_at or ticket.status != "new":
            continue
        if rule_resolve(ticket, "reply").mode != Mode.AUTONOMOUS:
            continue
        body = (
            f"Hi {ticket.contact.first_name}, thanks: we have your request as ticket "
            f"#{ticket.id} (“{ticket.summary[:80]}”) and will be in touch. Reply to this "
            "message to add anything."
        )
        items.append(
            (ticket, _proposal("reply", {"body": body}, f"ack:{ticket.id}", "New request."))
        )
    return _propose(items)


def chase_and_close(*, now: dt.datetime | None = None) -> int:
    """Chase tickets waiting on the customer for CHASE_AFTER; close those chased
    CLOSE_AFTER ago without an answer. Returns how many proposals were made."""
    moment = now or timezone.now()
    waiting = (
        Ticket.objects.select_related("contact")
        .filter(status=Ticket.Status.WAITING_CUSTOMER, contact__isnull=False)
        .annotate(
            last_reply=Max("events__occurred_at", filter=Q(events__kind=TicketEvent.Kind.REPLY)),
            last_answer=Max(
                "events__occurred_at", filter=Q(events__kind=TicketEvent.Kind.REQUESTER_REPLY)
            ),
        )
    )
    chased = _chased(waiting)
    items = []
    for ticket in waiting:
        asked, answered = ticket.last_reply, ticket.last_answer
        if asked is None or (answered is not None and answered >= asked):
            continue
        chase_at = chased.get(ticket.id)
        if chase_at is None and moment - asked >= CHASE_AFTER:
            assert ticket.contact is not None
            body = (
                f"Hi {ticket.contact.first_name}, we are still waiting to hear from you on "
                f"ticket #{ticket.id}. If we don't hear back in {CLOSE_AFTER.days} days we "
                "will close it — reply any time to reopen it."
            )
            items.append(
                (
                    ticket,
                    _proposal(
                        "reply", {"body": body}, f"chase:{ticket.id}:{asked:%s}", "No answer."
                    ),
                )
            )
        elif chase_at is not None and moment - chase_at >= CLOSE_AFTER:
            note = "Closed after a chase went unanswered; a reply reopens it."
            items.append(
                (
                    ticket,
                    _proposal(
                        "close",
                        {"resolution": note},
                        f"autoclose:{ticket.id}:{chase_at:%s}",
                        "No answer to the chase.",
                    ),
                )
            )
    return _propose(items)


def _chased(tickets: Iterable[Ticket]) -> dict[int, dt.datetime]:
    """When each ticket's chase was executed (the chase reply went out)."""
    ids = [ticket.id for ticket in tickets]
    rows = Action.objects.filter(
        ticket_id__in=ids,
        dedupe_key__startswith="chase:",
        status__in=Action.DONE_OK_STATUSES,
    ).values_list("ticket_id", "finished_at")
    return {ticket_id: finished for ticket_id, finished in rows if finished is not None}


def escalate_sla_risk(*, now: dt.datetime | None = None) -> int:
    """Escalate open tickets whose resolution deadline is near or past."""
    moment = now or timezone.now()
    queue = Queue.objects.filter(slug=settings.ESCALATION_QUEUE_SLUG, is_active=True).first()
    if queue is None:
        return 0
    at_risk = Ticket.objects.filter(
        status__in=Ticket.OPEN_STATUSES,
        sla_resolution_due_at__lte=moment + ESCALATE_BEFORE,
    ).exclude(queue=queue)
    items = []
    for ticket in at_risk:
        due = ticket.sla_resolution_due_at
        assert due is not None
        when = "is past" if due <= moment else f"is due at {due:%H:%M} UTC"
        reason = f"Its resolution deadline {when}."
        params = {"queue": queue.id, "reason": reason}
        items.append((ticket, _proposal("escalate", params, f"sla:{ticket.id}:{due:%s}", reason)))
    return _propose(items)


def _proposal(kind: str, params: dict[str, object], key: str, why: str) -> Proposal:
    return Proposal(
        kind=kind,
        params=params,
        proposer_kind=Action.Proposer.PLAYBOOK,
        proposer_name=PROPOSER,
        confidence=1.0,
        rationale=why,
        dedupe_key=key,
    )
