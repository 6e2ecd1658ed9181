"""Every metric's definition — the sentence shown beside the number and the expression that
computes it over ticket facts. Adding a metric here puts it on the pages, in the CSV, in
baselines and in the weekly report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db.models import Case, Expression, F, IntegerField, Q, Value, When

from metrics.models import Path

Kind = Literal["mean", "median", "rate"]
Group = Literal["operational", "financial", "experience"]
RESOLVED = Q(resolved_at__isnull=False)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    group: Group
    kind: Kind
    definition: str
    population: Q = RESOLVED
    field: str | None = None
    hits: Q | None = None
    scale: float = 1.0
    better: Literal["lower", "higher"] = "lower"
    digits: int = 1

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"

    def expression(self) -> Expression | F:
        """The per-ticket value a mean or median is taken over."""
        if self.field == "nps_points":
            return NPS_POINTS
        if self.field == "total_cost":
            return F("labour_cost") + F("llm_cost")
        assert self.field is not None, self.key
        return F(self.field)


NPS_POINTS = Case(
    When(nps__gte=9, then=Value(100)),
    When(nps__lte=6, then=Value(-100)),
    default=Value(0),
    output_field=IntegerField(),
)

HOUR, MINUTE = 1 / 3600, 1 / 60

CATALOGUE: tuple[Metric, ...] = (
    Metric(
        "mttr_mean",
        "Mean time to resolution",
        "h",
        "operational",
        "mean",
        "Hours from opening to the first resolution, wall clock, averaged over tickets "
        "resolved in the period.",
        field="resolution_seconds",
        scale=HOUR,
    ),
    Metric(
        "mttr_median",
        "Median time to resolution",
        "h",
        "operational",
        "median",
        "The middle ticket's hours from opening to first resolution, wall clock.",
        field="resolution_seconds",
        scale=HOUR,
    ),
    Metric(
        "mttr_business_mean",
        "Mean time to resolution, business hours",
        "h",
        "operational",
        "mean",
        "Business hours from opening to first resolution in the client's time zone, working "
        "days and hours, holidays excluded.",
        field="resolution_business_seconds",
        scale=HOUR,
    ),
    Metric(
        "mttr_business_median",
        "Median time to resolution, business hours",
        "h",
        "operational",
        "median",
        "The middle ticket's business hours from opening to first resolution.",
        field="resolution_business_seconds",
        scale=HOUR,
    ),
    Metric(
        "first_response_mean",
        "Mean time to first response",
        "min",
        "operational",
        "mean",
        "Minutes from opening to the first reply to the requester by a technician or the "
        "agent, over resolved tickets that had one.",
        population=RESOLVED & Q(first_response_seconds__isnull=False),
        field="first_response_seconds",
        scale=MINUTE,
    ),
    Metric(
        "first_response_median",
        "Median time to first response",
        "min",
        "operational",
        "median",
        "The middle ticket's minutes from opening to the first reply.",
        population=RESOLVED & Q(first_response_seconds__isnull=False),
        field="first_response_seconds",
        scale=MINUTE,
    ),
    Metric(
        "ftr_rate",
        "First-touch resolution",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets resolved by the first person or agent who worked them: "
        "no reassignment, no reopen, at most one technician.",
        hits=Q(first_touch=True),
        better="higher",
    ),
    Metric(
        "deflection_rate",
        "L1 deflection",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets resolved with no human touch: no technician event, no "
        "time logged, no approval.",
        hits=Q(path=Path.AGENT),
        better="higher",
    ),
    Metric(
        "reassignment_rate",
        "Reassignment rate",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets that moved from one assignee to another at least once.",
        hits=Q(reassignments__gt=0),
    ),
    Metric(
        "handoffs_per_ticket",
        "Handoffs per ticket",
        "",
        "operational",
        "mean",
        "Reassignments per resolved ticket.",
        field="reassignments",
        digits=2,
    ),
    Metric(
        "after_hours_rate",
        "After-hours resolution",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets first resolved outside the client's business hours "
        "(its time zone, working days and holidays).",
        hits=Q(after_hours=True),
        better="higher",
    ),
    Metric(
        "reopen_rate",
        "Reopened within 7 days",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets reopened within 7 days of their first resolution "
        "(provisional for tickets resolved in the last 7 days).",
        hits=Q(reopened_7d=True),
    ),
    Metric(
        "sla_resolution_rate",
        "SLA attainment (resolution)",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets with a resolution SLA that were resolved by its due time.",
        population=RESOLVED & Q(sla_resolution_met__isnull=False),
        hits=Q(sla_resolution_met=True),
        better="higher",
    ),
    Metric(
        "sla_response_rate",
        "SLA attainment (first response)",
        "%",
        "operational",
        "rate",
        "Share of resolved tickets with a response SLA that got their first reply in time.",
        population=RESOLVED & Q(sla_response_met__isnull=False),
        hits=Q(sla_response_met=True),
        better="higher",
    ),
    Metric(
        "handling_minutes",
        "Technician minutes per ticket",
        "min",
        "financial",
        "mean",
        "Technician time logged per resolved ticket that a person handled (human path) — the "
        "handling time automation saves.",
        population=RESOLVED & Q(path=Path.HUMAN),
        field="technician_minutes",
    ),
    Metric(
        "cost_per_ticket",
        "Cost per ticket",
        "$",
        "financial",
        "mean",
        "Technician time logged on the ticket at each technician's hourly cost, plus the LLM "
        "spend on it, per resolved ticket.",
        field="total_cost",
        digits=2,
    ),
    Metric(
        "csat_average",
        "CSAT",
        "/5",
        "experience",
        "mean",
        "Average satisfaction score (1–5) of resolved tickets whose requester answered.",
        population=RESOLVED & Q(csat_score__isnull=False),
        field="csat_score",
        better="higher",
        digits=2,
    ),
    Metric(
        "nps",
        "NPS",
        "",
        "experience",
        "mean",
        "Promoters (9–10) minus detractors (0–6), in points, among answers to “how likely "
        "to recommend us”.",
        population=RESOLVED & Q(nps__isnull=False),
        field="nps_points",
        better="higher",
        digits=0,
    ),
)

METRICS: dict[str, Metric] = {metric.key: metric for metric in CATALOGUE}

HOURS_RECLAIMED_DEFINITION = (
    "Technician hours automation saved per week: for each ticket resolved by the agent alone "
    "or with an approval, its type's baseline handling time (technician minutes per ticket "
    "in the frozen baseline, or in the 13 weeks before the period without one) minus the "
    "minutes still logged on it (which can make it negative)."
)
MARGIN_DEFINITION = (
    "Contract revenue for the days of the period it was in force (monthly revenue, plus "
    "billable hours at the T&M rate) minus the cost of its tickets resolved in the period: "
    "technician time logged on them at each technician's hourly cost, and their LLM spend."
)
PATH_LABELS: dict[str, str] = dict(Path.choices)
