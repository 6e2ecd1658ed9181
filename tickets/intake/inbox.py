"""The inbox: store first, process after. `inbox_store` is all a webhook or API view does
before answering; a drain task (`inbox_drain`) claims waiting rows a batch at a time with a
conditional update — so a retried or duplicated task does nothing — and either creates or
updates each ticket or marks the row invalid with the reason, then tells the pipeline once
per batch."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.intake.alertmanager import alertmanager_parse
from tickets.intake.attachments import attachments_keep
from tickets.intake.email import email_parse
from tickets.intake.enrich import Enrichment, enrich, enrich_many
from tickets.intake.generic import generic_parse
from tickets.intake.ninjaone import ninjaone_parse
from tickets.intake.portal import portal_parse
from tickets.intake.types import IntakeError, TicketInput
from tickets.models import InboxEvent, PsaConnection, StaffMember, Ticket, TicketEvent
from tickets.psa import intake as psa_intake
from tickets.services import Actor, ticket_change, ticket_event_record, ticket_event_record_once
from tickets.signals import tickets_arrived_send

Parser = Callable[[str], list[TicketInput]]  # one arrival may carry several (alert groups)
PARSERS: dict[str, Parser] = {
    InboxEvent.Channel.API: lambda body: [generic_parse(body)],
    InboxEvent.Channel.ALERTMANAGER: alertmanager_parse,
    InboxEvent.Channel.NINJAONE: ninjaone_parse,
    InboxEvent.Channel.EMAIL: email_parse,
    InboxEvent.Channel.PORTAL: portal_parse,
}
MAX_BODY = 2_000_000
MAX_EMAIL_BODY = 15_000_000  # a message with a 10 MB attachment (base64 adds a third)


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "replace")).hexdigest()


def inbox_store(
    *,
    channel: str,
    body: str,
    delivery_key: str = "",
    content_type: str = "",
    headers: dict[str, str] | None = None,
    error: str = "",
    connection: PsaConnection | None = None,
) -> tuple[InboxEvent, bool]:
    """Keep one arrival (True when new). A repeated delivery key — or, without one, the same
    body again — returns the stored row. `error` stores it as invalid straight away (a body
    the receiving view could already tell is broken), still kept for the manager's page."""
    key = (delivery_key or f"sha256:{body_digest(body)}")[:200]
    limit = MAX_EMAIL_BODY if channel == InboxEvent.Channel.EMAIL else MAX_BODY
    event = InboxEvent(
        channel=channel,
        delivery_key=key,
        received_at=timezone.now(),
        content_type=content_type[:120],
        headers=headers or {},
        body=body[:limit],
        status=InboxEvent.Status.INVALID if error else InboxEvent.Status.RECEIVED,
        error=error,
        connection=connection,
    )
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        return InboxEvent.objects.get(channel=channel, delivery_key=key), False
    if not error:
        _enqueue(event.id)
    return event, True


def inbox_store_many(events: list[InboxEvent]) -> int:
    """Keep a page of arrivals (unsaved rows with their delivery keys) in a couple of
    queries; repeats of stored ones are skipped. Returns how many were new."""
    if not events:
        return 0
    unique = {(e.channel, e.delivery_key): e for e in events}
    held = set(
        InboxEvent.objects.filter(
            channel__in={c for c, _ in unique}, delivery_key__in={k for _, k in unique}
        ).values_list("channel", "delivery_key")
    )
    new = [event for key, event in unique.items() if key not in held]
    if not new:
        return 0
    idle = not _waiting()
    InboxEvent.objects.bulk_create(new, ignore_conflicts=True)
    if idle and any(event.status == InboxEvent.Status.RECEIVED for event in new):
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("tickets.tasks.inbox_drain", group="intake"))
    return len(new)


def _enqueue(event_id: int) -> None:
    """After the arrival commits, make sure a drain will take it: queue one unless an
    older arrival is still waiting (its drain is queued or running and loops until nothing
    is left). A burst so costs a few tasks, not one per arrival; the sweep covers a drain
    that died."""
    from django_q.tasks import async_task

    def queue_if_idle() -> None:
        waiting_before = InboxEvent.objects.filter(
            status=InboxEvent.Status.RECEIVED, pk__lt=event_id
        ).exists()
        if not waiting_before:
            async_task("tickets.tasks.inbox_drain", group="intake")

    transaction.on_commit(queue_if_idle)


BATCH = 100
DRAIN_SECONDS = 60.0  # then the drain hands over to a fresh task


def inbox_process(*, event_id: int, now: dt.datetime | None = None) -> InboxEvent:
    """Turn a stored arrival into a ticket — and, under load, up to BATCH - 1 other waiting
    arrivals with it, so a burst becomes a few batches (and one pipeline task per batch)
    instead of a task per arrival. Safe to run twice: only the run that claims a row
    (received → processing) processes it; a task whose event another batch took does
    nothing."""
    moment = now or timezone.now()
    _process_batch(_claim(event_id, moment), moment)
    return InboxEvent.objects.get(pk=event_id)


def _process_batch(claimed: list[int], moment: dt.datetime) -> None:
    """Parse the claimed arrivals and match the batch's records in a few queries. New
    tickets are written together (a handful of inserts for the batch); updates, repeats
    within the batch, and anything a concurrent writer got to first go one at a time, each in
    its own transaction. The pipeline hears of the batch's tickets once."""
    events = list(
        InboxEvent.objects.select_related("connection")
        .filter(pk__in=claimed)
        .order_by("received_at", "id")
    )
    deliveries = [e for e in events if e.headers.get(psa_intake.KIND_HEADER) == psa_intake.WEBHOOK]
    psa_intake.deliveries_claimed(deliveries)
    mirrored = [e for e in events if e.headers.get(psa_intake.KIND_HEADER) == psa_intake.TICKET]
    from_psa = psa_intake.parse_tickets(mirrored)
    parsed = [
        (event, from_psa[event.id] if event.id in from_psa else _parse(event))
        for event in events
        if event not in deliveries
    ]
    good = [
        (event, data) for event, inputs in parsed if isinstance(inputs, list) for data in inputs
    ]
    matched = enrich_many([(data, data.opened_at or event.received_at) for event, data in good])
    found = {id(data): match for (_, data), match in zip(good, matched, strict=True)}
    for event, inputs in parsed:
        if isinstance(inputs, IntakeError):
            _invalid(event, inputs, moment)
    fresh, one_by_one = _split_new(good)
    ticket_ids: list[int] = []
    try:
        ticket_ids += _create_together(fresh, found, moment)
    except IntegrityError:  # another drain created one of them meanwhile
        one_by_one = fresh + one_by_one
    try:
        left = Counter(event.id for event, _ in one_by_one)
        first: dict[int, Ticket] = {}
        for event, data in one_by_one:
            with transaction.atomic():
                ticket = ticket_from_input(data, event=event, now=moment, found=found[id(data)])
                if event.channel == InboxEvent.Channel.EMAIL:
                    attachments_keep(event=event, ticket=ticket)
                first.setdefault(event.id, ticket)
                left[event.id] -= 1
                if left[event.id] == 0:  # done only with its last ticket: a worker that dies
                    _processed(event, first[event.id], moment)  # mid-group leaves it to redo
                    event.save(update_fields=["status", "ticket", "error", "processed_at"])
            ticket_ids.append(ticket.id)
    finally:  # an unexpected failure leaves the rest to the sweep; what is done goes on
        if ticket_ids:
            tickets_arrived_send(sorted(set(ticket_ids)))


Parsed = tuple[InboxEvent, TicketInput]


def _split_new(good: list[Parsed]) -> tuple[list[Parsed], list[Parsed]]:
    """(new tickets that can be written together; everything else: updates, a ticket's
    second arrival in this batch, state changes, arrivals that carry several tickets)."""
    per_event: dict[int, int] = {}
    for event, _ in good:
        per_event[event.id] = per_event.get(event.id, 0) + 1
    keys = {(data.source, data.external_id) for _, data in good}
    sources = {source for source, _ in keys}
    existing = set(
        Ticket.objects.filter(source__in=sources, external_id__in={e for _, e in keys}).values_list(
            "source", "external_id"
        )
    )
    fresh: list[Parsed] = []
    rest: list[Parsed] = []
    for item in good:
        key = (item[1].source, item[1].external_id)
        data = item[1]
        threaded = bool(data.thread_message_ids or data.thread_ticket_ref)
        alone = per_event[item[0].id] == 1 and data.resolved is not True and not threaded
        (fresh if alone and key not in existing else rest).append(item)
        existing.add(key)  # a second arrival of it in this batch is an update
    return fresh, rest


def _create_together(
    fresh: list[Parsed], found: dict[int, Enrichment], moment: dt.datetime
) -> list[int]:
    """New tickets of single-ticket arrivals, keyed in `found` by id(input)."""
    if not fresh:
        return []
    with transaction.atomic():
        tickets = Ticket.objects.bulk_create(
            [_new_ticket(data, event, found[id(data)]) for event, data in fresh]
        )
        TicketEvent.objects.bulk_create(
            [
                step
                for (event, data), ticket in zip(fresh, tickets, strict=True)
                for step in _creation_events(ticket, found[id(data)], event)
            ]
        )
        Ticket.assets.through.objects.bulk_create(
            [
                Ticket.assets.through(ticket_id=ticket.id, asset_id=asset.id)
                for (_, data), ticket in zip(fresh, tickets, strict=True)
                for asset in found[id(data)].assets
            ]
        )
        for (event, _), ticket in zip(fresh, tickets, strict=True):
            _processed(event, ticket, moment)
            if event.channel == InboxEvent.Channel.EMAIL:
                attachments_keep(event=event, ticket=ticket)
        InboxEvent.objects.bulk_update(
            [event for event, _ in fresh], ["status", "ticket", "error", "processed_at"]
        )
    return [ticket.id for ticket in tickets]


def _processed(event: InboxEvent, ticket: Ticket, moment: dt.datetime) -> None:
    event.status, event.ticket, event.error = InboxEvent.Status.PROCESSED, ticket, ""
    event.processed_at = moment


def _parse(event: InboxEvent) -> list[TicketInput] | IntakeError:
    parser = PARSERS.get(event.channel)
    if parser is None:
        return IntakeError(f"No parser for the {event.get_channel_display()} channel yet.")
    try:
        found = parser(event.payload)
    except IntakeError as error:
        return error
    return found or IntakeError("The arrival carries nothing to make a ticket of.")


def _invalid(event: InboxEvent, error: IntakeError, moment: dt.datetime) -> None:
    event.status, event.error = InboxEvent.Status.INVALID, str(error)
    event.processed_at = moment
    event.save(update_fields=["status", "error", "processed_at"])


def inbox_drain(*, budget_seconds: float = DRAIN_SECONDS) -> int:
    """Process waiting arrivals a batch at a time until none is left (or the time budget is
    spent: then another drain is queued). Returns how many were processed."""
    from django_q.tasks import async_task

    started = time.monotonic()
    done = 0
    helped = False
    while True:
        moment = timezone.now()
        claimed = _claim(None, moment)
        if not claimed:
            return done
        if not helped and len(claimed) == BATCH and _waiting():
            # More than a batch is waiting: one more drain lets another worker share the
            # burst (each claims with skip-locked, so they never take the same arrival).
            async_task("tickets.tasks.inbox_drain", group="intake")
            helped = True
        _process_batch(claimed, moment)
        done += len(claimed)
        if time.monotonic() - started > budget_seconds:
            async_task("tickets.tasks.inbox_drain", group="intake")
            return done


def _waiting() -> bool:
    return InboxEvent.objects.filter(status=InboxEvent.Status.RECEIVED).exists()


def _claim(event_id: int | None, moment: dt.datetime) -> list[int]:
    """Claim the event (if still waiting) and other waiting ones other workers have not
    locked; returns the ids this run now owns."""
    with transaction.atomic():
        others = list(
            InboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=InboxEvent.Status.RECEIVED)
            .exclude(pk=event_id or 0)
            .order_by("received_at", "id")
            .values_list("id", flat=True)[: BATCH - 1]
        )
        wanted = [event_id, *others] if event_id else others
        owned = list(
            InboxEvent.objects.select_for_update(skip_locked=True)
            .filter(pk__in=wanted, status=InboxEvent.Status.RECEIVED)
            .values_list("id", flat=True)
        )
        InboxEvent.objects.filter(pk__in=owned).update(
            status=InboxEvent.Status.PROCESSING, claimed_at=moment, attempts=_plus_one()
        )
    return owned


def _plus_one() -> Any:
    from django.db.models import F

    return F("attempts") + 1


def inbox_replay(
    *, event: InboxEvent, staff: StaffMember, corrected_body: str | None
) -> InboxEvent:
    """A manager's retry of an invalid arrival, optionally with a corrected body (the
    original stays as received)."""
    if event.status != InboxEvent.Status.INVALID:
        raise IntakeError("Only an arrival that could not be processed can be replayed.")
    fields = ["status", "error"]
    if corrected_body is not None and corrected_body != event.payload:
        event.corrected_body, event.corrected_by = corrected_body[:MAX_BODY], staff
        fields += ["corrected_body", "corrected_by"]
    event.status, event.error = InboxEvent.Status.RECEIVED, ""
    event.save(update_fields=fields)
    _enqueue(event.id)
    return event


def inbox_sweep(*, now: dt.datetime | None = None) -> int:
    """Re-queue arrivals whose worker died while processing them, and start a drain when
    arrivals have waited a minute (their drain never ran). Returns how many were waiting."""
    from django_q.tasks import async_task

    moment = now or timezone.now()
    InboxEvent.objects.filter(
        status=InboxEvent.Status.PROCESSING,
        claimed_at__lt=moment - dt.timedelta(seconds=settings.INTAKE_STALE_CLAIM_SECONDS),
    ).update(status=InboxEvent.Status.RECEIVED)
    waiting = InboxEvent.objects.filter(
        status=InboxEvent.Status.RECEIVED,
        received_at__lt=moment - dt.timedelta(seconds=settings.INTAKE_STALE_CLAIM_SECONDS),
    ).count()
    if waiting:
        async_task("tickets.tasks.inbox_drain", group="intake")
    return waiting


def ticket_from_input(
    data: TicketInput, *, event: InboxEvent, now: dt.datetime, found: Enrichment | None = None
) -> Ticket:
    """Create the ticket (with its creation and what intake matched on the timeline) or,
    for a ticket already mirrored, bring its text up to date; a reply goes onto the ticket
    it answers."""
    thread = _thread(data, found)
    if thread is not None:
        return _requester_reply(thread, data, event=event)
    existing = (
        Ticket.objects.select_for_update()
        .filter(source=data.source, external_id=data.external_id)
        .first()
    )
    if existing is not None:
        return _update(existing, data, event=event, now=now)
    found = found or enrich(data, opened_at=data.opened_at or event.received_at)
    ticket = _new_ticket(data, event, found)
    ticket.save()
    if found.assets:
        ticket.assets.set(found.assets)
    TicketEvent.objects.bulk_create(_creation_events(ticket, found, event))
    _apply_state(ticket, data, event)
    return ticket


def _new_ticket(data: TicketInput, event: InboxEvent, found: Enrichment) -> Ticket:
    opened = data.opened_at or event.received_at
    status = data.status or Ticket.Status.NEW
    done_at = max(opened, data.updated_at or opened) if status in Ticket.DONE_STATUSES else None
    return Ticket(
        source=data.source,
        status=status,
        type_id=data.type_id,
        queue_id=data.queue_id,
        assignee_id=data.assignee_id,
        psa_connection_id=data.connection_id,
        resolved_at=done_at,
        closed_at=done_at if status == Ticket.Status.CLOSED else None,
        external_id=data.external_id,
        summary=data.summary,
        description=data.description,
        priority=data.priority or Ticket._meta.get_field("priority").get_default(),
        client=found.client,
        contact=found.contact,
        contract=found.contract,
        opened_at=opened,
        source_updated_at=data.updated_at,
        raw_payload=data.raw,
    )


def _creation_events(ticket: Ticket, found: Enrichment, event: InboxEvent) -> list[TicketEvent]:
    """The ticket's first two events: created, and what intake matched and why."""
    return [
        TicketEvent(
            ticket=ticket,
            kind=TicketEvent.Kind.CREATED,
            actor_kind=TicketEvent.ActorKind.SYSTEM,
            actor_name=event.get_channel_display(),
            occurred_at=ticket.opened_at,
            data={"inbox_event": event.id},
            dedupe_key=f"inbox:{event.id}",
        ),
        TicketEvent(
            ticket=ticket,
            kind=TicketEvent.Kind.ENRICHED,
            actor_kind=TicketEvent.ActorKind.SYSTEM,
            actor_name="Intake",
            occurred_at=ticket.opened_at,
            body=found.sentence(),
            data={
                "client": found.client.id if found.client else None,
                "contact": found.contact.id if found.contact else None,
                "assets": [asset.id for asset in found.assets],
                "contract": found.contract.id if found.contract else None,
                "after_hours": found.after_hours,
                "vip": bool(found.contact and found.contact.is_vip),
                "privileged": bool(found.contact and found.contact.is_privileged),
                **({"unmatched": found.unmatched()} if found.unmatched() else {}),
            },
        ),
    ]


def _update(ticket: Ticket, data: TicketInput, *, event: InboxEvent, now: dt.datetime) -> Ticket:
    if ticket.source_updated_at and data.updated_at and data.updated_at <= ticket.source_updated_at:
        return ticket  # an older or the same version: nothing new
    changed = [
        name
        for name, value in (("summary", data.summary), ("description", data.description))
        if getattr(ticket, name) != value
    ]
    ticket.summary, ticket.description = data.summary, data.description
    ticket.source_updated_at, ticket.raw_payload = data.updated_at, data.raw
    ticket.save(update_fields=[*changed, "source_updated_at", "raw_payload", "updated_at"])
    if changed:
        ticket_event_record(
            ticket=ticket,
            kind=TicketEvent.Kind.UPDATED_AT_SOURCE,
            actor_kind=TicketEvent.ActorKind.SYSTEM,
            actor_name=event.get_channel_display(),
            body=f"Changed at the source: {' and '.join(changed)}.",
            data={"inbox_event": event.id, "fields": changed},
            occurred_at=data.updated_at or now,
            dedupe_key=f"inbox:{event.id}",
        )
    _mirror(ticket, data, event)
    _apply_state(ticket, data, event)
    return ticket


def _mirror(ticket: Ticket, data: TicketInput, event: InboxEvent) -> None:
    """A PSA's change to status, priority, type, queue or assignee, applied to our copy —
    only the fields the PSA changed since the version we held (a decision made here and not
    written back stays ours), and only where the value is mapped."""
    if data.changed_at_source is None:
        return
    wanted = {
        "status": data.status,
        "priority": data.priority,
        "type": data.type_id,
        "queue": data.queue_id,
        "assignee": data.assignee_id,
    }
    changes = {
        name: value
        for name, value in wanted.items()
        if name in data.changed_at_source and value is not None
    }
    if not changes:
        return
    actor = Actor(
        kind=TicketEvent.ActorKind.SYSTEM,
        name=event.get_channel_display(),
        data={"inbox_event": event.id, "from_source": True},
    )
    ticket_change(ticket_id=ticket.id, actor=actor, changes=changes, now=data.updated_at)
    ticket.refresh_from_db()


def _apply_state(ticket: Ticket, data: TicketInput, event: InboxEvent) -> None:
    """Resolve a ticket whose issue the source says is over; reopen a resolved one whose
    issue is back (a flapping alert stays one ticket, its history on one timeline)."""
    done = ticket.status in Ticket.DONE_STATUSES
    if data.resolved is True and not done:
        status = Ticket.Status.RESOLVED
    elif data.resolved is False and done:
        status = Ticket.Status.NEW
    else:
        return
    actor = Actor(
        kind=TicketEvent.ActorKind.SYSTEM,
        name=event.get_channel_display(),
        data={"inbox_event": event.id},
    )
    ticket_change(ticket_id=ticket.id, actor=actor, changes={"status": status}, now=data.updated_at)
    ticket.refresh_from_db()


def _thread(data: TicketInput, found: Enrichment | None) -> Ticket | None:
    """The ticket a reply answers: one whose messages it names, or the "[#123]" in its
    subject — the latter only when the sender belongs to that ticket's client (a number
    is easy to guess)."""
    ids = list(data.thread_message_ids)
    if ids:
        by_message = (
            Ticket.objects.filter(source=data.source, external_id__in=ids).first()
            or Ticket.objects.filter(
                inbox_events__channel=InboxEvent.Channel.EMAIL,
                inbox_events__delivery_key__in=[f"message:{i}" for i in ids],
            ).first()
        )
        if by_message is not None:
            return by_message
    if data.thread_ticket_ref is None:
        return None
    ticket = (
        Ticket.objects.select_related("client", "contact").filter(pk=data.thread_ticket_ref).first()
    )
    if ticket is None or ticket.client is None:
        return None
    domain = data.requester_email.rpartition("@")[2]
    same_contact = (
        ticket.contact is not None and ticket.contact.email.lower() == data.requester_email
    )
    same_client = ticket.client.email_domains.filter(domain=domain).exists()
    return ticket if same_contact or same_client else None


def _requester_reply(ticket: Ticket, data: TicketInput, *, event: InboxEvent) -> Ticket:
    """The requester's reply on the ticket's timeline; it brings back a ticket that waited
    on them or was resolved."""
    recorded = ticket_event_record_once(
        ticket=ticket,
        dedupe_key=f"inbox:{event.id}",
        kind=TicketEvent.Kind.REQUESTER_REPLY,
        actor_kind=TicketEvent.ActorKind.REQUESTER,
        actor_name=data.requester_name or data.requester_email,
        body=data.description or data.summary,
        data={"inbox_event": event.id, "from": data.requester_email},
        occurred_at=data.opened_at or event.received_at,
    )
    if not recorded:  # this arrival was processed before
        return ticket
    if ticket.status in (Ticket.Status.WAITING_CUSTOMER, *Ticket.DONE_STATUSES):
        actor = Actor(
            kind=TicketEvent.ActorKind.REQUESTER,
            name=data.requester_email,
            data={"inbox_event": event.id},
        )
        ticket_change(
            ticket_id=ticket.id, actor=actor, changes={"status": Ticket.Status.IN_PROGRESS}
        )
    return ticket
