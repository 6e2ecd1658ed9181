"""The weekly review of what the agent did, and the autonomy ladder built on it.

Every number is computed by the database with grouped aggregate queries over the signed-in
person's actions (`actions_visible_to`), so the page costs the same few queries whether a
week holds ten actions or ten thousand. Only agent actions count: rules, models, playbooks
and the LLM agent, never a technician's own changes.

The ladder only recommends. A manager applies a step with one click (`services.ladder_step_apply`),
which saves the type's policy through `services.policy_save` and so records a revision.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.db.models.lookups import Exact
from django.utils import timezone

from governance.kinds import KINDS, Mode
from governance.models import Action, AgentPolicy, Correction
from governance.selectors import actions_visible_to
from tickets.models import Ticket, TicketEvent, TimeEntry
from tickets.selectors import UserLike, tickets_visible_to

Z_95 = 1.959963984540054  # two-sided 95% normal quantile, for Wilson score intervals

# An approval rate on fewer decisions than this is noise: the page says so instead.
MIN_DECISIONS_FOR_RATE = 10
# The time-saved estimate multiplies by the median minutes logged per ticket over this window.
TIME_BASELINE_DAYS = 90

# The autonomy ladder: evidence window and thresholds (shown on the page as they are here).
LADDER_WINDOW_DAYS = 28
PROMOTE_MIN_DECISIONS = 30
PROMOTE_MIN_LOWER_BOUND = 0.90
DEMOTE_MIN_EXECUTIONS = 20
DEMOTE_OVERRIDE_LOWER_BOUND = 0.10
DEMOTE_REOPEN_SHARE = 0.10

FIELD_KINDS = tuple(key for key, spec in KINDS.items() if spec.field_name and spec.params)

_OPEN_WORDS = [*Ticket.OPEN_STATUSES, *(str(Ticket.Status(s).label) for s in Ticket.OPEN_STATUSES)]
_DONE_WORDS = [*Ticket.DONE_STATUSES, *(str(Ticket.Status(s).label) for s in Ticket.DONE_STATUSES)]


# --- statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    @property
    def low_percent(self) -> int:
        return round(self.low * 100)

    @property
    def high_percent(self) -> int:
        return round(self.high * 100)


def wilson_interval(successes: int, total: int, *, z: float = Z_95) -> Interval | None:
    """The Wilson score interval for a proportion (None without observations). Unlike the
    normal approximation it stays inside [0, 1] and is honest about small samples: 5 out of
    5 has a lower bound of 0.57, 40 out of 40 one of 0.91."""
    if total <= 0:
        return None
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    return Interval(low=max(0.0, centre - half), high=min(1.0, centre + half))


# --- weeks -----------------------------------------------------------------------------

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class IsoWeek:
    """An ISO week (Monday to Sunday) in the desk's time zone."""

    year: int
    week: int

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def start(self) -> dt.datetime:
        return _local_midnight(self.monday)

    @property
    def end(self) -> dt.datetime:
        return _local_midnight(self.monday + dt.timedelta(days=7))

    @property
    def param(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def label(self) -> str:
        sunday = self.monday + dt.timedelta(days=6)
        first = f"{self.monday.day} {self.monday:%b}"
        return f"Week {self.week} of {self.year}, {first} – {sunday.day} {sunday:%b %Y}"

    @property
    def previous(self) -> IsoWeek:
        return week_of(self.monday - dt.timedelta(days=7))

    @property
    def next(self) -> IsoWeek:
        return week_of(self.monday + dt.timedelta(days=7))


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


def week_of(day: dt.date) -> IsoWeek:
    year, week, _ = day.isocalendar()
    return IsoWeek(year, week)


def last_completed_week(now: dt.datetime) -> IsoWeek:
    return week_of(timezone.localdate(now) - dt.timedelta(days=7))


def week_parse(text: str) -> IsoWeek:
    """'2026-W07' → that week, or a ValidationError that says what would be accepted."""
    match = _WEEK_RE.match(text.strip())
    if match is None:
        raise ValidationError({"week": f"“{text}” is not an ISO week; write it as 2026-W07."})
    year, week = int(match[1]), int(match[2])
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValidationError({"week": f"{year} has no week {week}."}) from None
    return IsoWeek(year, week)


# --- what counts as what ---------------------------------------------------------------

_DECIDED = Q(decided_by__isnull=False) & ~Q(status=Action.Status.REJECTED)
APPROVED = _DECIDED & Q(original_params__isnull=True)
EDITED = _DECIDED & Q(original_params__isnull=False)
REJECTED = Q(status=Action.Status.REJECTED)
# started_at: an action that failed before running ("no tool connected") did not run.
AUTONOMOUS = Q(
    decided_by__isnull=True, status__in=Action.EXECUTED_STATUSES, started_at__isnull=False
)
SHADOW = Q(status=Action.Status.SHADOW)


def _corrected_after_running() -> Exists:
    # An edit before approval is counted as "edited", not as an override.
    return Exists(
        Correction.objects.filter(action_id=OuterRef("pk")).exclude(source=Correction.Source.EDITED)
    )


def overridden() -> Q:
    """Undone, or corrected after it ran."""
    return Q(status=Action.Status.UNDONE) | Q(_corrected_after_running())


def agrees_with_ticket() -> Q:
    """A field-setting action whose value is the ticket's current value of that field: what
    the technicians ended up with. Compared as text so ids, numbers and codes all work."""
    parts = []
    for key in FIELD_KINDS:
        spec = KINDS[key]
        proposed = Cast(KT(f"params__{spec.params[0].name}"), CharField())
        current = Cast(F(f"ticket__{spec.field_name}"), CharField())
        parts.append(Q(kind=key) & Q(Exact(proposed, current)))
    return reduce(or_, parts)


def _reopened_after_action() -> Exists:
    return Exists(
        TicketEvent.objects.filter(
            ticket_id=OuterRef("ticket_id"),
            kind=TicketEvent.Kind.STATUS_CHANGED,
            occurred_at__gte=OuterRef("started_at"),
            # Events from the PSA carry status codes, ours carry labels: accept both.
            old_value__in=_DONE_WORDS,
            new_value__in=_OPEN_WORDS,
        )
    )


def agent_actions(user: UserLike) -> QuerySet[Action]:
    return actions_visible_to(user).exclude(proposer_kind=Action.Proposer.HUMAN).order_by()


# --- the weekly review -----------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRow:
    """One ticket type's week (type_id None: tickets with no type yet)."""

    type_id: int | None
    type_name: str
    proposed: int = 0
    approved: int = 0
    edited: int = 0
    rejected: int = 0
    overridden: int = 0
    failed: int = 0
    blocked: int = 0
    autonomous: int = 0
    shadow: int = 0
    shadow_compared: int = 0  # shadow actions of field-setting kinds
    shadow_agreed: int = 0
    tickets_saved: int = 0  # resolved with an agent success and no time logged
    median_minutes: float | None = None  # per ticket of the type, before the week
    minutes_saved: float | None = None  # tickets_saved × median_minutes (None: no baseline)

    @property
    def decisions(self) -> int:
        return self.approved + self.edited + self.rejected

    @property
    def has_enough_decisions(self) -> bool:
        return self.decisions >= MIN_DECISIONS_FOR_RATE

    @property
    def approval_rate(self) -> float | None:
        return self.approved / self.decisions if self.decisions else None

    @property
    def approval_interval(self) -> Interval | None:
        return wilson_interval(self.approved, self.decisions)

    @property
    def approval_percent(self) -> int | None:
        rate = self.approval_rate
        return None if rate is None else round(rate * 100)

    @property
    def shadow_agreement(self) -> float | None:
        return self.shadow_agreed / self.shadow_compared if self.shadow_compared else None

    @property
    def shadow_agreement_percent(self) -> int | None:
        share = self.shadow_agreement
        return None if share is None else round(share * 100)

    @property
    def hours_saved(self) -> float | None:
        minutes = self.minutes_saved
        return None if minutes is None else minutes / 60


@dataclass(frozen=True)
class WeeklyReview:
    week: IsoWeek
    rows: list[ReviewRow]
    total: ReviewRow

    @property
    def is_empty(self) -> bool:
        return self.total.proposed == 0 and self.total.tickets_saved == 0


_COUNTS = (
    "proposed",
    "approved",
    "edited",
    "rejected",
    "overridden",
    "failed",
    "blocked",
    "autonomous",
    "shadow",
    "shadow_compared",
    "shadow_agreed",
)


def _week_counts(user: UserLike, week: IsoWeek) -> list[dict[str, Any]]:
    field_kinds = Q(kind__in=FIELD_KINDS)
    rows = (
        agent_actions(user)
        .filter(created_at__gte=week.start, created_at__lt=week.end)
        .values("ticket__type", "ticket__type__name")
        .annotate(
            proposed=Count("id"),
            approved=Count("id", filter=APPROVED),
            edited=Count("id", filter=EDITED),
            rejected=Count("id", filter=REJECTED),
            overridden=Count("id", filter=overridden()),
            failed=Count("id", filter=Q(status=Action.Status.FAILED)),
            blocked=Count("id", filter=Q(status=Action.Status.BLOCKED)),
            autonomous=Count("id", filter=AUTONOMOUS),
            shadow=Count("id", filter=SHADOW),
            shadow_compared=Count("id", filter=SHADOW & field_kinds),
            shadow_agreed=Count("id", filter=SHADOW & field_kinds & agrees_with_ticket()),
        )
        .order_by("ticket__type__name")
    )
    return [dict(row) for row in rows]


def _saved_tickets(user: UserLike, week: IsoWeek) -> dict[int | None, tuple[str, int]]:
    """Per type: tickets resolved in the week where an agent action succeeded and nobody
    logged time."""
    agent_success = Action.objects.filter(
        ticket_id=OuterRef("pk"), status__in=Action.DONE_OK_STATUSES
    ).exclude(proposer_kind=Action.Proposer.HUMAN)
    rows = (
        tickets_visible_to(user)
        .filter(resolved_at__gte=week.start, resolved_at__lt=week.end)
        .filter(Exists(agent_success))
        .filter(~Exists(TimeEntry.objects.filter(ticket_id=OuterRef("pk"))))
        .order_by()
        .values("type", "type__name")
        .annotate(tickets=Count("id"))
    )
    return {row["type"]: (row["type__name"] or "", row["tickets"]) for row in rows}


class _Median(Aggregate):
    """PostgreSQL's exact median (an ordered-set aggregate Django does not ship)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def _median_minutes(
    user: UserLike, week: IsoWeek, type_ids: Iterable[int | None]
) -> dict[int | None, float]:
    """Per type: the median minutes logged per ticket, over tickets with time entries in
    the TIME_BASELINE_DAYS before the week."""
    wanted = list(type_ids)
    if not wanted:
        return {}
    window = TimeEntry.objects.filter(
        ticket_id=OuterRef("pk"),
        started_at__gte=week.start - dt.timedelta(days=TIME_BASELINE_DAYS),
        started_at__lt=week.start,
    )
    per_ticket = window.order_by().values("ticket_id").annotate(total=Sum("minutes"))
    in_types = Q(type__in=[i for i in wanted if i is not None])
    if None in wanted:
        in_types |= Q(type__isnull=True)
    tickets = (
        tickets_visible_to(user)
        .filter(in_types)
        .filter(Exists(window))
        .annotate(minutes=Subquery(per_ticket.values("total")))
        .order_by()
    )
    if connection.vendor == "postgresql":
        rows = tickets.values("type").annotate(median=_Median("minutes", output_field=FloatField()))
        return {row["type"]: float(row["median"]) for row in rows}
    # Other databases have no median aggregate: one query for the per-ticket sums instead.
    by_type: dict[int | None, list[int]] = {}
    for type_id, minutes in tickets.values_list("type", "minutes"):
        by_type.setdefault(type_id, []).append(minutes)
    return {type_id: float(statistics.median(values)) for type_id, values in by_type.items()}


def weekly_review(*, user: UserLike, week: IsoWeek) -> WeeklyReview:
    counts = _week_counts(user, week)
    saved = _saved_tickets(user, week)
    medians = _median_minutes(user, week, saved)
    rows: dict[int | None, ReviewRow] = {}
    for row in counts:
        type_id = row["ticket__type"]
        rows[type_id] = ReviewRow(
            type_id=type_id,
            type_name=row["ticket__type__name"] or "",
            **{name: row[name] for name in _COUNTS},
        )
    for type_id, (name, tickets) in saved.items():
        base = rows.get(type_id, ReviewRow(type_id=type_id, type_name=name))
        median = medians.get(type_id)
        rows[type_id] = replace(
            base,
            tickets_saved=tickets,
            median_minutes=median,
            minutes_saved=None if median is None else tickets * median,
        )
    ordered = sorted(rows.values(), key=lambda r: (r.type_id is None, r.type_name.lower()))
    return WeeklyReview(week=week, rows=ordered, total=_total(ordered))


def _total(rows: list[ReviewRow]) -> ReviewRow:
    sums: dict[str, Any] = {name: sum(getattr(r, name) for r in rows) for name in _COUNTS}
    sums["tickets_saved"] = sum(r.tickets_saved for r in rows)
    minutes = [r.minutes_saved for r in rows if r.minutes_saved is not None]
    sums["minutes_saved"] = sum(minutes) if minutes else None
    return ReviewRow(type_id=None, type_name="All types", **sums)


# --- the autonomy ladder ---------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    direction: str  # "promote" or "demote"
    from_mode: str
    to_mode: str
    reason: str

    @property
    def from_label(self) -> str:
        return Mode.label(self.from_mode)

    @property
    def to_label(self) -> str:
        return Mode.label(self.to_mode)


@dataclass(frozen=True)
class LadderRow:
    """The evidence for one (ticket type, action kind) pair over the ladder window."""

    type_id: int | None
    type_name: str
    kind: str
    current_mode: str
    approved: int
    edited: int
    rejected: int
    compared: int  # shadow or suggested proposals of a field-setting kind
    agreed: int
    runs: int  # autonomous executions
    overridden: int
    touched: int  # distinct tickets those executions touched
    reopened: int  # of those, tickets reopened afterwards
    recommendation: Recommendation | None
    note: str

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind].label

    @property
    def current_label(self) -> str:
        return Mode.label(self.current_mode)

    @property
    def decisions(self) -> int:
        return self.approved + self.edited + self.rejected


@dataclass(frozen=True)
class Ladder:
    since: dt.datetime
    rows: list[LadderRow]

    @property
    def recommendations(self) -> list[LadderRow]:
        return [row for row in self.rows if row.recommendation is not None]


def _ladder_counts(user: UserLike, since: dt.datetime) -> list[dict[str, Any]]:
    compared = Q(status__in=(Action.Status.SHADOW, Action.Status.SUGGESTED), kind__in=FIELD_KINDS)
    rows = (
        agent_actions(user)
        .filter(created_at__gte=since)
        .values("ticket__type", "ticket__type__name", "kind")
        .annotate(
            approved=Count("id", filter=APPROVED),
            edited=Count("id", filter=EDITED),
            rejected=Count("id", filter=REJECTED),
            compared=Count("id", filter=compared),
            agreed=Count("id", filter=compared & agrees_with_ticket()),
            runs=Count("id", filter=AUTONOMOUS),
            overridden=Count("id", filter=AUTONOMOUS & overridden()),
            touched=Count("ticket", distinct=True, filter=AUTONOMOUS),
            reopened=Count(
                "ticket", distinct=True, filter=AUTONOMOUS & Q(_reopened_after_action())
            ),
        )
        .order_by("ticket__type__name", "kind")
    )
    return [
        dict(row)
        for row in rows
        if row["approved"] + row["edited"] + row["rejected"] + row["compared"] + row["runs"]
    ]


def type_policy_modes() -> Mapping[int | None, Mapping[str, str]]:
    """Per ticket type (None: the every-type default), the mode each kind has at type level:
    the type's own policy, else the default policy, else the catalogue. Client policies are
    left out: the ladder moves a type, not a client."""
    policies = AgentPolicy.objects.filter(client__isnull=True).prefetch_related("rules")
    rules = {p.ticket_type_id: {r.action_kind: r.mode for r in p.rules.all()} for p in policies}
    catalogue = {key: spec.default_mode for key, spec in KINDS.items()}
    default = {**catalogue, **rules.pop(None, {})}
    modes: dict[int | None, Mapping[str, str]] = {None: default}
    for type_id, own in rules.items():
        modes[type_id] = {**default, **own}
    return modes


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _promotion(row: dict[str, Any], current: str) -> tuple[Recommendation | None, str]:
    decisions = row["approved"] + row["edited"] + row["rejected"]
    if current == Mode.APPROVAL:
        if decisions < PROMOTE_MIN_DECISIONS:
            return None, f"{decisions} decisions; a promotion needs {PROMOTE_MIN_DECISIONS}."
        interval = wilson_interval(row["approved"], decisions)
        assert interval is not None
        words = (
            f"{row['approved']} of {decisions} proposals were approved as proposed "
            f"({_share(row['approved'], decisions)}; 95% lower bound {interval.low:.2f})"
        )
        if interval.low >= PROMOTE_MIN_LOWER_BOUND:
            reason = f"{words}, at least {PROMOTE_MIN_LOWER_BOUND:.2f}: let it run on its own."
            return Recommendation("promote", Mode.APPROVAL, Mode.AUTONOMOUS, reason), ""
        return None, f"{words}; a promotion needs {PROMOTE_MIN_LOWER_BOUND:.2f}."
    if current == Mode.SUGGEST and row["kind"] in FIELD_KINDS:
        compared, agreed = row["compared"], row["agreed"]
        if compared < PROMOTE_MIN_DECISIONS:
            return (
                None,
                f"{compared} suggestions to compare; a promotion needs {PROMOTE_MIN_DECISIONS}.",
            )
        interval = wilson_interval(agreed, compared)
        assert interval is not None
        words = (
            f"{agreed} of {compared} suggestions matched what technicians set "
            f"({_share(agreed, compared)}; 95% lower bound {interval.low:.2f})"
        )
        if interval.low >= PROMOTE_MIN_LOWER_BOUND:
            reason = f"{words}, at least {PROMOTE_MIN_LOWER_BOUND:.2f}: let technicians approve it."
            return Recommendation("promote", Mode.SUGGEST, Mode.APPROVAL, reason), ""
        return None, f"{words}; a promotion needs {PROMOTE_MIN_LOWER_BOUND:.2f}."
    return None, f"No promotion from {Mode.label(current).lower()} on this evidence."


def _demotion(row: dict[str, Any]) -> tuple[Recommendation | None, str]:
    runs, overrides = row["runs"], row["overridden"]
    if runs < DEMOTE_MIN_EXECUTIONS:
        return None, f"{runs} autonomous runs; the checks start at {DEMOTE_MIN_EXECUTIONS}."
    interval = wilson_interval(overrides, runs)
    assert interval is not None
    reasons = []
    override_words = (
        f"{overrides} of {runs} autonomous runs were undone or corrected "
        f"({_share(overrides, runs)}; 95% lower bound {interval.low:.2f})"
    )
    if interval.low >= DEMOTE_OVERRIDE_LOWER_BOUND:
        reasons.append(f"{override_words}, at least {DEMOTE_OVERRIDE_LOWER_BOUND:.2f}")
    touched, reopened = row["touched"], row["reopened"]
    if touched and reopened / touched > DEMOTE_REOPEN_SHARE:
        reasons.append(
            f"{reopened} of {touched} tickets it touched were reopened afterwards "
            f"({_share(reopened, touched)}, over {DEMOTE_REOPEN_SHARE:.0%})"
        )
    if reasons:
        reason = "; ".join(reasons) + ": put a technician back in the loop."
        return Recommendation(
            "demote", Mode.AUTONOMOUS, Mode.APPROVAL, reason[0].upper() + reason[1:]
        ), ""
    return None, f"{override_words}; {reopened} of {touched} tickets reopened. Keep it."


def autonomy_ladder(*, user: UserLike, now: dt.datetime) -> Ladder:
    since = now - dt.timedelta(days=LADDER_WINDOW_DAYS)
    modes = type_policy_modes()
    rows = []
    for row in _ladder_counts(user, since):
        if row["kind"] not in KINDS:  # a kind retired from the catalogue: nothing to move
            continue
        type_id = row["ticket__type"]
        current = modes.get(type_id, modes[None])[row["kind"]]
        if current == Mode.AUTONOMOUS:
            recommendation, note = _demotion(row)
        else:
            recommendation, note = _promotion(row, current)
        rows.append(
            LadderRow(
                type_id=type_id,
                type_name=row["ticket__type__name"] or "",
                kind=row["kind"],
                current_mode=current,
                approved=row["approved"],
                edited=row["edited"],
                rejected=row["rejected"],
                compared=row["compared"],
                agreed=row["agreed"],
                runs=row["runs"],
                overridden=row["overridden"],
                touched=row["touched"],
                reopened=row["reopened"],
                recommendation=recommendation,
                note=note,
            )
        )
    return Ladder(since=since, rows=rows)
