"""Writes to the mirror. Every change to a ticket records a timeline event in the same
transaction, so the timeline stays the complete history metrics are computed from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tickets.models import StaffMember, Ticket, TicketEvent

NOTE_MAX_LENGTH = 20_000


def ticket_event_record(
    *,
    ticket: Ticket,
    kind: str,
    actor_kind: str,
    actor_staff: StaffMember | None = None,
    actor_name: str = "",
    old_value: str = "",
    new_value: str = "",
    body: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor_kind=actor_kind,
        actor_staff=actor_staff,
        actor_name=actor_name,
        old_value=old_value,
        new_value=new_value,
        body=body,
        data=data or {},
        occurred_at=occurred_at or timezone.now(),
    )


def ticket_add_note(*, ticket: Ticket, staff: StaffMember, body: str, public: bool) -> TicketEvent:
    """A technician's internal note, or (public) a reply to the requester.

    The first public reply sets the ticket's first-response time.
    """
    text = body.strip()
    if not text:
        raise ValidationError({"body": "Write something before saving the note."})
    if len(text) > NOTE_MAX_LENGTH:
        limit = f"Notes are limited to {NOTE_MAX_LENGTH:,} characters; this has {len(text):,}."
        raise ValidationError({"body": limit})
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        event = ticket_event_record(
            ticket=locked,
            kind=TicketEvent.Kind.REPLY if public else TicketEvent.Kind.NOTE,
            actor_kind=TicketEvent.ActorKind.HUMAN,
            actor_staff=staff,
            body=text,
        )
        if public and locked.first_response_at is None:
            locked.first_response_at = event.occurred_at
            locked.save(update_fields=["first_response_at", "updated_at"])
            ticket.first_response_at = locked.first_response_at
    return event
