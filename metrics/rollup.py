"""The weekly rollup (`FactWeek`) and the median histograms (`FactHistogram`).

Every mean and rate metric is pre-summed per week at several grains, so a year of figures is
a sum over a few hundred rows instead of an aggregate over half a million facts:

- the finest grain: client, contract, ticket type, path and holdout arm;
- coarser ones for the questions pages ask most: path and arm (the whole desk), type by
  path and arm, client by contract (margins), and queue or technician by type, path and arm.

A reader takes the coarsest grain that holds every dimension it filters or groups by
(`grain_for`). The histograms count, per week, the facts in each log-scale bucket of every
median metric (see `metrics.histogram`).

Both stay exact as facts change: writing a ticket's facts marks the (week, client) slices its
old and new facts count in and the weeks themselves (`RollupDirty`, in the same transaction;
client -1 marks a week's coarser grains and histograms), and `rollup_refresh` rebuilds each
marked slice or week from the facts with one INSERT … SELECT per grain — claimed with SKIP
LOCKED and unmarked in the transaction that rewrites it, the same pattern as the facts
themselves, so a change made meanwhile marks it again and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce

from metrics.definitions import CATALOGUE
from metrics.histogram import (
    BLOCK,
    BLOCK_SPAN,
    DAILY_HISTOGRAMS,
    HISTOGRAM_GRAINS,
    block_of,
    bucket_field,
)
from metrics.models import FactHistogram, FactWeek, RollupDirty, TicketFact

SUMMED = [metric for metric in CATALOGUE if metric.kind != "median"]
MEDIANS = [metric for metric in CATALOGUE if metric.kind == "median"]
NO_CLIENT = 0
WEEK_MARK = -1
BLOCK_MARK = -2  # a four-week block of histograms, summed again from its weeks
DAILY = 100  # added to a coarser grain's code for its rows per day
# FactWeek's dimension columns; a grain fills some, the rest stay empty.
DIMENSIONS = (
    "client_id",
    "contract_id",
    "ticket_type_id",
    "queue_id",
    "technician_id",
    "path",
    "holdout_arm",
)
TEXT_DIMENSIONS = ("path", "holdout_arm")


@dataclass(frozen=True)
class Grain:
    code: int
    dimensions: tuple[str, ...]


FINE = Grain(0, ("client_id", "contract_id", "ticket_type_id", "path", "holdout_arm"))
# Coarsest first: a reader takes the first that holds what it needs.
GRAINS = (
    Grain(1, ("path", "holdout_arm")),
    Grain(3, ("client_id", "contract_id")),
    Grain(2, ("ticket_type_id", "path", "holdout_arm")),
    Grain(4, ("queue_id", "ticket_type_id", "path", "holdout_arm")),
    Grain(5, ("technician_id", "ticket_type_id", "path", "holdout_arm")),
    FINE,
)
COARSE = tuple(grain for grain in GRAINS if grain is not FINE)


def grain_for(dimensions: Iterable[str]) -> Grain | None:
    """The coarsest grain holding every one of these fact columns; None when none does."""
    needed = set(dimensions)
    for grain in GRAINS:
        if needed <= set(grain.dimensions):
            return grain
    return None


def rollup_mark(slices: Iterable[tuple[dt.date, int | None]]) -> None:
    """Mark (week, client) slices, and their weeks' coarser grains, for rebuilding (inside the
    caller's transaction)."""
    marks = {(week, client or NO_CLIENT) for week, client in slices}
    marks |= {(week, WEEK_MARK) for week, _client in marks}
    rows = [RollupDirty(week=week, client_key=client) for week, client in sorted(marks)]
    if rows:
        RollupDirty.objects.bulk_create(rows, ignore_conflicts=True)


def _sums() -> dict[str, Any]:
    """FactWeek's summed columns, each with its aggregate over facts."""
    out: dict[str, Any] = {
        "tickets": Count("pk"),
        "technician_minutes": Coalesce(Sum("technician_minutes"), 0),
        "billable_minutes": Coalesce(Sum("billable_minutes"), 0),
        "labour_cost": Coalesce(Sum(Cast("labour_cost", FloatField())), 0.0),
        "llm_cost": Coalesce(Sum(Cast("llm_cost", FloatField())), 0.0),
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


def _insert_select(table: str, constants: dict[str, Any], select: QuerySet[Any]) -> None:
    """INSERT INTO table (constants…, the select's columns…) SELECT …: the rows are summed
    and written by the database, never fetched. The select's columns come in order: its
    values() fields, then its annotations, each named after its target column."""
    sql, params = select.query.sql_with_params()
    names = [*select.query.values_select, *select.query.annotation_select]
    columns = [*constants, *(_column(name) for name in names)]
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    holders = ", ".join(["%s"] * len(constants))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quoted}) "  # noqa: S608 — names from our models
            f"SELECT {holders}{', ' if holders else ''}q.* FROM ({sql}) q",
            [*constants.values(), *params],
        )


def _column(name: str) -> str:
    """A select's name for its target column (annotations cannot reuse a field's name)."""
    if name.endswith("_bucket"):
        return "bucket"
    return {"resolved_week": "week", "resolved_on": "week"}.get(name, name.removeprefix("sum_"))


def _write_grain(grain: Grain, facts: QuerySet[TicketFact], *, daily: bool = False) -> None:
    """One grain's rows per week (or per day) of these facts."""
    constants: dict[str, Any] = {"grain": grain.code + (DAILY if daily else 0)}
    constants |= {name: "" for name in TEXT_DIMENSIONS if name not in grain.dimensions}
    constants |= {f"{metric.key}_squares": 0 for metric in SUMMED if metric.is_rate}
    select = (
        facts.filter(resolved_week__isnull=False)
        .values("resolved_on" if daily else "resolved_week", *grain.dimensions)
        .annotate(**{f"sum_{column}": value for column, value in _sums().items()})
        .order_by()
    )
    _insert_select(FactWeek._meta.db_table, constants, select)


def _write_histograms(facts: QuerySet[TicketFact], *, daily: bool = False) -> None:
    for metric in MEDIANS:
        field = bucket_field(metric)
        for code, columns in HISTOGRAM_GRAINS:
            if daily and code not in DAILY_HISTOGRAMS:
                continue
            constants: dict[str, Any] = {
                "grain": code + (DAILY if daily else 0),
                "metric": metric.key,
            }
            if "path" not in columns:
                constants["path"] = ""
            select = (
                facts.filter(metric.population, resolved_week__isnull=False)
                .filter(**{f"{field}__isnull": False})
                .values("resolved_on" if daily else "resolved_week", *columns, field)
                .annotate(sum_count=Count("pk"))
                .order_by()
            )
            _insert_select(FactHistogram._meta.db_table, constants, select)


def histogram_blocks_write(blocks: Iterable[dt.date], model: Any = FactHistogram) -> None:
    """Rewrite these blocks' histogram rows (every grain) from their weeks' rows. `model`:
    a migration passes its historical FactHistogram."""
    for block in sorted(set(blocks)):
        model.objects.filter(week=block, grain__gte=BLOCK).delete()
        for code, columns in HISTOGRAM_GRAINS:
            constants: dict[str, Any] = {"grain": code + BLOCK, "week": block}
            if "path" not in columns:
                constants["path"] = ""
            select = (
                model.objects.filter(grain=code, week__gte=block, week__lt=block + BLOCK_SPAN)
                .values("metric", *columns, "bucket")
                .annotate(sum_count=Sum("count"))
                .order_by()
            )
            _insert_select(model._meta.db_table, constants, select)


def _write_coarse(facts: QuerySet[TicketFact]) -> None:
    """The coarser grains and the histograms, per week and per day."""
    for daily in (False, True):
        for grain in COARSE:
            _write_grain(grain, facts, daily=daily)
        _write_histograms(facts, daily=daily)


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
    """Rebuild up to `limit` marked slices or weeks from the facts; returns how many."""
    with transaction.atomic():
        claimed = RollupDirty.objects.select_for_update(skip_locked=True).order_by("id")
        marks = list(claimed.values_list("id", "week", "client_key")[:limit])
        if not marks:
            return 0
        RollupDirty.objects.filter(id__in=[m[0] for m in marks]).delete()
        slices = {(week, client) for _id, week, client in marks if client >= 0}
        weeks = {week for _id, week, client in marks if client == WEEK_MARK}
        blocks = {week for _id, week, client in marks if client == BLOCK_MARK}
        if slices:
            FactWeek.objects.filter(Q(grain=FINE.code) & _in_slices(slices, "week")).delete()
            _write_grain(FINE, TicketFact.objects.filter(_in_slices(slices, "resolved_week")))
        if weeks:
            days = {week + dt.timedelta(days=n) for week in weeks for n in range(7)}
            # Plain ranges (an OR of them would scan the whole table); the finest grain's
            # rows are the slices', rebuilt above.
            weekly = FactWeek.objects.filter(week__in=weeks, grain__lt=DAILY)
            weekly.exclude(grain=FINE.code).delete()
            FactWeek.objects.filter(week__in=days, grain__gte=DAILY).delete()
            FactHistogram.objects.filter(week__in=weeks, grain__lt=DAILY).delete()
            FactHistogram.objects.filter(week__in=days, grain__gte=DAILY, grain__lt=BLOCK).delete()
            _write_coarse(TicketFact.objects.filter(resolved_week__in=weeks))
            # Their blocks are summed again once these weeks are committed (the next claim),
            # so two refreshers never sum one block from each other's unfinished weeks.
            later = {block_of(week) for week in weeks} - blocks
            RollupDirty.objects.bulk_create(
                [RollupDirty(week=block, client_key=BLOCK_MARK) for block in sorted(later)],
                ignore_conflicts=True,
            )
        if blocks:
            histogram_blocks_write(blocks)
    return len(marks)


def rollup_refresh_all() -> int:
    total = 0
    while done := rollup_refresh():
        total += done
    return total


def rollup_rebuild() -> int:
    """Rebuild every grain and histogram from the facts (after `facts_rebuild`); returns
    how many rollup rows were written."""
    with transaction.atomic():
        RollupDirty.objects.all().delete()
        FactWeek.objects.all().delete()
        FactHistogram.objects.all().delete()
        _write_grain(FINE, TicketFact.objects.all())
        _write_coarse(TicketFact.objects.all())
        weeks = FactHistogram.objects.filter(grain__lt=DAILY).values_list("week", flat=True)
        histogram_blocks_write({block_of(week) for week in weeks.distinct()})
    return FactWeek.objects.count()
