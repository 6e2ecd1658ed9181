"""From a PSA's ticket to ours: the connection's mapping turns the PSA's values (a board's
status, a priority, a type, a board or queue, a company, a member) into our status, priority,
type, queue, client and technician. Values intake has not met before get a mapping row — with
a suggestion when the label plainly says what it is — so a manager sees every gap on the
mapping page and nothing is guessed silently."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models.functions import Lower
from django.utils import timezone

from tickets.intake.types import TicketInput
from tickets.models import Client, Priority, Queue, StaffMember, Ticket, TicketType
from tickets.psa.base import PsaRecord, Ref
from tickets.psa.models import PsaConnection, PsaMapping

Field = PsaMapping.Field
_STATUS_WORDS: tuple[tuple[str, str], ...] = (
    (r"clos", Ticket.Status.CLOSED),
    (r"resolv|complet|done|fixed", Ticket.Status.RESOLVED),
    (r"wait.*(customer|client|user|requester)|customer.*(repl|respon)", "waiting_customer"),
    (r"wait|vendor|third|hold", Ticket.Status.WAITING_THIRD_PARTY),
    (r"schedul", Ticket.Status.SCHEDULED),
    (r"progress|assigned|working|open|re-?opened", Ticket.Status.IN_PROGRESS),
    (r"new|unassigned", Ticket.Status.NEW),
)
_PRIORITY_WORDS: tuple[tuple[str, int], ...] = (
    (r"critical|urgent|emergency|\b(p|priority\s*)?1\b", Priority.CRITICAL),
    (r"high|\b(p|priority\s*)?2\b", Priority.HIGH),
    (r"medium|normal|moderate|\b(p|priority\s*)?3\b", Priority.MEDIUM),
    (r"low|minor|\b(p|priority\s*)?[45]\b", Priority.LOW),
)


@dataclass(frozen=True)
class MappingTable:
    """A connection's mapping, read once per batch: (field, PSA id) → our value ("" when a
    manager has not mapped it yet)."""

    connection_id: int
    values: dict[tuple[str, str], str]

    def get(self, field: str, ref: Ref | None) -> str:
        return self.values.get((field, ref.id), "") if ref is not None else ""

    def int_or_none(self, field: str, ref: Ref | None) -> int | None:
        value = self.get(field, ref)
        return int(value) if value.isdigit() else None


def mapping_table(connection: PsaConnection, records: Sequence[PsaRecord]) -> MappingTable:
    """The connection's mapping, after adding a row for every value in `records` it did not
    have (with a suggestion where the label is plain)."""
    known = {
        (row.field, row.external_id): row.value
        for row in PsaMapping.objects.filter(connection=connection).only(
            "field", "external_id", "value"
        )
    }
    new = {
        (field, ref.id): ref
        for record in records
        for field, ref in _refs(record)
        if (field, ref.id) not in known
    }
    if new:
        suggestions = Suggester()
        rows = [
            PsaMapping(
                connection=connection,
                field=field,
                external_id=external_id[:120],
                label=ref.label[:200],
                value=suggestions.value(field, ref),
                first_seen_at=timezone.now(),
            )
            for (field, external_id), ref in new.items()
        ]
        for row in rows:
            row.suggested = bool(row.value)
        PsaMapping.objects.bulk_create(rows, ignore_conflicts=True)
        known.update({(row.field, row.external_id): row.value for row in rows})
    return MappingTable(connection_id=connection.id, values=known)


def _refs(record: PsaRecord) -> Iterable[tuple[str, Ref]]:
    pairs = (
        (Field.STATUS, record.status),
        (Field.PRIORITY, record.priority),
        (Field.TYPE, record.type),
        (Field.QUEUE, record.queue),
        (Field.COMPANY, record.company),
        (Field.MEMBER, record.assignee),
    )
    return [(str(field), ref) for field, ref in pairs if ref is not None and ref.id]


class Suggester:
    """Suggestions from labels: the obvious status and priority words, and our types,
    queues, clients and technicians by name (clients also by identifier)."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str, str]] = {}

    def value(self, field: str, ref: Ref) -> str:
        label = ref.label.strip().lower()
        if not label:
            return ""
        if field == Field.STATUS:
            return next((code for words, code in _STATUS_WORDS if re.search(words, label)), "")
        if field == Field.PRIORITY:
            found = next((p for words, p in _PRIORITY_WORDS if re.search(words, label)), None)
            return str(int(found)) if found is not None else ""
        return self._by_name(field).get(label, "")

    def _by_name(self, field: str) -> dict[str, str]:
        if field not in self._names:
            self._names[field] = _names(field)
        return self._names[field]


def _names(field: str) -> dict[str, str]:
    if field == Field.TYPE:
        return {name.lower(): str(pk) for pk, name in TicketType.objects.values_list("pk", "name")}
    if field == Field.QUEUE:
        return {name.lower(): str(pk) for pk, name in Queue.objects.values_list("pk", "name")}
    if field == Field.COMPANY:
        found: dict[str, str] = {}
        for pk, name, identifier in Client.objects.values_list("pk", "name", "identifier"):
            found[name.lower()] = found[identifier.lower()] = str(pk)
        return found
    if field == Field.MEMBER:
        staff = StaffMember.objects.annotate(login=Lower("user__username")).values_list(
            "pk", "login", "user__first_name", "user__last_name"
        )
        found = {}
        for pk, login, first, last in staff:
            found[login] = str(pk)
            if first or last:
                found[f"{first} {last}".strip().lower()] = str(pk)
        return found
    return {}


def record_to_input(record: PsaRecord, *, source: str, table: MappingTable) -> TicketInput:
    """Our normalized ticket for a PSA record, through the mapping. A status the PSA marks
    closed reads as resolved when its own status is not mapped yet."""
    status = table.get(Field.STATUS, record.status) or None
    if status is None and record.closed:
        status = Ticket.Status.RESOLVED
    return TicketInput(
        source=source,
        external_id=record.external_id,
        summary=record.summary[:255] or f"Ticket {record.external_id}",
        description=record.description,
        requester_email=record.contact_email.strip().lower(),
        requester_name=record.contact_name,
        client_identifier=record.company_identifier,
        client_id=table.int_or_none(Field.COMPANY, record.company),
        priority=table.int_or_none(Field.PRIORITY, record.priority),
        opened_at=record.opened_at,
        updated_at=record.updated_at,
        hostnames=record.assets,
        raw=record.raw,
        status=status,
        type_id=table.int_or_none(Field.TYPE, record.type),
        queue_id=table.int_or_none(Field.QUEUE, record.queue),
        assignee_id=table.int_or_none(Field.MEMBER, record.assignee),
        connection_id=table.connection_id,
    )
