"""The concurrent control group: while a holdout runs, a random share of eligible tickets is
kept human-only, so metrics can compare automation with the old way in the same weeks.

The draw is a hash of the holdout's salt and the ticket id — random across tickets, the same
every time for one ticket — made the first time the agent proposes something for it, and
kept (`HoldoutTicket`) so the ticket stays in its arm even if the holdout changes later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Hashable, Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from governance.memo import memoized
from governance.models import Holdout, HoldoutTicket
from tickets.models import StaffMember, Ticket, TicketEvent, TicketType
from tickets.services import ticket_event_record

CONTROL_REASON = "Kept human-only: this ticket was drawn into the holdout's control group."


def holdout_running(now: dt.datetime | None = None) -> Holdout | None:
    now = now or timezone.now()
    return (
        Holdout.objects.filter(starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .prefetch_related("ticket_types")
        .first()
    )


def _eligible(holdout: Holdout, ticket: Ticket) -> bool:
    if ticket.opened_at < holdout.starts_at:
        return False
    types = {t.id for t in holdout.ticket_types.all()}
    return not types or ticket.type_id in types


def draw(holdout: Holdout, ticket_id: int) -> str:
    """The arm a ticket falls in: uniform in [0, 1) from the salted hash, below the share."""
    digest = hashlib.sha256(f"{holdout.salt}:{ticket_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return HoldoutTicket.Arm.CONTROL if position < holdout.share else HoldoutTicket.Arm.TREATED


def ticket_in_control(ticket: Ticket, *, now: dt.datetime) -> bool:
    """Whether the gate must keep the agent off this ticket; draws it on first sight."""
    return memoized(("holdout", ticket.id), lambda: _in_control(ticket, now))


def drawn_preset(ticket_ids: Iterable[int]) -> dict[Hashable, str | None]:
    """The arms the tickets were drawn into (None: not drawn yet), for a batch memo: one
    query instead of one per ticket."""
    ids = set(ticket_ids)
    drawn = dict(HoldoutTicket.objects.filter(ticket_id__in=ids).values_list("ticket_id", "arm"))
    return {("holdout-drawn", pk): drawn.get(pk) for pk in ids}


def _in_control(ticket: Ticket, now: dt.datetime) -> bool:
    drawn = memoized(
        ("holdout-drawn", ticket.id),
        lambda: (
            HoldoutTicket.objects.filter(ticket_id=ticket.id).values_list("arm", flat=True).first()
        ),
    )
    if drawn is not None:
        return drawn == HoldoutTicket.Arm.CONTROL
    holdout = memoized(("holdout-running",), lambda: holdout_running(now))
    if holdout is None or not _eligible(holdout, ticket):
        return False
    arm = draw(holdout, ticket.id)
    with transaction.atomic():
        row, created = HoldoutTicket.objects.get_or_create(
            ticket_id=ticket.id, defaults={"holdout": holdout, "arm": arm, "drawn_at": now}
        )
        if created and arm == HoldoutTicket.Arm.CONTROL:
            ticket_event_record(
                ticket=ticket,
                kind=TicketEvent.Kind.AGENT_HOLD,
                actor_kind=TicketEvent.ActorKind.SYSTEM,
                actor_name="Holdout",
                body=f"{CONTROL_REASON} The agent will not act on it; a technician handles "
                f"it as before ({holdout.share:.0%} of tickets are kept this way to measure "
                "what automation changes).",
                data={"holdout": holdout.id},
                occurred_at=now,
            )
    return row.arm == HoldoutTicket.Arm.CONTROL


def holdout_start(
    *,
    share: Decimal,
    staff: StaffMember | None,
    ticket_types: list[TicketType] | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Holdout:
    """Start keeping `share` of new eligible tickets human-only (ending a running one)."""
    if not Decimal("0.01") <= share <= Decimal("0.5"):
        raise ValidationError({"share": "Keep between 1% and 50% of tickets human-only."})
    now = now or timezone.now()
    with transaction.atomic():
        Holdout.objects.filter(ends_at__isnull=True).update(ends_at=now)
        holdout = Holdout.objects.create(
            share=share, starts_at=now, salt=secrets.token_hex(8), created_by=staff, note=note
        )
        holdout.ticket_types.set(ticket_types or [])
    return holdout


def holdout_end(*, holdout: Holdout, now: dt.datetime | None = None) -> Holdout:
    """Stop drawing new tickets; tickets already drawn stay in their arm."""
    holdout.ends_at = now or timezone.now()
    holdout.save(update_fields=["ends_at"])
    return holdout


def holdout_summaries(*, limit: int = 10) -> list[dict[str, Any]]:
    """The latest holdouts with how many tickets each drew into each arm (one query)."""
    rows = Holdout.objects.annotate(
        control=Count("tickets", filter=Q(tickets__arm=HoldoutTicket.Arm.CONTROL)),
        treated=Count("tickets", filter=Q(tickets__arm=HoldoutTicket.Arm.TREATED)),
    ).prefetch_related("ticket_types")[:limit]
    return [{"holdout": h, "control": h.control, "treated": h.treated} for h in rows]
