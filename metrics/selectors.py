"""Reads for the metrics pages, the CSV export and the weekly report — one set of functions,
so the three always agree. Every figure is an aggregate over `TicketFact` in the database."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Aggregate,
    Case,
    Count,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncWeek
from django.utils import timezone

from metrics.definitions import CATALOGUE, METRICS, Metric
from metrics.histogram import DAILY_HISTOGRAMS, medians_from_histograms, week_ranges
from metrics.histogram import grain_for as histogram_grain_for
from metrics.models import Baseline, BaselineValue, FactHistogram, FactWeek, Path, TicketFact
from metrics.rollup import DAILY, FINE, Grain, grain_for
from metrics.stats import Change, Sample, change_between
from tickets.models import Contract, Ticket
from tickets.selectors import (
    UserLike,
    client_ids_visible_to,
    in_client_scope,
    tickets_visible_to,
)

AUTOMATED = (Path.AGENT, Path.AGENT_APPROVAL)
WEEK = dt.timedelta(weeks=1)
HANDLING_LOOKBACK = dt.timedelta(weeks=13)
DAYS_PER_MONTH = Decimal("30.4375")


class Median(Aggregate):
    """The median; PostgreSQL's percentile_cont, a Python aggregate registered on SQLite
    connections (metrics.apps)."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        clone = self.copy()
        clone.function = "MEDIAN"
        clone.template = "%(function)s(%(expressions)s)"
        return clone.as_sql(compiler, connection, **extra)


@dataclass(frozen=True)
class FactFilter:
    """Which tickets a figure counts: resolved in [start, end) (local dates, end exclusive)
    and the optional dimensions."""

    start: dt.date
    end: dt.date
    client_id: int | None = None
    type_id: int | None = None
    queue_id: int | None = None
    technician_id: int | None = None
    path: str = ""
    arm: str = ""

    @property
    def start_at(self) -> dt.datetime:
        return _midnight(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return _midnight(self.end)

    @property
    def weeks(self) -> float:
        return max(1, (self.end - self.start).days) / 7

    @property
    def has_baseline_cell(self) -> bool:
        """Baselines are frozen per client and ticket type only."""
        return not (self.queue_id or self.technician_id or self.path or self.arm)

    def dimensions(self) -> dict[str, Any]:
        lookups = {
            "client_id": self.client_id,
            "ticket_type_id": self.type_id,
            "queue_id": self.queue_id,
            "technician_id": self.technician_id,
            "path": self.path,
            "holdout_arm": self.arm,
        }
        return {name: value for name, value in lookups.items() if value}


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def facts_in(filters: FactFilter, *, user: UserLike | None) -> QuerySet[TicketFact]:
    """Facts of tickets first resolved in the period, within the user's clients (None: all,
    for the scheduled report)."""
    facts = TicketFact.objects.filter(
        resolved_at__gte=filters.start_at, resolved_at__lt=filters.end_at, **filters.dimensions()
    )
    return facts if user is None else in_client_scope(facts, user=user, client_field="client_id")


def _scoped(user: UserLike | None) -> bool:
    """Whether the user sees only some clients (their figures need the client dimension)."""
    return user is not None and client_ids_visible_to(user) is not None


def _needed(filters: FactFilter, user: UserLike | None, *extra: str | None) -> set[str]:
    """The fact columns a figure filters or groups by."""
    needed = set(filters.dimensions()) | {name for name in extra if name}
    return needed | {"client_id"} if _scoped(user) else needed


def _q_fields(where: Q | None) -> set[str]:
    """The fact columns a Q object looks at (`ticket_type__isnull` → ticket_type_id)."""
    found: set[str] = set()
    for child in where.children if where is not None else []:
        if isinstance(child, Q):
            found |= _q_fields(child)
        else:
            lookup: str = child[0]  # type: ignore[index]
            name = lookup.split("__")[0]
            found.add(name if name in ("path", "holdout_arm") else f"{name.removesuffix('_id')}_id")
    return found


def uses_rollup(filters: FactFilter, *, user: UserLike | None = None) -> bool:
    """Whether the weekly rollup holds exactly the filter's tickets: whole weeks (the current
    week counts whole: nothing is resolved in the future), and a grain that keeps every
    dimension it filters by."""
    if grain_for(_needed(filters, user)) is None or filters.start.weekday() != 0:
        return False
    return filters.end.weekday() == 0 or filters.end > timezone.localdate()


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def parts(filters: FactFilter) -> tuple[FactFilter | None, list[FactFilter]]:
    """The filter as whole weeks the rollup answers, and the days around them the facts do:
    a year from a Wednesday is 51 rollup weeks and a few days at each end."""
    first = filters.start if filters.start.weekday() == 0 else _monday(filters.start) + WEEK
    today = timezone.localdate()
    # Nothing is resolved in the future, so the current week counts whole.
    last = _monday(today) + WEEK if filters.end > today else _monday(filters.end)
    if first >= last:
        return None, [filters]
    days = [replace(filters, start=filters.start, end=first)] if filters.start < first else []
    if last < filters.end and filters.end <= today:
        days.append(replace(filters, start=last, end=filters.end))
    return replace(filters, start=first, end=last), days


def _combined(
    filters: FactFilter,
    *,
    user: UserLike | None,
    group: str | None,
    weekly: dict[str, Any],
    daily: dict[str, Any],
    where: Q | None = None,
) -> dict[Any, dict[str, float]]:
    """Sums per `group` value (None: one row) from the coarsest rollup grain holding every
    dimension involved: its weeks, and its days around them (the finest grain keeps no days:
    those come from the facts, which a client filter has narrowed already)."""
    grain = grain_for(_needed(filters, user, group) | _q_fields(where))
    sources: list[tuple[QuerySet[Any], dict[str, Any]]] = []
    if grain is None:
        sources.append((facts_in(filters, user=user), daily))
    elif grain is FINE:
        weeks, days = parts(filters)
        if weeks is not None:
            sources.append((weeks_in(weeks, user=user, grain=grain), weekly))
        sources += [(facts_in(part, user=user), daily) for part in days]
    else:
        sources.append((rollup_rows(filters, user=user, grain=grain), weekly))
    out: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for queryset, sums in sources:
        narrowed = queryset.filter(where) if where is not None else queryset
        rows = (
            narrowed.values(group).annotate(**sums).order_by()
            if group
            else [narrowed.aggregate(**sums)]
        )
        for row in rows:
            key = row.get(group) if group else None
            for name, value in row.items():
                if name != group and value is not None:
                    out[key][name] += float(value)
    return out


def weeks_in(filters: FactFilter, *, user: UserLike | None, grain: Grain) -> QuerySet[FactWeek]:
    """Rollup rows of one grain for the filter's weeks, within the user's clients."""
    rows = FactWeek.objects.filter(
        grain=grain.code, week__gte=filters.start, week__lt=filters.end, **filters.dimensions()
    )
    return rows if user is None else in_client_scope(rows, user=user, client_field="client_id")


def _period_ranges(filters: FactFilter, code: int) -> list[Q]:
    """Rows of a grain with days (`code`): the filter's whole weeks, and each run of days
    around them."""
    weeks, days = parts(filters)
    ranges = [Q(grain=code + DAILY, week__gte=part.start, week__lt=part.end) for part in days]
    if weeks is not None:
        ranges.append(Q(grain=code, week__gte=weeks.start, week__lt=weeks.end))
    return ranges


def _weeks_and_days(filters: FactFilter, code: int) -> Q:
    """Rows of a grain with days (`code`) for the filter's whole weeks and the days around."""
    where = Q(pk__in=[])
    for part in _period_ranges(filters, code):
        where |= part
    return where


def rollup_rows(filters: FactFilter, *, user: UserLike | None, grain: Grain) -> QuerySet[FactWeek]:
    """Rollup rows of a coarser grain covering the filter's period exactly: its whole weeks
    and its other days, within the user's clients."""
    rows = FactWeek.objects.filter(_weeks_and_days(filters, grain.code), **filters.dimensions())
    return rows if user is None else in_client_scope(rows, user=user, client_field="client_id")


def _medians(
    filters: FactFilter, *, user: UserLike | None, metrics: Sequence[Metric], group: str | None
) -> dict[Any, dict[str, Any]]:
    """Medians (and their sample sizes) per `group` value, exact: from the weekly histograms
    and the located buckets' facts when a histogram grain holds the filter, else sorted over
    the filter's facts (a client, queue or technician narrows them already)."""
    grain = histogram_grain_for(_needed(filters, user, group))
    if grain is None:
        facts = facts_in(filters, user=user)
        aggregates = _aggregates(metrics)
        if group:
            rows = facts.values(group).annotate(**aggregates).order_by()
            return {row[group]: row for row in rows}
        return {None: facts.aggregate(**aggregates)}
    weeks, days = parts(filters)
    ranges = [
        Q(grain=grain + offset, week__gte=first, week__lt=last)
        for offset, first, last in ([] if weeks is None else week_ranges(weeks.start, weeks.end))
    ]
    from_facts: list[QuerySet[TicketFact]] = []
    if grain in DAILY_HISTOGRAMS:
        ranges += [Q(grain=grain + DAILY, week__gte=d.start, week__lt=d.end) for d in days]
    else:
        from_facts = [facts_in(part, user=None) for part in days]
    # One query per range (not one OR of them), so each is read from the index alone.
    return medians_from_histograms(
        metrics=metrics,
        counts=[FactHistogram.objects.filter(where, **filters.dimensions()) for where in ranges],
        days=from_facts,
        facts=facts_in(filters, user=None),
        column=group,
    )


def _rollup_sums(metrics: Iterable[Metric]) -> dict[str, Aggregate]:
    out: dict[str, Aggregate] = {}
    for metric in metrics:
        out[f"{metric.key}__n"] = Sum(f"{metric.key}_n")
        out[f"{metric.key}__total"] = Sum(f"{metric.key}_total")
        if not metric.is_rate:
            out[f"{metric.key}__squares"] = Sum(f"{metric.key}_squares")
    return out


def _split(metrics: Sequence[Metric]) -> tuple[list[Metric], list[Metric]]:
    """(summable metrics, medians)."""
    medians = [m for m in metrics if m.kind == "median"]
    return [m for m in metrics if m.kind != "median"], medians


@dataclass(frozen=True)
class Figure:
    metric: Metric
    sample: Sample
    median: float | None = None
    baseline: Sample | None = None
    baseline_median: float | None = None
    change: Change | None = None

    @property
    def count(self) -> int:
        return self.sample.count

    @property
    def value(self) -> float | None:
        """In the display unit (hours, minutes, percent…)."""
        if self.metric.kind == "median":
            return None if self.median is None else self.median * self.metric.scale
        mean = self.sample.mean
        return None if mean is None else mean * self.display_scale

    @property
    def baseline_value(self) -> float | None:
        if self.metric.kind == "median":
            return (
                None if self.baseline_median is None else self.baseline_median * self.metric.scale
            )
        mean = self.baseline.mean if self.baseline else None
        return None if mean is None else mean * self.display_scale

    @property
    def display_scale(self) -> float:
        return 100.0 if self.metric.is_rate else self.metric.scale

    @property
    def delta(self) -> float | None:
        if self.value is None or self.baseline_value is None:
            return None
        return self.value - self.baseline_value

    @property
    def improved(self) -> bool | None:
        if self.delta is None or self.delta == 0:
            return None
        return (self.delta < 0) == (self.metric.better == "lower")


def _aggregates(metrics: Iterable[Metric]) -> dict[str, Aggregate]:
    """count/total/squares (or median) for each metric, to run in one query."""
    out: dict[str, Aggregate] = {}
    for metric in metrics:
        where = metric.population
        if metric.kind == "median":
            # The values the median is taken over (counted by the column itself, so an
            # index holding the column answers without visiting the facts).
            out[f"{metric.key}__n"] = Count(metric.expression(), filter=where)
            out[f"{metric.key}__median"] = Median(metric.expression(), filter=where)
            continue
        out[f"{metric.key}__n"] = Count("pk", filter=where)
        if metric.is_rate:
            assert metric.hits is not None
            out[f"{metric.key}__total"] = Count("pk", filter=where & metric.hits)
        else:
            value = Cast(metric.expression(), FloatField())
            out[f"{metric.key}__total"] = Sum(value, filter=where)
            out[f"{metric.key}__squares"] = Sum(value * value, filter=where)
    return out


def _figure(metric: Metric, row: dict[str, Any]) -> Figure:
    sample = Sample(
        count=int(row.get(f"{metric.key}__n") or 0),
        total=float(row.get(f"{metric.key}__total") or 0),
        total_squares=float(row.get(f"{metric.key}__squares") or 0),
        is_rate=metric.is_rate,
    )
    median = row.get(f"{metric.key}__median")
    return Figure(metric, sample, median=None if median is None else float(median))


def figures(
    filters: FactFilter,
    *,
    user: UserLike | None,
    metrics: Sequence[Metric] = CATALOGUE,
    baseline: Baseline | None = None,
) -> dict[str, Figure]:
    """Every metric for the filter — sums from the weekly rollup when it covers the filter,
    medians (and everything else) from the facts — compared with the baseline's matching
    cell when there is one."""
    summed, medians = _split(metrics)
    row: dict[str, Any] = {}
    if summed:
        sums = _combined(
            filters,
            user=user,
            group=None,
            weekly=_rollup_sums(summed),
            daily=_aggregates(summed),
        )
        row.update(sums.get(None, {}))
    if medians:
        row.update(_medians(filters, user=user, metrics=medians, group=None).get(None, {}))
    found = {metric.key: _figure(metric, row) for metric in metrics}
    if baseline is None or not filters.has_baseline_cell:
        return found
    client_id = filters.client_id or _only_client(user)
    if client_id is None and user is not None and client_ids_visible_to(user) is not None:
        return found  # several clients but not all: no frozen cell matches what they see
    cells = baseline_cells(baseline, client_id=client_id, type_id=filters.type_id)
    return {key: with_baseline(figure, cells.get(key)) for key, figure in found.items()}


def _only_client(user: UserLike | None) -> int | None:
    """The one client a scoped user sees (their figures compare with that client's cell)."""
    visible = client_ids_visible_to(user) if user is not None else None
    if visible is None:
        return None
    ids = list(visible[:2])
    return ids[0] if len(ids) == 1 else None


def with_baseline(figure: Figure, cell: BaselineValue | None) -> Figure:
    if cell is None:
        return figure
    metric = figure.metric
    if metric.kind == "median":
        return replace(figure, baseline_median=cell.value)
    base = Sample(cell.count, cell.total, cell.total_squares, metric.is_rate)
    change = change_between(figure.sample, base, scale=figure.display_scale)
    return replace(figure, baseline=base, change=change)


def baseline_active() -> Baseline | None:
    return Baseline.objects.filter(is_active=True).first()


def baseline_cells(
    baseline: Baseline, *, client_id: int | None, type_id: int | None
) -> dict[str, BaselineValue]:
    cells = BaselineValue.objects.filter(baseline=baseline)
    cells = (
        cells.filter(client__isnull=True)
        if client_id is None
        else cells.filter(client_id=client_id)
    )
    cells = (
        cells.filter(ticket_type__isnull=True)
        if type_id is None
        else cells.filter(ticket_type_id=type_id)
    )
    return {cell.metric: cell for cell in cells}


@dataclass(frozen=True)
class Group:
    key: Any
    label: str
    figures: dict[str, Figure]


def figures_by(
    filters: FactFilter,
    *,
    user: UserLike | None,
    dimension: str,
    metrics: Sequence[Metric],
    labels: dict[Any, str] | None = None,
) -> list[Group]:
    """The metrics per value of one fact column (path, ticket_type_id, …), busiest first."""
    summed, medians = _split(metrics)
    grouped = _combined(
        filters,
        user=user,
        group=dimension,
        weekly={"total_tickets": Sum("tickets"), **_rollup_sums(summed)},
        daily={"total_tickets": Count("pk"), **_aggregates(summed)},
    )
    rows: list[dict[str, Any]] = [{dimension: key, **sums} for key, sums in grouped.items()]
    if medians:
        by_key = _medians(filters, user=user, metrics=medians, group=dimension)
        for row in rows:
            row.update(by_key.get(row[dimension], {}))
    rows.sort(key=lambda row: -row["total_tickets"])
    names = labels or {}
    return [
        Group(
            key=row[dimension],
            label=names.get(row[dimension], str(row[dimension] or "—")),
            figures={metric.key: _figure(metric, row) for metric in metrics},
        )
        for row in rows
    ]


@dataclass(frozen=True)
class WeekPoint:
    week: dt.date
    values: dict[str, float | None]
    counts: dict[str, int]


def trend(
    filters: FactFilter, *, user: UserLike | None, metrics: Sequence[Metric], weeks: int = 12
) -> list[WeekPoint]:
    """Weekly values over the `weeks` weeks that end with the filter's period."""
    last_day = filters.end - dt.timedelta(days=1)
    monday = last_day - dt.timedelta(days=last_day.weekday())
    start = monday - dt.timedelta(weeks=weeks - 1)
    span = replace(filters, start=start, end=monday + dt.timedelta(days=7))
    summed, medians = _split(metrics)
    rows: Iterable[Any]
    grain = grain_for(_needed(span, user))
    if grain is not None and uses_rollup(span, user=user) and not medians:
        rows = (
            weeks_in(span, user=user, grain=grain).values("week").annotate(**_rollup_sums(summed))
        )
    else:
        rows = (
            facts_in(span, user=user)
            .annotate(week=TruncWeek("resolved_at"))
            .values("week")
            .annotate(**_aggregates(metrics))
            .order_by("week")
        )
    by_week = {_as_date(row["week"]): row for row in rows}
    points = []
    for offset in range(weeks):
        week = start + dt.timedelta(weeks=offset)
        row: dict[str, Any] = dict(by_week.get(week, {}))
        found = {metric.key: _figure(metric, row) for metric in metrics}
        points.append(
            WeekPoint(
                week=week,
                values={key: figure.value for key, figure in found.items()},
                counts={key: figure.count for key, figure in found.items()},
            )
        )
    return points


def _as_date(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


@dataclass(frozen=True)
class Reclaimed:
    hours_per_week: float
    hours: float
    tickets: int
    handling_minutes: dict[int, float] = field(default_factory=dict)
    definition: str = ""


def handling_minutes_by_type(filters: FactFilter, *, baseline: Baseline | None) -> dict[int, float]:
    """Each type's technician minutes per human-handled ticket: the frozen baseline's, else
    the 90 days before the period's."""
    found: dict[int, float] = {}
    if baseline is not None:
        cells = BaselineValue.objects.filter(
            baseline=baseline, metric="handling_minutes", client__isnull=True
        ).exclude(ticket_type__isnull=True)
        found = {
            c.ticket_type_id: c.value
            for c in cells
            if c.value is not None and c.ticket_type_id is not None
        }
    first = _monday(filters.start)
    before = FactFilter(start=first - HANDLING_LOOKBACK, end=first)
    recent = _combined(
        before,
        user=None,
        group="ticket_type_id",
        weekly={"minutes": Sum("technician_minutes"), "n": Sum("tickets")},
        daily={"minutes": Sum("technician_minutes"), "n": Count("pk")},
        where=Q(ticket_type__isnull=False, path=Path.HUMAN),
    )
    for type_id, row in recent.items():
        if row.get("n"):
            found.setdefault(type_id, row["minutes"] / row["n"])
    return found


def hours_reclaimed(
    filters: FactFilter, *, user: UserLike | None, baseline: Baseline | None
) -> Reclaimed:
    from metrics.definitions import HOURS_RECLAIMED_DEFINITION

    minutes_by_type = handling_minutes_by_type(filters, baseline=baseline)
    rows = _combined(
        filters,
        user=user,
        group="ticket_type_id",
        weekly={"n": Sum("tickets"), "logged": Sum("technician_minutes")},
        daily={"n": Count("pk"), "logged": Sum("technician_minutes")},
        where=Q(path__in=AUTOMATED),
    )
    tickets, saved = 0, 0.0
    for type_id, row in rows.items():
        tickets += int(row.get("n", 0))
        saved += row.get("n", 0) * minutes_by_type.get(type_id, 0.0) - row.get("logged", 0)
    hours = saved / 60
    return Reclaimed(
        hours_per_week=hours / filters.weeks,
        hours=hours,
        tickets=tickets,
        handling_minutes=minutes_by_type,
        definition=HOURS_RECLAIMED_DEFINITION,
    )


@dataclass(frozen=True)
class ContractMargin:
    contract: Contract
    revenue: Decimal
    labour_cost: Decimal
    llm_cost: Decimal
    hours: float

    @property
    def cost(self) -> Decimal:
        return self.labour_cost + self.llm_cost

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_share(self) -> float | None:
        return float(self.margin / self.revenue) if self.revenue else None


def _days_in_force(contract: Contract, filters: FactFilter) -> int:
    first = max(contract.starts_on, filters.start)
    last = min(contract.ends_on or filters.end, filters.end - dt.timedelta(days=1))
    return max(0, (last - first).days + 1)


def margin_by_contract(filters: FactFilter, *, user: UserLike | None) -> list[ContractMargin]:
    """Revenue against attributed cost for every contract in force during the period."""
    contracts = Contract.objects.filter(starts_on__lt=filters.end).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=filters.start)
    )
    if filters.client_id:
        contracts = contracts.filter(client_id=filters.client_id)
    if user is not None:
        contracts = in_client_scope(contracts, user=user, client_field="client_id")
    contracts = contracts.select_related("client").order_by("client__name", "name")
    spent = _contract_costs(
        FactFilter(start=filters.start, end=filters.end, client_id=filters.client_id), user
    )
    rows = []
    for contract in contracts:
        costs = spent.get(contract.id, {})
        billable = Decimal(costs.get("billable") or 0) / 60
        revenue = contract.monthly_revenue * _days_in_force(contract, filters) / DAYS_PER_MONTH
        if contract.kind == Contract.Kind.TIME_AND_MATERIALS and contract.hourly_rate:
            revenue += contract.hourly_rate * billable
        rows.append(
            ContractMargin(
                contract=contract,
                revenue=_money(revenue),
                labour_cost=_money(Decimal(str(costs.get("labour") or 0))),
                llm_cost=_money(Decimal(str(costs.get("llm") or 0))),
                hours=(costs.get("minutes") or 0) / 60,
            )
        )
    return rows


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _contract_costs(filters: FactFilter, user: UserLike | None) -> dict[int, dict[str, Any]]:
    """Technician time, billable time and costs of the tickets resolved in the period, per
    contract (every ticket type: the revenue covers them all)."""
    sums = {
        "minutes": Sum("technician_minutes"),
        "billable": Sum("billable_minutes"),
        "labour": Sum("labour_cost"),
        "llm": Sum("llm_cost"),
    }
    found = _combined(
        filters,
        user=user,
        group="contract_id",
        weekly=sums,
        daily=sums,
        where=Q(contract__isnull=False),
    )
    return {contract_id: dict(row) for contract_id, row in found.items()}


def drilldown(
    filters: FactFilter, *, user: UserLike | None, metric_key: str
) -> QuerySet[TicketFact]:
    """The tickets behind a number: the metric's population, its hits first for a rate."""
    metric = METRICS[metric_key]
    facts = facts_in(filters, user=user).filter(metric.population)
    if metric.is_rate:
        assert metric.hits is not None
        facts = facts.annotate(hit=Case(When(metric.hits, then=Value(1)), default=Value(0)))
        facts = facts.order_by("-hit", "-resolved_at")
    else:
        facts = facts.order_by("-resolved_at")
    return facts.select_related("ticket", "client", "ticket_type", "technician__user")


def automated_facts(filters: FactFilter, *, user: UserLike | None) -> QuerySet[TicketFact]:
    """The tickets behind the hours reclaimed."""
    return (
        facts_in(filters, user=user)
        .filter(path__in=AUTOMATED)
        .order_by("-resolved_at")
        .select_related("ticket", "client", "ticket_type", "technician__user")
    )


@dataclass(frozen=True)
class Lift:
    metric: Metric
    treated: Figure
    control: Figure
    change: Change


def holdout_lift(
    filters: FactFilter, *, user: UserLike | None, metrics: Sequence[Metric]
) -> list[Lift]:
    """Automation against the holdout's control group over the same filter (empty when no
    ticket was ever kept human-only: one indexed look at the small rollup, not the facts)."""
    if not FactWeek.objects.filter(holdout_arm="control").exists():
        return []
    # Both arms in one pass, grouped by arm (half the queries of one pass per arm).
    arms = {
        group.key: group.figures
        for group in figures_by(filters, user=user, dimension="holdout_arm", metrics=metrics)
    }
    empty = {metric.key: _figure(metric, {}) for metric in metrics}
    control, treated = arms.get("control", empty), arms.get("treated", empty)
    return [
        Lift(
            metric=metric,
            treated=treated[metric.key],
            control=control[metric.key],
            change=change_between(
                treated[metric.key].sample,
                control[metric.key].sample,
                scale=treated[metric.key].display_scale,
            ),
        )
        for metric in metrics
    ]


def sla_risk(*, user: UserLike, now: dt.datetime, hours: int, limit: int = 20) -> list[Ticket]:
    """Open tickets the user may see whose resolution is due within `hours` or overdue."""
    soon = now + dt.timedelta(hours=hours)
    # The ids first (a narrow sort of every overdue ticket), then only those rows joined.
    ids = list(
        tickets_visible_to(user)
        .filter(status__in=Ticket.OPEN_STATUSES, sla_resolution_due_at__lte=soon)
        .order_by("sla_resolution_due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    rows = Ticket.objects.filter(id__in=ids).select_related("client", "assignee__user")
    by_id = {ticket.id: ticket for ticket in rows}
    return [by_id[ticket_id] for ticket_id in ids]
