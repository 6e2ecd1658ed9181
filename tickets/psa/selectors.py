"""Reads for the connection, mapping and outbox pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from tickets.models import Priority, Queue, StaffMember, Ticket, TicketType
from tickets.psa.models import OutboxItem, PsaConnection, PsaMapping, PsaSyncRun

PROBLEMS = (OutboxItem.Status.FAILED, OutboxItem.Status.CONFLICT)


@dataclass(frozen=True)
class ConnectionRow:
    connection: PsaConnection
    last_run: PsaSyncRun | None
    gaps: int
    outbox_pending: int
    outbox_problems: int


def connection_rows() -> list[ConnectionRow]:
    """Every connection with its last sync, mapping gaps and write-back state (4 queries)."""
    connections = list(
        PsaConnection.objects.annotate(
            last_run_id=Subquery(
                PsaSyncRun.objects.filter(connection=OuterRef("pk"))
                .order_by("-id")
                .values("id")[:1]
            )
        ).order_by("name")
    )
    gaps = dict(
        PsaMapping.objects.filter(value="")
        .values("connection_id")
        .annotate(n=Count("id"))
        .values_list("connection_id", "n")
    )
    outbox: dict[int, Any] = {
        row["connection_id"]: row
        for row in OutboxItem.objects.filter(
            status__in=[OutboxItem.Status.PENDING, OutboxItem.Status.SENDING, *PROBLEMS]
        )
        .values("connection_id")
        .annotate(
            pending=Count("id", filter=Q(status__in=["pending", "sending"])),
            problems=Count("id", filter=Q(status__in=PROBLEMS)),
        )
    }
    last_ids = [c.last_run_id for c in connections if getattr(c, "last_run_id", None)]
    last_runs = {run.connection_id: run for run in PsaSyncRun.objects.filter(pk__in=last_ids)}
    return [
        ConnectionRow(
            connection=c,
            last_run=last_runs.get(c.id),
            gaps=gaps.get(c.id, 0),
            outbox_pending=outbox.get(c.id, {}).get("pending", 0),
            outbox_problems=outbox.get(c.id, {}).get("problems", 0),
        )
        for c in connections
    ]


def recent_runs(connection: PsaConnection, limit: int = 5) -> list[PsaSyncRun]:
    return list(connection.syncs.order_by("-started_at", "-id")[:limit])


def mapping_rows(
    connection: PsaConnection, *, field: str = "", gaps_only: bool = False
) -> QuerySet[PsaMapping]:
    rows = PsaMapping.objects.filter(connection=connection)
    if field:
        rows = rows.filter(field=field)
    if gaps_only:
        rows = rows.filter(value="")
    return rows.order_by("field", "label", "external_id")


def value_choices() -> dict[str, list[tuple[str, str]]]:
    """What each PSA field can mean here, for the mapping page's pickers."""
    from tickets.models import Client

    return {
        PsaMapping.Field.STATUS: [(str(v), str(label)) for v, label in Ticket.Status.choices],
        PsaMapping.Field.PRIORITY: [(str(v), str(label)) for v, label in Priority.choices],
        PsaMapping.Field.TYPE: [
            (str(pk), n) for pk, n in TicketType.objects.values_list("pk", "name")
        ],
        PsaMapping.Field.QUEUE: [(str(pk), n) for pk, n in Queue.objects.values_list("pk", "name")],
        PsaMapping.Field.COMPANY: [
            (str(pk), n)
            for pk, n in Client.objects.filter(is_active=True).values_list("pk", "name")
        ],
        PsaMapping.Field.MEMBER: [
            (str(s.pk), s.display_name)
            for s in StaffMember.objects.select_related("user").filter(takes_tickets=True)
        ],
    }


def outbox_items(*, status: str = "") -> QuerySet[OutboxItem]:
    items = OutboxItem.objects.select_related("connection", "ticket")
    items = items.filter(status=status) if status else items.filter(status__in=PROBLEMS)
    return items.order_by("-created_at", "-id")
