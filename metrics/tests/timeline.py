"""Building hand-made timelines for the metrics tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tickets.models import StaffMember, Ticket, TicketEvent


def event(
    ticket: Ticket,
    kind: str,
    occurred_at: dt.datetime,
    *,
    actor: str = TicketEvent.ActorKind.SYSTEM,
    staff: StaffMember | None = None,
    old: str = "",
    new: str = "",
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    """One timeline event, exactly as given."""
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        occurred_at=occurred_at,
        actor_kind=actor,
        actor_staff=staff,
        old_value=old,
        new_value=new,
        data=data or {},
    )
