"""Exact medians over long periods without sorting every ticket.

Each fact carries, for every duration a median is taken over, a log-scale bucket
(`bucket_of`: 8 buckets per doubling, so a bucket spans at most 1/8 of its values). The
weekly histograms (`FactHistogram`, kept by `metrics.rollup` beside the weekly sums) count
the facts per week and bucket — for everything, per path and per ticket type. A median over a
year then:

1. adds up the year's bucket counts (a few thousand histogram rows, plus the facts of the days
   around whole weeks),
2. finds the bucket that holds the middle rank (or the two middle ranks), and
3. sorts only that bucket's facts of the period — a few percent of them — to read the value
   at the rank within the bucket.

The answer is the same number percentile_cont(0.5) gives over every fact of the period:
buckets never overlap (`bucket_of` never decreases as the value grows), so every value in a
lower bucket ranks below every value in a higher one. Filters the histograms do not hold (a
client, queue or technician, a holdout arm, a user who sees only some clients) are answered
from the facts directly, where the filter already narrows them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber

from metrics.definitions import Metric

SUB_BITS = 3
SMALL = 1 << SUB_BITS

# (grain code, the fact columns it is kept per), smallest first.
HISTOGRAM_GRAINS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ()),
    (1, ("path",)),
    (2, ("ticket_type_id",)),
    (3, ("ticket_type_id", "path")),
)
# Grains also kept per day. Per type, a day's histogram is nearly a row per ticket: the days
# around whole weeks are counted from those days' facts instead.
DAILY_HISTOGRAMS = frozenset({0, 1})
# Every grain is also kept per block of four weeks (grain + BLOCK; `week` holds the block's
# first Monday), summed from its weeks: a year by type adds up 13 blocks, not 52 weeks.
BLOCK = 200
BLOCK_SPAN = dt.timedelta(weeks=4)
EPOCH = dt.date(2000, 1, 3)  # a Monday; blocks start every four weeks from it


def block_of(week: dt.date) -> dt.date:
    """The first Monday of the block holding this week."""
    return week - dt.timedelta(days=(week - EPOCH).days % BLOCK_SPAN.days)


def week_ranges(start: dt.date, end: dt.date) -> list[tuple[int, dt.date, dt.date]]:
    """Whole weeks from `start` to `end` (Mondays) as (grain offset, from, to): the whole
    blocks inside (offset BLOCK) and the weeks around them (offset 0)."""
    first = block_of(start)
    if first < start:
        first += BLOCK_SPAN
    last = block_of(end)
    if first >= last:
        return [(0, start, end)]
    ranges = [(0, start, first)] if start < first else []
    ranges.append((BLOCK, first, last))
    if last < end:
        ranges.append((0, last, end))
    return ranges


def bucket_of(value: int | None) -> int | None:
    """The bucket of a duration in seconds: the value itself below 8, then 8 buckets per
    doubling (the leading bit's position and the next three bits). Integer arithmetic only,
    and never decreasing as the value grows."""
    if value is None:
        return None
    if value < SMALL:
        return max(value, 0)
    exponent = value.bit_length() - 1
    mantissa = (value >> (exponent - SUB_BITS)) & (SMALL - 1)
    return SMALL + (exponent - SUB_BITS) * SMALL + mantissa


def bucket_field(metric: Metric) -> str:
    assert metric.field is not None, metric.key
    return f"{metric.field}_bucket"


def grain_for(dimensions: set[str]) -> int | None:
    """The smallest histogram grain holding these fact dimensions (filters and grouping), or
    None when the histograms cannot answer."""
    for code, columns in HISTOGRAM_GRAINS:
        if dimensions <= set(columns):
            return code
    return None


def _middle_ranks(count: int) -> tuple[int, ...]:
    """The 1-based ranks percentile_cont(0.5) interpolates between."""
    if count == 0:
        return ()
    if count % 2:
        return ((count + 1) // 2,)
    return (count // 2, count // 2 + 1)


def _locate(counts: dict[int, int], rank: int) -> tuple[int, int]:
    """(the bucket holding `rank`, how many values rank below that bucket)."""
    below = 0
    for bucket in sorted(counts):
        if below + counts[bucket] >= rank:
            return bucket, below
        below += counts[bucket]
    raise ValueError(f"rank {rank} beyond {below} values")


def medians_from_histograms(
    *,
    metrics: Sequence[Metric],
    counts: Sequence[Any],
    facts: Any,
    column: str | None,
    days: Sequence[Any] = (),
) -> dict[Any, dict[str, Any]]:
    """Each metric's median and sample size per value of `column` (None: one group, keyed
    None), as `{key}__median` and `{key}__n` — exactly what percentile_cont and a count over
    `facts` give.

    `counts`: querysets of the histogram rows that together cover the period (whole weeks
    and days), narrowed to the grain and the filter; `days`: the facts of days the histograms
    do not keep, counted here; `facts`: the facts of the whole period (only the located
    buckets' are read)."""
    out: dict[Any, dict[str, Any]] = defaultdict(dict)
    group = [column] if column else []
    buckets_of: dict[tuple[str, Any], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    # Plain tuples, not dicts: a year by type is thousands of (bucket, count) rows.
    for part in counts:
        rows = (
            part.filter(metric__in=[metric.key for metric in metrics])
            .values("metric", *group, "bucket")
            .annotate(n=Sum("count"))
            .order_by()
            .values_list("metric", *group, "bucket", "n")
        )
        for name, *grouped, bucket, n in rows:
            buckets_of[(name, grouped[0] if column else None)][bucket] += n
    for part in days:
        for metric in metrics:
            field = bucket_field(metric)
            rows = (
                part.filter(metric.population, **{f"{field}__isnull": False})
                .values(*group, field)
                .annotate(n=Count(field))
                .order_by()
                .values_list(*group, field, "n")
            )
            for *grouped, bucket, n in rows:
                buckets_of[(metric.key, grouped[0] if column else None)][bucket] += n
    for metric in metrics:
        # The buckets the middle ranks fall in, per group; then only their facts are read.
        located: dict[Any, list[tuple[int, int]]] = {
            key: [_locate(buckets, rank) for rank in _middle_ranks(sum(buckets.values()))]
            for (name, key), buckets in buckets_of.items()
            if name == metric.key
        }
        wanted = {
            (key, bucket, rank - below)
            for key, found in located.items()
            for rank, (bucket, below) in zip(
                _middle_ranks(sum(buckets_of[(metric.key, key)].values())), found, strict=True
            )
        }
        values = _ranked_values(facts, metric, column, wanted)
        for key, found in located.items():
            total = sum(buckets_of[(metric.key, key)].values())
            picked = [
                values[(key, bucket, rank - below)]
                for rank, (bucket, below) in zip(_middle_ranks(total), found, strict=True)
            ]
            out[key][f"{metric.key}__n"] = total
            out[key][f"{metric.key}__median"] = (
                None if not picked else picked[0] + (picked[-1] - picked[0]) * 0.5
            )
    return out


def _ranked_values(
    facts: Any, metric: Metric, column: str | None, wanted: set[tuple[Any, int, int]]
) -> dict[tuple[Any, int, int], int]:
    """The values at these (group, bucket, rank within the bucket) places among the period's
    facts: the database sorts each located bucket (from the (bucket, resolved at) index
    alone on PostgreSQL) and returns only the ranked rows."""
    if not wanted:
        return {}
    field = bucket_field(metric)
    assert metric.field is not None
    if column == "ticket_type_id":
        return _ranked_per_type(facts, metric, wanted)
    buckets = sorted({bucket for _key, bucket, _rank in wanted})
    where = Q(**{f"{field}__in": buckets})
    if column:
        # Each group's own bucket only (a filter on the index's included columns).
        pairs = Q(pk__in=[])
        for key, bucket in {(key, bucket) for key, bucket, _rank in wanted}:
            group = Q(**{f"{column}__isnull": True}) if key is None else Q(**{column: key})
            pairs |= group & Q(**{field: bucket})
        where &= pairs
    partition = [F(field), *([F(column)] if column else [])]
    ranked = (
        facts.filter(metric.population)
        .filter(where)
        .annotate(place=Window(RowNumber(), partition_by=partition, order_by=F(metric.field).asc()))
        .filter(place__in=sorted({rank for _key, _bucket, rank in wanted}))
    )
    found: dict[tuple[Any, int, int], int] = {}
    columns = [column, field, "place", metric.field] if column else [field, "place", metric.field]
    for row in ranked.values_list(*columns).order_by():
        key, bucket, place, value = row if column else (None, *row)
        found[(key, bucket, place)] = value
    return found


def _ranked_per_type(
    facts: Any, metric: Metric, wanted: set[tuple[Any, int, int]]
) -> dict[tuple[Any, int, int], int]:
    """`_ranked_values` by ticket type: one small sort per (type, bucket), all in one UNION
    ALL, each read from the (bucket, type, resolved at) index alone — a bucket holds every
    type's facts, so sorting whole buckets and keeping one type's would read ~15 times as
    many (a year's page: 100,000 index entries instead of 14,000)."""
    field = bucket_field(metric)
    assert metric.field is not None
    ranks: dict[tuple[Any, int], set[int]] = defaultdict(set)
    for key, bucket, rank in wanted:
        ranks[(key, bucket)].add(rank)
    parts = []
    for (key, bucket), places in sorted(ranks.items(), key=lambda item: str(item[0])):
        group = {"ticket_type__isnull": True} if key is None else {"ticket_type_id": key}
        parts.append(
            facts.filter(metric.population)
            .filter(**group, **{field: bucket})
            .annotate(place=Window(RowNumber(), order_by=F(metric.field).asc()))
            .filter(place__in=sorted(places))
            .order_by()
            .values_list("ticket_type_id", field, "place", metric.field)
        )
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return {(key, bucket, place): value for key, bucket, place, value in union}
