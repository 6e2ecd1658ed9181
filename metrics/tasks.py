"""Scheduled entry points (see metrics.apps): thin wrappers around the services."""

from __future__ import annotations

from metrics import facts, reports


def facts_refresh() -> int:
    """Recompute the facts of every ticket whose history changed."""
    return facts.facts_refresh_all()


def csat_surveys() -> int:
    from metrics.survey import csat_surveys_send

    return csat_surveys_send()


def weekly_report() -> int:
    """Archive and e-mail last week's report once its facts are current (hourly: a missed
    Monday is caught up the next hour the cluster runs)."""
    facts.facts_refresh_all()
    report = reports.weekly_report_due()
    return report.pk


def advisor_refresh() -> int:
    """Re-rank the ticket types for the rollout advisor (nightly, or when a manager asks)."""
    from metrics.advisor import advisor_report_generate

    facts.facts_refresh_all()
    return advisor_report_generate().pk


def hygiene_refresh() -> int:
    """Count the data-hygiene findings for this week's trend (nightly, or on demand)."""
    from metrics.hygiene import hygiene_report_generate

    return hygiene_report_generate().pk
