"""Write-back: our notes, status changes, assignments and time entries on a PSA ticket go
to the PSA through a durable outbox.

`outbox_enqueue` records a change in the same transaction as the change itself (so neither
exists without the other); `outbox_deliver` sends what is due. A transient failure is retried
with exponential backoff; a 429 pauses the whole connection for its Retry-After; Autotask's
hourly request threshold is read before sending and the desk stops at its share of it. A
status or assignment whose PSA value changed since we read it (someone else moved the
ticket in the PSA) is not overwritten: it stops as a conflict for a manager.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.models import StaffMember, Ticket
from tickets.psa.adapters import adapter, client_for
from tickets.psa.base import PsaClient, PsaError, PsaRecord
from tickets.psa.models import OutboxItem, PsaConnection, PsaMapping

log = logging.getLogger(__name__)
BATCH = 50
MAX_ATTEMPTS = 8
BUDGET_CHECK_EVERY = 25
Op = OutboxItem.Operation


class _Stop(Exception):
    """Stop sending to this connection for now (rate limited, over budget)."""


class _Permanent(Exception):
    """This item can never be sent as it is; the message says why."""


def outbox_enqueue(
    *, ticket: Ticket, operation: str, payload: dict[str, Any], dedupe_key: str
) -> OutboxItem | None:
    """Record a change to write back, if the ticket is mirrored from a PSA. Call inside the
    transaction that makes the change; delivery is queued when it commits."""
    if ticket.psa_connection_id is None:
        return None
    item, created = OutboxItem.objects.get_or_create(
        connection_id=ticket.psa_connection_id,
        dedupe_key=dedupe_key[:200],
        defaults={
            "ticket": ticket,
            "operation": operation,
            "payload": payload,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        connection_id = ticket.psa_connection_id
        transaction.on_commit(lambda: _queue(connection_id))
    return item


def _queue(connection_id: int) -> None:
    from django_q.tasks import async_task

    async_task("tickets.tasks.psa_outbox_deliver", connection_id, group="psa-outbox")


def outbox_deliver(connection_id: int, *, now: dt.datetime | None = None) -> int:
    """Send what is due for one connection, oldest first. Returns how many were sent."""
    moment = now or timezone.now()
    connection = PsaConnection.objects.get(pk=connection_id)
    if connection.paused_until and connection.paused_until > moment:
        return 0
    items = _claim(connection, moment)
    if not items:
        return 0
    client = client_for(connection)
    sent = 0
    try:
        checked_at = -BUDGET_CHECK_EVERY
        for index, item in enumerate(items):
            if client.requests_made - checked_at >= BUDGET_CHECK_EVERY:
                checked_at = client.requests_made
                if not _within_budget(connection, client, moment):
                    _release(items[index:])
                    break
            try:
                _send(connection, client, item)
            except _Stop:
                _release(items[index:])
                break
            sent += item.status == OutboxItem.Status.SENT
    finally:
        client.close()
    return sent


def _claim(connection: PsaConnection, moment: dt.datetime) -> list[OutboxItem]:
    with transaction.atomic():
        items = list(
            OutboxItem.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket")
            .filter(
                connection=connection,
                status=OutboxItem.Status.PENDING,
                next_attempt_at__lte=moment,
            )
            .order_by("created_at", "id")[:BATCH]
        )
        OutboxItem.objects.filter(pk__in=[i.pk for i in items]).update(
            status=OutboxItem.Status.SENDING, claimed_at=moment
        )
    return items


def _release(items: list[OutboxItem]) -> None:
    OutboxItem.objects.filter(
        pk__in=[i.pk for i in items], status=OutboxItem.Status.SENDING
    ).update(status=OutboxItem.Status.PENDING)


def _send(connection: PsaConnection, client: PsaClient, item: OutboxItem) -> None:
    external_id = item.ticket.external_id
    now = timezone.now()
    try:
        if item.operation == Op.NOTE:
            ref = client.add_note(
                external_id, text=item.payload["text"], public=bool(item.payload.get("public"))
            )
        elif item.operation == Op.TIME:
            ref = client.add_time(
                external_id,
                member=_member(connection, item.payload["staff"]),
                started_at=dt.datetime.fromisoformat(item.payload["started_at"]),
                minutes=int(item.payload["minutes"]),
                notes=item.payload.get("notes", ""),
            )
        else:
            updated = _update(connection, client, item)
            if updated is None:
                return  # a conflict, recorded
            ref = updated
    except _Permanent as error:
        _give_up(item, OutboxItem.Status.FAILED, str(error))
        return
    except PsaError as error:
        _retry_later(connection, item, error, now)
        return
    item.status, item.sent_at, item.external_ref = OutboxItem.Status.SENT, now, str(ref)[:120]
    item.attempts += 1
    item.last_error = ""
    item.save(update_fields=["status", "sent_at", "external_ref", "attempts", "last_error"])


def _update(connection: PsaConnection, client: PsaClient, item: OutboxItem) -> str | None:
    """A status or assignment: read the PSA's current value first; send only if it is
    still what we last saw (or already what we want)."""
    current = adapter(connection.kind).normalize(client.ticket(item.ticket.external_id))
    field = "status" if item.operation == Op.STATUS else "assignee"
    wanted = str(item.payload["to"]) if item.payload.get("to") is not None else ""
    was = str(item.payload["from"]) if item.payload.get("from") is not None else ""
    theirs = _ours(connection, field, current)
    if theirs == wanted:
        return "already"
    if theirs != was:
        _give_up(
            item,
            OutboxItem.Status.CONFLICT,
            f"The {field} changed in {connection.name} since we read it "
            f"(now {_label(current, field) or 'unset'}); not overwritten.",
        )
        return None
    if field == "status":
        client.update_ticket(
            item.ticket.external_id, status=_status_id(connection, wanted, current)
        )
    else:
        client.update_ticket(item.ticket.external_id, assignee=_member(connection, wanted))
    return "updated"


def _ours(connection: PsaConnection, field: str, record: PsaRecord) -> str:
    """The PSA's current value in our terms ("" when unset or unmapped)."""
    ref = record.status if field == "status" else record.assignee
    if ref is None:
        return ""
    mapping_field = PsaMapping.Field.STATUS if field == "status" else PsaMapping.Field.MEMBER
    row = PsaMapping.objects.filter(
        connection=connection, field=mapping_field, external_id=ref.id
    ).first()
    return row.value if row is not None else ""


def _label(record: PsaRecord, field: str) -> str:
    ref = record.status if field == "status" else record.assignee
    return (ref.label or ref.id) if ref is not None else ""


def _status_id(connection: PsaConnection, status: str, current: PsaRecord) -> str:
    """The PSA status mapped to ours — on ConnectWise one of the ticket's own board."""
    board = current.queue.id if current.queue is not None else ""
    same_board = _statuses(connection, status, board)
    if not same_board and status in Ticket.DONE_STATUSES:
        # A PSA with one done state (Halo's Closed) takes it for resolved, and vice versa.
        other = next(s for s in Ticket.DONE_STATUSES if s != status)
        same_board = _statuses(connection, other, board)
    if not same_board:
        label = Ticket.Status(status).label
        raise _Permanent(
            f"No {connection.get_kind_display()} status is mapped to “{label}”"
            + (f" on board {current.queue.label or board}" if current.queue else "")
            + ": map one on the connection's mapping page, then retry."
        )
    return same_board[0].external_id


def _statuses(connection: PsaConnection, status: str, board: str) -> list[PsaMapping]:
    rows = PsaMapping.objects.filter(
        connection=connection, field=PsaMapping.Field.STATUS, value=status
    ).order_by("suggested", "external_id")
    return [r for r in rows if ":" not in r.external_id or r.external_id.startswith(f"{board}:")]


def _member(connection: PsaConnection, staff_id: Any) -> str:
    row = (
        PsaMapping.objects.filter(
            connection=connection, field=PsaMapping.Field.MEMBER, value=str(staff_id)
        )
        .order_by("suggested", "external_id")
        .first()
    )
    if row is None:
        staff = StaffMember.objects.filter(pk=staff_id).first()
        raise _Permanent(
            f"{staff or 'This technician'} has no {connection.get_kind_display()} member "
            "mapped: map one on the connection's mapping page, then retry."
        )
    return row.external_id


def _retry_later(
    connection: PsaConnection, item: OutboxItem, error: PsaError, now: dt.datetime
) -> None:
    item.attempts += 1
    item.last_error = str(error)[:2000]
    if not error.transient or item.attempts >= MAX_ATTEMPTS:
        _give_up(item, OutboxItem.Status.FAILED, item.last_error)
        return
    wait = error.retry_after if error.retry_after is not None else min(3600, 30 * 2**item.attempts)
    item.status, item.next_attempt_at = OutboxItem.Status.PENDING, now + dt.timedelta(seconds=wait)
    item.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    if error.status == 429:  # the whole tenant is limited, not this item
        connection.paused_until = item.next_attempt_at
        connection.last_error = f"Rate limited: {error}"
        connection.save(update_fields=["paused_until", "last_error", "updated_at"])
        raise _Stop


def _give_up(item: OutboxItem, status: str, message: str) -> None:
    log.warning("Outbox item %s for ticket %s: %s", item.pk, item.ticket_id, message)
    item.status, item.last_error = status, message[:2000]
    item.save(update_fields=["status", "last_error", "attempts"])


def _within_budget(connection: PsaConnection, client: PsaClient, now: dt.datetime) -> bool:
    try:
        budget = client.budget()
    except PsaError:
        return True  # the threshold endpoint failing must not stop the write-back
    if budget is None or budget.limit <= 0:
        return True
    allowed = int(budget.limit * settings.PSA_AUTOTASK_BUDGET_SHARE)
    if budget.used < allowed:
        return True
    connection.paused_until = now + dt.timedelta(minutes=10)
    connection.last_error = (
        f"{budget.used:,} of {budget.limit:,} requests used this hour; writing back resumes "
        f"below {allowed:,}."
    )
    connection.save(update_fields=["paused_until", "last_error", "updated_at"])
    return False


def outbox_retry(item: OutboxItem) -> None:
    """A manager's retry of a failed or conflicting item (e.g. after fixing the mapping)."""
    if item.status not in (OutboxItem.Status.FAILED, OutboxItem.Status.CONFLICT):
        raise ValueError("Only a failed or conflicting item can be retried.")
    item.status, item.next_attempt_at, item.attempts = (
        OutboxItem.Status.PENDING,
        timezone.now(),
        0,
    )
    item.save(update_fields=["status", "next_attempt_at", "attempts"])
    connection_id = item.connection_id
    transaction.on_commit(lambda: _queue(connection_id))


def outbox_discard(item: OutboxItem) -> None:
    if item.status == OutboxItem.Status.SENT:
        raise ValueError("A sent item cannot be discarded.")
    item.status = OutboxItem.Status.DISCARDED
    item.save(update_fields=["status"])


def outbox_due_connections(*, now: dt.datetime | None = None) -> list[int]:
    """Connections with due items (the schedule's sweep: items whose task was lost, and
    items waiting out a backoff); also returns items stuck in `sending` to pending."""
    moment = now or timezone.now()
    OutboxItem.objects.filter(
        status=OutboxItem.Status.SENDING, claimed_at__lt=moment - dt.timedelta(minutes=10)
    ).update(status=OutboxItem.Status.PENDING)
    ids = (
        OutboxItem.objects.filter(status=OutboxItem.Status.PENDING, next_attempt_at__lte=moment)
        .values_list("connection_id", flat=True)
        .distinct()
    )
    for connection_id in ids:
        _queue(connection_id)
    return list(ids)
