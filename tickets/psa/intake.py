"""PSA arrivals in the inbox. Two kinds, told apart by the `x-psa-kind` header we store:

- a *ticket* — the PSA's ticket JSON as a sync page or a re-fetch returned it, keyed by
  connection, ticket id and last-updated time, so a re-sync of the same version is a no-op;
- a *webhook* delivery — already verified by the receiving view, keyed by the PSA's delivery
  id. Its processing never trusts the body: it re-fetches the ticket by id (`psa_refetch`, a
  background task), which arrives as a *ticket*.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from tickets.intake.types import IntakeError, TicketInput
from tickets.models import InboxEvent, Ticket
from tickets.psa.adapters import adapter, client_for
from tickets.psa.base import PsaError, PsaRecord
from tickets.psa.models import PsaConnection
from tickets.psa.records import mapping_table, record_to_input

log = logging.getLogger(__name__)
KIND_HEADER = "x-psa-kind"
TICKET, WEBHOOK = "ticket", "webhook"
MIRRORED = ("status", "priority", "type", "queue", "assignee")
REFETCH_ATTEMPTS = 3


def ticket_arrivals(
    connection: PsaConnection, raws: Sequence[dict[str, Any]], *, via: str
) -> tuple[list[InboxEvent], dt.datetime | None]:
    """Unsaved inbox rows for PSA tickets as read, and the newest last-updated time among
    them (each ticket is read once). A ticket that cannot be read (no id, no last-updated
    time) is kept too, as invalid with the reason."""
    events, times = [], []
    for raw in raws:
        event, updated_at = _arrival(connection, raw, via=via)
        events.append(event)
        if updated_at is not None:
            times.append(updated_at)
    return events, max(times) if times else None


def _arrival(
    connection: PsaConnection, raw: dict[str, Any], *, via: str
) -> tuple[InboxEvent, dt.datetime | None]:
    body = json.dumps(raw, separators=(",", ":"), default=str)
    event = InboxEvent(
        channel=connection.kind,
        connection=connection,
        received_at=timezone.now(),
        content_type="application/json",
        headers={KIND_HEADER: TICKET, "x-psa-via": via},
        body=body,
    )
    try:
        record = adapter(connection.kind).normalize(raw)
    except IntakeError as error:
        from tickets.intake.inbox import body_digest

        event.delivery_key = f"{connection.id}:ticket:sha256:{body_digest(body)}"[:200]
        event.status, event.error = InboxEvent.Status.INVALID, str(error)
        return event, None
    stamp = record.updated_at.astimezone(dt.UTC).isoformat()
    event.delivery_key = f"{connection.id}:ticket:{record.external_id}:{stamp}"[:200]
    return event, record.updated_at


def parse_tickets(events: Sequence[InboxEvent]) -> dict[int, list[TicketInput] | IntakeError]:
    """Our normalized tickets for PSA *ticket* arrivals, a batch at a time: one mapping read
    per connection, and one read of the versions we already hold, to tell which mirrored
    fields the PSA changed since."""
    results: dict[int, list[TicketInput] | IntakeError] = {}
    records: dict[int, PsaRecord] = {}
    by_connection: dict[int, list[InboxEvent]] = defaultdict(list)
    for event in events:
        if event.connection_id is None:
            results[event.id] = IntakeError("A PSA arrival without its connection.")
            continue
        try:
            raw = json.loads(event.payload)
            if not isinstance(raw, dict):
                raise IntakeError("The ticket must be a JSON object.")
            records[event.id] = adapter(event.channel).normalize(raw)
        except (IntakeError, ValueError) as error:
            results[event.id] = IntakeError(str(error))
            continue
        by_connection[event.connection_id].append(event)
    for group in by_connection.values():
        connection = group[0].connection
        assert connection is not None
        table = mapping_table(connection, [records[e.id] for e in group])
        held = _held_versions(connection, [records[e.id] for e in group])
        for event in group:
            record = records[event.id]
            data = record_to_input(record, source=connection.source, table=table)
            previous = held.get(record.external_id)
            if previous is not None:
                before = record_to_input(previous, source=connection.source, table=table)
                data = _with_changes(data, before)
            results[event.id] = [data]
    return results


def _held_versions(connection: PsaConnection, records: list[PsaRecord]) -> dict[str, PsaRecord]:
    """The PSA version we hold of each ticket in the batch, read back from its raw payload."""
    ids = {record.external_id for record in records}
    rows = Ticket.objects.filter(source=connection.source, external_id__in=ids).values_list(
        "external_id", "raw_payload"
    )
    held: dict[str, PsaRecord] = {}
    for external_id, raw in rows:
        try:
            held[external_id] = adapter(connection.kind).normalize(raw)
        except IntakeError:
            continue  # a payload we can no longer read: treat every field as changed
    return held


def _with_changes(data: TicketInput, before: TicketInput) -> TicketInput:
    from dataclasses import replace

    pairs = {
        "status": (data.status, before.status),
        "priority": (data.priority, before.priority),
        "type": (data.type_id, before.type_id),
        "queue": (data.queue_id, before.queue_id),
        "assignee": (data.assignee_id, before.assignee_id),
    }
    changed = tuple(name for name, (now, then) in pairs.items() if now != then)
    return replace(data, changed_at_source=changed)


def deliveries_claimed(events: Sequence[InboxEvent]) -> None:
    """Webhook deliveries the drain claimed: queue their re-fetch (they stay `processing`
    until it ends; the sweep re-queues them if the task is lost)."""
    if not events:
        return
    from django_q.tasks import async_task

    ids = [event.id for event in events]
    transaction.on_commit(lambda: async_task("tickets.tasks.psa_refetch", ids, group="intake"))


def psa_refetch(event_ids: Sequence[int], *, sleep: Any = time.sleep) -> int:
    """Fetch the tickets that webhook deliveries named and store them as ticket arrivals; a
    deletion closes our copy. A delivery whose ticket cannot be fetched (after retries)
    becomes invalid with the reason — replayable, and the next sync brings the change in
    anyway. Returns how many tickets were stored."""
    events = list(
        InboxEvent.objects.select_related("connection")
        .filter(pk__in=event_ids, status=InboxEvent.Status.PROCESSING)
        .order_by("id")
    )
    stored = 0
    by_connection: dict[int, list[InboxEvent]] = defaultdict(list)
    for event in events:
        by_connection[event.connection_id or 0].append(event)
    for group in by_connection.values():
        connection = group[0].connection
        if connection is None:
            continue
        client = client_for(connection)
        try:
            for event in group:
                external_id = event.headers.get("x-psa-ticket", "")
                if not external_id:
                    _failed(event, connection, "(none)", PsaError("The delivery names no ticket."))
                    continue
                if event.headers.get("x-psa-action") == "deleted":
                    _deleted(connection, external_id, event)
                    continue
                try:
                    raw = _fetch(client, external_id, sleep=sleep)
                except PsaError as error:
                    _failed(event, connection, external_id, error)
                    continue
                [arrival], _ = ticket_arrivals(connection, [raw], via=WEBHOOK)
                stored += _store_and_process(arrival)
                _done(event, connection, external_id)
        finally:
            client.close()
    return stored


def _store_and_process(arrival: InboxEvent) -> int:
    """Store a fetched ticket and turn it into our ticket now (this is already a background
    task), so the delivery can name its ticket. Returns 1 when the version was new."""
    from tickets.intake.inbox import inbox_process, inbox_store_many

    stored = inbox_store_many([arrival])
    held = InboxEvent.objects.filter(
        channel=arrival.channel,
        delivery_key=arrival.delivery_key,
        status=InboxEvent.Status.RECEIVED,
    ).first()
    if held is not None:
        inbox_process(event_id=held.id)
    return stored


def _fetch(client: Any, external_id: str, *, sleep: Any) -> dict[str, Any]:
    for attempt in range(REFETCH_ATTEMPTS):
        try:
            return dict(client.ticket(external_id))
        except PsaError as error:
            if not error.transient or attempt == REFETCH_ATTEMPTS - 1:
                raise
            sleep(min(30.0, error.retry_after or 2.0**attempt))
    raise AssertionError("unreachable")


def _done(event: InboxEvent, connection: PsaConnection, external_id: str) -> None:
    event.status, event.error = InboxEvent.Status.PROCESSED, ""
    event.processed_at = timezone.now()
    event.ticket = Ticket.objects.filter(source=connection.source, external_id=external_id).first()
    event.save(update_fields=["status", "error", "processed_at", "ticket"])


def _failed(
    event: InboxEvent, connection: PsaConnection, external_id: str, error: PsaError
) -> None:
    log.warning("Re-fetch of %s ticket %s failed: %s", connection, external_id, error)
    event.status = InboxEvent.Status.INVALID
    event.error = (
        f"Could not fetch ticket {external_id} from {connection.name}: {error} "
        "The next sync brings the change in; replay to fetch it now."
    )
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])


def _deleted(connection: PsaConnection, external_id: str, event: InboxEvent) -> None:
    """The PSA deleted the ticket: close our copy, saying why on its timeline."""
    from tickets.models import TicketEvent
    from tickets.services import Actor, ticket_change

    ticket = Ticket.objects.filter(source=connection.source, external_id=external_id).first()
    if ticket is not None and ticket.status != Ticket.Status.CLOSED:
        actor = Actor(
            kind=TicketEvent.ActorKind.SYSTEM,
            name=connection.get_kind_display(),
            data={"inbox_event": event.id, "from_source": True, "deleted_at_source": True},
        )
        ticket_change(ticket_id=ticket.id, actor=actor, changes={"status": Ticket.Status.CLOSED})
    _done(event, connection, external_id)
