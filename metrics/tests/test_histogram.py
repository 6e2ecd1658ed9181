"""Medians read through the weekly histograms are exactly percentile_cont over the facts, and
every rollup grain and histogram kept incrementally equals one rebuilt from scratch."""

from __future__ import annotations

import datetime as dt
import random
import re
import statistics
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.holdout import holdout_start
from governance.models import HoldoutTicket
from metrics.definitions import CATALOGUE, METRICS
from metrics.facts import facts_refresh_all
from metrics.histogram import bucket_of
from metrics.models import FactDirty, FactHistogram, FactWeek, RollupDirty, TicketFact
from metrics.rollup import COARSE, DAILY, GRAINS, rollup_rebuild
from metrics.selectors import (
    FactFilter,
    Median,
    _aggregates,
    _figure,
    facts_in,
    figures,
    figures_by,
    holdout_lift,
)
from metrics.tests.timeline import event
from tests.fixtures import World, make_ticket
from tickets.models import Queue, Ticket, TicketEvent, TicketType, TimeEntry

MONDAY = dt.date(2026, 9, 7)
MEDIANS = [metric for metric in CATALOGUE if metric.kind == "median"]
# Durations with ties, values under 8 s, bucket edges (2^k, 2^k ± 1) and long tails.
DURATIONS = [0, 7, 8, 9, 15, 16, 17, 31, 32, 33, 600, 600, 600, 3599, 3600, 3601, 7200, 7201]
DURATIONS += [86_400, 90_000, 250_000, 1_000_000]


def test_buckets_never_decrease_and_stay_narrow() -> None:
    previous = -1
    for value in [*range(0, 70_000), *range(1_000_000, 1_100_000, 7)]:
        bucket = bucket_of(value)
        assert bucket is not None and bucket >= previous
        previous = bucket
    # Every value of a bucket is within 1/8 of the bucket's smallest value.
    firsts: dict[int, int] = {}
    for value in range(1, 300_000):
        first = firsts.setdefault(bucket_of(value) or 0, value)
        assert value - first <= first / 8
    assert bucket_of(None) is None


def _ticket(world: World, n: int, *, day: int, seconds: int, kind: TicketType, human: bool) -> None:
    opened = timezone.make_aware(dt.datetime.combine(MONDAY, dt.time(8))) + dt.timedelta(days=day)
    resolved = opened + dt.timedelta(seconds=seconds)
    ticket = make_ticket(
        world.client if n % 4 else world.other_client,
        summary=f"h{n}",
        external_id=f"H-{n}",
        opened_at=opened,
        type=kind,
        queue=world.queue if n % 2 else None,
        assignee=world.tech_in if n % 3 == 0 else None,
    )
    if human:
        event(
            ticket,
            TicketEvent.Kind.REPLY,
            opened + dt.timedelta(seconds=seconds // 3),
            actor=TicketEvent.ActorKind.HUMAN,
            staff=world.tech_in,
        )
    event(
        ticket,
        "status_changed",
        resolved,
        actor=TicketEvent.ActorKind.HUMAN if human else TicketEvent.ActorKind.AGENT,
        staff=world.tech_in if human else None,
        old="new",
        new="resolved",
    )


@pytest.fixture
def spread(world: World) -> World:
    """About 150 tickets resolved over three weeks, two types, both paths, many ties."""
    chance = random.Random(7)
    second = TicketType.objects.create(name="New starter", slug="new-starter")
    for n in range(150):
        seconds = chance.choice(DURATIONS) if n % 3 else chance.randint(0, 400_000)
        day = chance.randint(0, 17)
        # Resolved before the third week ends (the last Friday at the latest).
        seconds = min(seconds, int(dt.timedelta(days=18 - day).total_seconds()) - 8 * 3600)
        kind = world.ticket_type if n % 5 else second
        _ticket(world, n, day=day, seconds=max(seconds, 0), kind=kind, human=n % 3 != 1)
    facts_refresh_all()
    return world


def _exact(filters: FactFilter, metric_key: str, **narrow: Any) -> float | None:
    """percentile_cont over the facts themselves, and the same by Python's statistics."""
    metric = METRICS[metric_key]
    facts = facts_in(filters, user=None).filter(metric.population, **narrow)
    assert metric.field is not None
    values = [v for v in facts.values_list(metric.field, flat=True) if v is not None]
    in_sql = facts.aggregate(m=Median(metric.field))["m"]
    if not values:
        assert in_sql is None
        return None
    assert float(statistics.median(values)) == pytest.approx(float(in_sql))
    return float(statistics.median(values))


PERIODS = {
    "three whole weeks": (MONDAY, MONDAY + dt.timedelta(weeks=3)),
    "one whole week": (MONDAY + dt.timedelta(weeks=1), MONDAY + dt.timedelta(weeks=2)),
    "Wednesday to the next week's Thursday": (
        MONDAY + dt.timedelta(days=2),
        MONDAY + dt.timedelta(days=18),
    ),
    "a week of days around a whole week": (
        MONDAY + dt.timedelta(days=3),
        MONDAY + dt.timedelta(days=17),
    ),
    "a week with nothing resolved": (MONDAY - dt.timedelta(weeks=1), MONDAY),
    # MONDAY starts a four-week block: the period holds it whole, with weeks and days around.
    "a block, with weeks and days around it": (
        MONDAY - dt.timedelta(days=9),
        MONDAY + dt.timedelta(days=38),
    ),
}


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("path", ["", "human", "agent"])
def test_medians_through_histograms_are_exact(spread: World, period: str, path: str) -> None:
    start, end = PERIODS[period]
    filters = FactFilter(start=start, end=end, path=path)
    with CaptureQueriesContext(connection) as queries:
        found = figures(filters, user=None, metrics=MEDIANS)
    sql = " ".join(q["sql"].lower() for q in queries.captured_queries)
    assert "metrics_facthistogram" in sql
    assert "percentile_cont" not in sql and "median(" not in sql
    if "block" in period:  # the block's rows are read, not its four weeks'
        assert re.search(r'"grain" = 20[0-3]\b', sql), sql
    for metric in MEDIANS:
        expected = _exact(filters, metric.key)
        figure = found[metric.key]
        assert figure.median == expected, (metric.key, period, path)
        population = facts_in(filters, user=None).filter(metric.population)
        assert figure.count == population.filter(**{f"{metric.field}__isnull": False}).count()


@pytest.mark.parametrize("period", ["weeks and days", "a block, with weeks and days around it"])
@pytest.mark.parametrize("dimension", ["ticket_type_id", "path"])
def test_medians_per_group_are_exact(spread: World, dimension: str, period: str) -> None:
    start, end = PERIODS.get(
        period, (MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(weeks=3))
    )
    filters = FactFilter(start=start, end=end)
    groups = figures_by(filters, user=None, dimension=dimension, metrics=MEDIANS)
    assert len(groups) >= 2
    for group in groups:
        for metric in MEDIANS:
            expected = _exact(filters, metric.key, **{dimension: group.key})
            assert group.figures[metric.key].median == expected, (group.key, metric.key)


def test_filters_the_histograms_do_not_hold_sort_the_facts(spread: World) -> None:
    filters = FactFilter(
        start=MONDAY, end=MONDAY + dt.timedelta(weeks=3), client_id=spread.client.id
    )
    with CaptureQueriesContext(connection) as queries:
        found = figures(filters, user=None, metrics=MEDIANS)
    assert not any("metrics_facthistogram" in q["sql"] for q in queries.captured_queries)
    for metric in MEDIANS:
        assert found[metric.key].median == _exact(filters, metric.key)


def _snapshot() -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    def rows(model: Any) -> Counter[tuple[Any, ...]]:
        names = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
        found: Counter[tuple[Any, ...]] = Counter()
        for row in model.objects.values_list(*names):
            found[tuple(round(v, 6) if isinstance(v, float) else v for v in row)] += 1
        return found

    return rows(FactWeek), rows(FactHistogram)


def test_incremental_upkeep_equals_a_rebuild(spread: World) -> None:
    tickets = list(Ticket.objects.filter(external_id__startswith="H-").order_by("id"))
    # A ticket reopened, one moved to another type and queue, one found opened two days
    # earlier with time logged on it, one moved to the other client.
    reopened, moved, late, gone = tickets[3], tickets[10], tickets[20], tickets[30]
    fact = TicketFact.objects.get(ticket=reopened)
    assert fact.resolved_at is not None
    event(
        reopened,
        "status_changed",
        fact.resolved_at + dt.timedelta(hours=2),
        old="resolved",
        new="in_progress",
    )
    Ticket.objects.filter(pk=moved.pk).update(
        type=TicketType.objects.create(name="Printer", slug="printer"),
        queue=Queue.objects.create(name="Field", slug="field"),
    )
    Ticket.objects.filter(pk=late.pk).update(opened_at=late.opened_at - dt.timedelta(days=2))
    TimeEntry.objects.create(
        ticket=late, staff=spread.tech_in, started_at=late.opened_at, minutes=35
    )
    Ticket.objects.filter(pk=gone.pk).update(
        client=spread.other_client if gone.client_id == spread.client.id else spread.client
    )
    facts_refresh_all()
    assert not RollupDirty.objects.exists()
    kept = _snapshot()
    daily = {grain.code + DAILY for grain in COARSE}
    assert {row[0] for row in kept[0]} == {grain.code for grain in GRAINS} | daily
    assert sum(kept[1].values()) > 0
    rollup_rebuild()
    assert _snapshot() == kept


@pytest.mark.parametrize("period", ["three whole weeks", "Wednesday to the next week's Thursday"])
@pytest.mark.parametrize("by", ["queue", "technician", "type and path", "nothing"])
def test_every_grain_sums_what_the_facts_hold(spread: World, by: str, period: str) -> None:
    extra: Any = {
        "queue": {"queue_id": spread.queue.id},
        "technician": {"technician_id": spread.tech_in.id},
        "type and path": {"type_id": spread.ticket_type.id, "path": "human"},
        "nothing": {},
    }[by]
    start, end = PERIODS[period]
    filters = FactFilter(start=start, end=end, **extra)
    summed = [metric for metric in CATALOGUE if metric.kind != "median"]
    with CaptureQueriesContext(connection) as queries:
        found = figures(filters, user=None, metrics=summed)
    # Whole weeks and the days around them both come from the rollup.
    assert all("metrics_ticketfact" not in q["sql"] for q in queries.captured_queries)
    row = facts_in(filters, user=None).aggregate(**_aggregates(summed))
    for metric in summed:
        expected = _figure(metric, row).sample
        assert found[metric.key].sample.count == expected.count, metric.key
        assert found[metric.key].sample.total == pytest.approx(expected.total), metric.key
        assert found[metric.key].sample.total_squares == pytest.approx(expected.total_squares), (
            metric.key
        )


@pytest.mark.parametrize("period", ["three whole weeks", "Wednesday to the next week's Thursday"])
@pytest.mark.parametrize("by", ["nothing", "client"])
def test_the_holdout_arms_in_one_pass_are_each_arm_alone(
    spread: World, by: str, period: str
) -> None:
    holdout = holdout_start(share=Decimal("0.3"), staff=spread.manager)
    tickets = list(Ticket.objects.order_by("id"))
    HoldoutTicket.objects.bulk_create(
        HoldoutTicket(
            ticket=ticket,
            holdout=holdout,
            arm=HoldoutTicket.Arm.CONTROL if n % 3 == 0 else HoldoutTicket.Arm.TREATED,
            drawn_at=ticket.opened_at,
        )
        for n, ticket in enumerate(tickets)
        if n % 7  # some tickets were never drawn
    )
    FactDirty.objects.bulk_create(
        (FactDirty(ticket_id=ticket.id) for ticket in tickets), ignore_conflicts=True
    )
    facts_refresh_all()
    start, end = PERIODS[period]
    client = spread.client.id if by == "client" else None
    filters = FactFilter(start=start, end=end, client_id=client)
    metrics = [METRICS[key] for key in ("mttr_mean", "deflection_rate", "ftr_rate", "reopen_rate")]
    lifts = {lift.metric.key: lift for lift in holdout_lift(filters, user=None, metrics=metrics)}
    assert set(lifts) == {metric.key for metric in metrics}
    for arm in ("control", "treated"):
        row = facts_in(replace(filters, arm=arm), user=None).aggregate(**_aggregates(metrics))
        assert row[f"{metrics[0].key}__n"] > 0, arm
        for metric in metrics:
            found = getattr(lifts[metric.key], arm).sample
            expected = _figure(metric, row).sample
            assert found.count == expected.count, (arm, metric.key)
            assert found.total == pytest.approx(expected.total), (arm, metric.key)
