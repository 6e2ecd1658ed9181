"""The owner's ROI page, the manager's operations page, drill-down, CSV export, baselines,
the holdout and the weekly report archive. Thin: parse, call selectors/services, render."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest, forbidden, querystring_without_page, wants_fragment
from governance.holdout import holdout_end, holdout_running, holdout_start, holdout_summaries
from metrics import reports, selectors, services
from metrics.definitions import (
    HOURS_RECLAIMED_DEFINITION,
    MARGIN_DEFINITION,
    METRICS,
    PATH_LABELS,
)
from metrics.forms import BaselineForm, HoldoutForm, MetricsFilterForm
from metrics.models import Baseline, WeeklyReport
from tickets.models import StaffMember, TicketType
from tickets.pagination import CappedPaginator
from tickets.selectors import clients_visible_to, staff_for_user

OWNER_ROLES = (StaffMember.Role.OWNER, StaffMember.Role.MANAGER)
OWNER_TILES = ("deflection_rate", "cost_per_ticket", "csat_average", "nps", "ftr_rate")
OPERATIONS_TILES = (
    "mttr_mean",
    "mttr_median",
    "mttr_business_median",
    "first_response_median",
    "ftr_rate",
    "reassignment_rate",
    "handoffs_per_ticket",
    "after_hours_rate",
    "reopen_rate",
    "sla_resolution_rate",
    "sla_response_rate",
)
BY_TYPE = tuple(
    METRICS[k]
    for k in (
        "mttr_mean",
        "mttr_median",
        "mttr_business_mean",
        "first_response_mean",
        "reassignment_rate",
        "sla_resolution_rate",
        "deflection_rate",
    )
)
LIFT = (
    "mttr_mean",
    "first_response_mean",
    "deflection_rate",
    "ftr_rate",
    "reopen_rate",
    "cost_per_ticket",
    "csat_average",
)
TREND_OWNER = ("deflection_rate", "cost_per_ticket", "csat_average")
# Weekly means and rates come from the rollup; the tiles above show the medians.
TREND_OPERATIONS = ("mttr_business_mean", "first_response_mean", "sla_resolution_rate")
DRILL_PAGE_SIZE = 50
SLA_RISK_HOURS = 4


def _owner_or_manager(request: HtmxHttpRequest) -> StaffMember | None:
    staff = staff_for_user(request.user)
    return staff if staff is not None and staff.role in OWNER_ROLES else None


def _report_reader(request: HtmxHttpRequest) -> StaffMember | None:
    """Weekly reports cover every client: owners and managers who see them all."""
    staff = _owner_or_manager(request)
    return staff if staff is not None and staff.all_clients else None


def _filter_form(request: HtmxHttpRequest) -> MetricsFilterForm:
    form = MetricsFilterForm(request.GET or None, clients=clients_visible_to(request.user))
    form.is_valid() if form.is_bound else None
    return form


# Fixed axes where a metric has a fixed scale, so a week's 4.0 CSAT is not drawn at the bottom.
_AXES: dict[str, dict[str, int]] = {"%": {"min": 0, "max": 100}, "/5": {"min": 1, "max": 5}}


def _trend(
    filters: selectors.FactFilter,
    request: HtmxHttpRequest,
    keys: tuple[str, ...],
    base: dict[str, selectors.Figure],
) -> dict[str, Any]:
    """Twelve weekly points per metric, with the baseline value of the page's figures."""
    metrics = [METRICS[k] for k in keys]
    points = selectors.trend(filters, user=request.user, metrics=metrics)
    series = [
        {
            "key": metric.key,
            "label": f"{metric.label} ({metric.unit})" if metric.unit else metric.label,
            "values": [p.values[metric.key] for p in points],
            "counts": [p.counts[metric.key] for p in points],
            "baseline": base[metric.key].baseline_value if metric.key in base else None,
            "axis": _AXES.get(metric.unit, {}),
        }
        for metric in metrics
    ]
    return {"weeks": [p.week.isoformat() for p in points], "series": series}


def _common(
    request: HtmxHttpRequest,
) -> tuple[MetricsFilterForm, selectors.FactFilter, dict[str, Any]]:
    form = _filter_form(request)
    filters = form.to_filters()
    query = querystring_without_page(request)
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "period_end": filters.end - dt.timedelta(days=1),
        "query": query,
        "baseline": selectors.baseline_active(),
        # Reversed once: every number on the page links to it.
        "tickets_url": reverse("metrics_tickets"),
    }
    return form, filters, context


def _respond(request: HtmxHttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    status = 400 if context["form"].errors else 200
    if wants_fragment(request):
        context["fragment"] = True  # the report, and the export link out of band
        template += "#report"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
@login_required
def owner_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    if _owner_or_manager(request) is None:
        return forbidden(request, "The ROI page is for owners and service desk managers.")
    _form, filters, context = _common(request)
    baseline = context["baseline"]
    shown = [METRICS[key] for key in OWNER_TILES]
    view = reports.overview(filters, user=request.user, baseline=baseline, metrics=shown)
    found = view.figures
    context.update(
        overview=view,
        tiles=[found[k] for k in OWNER_TILES],
        reclaimed=view.reclaimed,
        reclaimed_definition=HOURS_RECLAIMED_DEFINITION,
        margin_definition=MARGIN_DEFINITION,
        resolved=found["deflection_rate"].count,
        trend=_trend(filters, request, TREND_OWNER, found),
        lift=selectors.holdout_lift(filters, user=request.user, metrics=[METRICS[k] for k in LIFT]),
    )
    return _respond(request, "metrics/owner.html", context)


@require_GET
@vary_on_headers("HX-Request")
@login_required
def operations_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    if staff_for_user(request.user) is None:
        return forbidden(request, "The operations page is for the service desk's staff.")
    _form, filters, context = _common(request)
    baseline = context["baseline"]
    found = selectors.figures(filters, user=request.user, baseline=baseline)
    types = dict(TicketType.objects.values_list("id", "name"))
    context.update(
        tiles=[found[k] for k in OPERATIONS_TILES],
        resolved=found["deflection_rate"].count,
        by_type=selectors.figures_by(
            filters, user=request.user, dimension="ticket_type_id", metrics=BY_TYPE, labels=types
        ),
        by_type_metrics=BY_TYPE,
        sla_risk=selectors.sla_risk(user=request.user, now=timezone.now(), hours=SLA_RISK_HOURS),
        sla_risk_hours=SLA_RISK_HOURS,
        now=timezone.now(),
        trend=_trend(filters, request, TREND_OPERATIONS, found),
    )
    return _respond(request, "metrics/operations.html", context)


@require_GET
@login_required
def metric_tickets(request: HtmxHttpRequest) -> HttpResponse:
    """Drill-down: the tickets behind one number."""
    if staff_for_user(request.user) is None:
        return forbidden(request, "Metrics are for the service desk's staff.")
    form, filters, context = _common(request)
    key = request.GET.get("metric", "")
    if key == "hours_reclaimed":
        facts = selectors.automated_facts(filters, user=request.user)
        label, definition, field = (
            "Hours reclaimed",
            HOURS_RECLAIMED_DEFINITION,
            "technician_minutes",
        )
    elif key in METRICS:
        facts = selectors.drilldown(filters, user=request.user, metric_key=key)
        metric = METRICS[key]
        label, definition, field = metric.label, metric.definition, metric.field or ""
    else:
        return render(request, "metrics/tickets.html", {**context, "unknown": key}, status=404)
    page = CappedPaginator(facts, DRILL_PAGE_SIZE, cap=10_000).get_page(request.GET.get("page"))
    context.update(
        page=page,
        metric_key=key,
        label=label,
        definition=definition,
        value_field=field,
        is_rate=key in METRICS and METRICS[key].is_rate,
        paths=PATH_LABELS,
        querystring=querystring_without_page(request),
    )
    return render(request, "metrics/tickets.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def metrics_export(request: HtmxHttpRequest) -> HttpResponse:
    """The figures on the page, as CSV: same selectors, same rounding."""
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, "Metrics are for the service desk's staff.")
    form, filters, context = _common(request)
    if form.errors:
        return HttpResponse(
            "Invalid filters: " + form.errors.as_text(), status=400, content_type="text/plain"
        )
    view = reports.overview(filters, user=request.user, baseline=context["baseline"])
    rows = reports.csv_rows(view)
    if staff.role not in OWNER_ROLES:  # contract money stays with owners and managers
        rows = [row for row in rows if row[0] != "contract"]
    name = f"metrics-{filters.start:%Y%m%d}-{filters.end - dt.timedelta(days=1):%Y%m%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # a byte-order mark, so Excel reads the file as UTF-8
    writer = csv.writer(response)
    writer.writerows([[_csv_cell(value) for value in row] for row in rows])
    return response


def _csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (a client named "=HYPERLINK(…)") is
    prefixed with an apostrophe; numbers are left alone."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


@require_http_methods(["GET", "POST"])
@login_required
def baselines(request: HtmxHttpRequest) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None:
        return forbidden(request, "Baselines are for owners and service desk managers.")
    form = BaselineForm(request.POST or None)
    if request.method == "POST":
        if staff.role != StaffMember.Role.MANAGER:
            return forbidden(request, "Only a service desk manager freezes a baseline.")
        if form.is_valid():
            try:
                baseline = services.baseline_freeze(staff=staff, **form.cleaned_data)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(
                    request,
                    f"Baseline “{baseline.name}” frozen: {baseline.values.count()} figures kept.",
                )
                return redirect("metrics_baselines")
    return render(
        request,
        "metrics/baselines.html",
        {
            "form": form,
            "holdout_form": HoldoutForm(),
            "baselines": Baseline.objects.select_related("frozen_by__user").order_by("-frozen_at"),
            "holdout": holdout_running(),
            "holdouts": holdout_summaries(),
            "is_manager": staff.role == StaffMember.Role.MANAGER,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def baseline_activate(request: HtmxHttpRequest, baseline_id: int) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None or staff.role != StaffMember.Role.MANAGER:
        return forbidden(request, "Only a service desk manager chooses the baseline.")
    baseline = get_object_or_404(Baseline, pk=baseline_id)
    services.baseline_activate(baseline=baseline)
    messages.success(request, f"Reports now compare with “{baseline.name}”.")
    return redirect("metrics_baselines")


@require_POST
@login_required
def holdout_change(request: HtmxHttpRequest) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None or staff.role != StaffMember.Role.MANAGER:
        return forbidden(request, "Only a service desk manager starts or ends a holdout.")
    running = holdout_running()
    if request.POST.get("end") and running is not None:
        holdout_end(holdout=running)
        messages.success(request, "Holdout ended: new tickets are no longer drawn.")
        return redirect("metrics_baselines")
    form = HoldoutForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Holdout: " + " ".join(str(e) for errs in form.errors.values() for e in errs)
        )
        return redirect("metrics_baselines")
    holdout_start(
        share=form.cleaned_data["share"] / 100,
        staff=staff,
        ticket_types=list(form.cleaned_data["ticket_types"]),
        note=form.cleaned_data["note"],
    )
    messages.success(
        request,
        f"Holdout started: {form.cleaned_data['share']}% of new eligible tickets stay human-only.",
    )
    return redirect("metrics_baselines")


@require_GET
@login_required
def report_list(request: HtmxHttpRequest) -> HttpResponse:
    if _report_reader(request) is None:
        return forbidden(
            request,
            "Weekly reports cover every client: they are for owners and managers of all clients.",
        )
    page = CappedPaginator(WeeklyReport.objects.all(), 26, cap=10_000).get_page(
        request.GET.get("page")
    )
    return render(request, "metrics/report_list.html", {"page": page})


@require_GET
@login_required
def report_detail(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    if _report_reader(request) is None:
        return forbidden(
            request,
            "Weekly reports cover every client: they are for owners and managers of all clients.",
        )
    report = get_object_or_404(WeeklyReport, pk=report_id)
    return render(
        request, "metrics/report_detail.html", {"report": report, "figures": report.figures}
    )


@require_GET
@login_required
def trend_data(request: HtmxHttpRequest) -> JsonResponse:
    """The chart's data as JSON, for anyone who wants to plot it elsewhere."""
    if staff_for_user(request.user) is None:
        return JsonResponse({"error": "Metrics are for the service desk's staff."}, status=403)
    _form, filters, context = _common(request)
    keys = tuple(k for k in request.GET.getlist("metric") if k in METRICS) or TREND_OWNER
    metrics = [METRICS[k] for k in keys]
    found = selectors.figures(
        filters, user=request.user, metrics=metrics, baseline=context["baseline"]
    )
    return JsonResponse(_trend(filters, request, keys, found))
