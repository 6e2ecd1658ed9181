from __future__ import annotations

import statistics
from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class MetricsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "metrics"
    verbose_name = "Metrics, baselines and reports"

    def ready(self) -> None:
        connection_created.connect(_sqlite_median)
        post_migrate.connect(_schedule, sender=self)


class _Median:
    """MEDIAN() for SQLite, so the embedded default computes the same medians in SQL as
    PostgreSQL's percentile_cont."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def _sqlite_median(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, _Median)


def _schedule(**kwargs: Any) -> None:
    """Refresh stale ticket facts every minute, send due CSAT surveys every five, the weekly
    report on Monday mornings, and the rollout advisor and data hygiene reports daily
    (created once; editable in the admin)."""
    from django_q.models import Schedule

    for name, func, kind, minutes in (
        ("metrics-facts", "metrics.tasks.facts_refresh", Schedule.MINUTES, 1),
        ("csat-surveys", "metrics.tasks.csat_surveys", Schedule.MINUTES, 5),
        ("weekly-report", "metrics.tasks.weekly_report", Schedule.HOURLY, None),
        ("rollout-advisor", "metrics.tasks.advisor_refresh", Schedule.DAILY, None),
        ("data-hygiene", "metrics.tasks.hygiene_refresh", Schedule.DAILY, None),
    ):
        Schedule.objects.get_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
        )
