"""The figures as rows — for the CSV export and the weekly report — built from the same
selectors as the pages, so a number reads the same everywhere."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from metrics.definitions import CATALOGUE, MARGIN_DEFINITION, METRICS, PATH_LABELS, Metric
from metrics.models import Baseline, WeeklyReport
from metrics.selectors import (
    FactFilter,
    Figure,
    baseline_active,
    figures,
    figures_by,
    hours_reclaimed,
    margin_by_contract,
)
from tickets.models import StaffMember
from tickets.selectors import UserLike

EXPERIENCE = (METRICS["csat_average"], METRICS["nps"], METRICS["deflection_rate"])


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def figure_row(figure: Figure) -> dict[str, Any]:
    """One figure as plain values, rounded as the page shows it."""
    metric, change = figure.metric, figure.change
    digits = metric.digits
    return {
        "key": metric.key,
        "label": metric.label,
        "unit": metric.unit,
        "group": metric.group,
        "value": _round(figure.value, digits),
        "count": figure.count,
        "baseline": _round(figure.baseline_value, digits),
        "baseline_count": figure.baseline.count if figure.baseline else None,
        "change": _round(figure.delta, digits),
        "ci_low": _round(change.low, digits) if change else None,
        "ci_high": _round(change.high, digits) if change else None,
        "significant": change.significant if change else None,
        "verdict": change.sentence if change else "",
        "improved": figure.improved,
        "definition": metric.definition,
    }


@dataclass(frozen=True)
class Overview:
    """Everything the owner page, its CSV and the weekly report show for one filter."""

    filters: FactFilter
    baseline: Baseline | None
    figures: dict[str, Figure]
    metrics: list[dict[str, Any]]
    reclaimed: dict[str, Any]
    paths: list[dict[str, Any]]
    contracts: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {
                "start": self.filters.start.isoformat(),
                "end": self.filters.end.isoformat(),
            },
            "baseline": (
                {
                    "name": self.baseline.name,
                    "starts_on": self.baseline.starts_on.isoformat(),
                    "ends_on": self.baseline.ends_on.isoformat(),
                }
                if self.baseline
                else None
            ),
            "metrics": self.metrics,
            "reclaimed": self.reclaimed,
            "paths": self.paths,
            "contracts": self.contracts,
        }


def overview(
    filters: FactFilter,
    *,
    user: UserLike | None,
    baseline: Baseline | None = None,
    metrics: Sequence[Metric] = CATALOGUE,
) -> Overview:
    """The figures of `metrics` (every metric for the CSV and the report; the owner page asks
    only for what it shows), hours reclaimed, the paths and the contracts."""
    found = figures(filters, user=user, baseline=baseline, metrics=metrics)
    saved = hours_reclaimed(filters, user=user, baseline=baseline)
    by_path = figures_by(
        filters, user=user, dimension="path", metrics=EXPERIENCE, labels=PATH_LABELS
    )
    return Overview(
        filters=filters,
        baseline=baseline,
        figures=found,
        metrics=[figure_row(found[metric.key]) for metric in metrics],
        reclaimed={
            "hours_per_week": round(saved.hours_per_week, 1),
            "hours": round(saved.hours, 1),
            "tickets": saved.tickets,
            "definition": saved.definition,
        },
        paths=[
            {
                "path": group.key,
                "label": group.label,
                "tickets": group.figures["deflection_rate"].count,
                "csat": _round(group.figures["csat_average"].value, 2),
                "csat_count": group.figures["csat_average"].count,
                "nps": _round(group.figures["nps"].value, 0),
                "nps_count": group.figures["nps"].count,
            }
            for group in by_path
        ],
        contracts=[
            {
                "contract": row.contract.name,
                "client": row.contract.client.name,
                "revenue": float(row.revenue),
                "labour_cost": float(row.labour_cost),
                "llm_cost": float(row.llm_cost),
                "margin": float(row.margin),
                "margin_share": _round(row.margin_share, 3),
                "hours": round(row.hours, 1),
            }
            for row in margin_by_contract(filters, user=user)
        ],
    )


def csv_rows(view: Overview) -> list[list[Any]]:
    """The overview as CSV rows: a header, one row per metric, then reclaimed hours, the
    paths and the contracts, each with its definition."""
    rows: list[list[Any]] = [
        [
            "section",
            "key",
            "label",
            "value",
            "unit",
            "tickets",
            "baseline",
            "baseline_tickets",
            "change",
            "ci95_low",
            "ci95_high",
            "significant",
            "definition",
        ]
    ]
    for m in view.metrics:
        rows.append(
            [
                "metric",
                m["key"],
                m["label"],
                m["value"],
                m["unit"],
                m["count"],
                m["baseline"],
                m["baseline_count"],
                m["change"],
                m["ci_low"],
                m["ci_high"],
                m["significant"],
                m["definition"],
            ]
        )
    r = view.reclaimed
    rows.append(
        [
            "reclaimed",
            "hours_per_week",
            "Technician hours reclaimed per week",
            r["hours_per_week"],
            "h",
            r["tickets"],
            "",
            "",
            "",
            "",
            "",
            "",
            r["definition"],
        ]
    )
    for p in view.paths:
        rows.append(
            [
                "path",
                p["path"],
                f"CSAT — {p['label']}",
                p["csat"],
                "/5",
                p["csat_count"],
                "",
                "",
                "",
                "",
                "",
                "",
                METRICS["csat_average"].definition,
            ]
        )
        rows.append(
            [
                "path",
                p["path"],
                f"NPS — {p['label']}",
                p["nps"],
                "",
                p["nps_count"],
                "",
                "",
                "",
                "",
                "",
                "",
                METRICS["nps"].definition,
            ]
        )
    for c in view.contracts:
        rows.append(
            [
                "contract",
                c["client"],
                c["contract"],
                c["margin"],
                "$",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                MARGIN_DEFINITION,
            ]
        )
    return rows


def last_full_week(today: dt.date) -> dt.date:
    """The Monday of the last complete week before `today`."""
    return today - dt.timedelta(days=today.weekday() + 7)


def weekly_report_generate(*, week_starts_on: dt.date) -> WeeklyReport:
    """Build (or return the already built) report for one week and archive it."""
    if week_starts_on.weekday() != 0:
        raise ValueError(f"A report week starts on a Monday, not on {week_starts_on:%A}.")
    existing = WeeklyReport.objects.filter(week_starts_on=week_starts_on).first()
    if existing is not None:
        return existing
    started = time.perf_counter()
    filters = FactFilter(start=week_starts_on, end=week_starts_on + dt.timedelta(days=7))
    payload = overview(filters, user=None, baseline=baseline_active()).as_json()
    try:
        with transaction.atomic():
            return WeeklyReport.objects.create(
                week_starts_on=week_starts_on,
                generated_at=timezone.now(),
                generation_ms=(time.perf_counter() - started) * 1000,
                figures=payload,
                recipients=report_recipients(),
            )
    except IntegrityError:  # a concurrent run archived it first
        return WeeklyReport.objects.get(week_starts_on=week_starts_on)


def report_recipients() -> list[str]:
    roles = (StaffMember.Role.OWNER, StaffMember.Role.MANAGER)
    staff = StaffMember.objects.filter(role__in=roles, user__is_active=True)
    return sorted({s.user.email for s in staff.select_related("user") if s.user.email})


def weekly_report_send(*, report: WeeklyReport) -> WeeklyReport:
    """E-mail the archived report; a failure is kept and retried by the next run."""
    if report.sent_at is not None or not report.recipients:
        return report
    context = {"report": report, "figures": report.figures, "base_url": settings.PUBLIC_BASE_URL}
    message = EmailMultiAlternatives(
        subject=f"Service desk, week of {report.week_starts_on:%d %b %Y}: figures against baseline",
        body=render_to_string("metrics/report_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=report.recipients,
    )
    message.attach_alternative(render_to_string("metrics/report_email.html", context), "text/html")
    try:
        message.send()
    except OSError as error:
        report.send_error = f"{type(error).__name__}: {error}"
        report.save(update_fields=["send_error"])
        return report
    report.sent_at, report.send_error = timezone.now(), ""
    report.save(update_fields=["sent_at", "send_error"])
    return report


def weekly_report_due(*, now: dt.datetime | None = None) -> WeeklyReport:
    """The scheduled step: archive last week's report if missing, and send it if unsent."""
    today = timezone.localdate(now or timezone.now())
    report = weekly_report_generate(week_starts_on=last_full_week(today))
    return weekly_report_send(report=report)
