"""What the owner's and manager's numbers are built from.

`TicketFact` is one row per ticket *derived* from its timeline, time entries, CSAT answers
and LLM calls by `metrics.facts` — never written anywhere else, and rebuilt whenever any of
those change (database triggers mark the ticket in `FactDirty`, a background task refreshes
it). Metrics are then plain aggregates over facts in the database, so every number can be
traced to the tickets behind it and recomputed from the timeline at any time
(`manage.py metrics_rebuild`).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from tickets.models import Client, Contract, Queue, StaffMember, Ticket, TicketType


class Holiday(models.Model):
    """A closed day in business-hours arithmetic: for every client, or for one."""

    date = models.DateField()
    name = models.CharField(max_length=120)
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="holidays",
        help_text="Empty: a holiday for every client.",
    )

    class Meta:
        ordering = ["date", "name"]
        constraints = [
            models.UniqueConstraint(fields=["date", "client"], name="holiday_unique_per_client"),
            models.UniqueConstraint(
                fields=["date"], condition=Q(client__isnull=True), name="holiday_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.date:%Y-%m-%d})"


class Path(models.TextChoices):
    """How a resolved ticket got resolved."""

    AGENT = "agent", "Agent alone"
    AGENT_APPROVAL = "agent_approval", "Agent + approval"
    HUMAN = "human", "Human"
    SOURCE = "source", "Cleared at the source"


COVERED = [
    "ticket_type",
    "path",
    "holdout_arm",
    "resolution_seconds",
    "resolution_business_seconds",
    "first_response_seconds",
]


class TicketFact(models.Model):
    """A ticket's measurable facts, derived from its timeline (see `metrics.facts`)."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="fact"
    )
    client = models.ForeignKey(Client, on_delete=models.SET_NULL, null=True, related_name="+")
    ticket_type = models.ForeignKey(
        TicketType, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    queue = models.ForeignKey(Queue, on_delete=models.SET_NULL, null=True, related_name="+")
    technician = models.ForeignKey(
        StaffMember,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        help_text="Assigned when the ticket was first resolved (the current one while open).",
    )
    contract = models.ForeignKey(Contract, on_delete=models.SET_NULL, null=True, related_name="+")
    priority = models.PositiveSmallIntegerField()
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True)
    first_response_seconds = models.PositiveIntegerField(null=True)
    resolved_at = models.DateTimeField(null=True, help_text="The first resolution.")
    resolved_week = models.DateField(
        null=True, help_text="Monday of the first resolution's week (TIME_ZONE)."
    )
    resolved_on = models.DateField(null=True, help_text="The first resolution's date (TIME_ZONE).")
    resolution_seconds = models.PositiveIntegerField(null=True)
    resolution_business_seconds = models.PositiveIntegerField(null=True)
    # Log-scale buckets of the three durations medians are taken over (metrics.histogram):
    # the weekly histograms count them, and a median reads only its bucket's facts.
    first_response_seconds_bucket = models.PositiveSmallIntegerField(null=True)
    resolution_seconds_bucket = models.PositiveSmallIntegerField(null=True)
    resolution_business_seconds_bucket = models.PositiveSmallIntegerField(null=True)
    path = models.CharField(max_length=16, choices=Path.choices, blank=True)
    reassignments = models.PositiveIntegerField(default=0)
    human_touchers = models.PositiveSmallIntegerField(default=0)
    first_touch = models.BooleanField(null=True)
    reopens = models.PositiveIntegerField(default=0)
    reopened_7d = models.BooleanField(null=True)
    after_hours = models.BooleanField(null=True)
    sla_response_met = models.BooleanField(null=True)
    sla_resolution_met = models.BooleanField(null=True)
    technician_minutes = models.PositiveIntegerField(default=0)
    billable_minutes = models.PositiveIntegerField(default=0)
    labour_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    llm_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    csat_score = models.PositiveSmallIntegerField(null=True)
    nps = models.PositiveSmallIntegerField(null=True)
    holdout_arm = models.CharField(max_length=8, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Includes what a ticket type's median counts per day (`metrics.histogram`).
            models.Index(
                fields=["resolved_at"],
                name="fact_resolved_idx",
                include=[
                    "ticket_type",
                    "path",
                    "first_response_seconds_bucket",
                    "resolution_seconds_bucket",
                    "resolution_business_seconds_bucket",
                ],
            ),
            models.Index(fields=["ticket_type", "resolved_at"], name="fact_type_resolved_idx"),
            models.Index(fields=["opened_at"], name="fact_opened_idx"),
            models.Index(fields=["resolved_week", "client"], name="fact_week_client_idx"),
            # A client's, queue's or technician's medians (which the histograms do not keep)
            # read these alone on PostgreSQL: index-only scans, no visit to the facts.
            *(
                models.Index(
                    fields=[dimension, "resolved_at"],
                    name=f"fact_{dimension}_cover_idx",
                    include=COVERED,
                )
                for dimension in ("client", "queue", "technician")
            ),
            # A median's bucket, sorted from these alone (metrics.histogram).
            *(
                models.Index(
                    fields=[f"{field}_bucket", "resolved_at"],
                    name=f"fact_{short}_bucket_idx",
                    include=["ticket_type", "path", field],
                )
                for field, short in (
                    ("first_response_seconds", "response"),
                    ("resolution_seconds", "resolution"),
                    ("resolution_business_seconds", "business"),
                )
            ),
            # Time to resolution by type (the operations page): each type's bucket alone.
            models.Index(
                fields=["resolution_seconds_bucket", "ticket_type", "resolved_at"],
                name="fact_resolution_type_idx",
                include=["path", "resolution_seconds"],
            ),
        ]

    def __str__(self) -> str:
        return f"Facts of ticket {self.ticket_id}"


class FactDirty(models.Model):
    """A ticket whose facts must be recomputed. Rows are written by database triggers on the
    timeline, time entries, CSAT answers and LLM calls (migration 0002), so no code path can
    change a ticket's history without its facts following."""

    ticket_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id} to refresh"


class Baseline(models.Model):
    """Figures frozen for a period before automation was rolled out; reports compare with it."""

    name = models.CharField(max_length=120)
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Inclusive.")
    frozen_at = models.DateTimeField()
    frozen_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="The baseline reports compare with (one at a time)."
    )

    class Meta:
        ordering = ["-frozen_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="baseline_dates_ordered"
            ),
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="baseline_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on:%Y-%m-%d} – {self.ends_on:%Y-%m-%d})"


class BaselineValue(models.Model):
    """One metric's frozen figure for one cell: every client and type (both empty), one type,
    one client, or one type at one client, in raw units (seconds, minutes, a 0–1 share).
    `count`, `total` and `total_squares` keep what a confidence interval needs (for a rate,
    total is the number of hits)."""

    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="values")
    metric = models.CharField(max_length=40)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, null=True, related_name="+")
    ticket_type = models.ForeignKey(
        TicketType, on_delete=models.CASCADE, null=True, related_name="+"
    )
    value = models.FloatField(null=True)
    count = models.PositiveIntegerField()
    total = models.FloatField(default=0)
    total_squares = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["baseline", "metric", "client", "ticket_type"],
                name="baseline_value_unique_cell",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["baseline", "metric"], name="baseline_value_metric_idx")]

    def __str__(self) -> str:
        return f"{self.metric} = {self.value} (n={self.count})"


class WeeklyReport(models.Model):
    """The week's figures against the baseline, as e-mailed to owners and managers."""

    week_starts_on = models.DateField(unique=True, help_text="A Monday.")
    generated_at = models.DateTimeField()
    generation_ms = models.FloatField(default=0)
    figures = models.JSONField(default=dict)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-week_starts_on"]

    def __str__(self) -> str:
        return f"Week of {self.week_starts_on:%Y-%m-%d}"


class CsatSurvey(models.Model):
    """A one-click satisfaction survey sent after resolution. Only the token's hash is stored;
    the link works once (a later click shows the answer already given)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="csat_surveys")
    email = models.EmailField()
    resolved_at = models.DateTimeField(help_text="The resolution this survey asks about.")
    token_hash = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    response = models.OneToOneField(
        "tickets.CsatResponse",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One survey per resolution: a reopened and re-resolved ticket may be asked again.
            models.UniqueConstraint(
                fields=["ticket", "resolved_at"], name="csat_survey_one_per_resolution"
            )
        ]

    def __str__(self) -> str:
        return f"Survey for ticket {self.ticket_id}"


class AdvisorReport(models.Model):
    """The rollout advisor's ranking, computed on a schedule from history (metrics.advisor);
    the page reads the latest one."""

    generated_at = models.DateTimeField()
    generation_ms = models.FloatField()
    window_start = models.DateField()
    window_end = models.DateField(help_text="Exclusive.")
    rows = models.JSONField(default=list)

    class Meta:
        ordering = ["-generated_at"]

    def __str__(self) -> str:
        return f"Advisor report of {self.generated_at:%Y-%m-%d %H:%M}"


class HygieneReport(models.Model):
    """How many records each data-hygiene check found in one week (metrics.hygiene); kept
    per week so managers see hygiene improve. The latest run of a week replaces earlier ones."""

    week_starts_on = models.DateField(unique=True)
    generated_at = models.DateTimeField()
    generation_ms = models.FloatField()
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-week_starts_on"]

    def __str__(self) -> str:
        return f"Data hygiene, week of {self.week_starts_on:%Y-%m-%d}"


class PaybackPlan(models.Model):
    """A manager's rollout inputs for the payback projection (the latest one is shown)."""

    hourly_cost = models.DecimalField(
        max_digits=8, decimal_places=2, help_text="Technician cost per hour."
    )
    product_monthly = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="This product, per month."
    )
    llm_monthly = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="LLM spend, per month."
    )
    setup_hours = models.DecimalField(
        max_digits=8, decimal_places=1, help_text="Hours to set the rollout up."
    )
    ticket_types = models.ManyToManyField(TicketType, blank=True, related_name="+")
    projected_hours_per_week = models.FloatField(default=0)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Payback plan of {self.created_at:%Y-%m-%d}"


class FactWeek(models.Model):
    """A weekly rollup of facts: the count, total and total of squares of every metric that is
    a mean or a rate, per week and per combination of one grain's dimensions
    (`metrics.rollup.GRAINS`: the finest is client, contract, type, path and holdout arm;
    coarser ones answer wider questions from far fewer rows; dimensions outside a grain are
    empty). The coarser grains also keep one row set per day (grain + 100), for the days a
    period has around its whole weeks. Maintained by `metrics.rollup` from the facts whenever
    facts change; pages read the coarsest grain that holds what they filter and group by."""

    grain = models.PositiveSmallIntegerField(
        default=0, help_text="metrics.rollup.GRAINS; plus 100 for a day's rows."
    )
    week = models.DateField(help_text="The week's Monday; the day itself for a day's rows.")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, null=True, related_name="+")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, null=True, related_name="+")
    ticket_type = models.ForeignKey(
        TicketType, on_delete=models.CASCADE, null=True, related_name="+"
    )
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, null=True, related_name="+")
    technician = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, null=True, related_name="+"
    )
    path = models.CharField(max_length=16, blank=True)
    holdout_arm = models.CharField(max_length=8, blank=True)
    tickets = models.PositiveIntegerField()
    technician_minutes = models.BigIntegerField(default=0)
    billable_minutes = models.BigIntegerField(default=0)
    labour_cost = models.FloatField(default=0)
    llm_cost = models.FloatField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["week", "client"], name="factweek_week_client_idx"),
            models.Index(fields=["grain", "week"], name="factweek_grain_week_idx"),
        ]

    def __str__(self) -> str:
        return f"Week of {self.week:%Y-%m-%d}: {self.tickets} tickets"


class FactHistogram(models.Model):
    """How many facts of a week fall in each log-scale bucket of a median metric's value
    (`metrics.histogram`): for everything (grain 0), per path (1), per ticket type (2) or per
    type and path (3); a dimension outside the grain is empty. Each is kept per four-week block
    too (grain + 200, summed from its weeks), and the first two per day (grain + 100), for the
    days around a period's whole weeks. A median reads the bucket that holds
    its middle rank from here and sorts only that bucket's facts: exact, without sorting a
    year of tickets."""

    grain = models.PositiveSmallIntegerField(
        help_text="Plus 100 for a day's rows, plus 200 for a four-week block's."
    )
    week = models.DateField(
        help_text="The week's Monday; the day itself for a day's rows; a block's first Monday."
    )
    metric = models.CharField(max_length=40)
    path = models.CharField(max_length=16, blank=True)
    ticket_type = models.ForeignKey(
        TicketType, on_delete=models.CASCADE, null=True, related_name="+"
    )
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # Read alone (index-only) when a median adds up a period's bucket counts.
            models.Index(
                fields=["grain", "metric", "week"],
                name="facthistogram_cover_idx",
                include=["ticket_type", "path", "bucket", "count"],
            ),
            # Rebuilding a week deletes its rows of every grain.
            models.Index(fields=["week"], name="facthistogram_week_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} bucket {self.bucket}, week of {self.week:%Y-%m-%d}: {self.count}"


def _add_metric_columns() -> None:
    """One count/total/squares triple per mean or rate metric of the catalogue."""
    from metrics.definitions import CATALOGUE

    for metric in CATALOGUE:
        if metric.kind == "median":
            continue
        FactWeek.add_to_class(f"{metric.key}_n", models.PositiveIntegerField(default=0))
        FactWeek.add_to_class(f"{metric.key}_total", models.FloatField(default=0))
        FactWeek.add_to_class(f"{metric.key}_squares", models.FloatField(default=0))


_add_metric_columns()


class RollupDirty(models.Model):
    """A week at a client whose finest rollup rows must be rebuilt from the facts (client 0:
    none); client -1 marks the week's coarser grains and histograms."""

    week = models.DateField()
    client_key = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["week", "client_key"], name="rollup_dirty_unique")
        ]

    def __str__(self) -> str:
        return f"Week {self.week:%Y-%m-%d}, client {self.client_key}"


__all__ = [
    "AdvisorReport",
    "Baseline",
    "BaselineValue",
    "CsatSurvey",
    "FactDirty",
    "FactHistogram",
    "FactWeek",
    "Holiday",
    "HygieneReport",
    "Path",
    "PaybackPlan",
    "RollupDirty",
    "TicketFact",
    "WeeklyReport",
]
