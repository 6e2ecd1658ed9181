"""Writes: freezing and choosing baselines."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from metrics.definitions import CATALOGUE
from metrics.models import Baseline, BaselineValue
from metrics.selectors import FactFilter, _aggregates, _figure, facts_in
from tickets.models import StaffMember

# (client column, type column) of each cell kind: overall, per type, per client, both.
CELLS: tuple[tuple[str, ...], ...] = (
    (),
    ("ticket_type_id",),
    ("client_id",),
    ("client_id", "ticket_type_id"),
)


def baseline_freeze(
    *,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    staff: StaffMember | None,
    note: str = "",
    activate: bool = True,
) -> Baseline:
    """Freeze every metric for the period (inclusive dates): overall, per ticket type, per
    client, and per type at each client. Later changes to history do not move a frozen
    baseline; freezing again makes a new one."""
    if ends_on < starts_on:
        raise ValidationError({"ends_on": "The baseline must end on or after its first day."})
    if ends_on >= timezone.localdate():
        raise ValidationError({"ends_on": "A baseline covers finished days: end it yesterday."})
    filters = FactFilter(start=starts_on, end=ends_on + dt.timedelta(days=1))
    if not facts_in(filters, user=None).exists():
        raise ValidationError(
            {"starts_on": "No ticket was resolved in this period, so there is nothing to freeze."}
        )
    with transaction.atomic():
        if activate:
            Baseline.objects.filter(is_active=True).update(is_active=False)
        baseline = Baseline.objects.create(
            name=name,
            starts_on=starts_on,
            ends_on=ends_on,
            frozen_at=timezone.now(),
            frozen_by=staff,
            note=note,
            is_active=activate,
        )
        BaselineValue.objects.bulk_create(_cells(baseline, filters))
    return baseline


def _cells(baseline: Baseline, filters: FactFilter) -> list[BaselineValue]:
    values = []
    aggregates = _aggregates(CATALOGUE)
    for columns in CELLS:
        facts = facts_in(filters, user=None)
        rows: list[dict[str, Any]]
        if columns:
            rows = list(facts.values(*columns).annotate(n=Count("pk"), **aggregates).order_by())
        else:
            rows = [facts.aggregate(**aggregates)]
        for row in rows:
            values.extend(_row_cells(baseline, row))
    return values


def _row_cells(baseline: Baseline, row: dict[str, Any]) -> list[BaselineValue]:
    cells = []
    for metric in CATALOGUE:
        figure = _figure(metric, row)
        if not figure.count:
            continue
        raw = figure.median if metric.kind == "median" else figure.sample.mean
        cells.append(
            BaselineValue(
                baseline=baseline,
                metric=metric.key,
                client_id=row.get("client_id"),
                ticket_type_id=row.get("ticket_type_id"),
                value=raw,
                count=figure.count,
                total=figure.sample.total,
                total_squares=figure.sample.total_squares,
            )
        )
    return cells


def baseline_activate(*, baseline: Baseline) -> Baseline:
    with transaction.atomic():
        Baseline.objects.filter(is_active=True).exclude(pk=baseline.pk).update(is_active=False)
        baseline.is_active = True
        baseline.save(update_fields=["is_active"])
    return baseline
