"""Writes to the mirror. Every change to a ticket records a timeline event in the same
transaction, so the timeline stays the complete history metrics are computed from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from tickets.models import (
    OutboxItem,
    Priority,
    Queue,
    StaffMember,
    Tag,
    Ticket,
    TicketEvent,
    TicketSubtype,
    TicketType,
    TimeEntry,
)
from tickets.psa.outbox import outbox_enqueue

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
    dedupe_key: str | None = None,
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
        dedupe_key=dedupe_key,
    )


def ticket_event_record_once(*, ticket: Ticket, dedupe_key: str, **fields: Any) -> bool:
    """Record an event unless the ticket already has one with this key (a re-run of the
    same work). True when it was recorded."""
    if TicketEvent.objects.filter(ticket=ticket, dedupe_key=dedupe_key).exists():
        return False
    try:
        with transaction.atomic():
            ticket_event_record(ticket=ticket, dedupe_key=dedupe_key, **fields)
    except IntegrityError:  # a concurrent run recorded it first
        return False
    return True


@dataclass(frozen=True)
class Actor:
    """Who a change is recorded against on the timeline. `data` is merged into each event's
    data (the governance gate puts the action id and approver there)."""

    kind: str
    staff: StaffMember | None = None
    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _actor_event(ticket: Ticket, actor: Actor, kind: str, **fields: Any) -> TicketEvent:
    """An event recorded against `actor`, with the actor's data merged into the event's."""
    data = {**fields.pop("data", {}), **actor.data}
    return ticket_event_record(
        ticket=ticket,
        kind=kind,
        actor_kind=actor.kind,
        actor_staff=actor.staff,
        actor_name=actor.name,
        data=data,
        **fields,
    )


def ticket_add_note(*, ticket: Ticket, staff: StaffMember, body: str, public: bool) -> TicketEvent:
    """A technician's internal note, or (public) a reply to the requester.

    The first public reply sets the ticket's first-response time.
    """
    actor = Actor(kind=TicketEvent.ActorKind.HUMAN, staff=staff)
    return ticket_message_add(ticket=ticket, actor=actor, body=body, public=public)


def ticket_message_add(*, ticket: Ticket, actor: Actor, body: str, public: bool) -> TicketEvent:
    text = body.strip()
    if not text:
        raise ValidationError({"body": "Write something before saving the note."})
    if len(text) > NOTE_MAX_LENGTH:
        limit = f"Notes are limited to {NOTE_MAX_LENGTH:,} characters; this has {len(text):,}."
        raise ValidationError({"body": limit})
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        kind = TicketEvent.Kind.REPLY if public else TicketEvent.Kind.NOTE
        event = _actor_event(locked, actor, kind, body=text)
        outbox_enqueue(
            ticket=locked,
            operation=OutboxItem.Operation.NOTE,
            payload={"text": text, "public": public},
            dedupe_key=f"note:{event.id}",
        )
        if public:
            from tickets.mail import mail_reply_enqueue

            mail_reply_enqueue(ticket=locked, event=event)
        if public and locked.first_response_at is None:
            locked.first_response_at = event.occurred_at
            locked.save(update_fields=["first_response_at", "updated_at"])
            ticket.first_response_at = locked.first_response_at
    return event


_FIELD_EVENTS = {
    "type": TicketEvent.Kind.TYPE_CHANGED,
    "subtype": TicketEvent.Kind.SUBTYPE_CHANGED,
    "priority": TicketEvent.Kind.PRIORITY_CHANGED,
    "queue": TicketEvent.Kind.QUEUE_CHANGED,
    "assignee": TicketEvent.Kind.ASSIGNMENT_CHANGED,
    "status": TicketEvent.Kind.STATUS_CHANGED,
}
_FK_MODELS: dict[str, Any] = {
    "type": TicketType,
    "subtype": TicketSubtype,
    "queue": Queue,
    "assignee": StaffMember,
}


def ticket_change(
    *, ticket_id: int, actor: Actor, changes: dict[str, Any], now: dt.datetime | None = None
) -> dict[str, Any]:
    """Set type, subtype, priority, queue, assignee and/or status, one timeline event per field that
    actually changes. Foreign keys are given as ids (None clears them).

    Returns the previous values of the changed fields, in the same form, so a caller can undo.
    """
    unknown = set(changes) - set(_FIELD_EVENTS)
    if unknown:
        raise ValueError(f"ticket_change cannot set {sorted(unknown)}")
    moment = now or timezone.now()
    previous: dict[str, Any] = {}
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        update_fields: list[str] = []
        for name, value in changes.items():
            attname = f"{name}_id" if name in _FK_MODELS else name
            old = getattr(ticket, attname)
            if old == value:
                continue
            previous[name] = old
            setattr(ticket, attname, value)
            update_fields.append(attname)
            event = _actor_event(
                ticket,
                actor,
                _FIELD_EVENTS[name],
                old_value=_field_code(name, old),
                new_value=_field_code(name, value),
                data={
                    "field": name,
                    "old_label": _field_words(name, old),
                    "new_label": _field_words(name, value),
                },
                occurred_at=moment,
            )
            _write_back(ticket, actor, name, old, value, event)
        if "type_id" in update_fields and "subtype_id" not in update_fields:
            # A subtype or item of the old type would contradict the new one.
            ticket.subtype_id = None
            ticket.item_id = None
            update_fields += ["subtype_id", "item_id"]
        elif "subtype_id" in update_fields:
            ticket.item_id = None  # an item of the old subtype
            update_fields.append("item_id")
        if "status" in update_fields:
            update_fields += _status_times(ticket, moment)
        if update_fields:
            ticket.save(update_fields=[*update_fields, "updated_at"])
    return previous


_WRITTEN_BACK = {
    "status": OutboxItem.Operation.STATUS,
    "assignee": OutboxItem.Operation.ASSIGN,
}


def _write_back(
    ticket: Ticket, actor: Actor, name: str, old: Any, new: Any, event: TicketEvent
) -> None:
    """A status or assignment made here goes back to the PSA the ticket is mirrored from
    (not one that came from the PSA itself)."""
    if name not in _WRITTEN_BACK or actor.data.get("from_source"):
        return
    outbox_enqueue(
        ticket=ticket,
        operation=_WRITTEN_BACK[name],
        payload={"from": old, "to": new},
        dedupe_key=f"{name}:{event.id}",
    )


def time_entry_log(
    *,
    ticket: Ticket,
    staff: StaffMember,
    started_at: dt.datetime,
    minutes: int,
    notes: str = "",
    billable: bool = True,
) -> TimeEntry:
    """Time a technician spent on a ticket (written back to the ticket's PSA)."""
    if minutes < 1:
        raise ValidationError({"minutes": "Log at least one minute."})
    with transaction.atomic():
        entry = TimeEntry.objects.create(
            ticket=ticket,
            staff=staff,
            started_at=started_at,
            minutes=minutes,
            notes=notes.strip(),
            billable=billable,
        )
        outbox_enqueue(
            ticket=ticket,
            operation=OutboxItem.Operation.TIME,
            payload={
                "staff": staff.id,
                "started_at": started_at.isoformat(),
                "minutes": minutes,
                "notes": entry.notes,
            },
            dedupe_key=f"time:{entry.id}",
        )
    return entry


def _status_times(ticket: Ticket, moment: dt.datetime) -> list[str]:
    if ticket.status == Ticket.Status.RESOLVED:
        ticket.resolved_at = ticket.resolved_at or moment
        ticket.closed_at = None
    elif ticket.status == Ticket.Status.CLOSED:
        ticket.resolved_at = ticket.resolved_at or moment
        ticket.closed_at = ticket.closed_at or moment
    else:  # reopened or still open: the mirror shows the current state, the timeline the rest
        ticket.resolved_at = None
        ticket.closed_at = None
    return ["resolved_at", "closed_at"]


def _field_code(name: str, value: Any) -> str:
    """The machine value the timeline stores, as the demo history and metrics read it: a
    status code, a priority number, a technician id, a queue or type slug."""
    if value is None:
        return ""
    if name in ("status", "priority", "assignee", "subtype"):
        return str(value)
    model = _FK_MODELS[name]
    slug = model.objects.filter(pk=value).values_list("slug", flat=True).first()
    return str(slug) if slug is not None else str(value)


def _field_words(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "priority":
        return str(Priority(value).label)
    if name == "status":
        return str(Ticket.Status(value).label)
    model = _FK_MODELS[name]
    obj = model.objects.filter(pk=value).first()
    return str(obj) if obj is not None else f"#{value}"


TAG_NAME_MAX_LENGTH = 60


def ticket_tag_add(*, ticket_id: int, actor: Actor, name: str) -> bool:
    """Put a tag on a ticket (creating the tag on first use). False when it already had it."""
    label = " ".join(name.split())[:TAG_NAME_MAX_LENGTH]
    slug = slugify(label)
    if not slug:
        raise ValidationError({"tag": "A tag needs at least one letter or digit."})
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        tag, _ = Tag.objects.get_or_create(slug=slug, defaults={"name": label})
        if ticket.tags.filter(pk=tag.pk).exists():
            return False
        ticket.tags.add(tag)
        _actor_event(
            ticket, actor, TicketEvent.Kind.TAGGED, new_value=tag.slug, data={"tag": tag.name}
        )
    return True


def ticket_sla_set(
    *, ticket_id: int, actor: Actor, response_minutes: int | None, resolution_minutes: int | None
) -> dict[str, str | None]:
    """Set the SLA due times to the given minutes after the ticket was opened (wall clock).
    Returns the previous due times (ISO text, or None) so a caller can undo."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        previous = {
            "sla_response_due_at": _iso(ticket.sla_response_due_at),
            "sla_resolution_due_at": _iso(ticket.sla_resolution_due_at),
        }
        if response_minutes is not None:
            ticket.sla_response_due_at = ticket.opened_at + dt.timedelta(minutes=response_minutes)
        if resolution_minutes is not None:
            ticket.sla_resolution_due_at = ticket.opened_at + dt.timedelta(
                minutes=resolution_minutes
            )
        _sla_save(ticket, actor, previous)
    return previous


def ticket_sla_restore(*, ticket_id: int, actor: Actor, due: dict[str, str | None]) -> None:
    """Put SLA due times back to what `ticket_sla_set` returned."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        previous = {
            "sla_response_due_at": _iso(ticket.sla_response_due_at),
            "sla_resolution_due_at": _iso(ticket.sla_resolution_due_at),
        }
        for name, value in due.items():
            setattr(ticket, name, dt.datetime.fromisoformat(value) if value else None)
        _sla_save(ticket, actor, previous)


def _sla_save(ticket: Ticket, actor: Actor, previous: dict[str, str | None]) -> None:
    new = {
        "sla_response_due_at": _iso(ticket.sla_response_due_at),
        "sla_resolution_due_at": _iso(ticket.sla_resolution_due_at),
    }
    if new == previous:
        return
    ticket.save(update_fields=["sla_response_due_at", "sla_resolution_due_at", "updated_at"])
    _actor_event(
        ticket,
        actor,
        TicketEvent.Kind.SLA_CHANGED,
        old_value=previous["sla_resolution_due_at"] or "",
        new_value=new["sla_resolution_due_at"] or "",
        data={
            "old": previous,
            "new": new,
            "old_label": _due_words(previous["sla_resolution_due_at"]),
            "new_label": _due_words(new["sla_resolution_due_at"]),
        },
    )


def _due_words(value: str | None) -> str:
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return f"resolve by {moment:%Y-%m-%d %H:%M} UTC"


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
