"""The weekly rollup (`FactWeek`): every mean and rate metric pre-summed per week, client,
contract, ticket type, path and holdout arm, so a year of figures is a sum over a few
thousand rows instead of an aggregate over half a million facts.

It stays exact as facts change: writing a ticket's facts marks the (week, client) slices its
old and new facts count in (`RollupDirty`, in the same transaction), and `rollup_refresh`
rebuilds each marked slice from the facts — claimed with SKIP LOCKED and unmarked in the
transaction that rewrites it, the same pattern as the facts themselves, so a change made
meanwhile marks the slice again and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce

from metrics.definitions import CATALOGUE
from metrics.models import FactWeek, RollupDirty, TicketFact

KEYS = ("resolved_week", "client_id", "contract_id", "ticket_type_id", "path", "holdout_arm")
SUMMED = [metric for metric in CATALOGUE if metric.kind != "median"]
NO_CLIENT = 0


def rollup_mark(slices: Iterable[tuple[dt.date, int | None]]) -> None:
    """Mark (week, client) slices for rebuilding (inside the caller's transaction)."""
    rows = [RollupDirty(week=week, client_key=client or NO_CLIENT) for week, client in slices]
    if rows:
        RollupDirty.objects.bulk_create(rows, ignore_conflicts=True)


def _sums() -> dict[str, Any]:
    """The aggregate expressions over facts that make one rollup row."""
    out: dict[str, Any] = {
        "tickets": Count("pk"),
        "minutes": Coalesce(Sum("technician_minutes"), 0),
        "billable": Coalesce(Sum("billable_minutes"), 0),
        "labour": Coalesce(Sum(Cast("labour_cost", FloatField())), 0.0),
        "llm": Coalesce(Sum(Cast("llm_cost", FloatField())), 0.0),
    }
    for metric in SUMMED:
        where = metric.population
        out[f"{metric.key}_n"] = Count("pk", filter=where)
        if metric.is_rate:
            assert metric.hits is not None
            out[f"{metric.key}_total"] = Count("pk", filter=where & metric.hits)
        else:
            value = Cast(metric.expression(), FloatField())
            out[f"{metric.key}_total"] = Coalesce(Sum(value, filter=where), 0.0)
            out[f"{metric.key}_squares"] = Coalesce(Sum(value * value, filter=where), 0.0)
    return out


def _rows(facts: QuerySet[TicketFact]) -> list[FactWeek]:
    grouped = facts.filter(resolved_week__isnull=False).values(*KEYS).annotate(**_sums())
    rows = []
    for row in grouped.order_by():
        week = FactWeek(
            week=row["resolved_week"],
            client_id=row["client_id"],
            contract_id=row["contract_id"],
            ticket_type_id=row["ticket_type_id"],
            path=row["path"],
            holdout_arm=row["holdout_arm"],
            tickets=row["tickets"],
            technician_minutes=row["minutes"],
            billable_minutes=row["billable"],
            labour_cost=row["labour"],
            llm_cost=row["llm"],
        )
        for metric in SUMMED:
            for part in ("n", "total", "squares"):
                name = f"{metric.key}_{part}"
                if name in row:
                    setattr(week, name, row[name] or 0)
        rows.append(week)
    return rows


def _in_slices(slices: set[tuple[dt.date, int]], week_field: str) -> Q:
    """Rows of these (week, client) slices; `week_field` names the week on the model."""
    where = Q(pk__in=[])
    for client, days in _by_client(slices).items():
        who = Q(client__isnull=True) if client == NO_CLIENT else Q(client_id=client)
        where |= who & Q(**{f"{week_field}__in": days})
    return where


def _by_client(slices: set[tuple[dt.date, int]]) -> dict[int, set[dt.date]]:
    found: dict[int, set[dt.date]] = {}
    for week, client in slices:
        found.setdefault(client, set()).add(week)
    return found


def rollup_refresh(*, limit: int = 200) -> int:
    """Rebuild up to `limit` marked slices from the facts; returns how many."""
    with transaction.atomic():
        claimed = RollupDirty.objects.select_for_update(skip_locked=True).order_by("id")
        marks = list(claimed.values_list("id", "week", "client_key")[:limit])
        if not marks:
            return 0
        RollupDirty.objects.filter(id__in=[m[0] for m in marks]).delete()
        slices = {(week, client) for _id, week, client in marks}
        FactWeek.objects.filter(_in_slices(slices, "week")).delete()
        FactWeek.objects.bulk_create(
            _rows(TicketFact.objects.filter(_in_slices(slices, "resolved_week")))
        )
    return len(marks)


def rollup_refresh_all() -> int:
    total = 0
    while done := rollup_refresh():
        total += done
    return total


def rollup_rebuild() -> int:
    """Rebuild the whole rollup from the facts (after `facts_rebuild`)."""
    with transaction.atomic():
        RollupDirty.objects.all().delete()
        FactWeek.objects.all().delete()
        rows = _rows(TicketFact.objects.all())
        FactWeek.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
