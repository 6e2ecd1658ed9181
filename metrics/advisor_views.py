"""The rollout advisor (what to automate first, and what it would pay back) and the data
hygiene report (what data to fix first). Both read results a schedule stored; managers can
ask for a fresh run."""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_q.tasks import async_task

from config.http import HtmxHttpRequest, forbidden, querystring_without_page
from governance import services as governance
from metrics.advisor import ASSIST_MINUTES, WINDOW_WEEKS
from metrics.hygiene import CHECKS, CHECKS_BY_KEY
from metrics.models import AdvisorReport, HygieneReport
from metrics.payback import Projection, payback_compare, payback_plan_defaults, payback_plan_save
from metrics.views import _csv_cell, _owner_or_manager
from tickets.models import StaffMember, TicketType
from tickets.pagination import CappedPaginator
from tickets.selectors import clients_visible_to

TREND_WEEKS = 8
RECORDS_PAGE_SIZE = 50


class PaybackForm(forms.Form):
    hourly_cost = forms.DecimalField(
        min_value=Decimal("1"), max_digits=8, decimal_places=2, label="Technician cost per hour"
    )
    product_monthly = forms.DecimalField(
        min_value=Decimal("0"), max_digits=10, decimal_places=2, label="Product, per month"
    )
    llm_monthly = forms.DecimalField(
        min_value=Decimal("0"), max_digits=10, decimal_places=2, label="LLM, per month"
    )
    setup_hours = forms.DecimalField(
        min_value=Decimal("0"), max_digits=8, decimal_places=1, label="Setup hours"
    )
    ticket_types = forms.ModelMultipleChoiceField(
        queryset=TicketType.objects.order_by("name"),
        label="Ticket types to roll out",
        widget=forms.CheckboxSelectMultiple,
    )


def _overall_rows(report: AdvisorReport | None) -> list[dict[str, Any]]:
    return [row for row in (report.rows if report else []) if row["client_id"] is None]


@require_http_methods(["GET", "POST"])
@login_required
def advisor(request: HtmxHttpRequest) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None:
        return forbidden(request, "The rollout advisor is for owners and service desk managers.")
    report = AdvisorReport.objects.first()
    rows = _overall_rows(report)
    clients = clients_visible_to(request.user).filter(is_active=True).order_by("name")
    client_id = request.GET.get("client", "")
    visible = client_id.isdigit() and clients.filter(pk=int(client_id)).exists()
    client_rows = (
        [r for r in report.rows if str(r["client_id"]) == client_id] if report and visible else []
    )
    posted = request.method == "POST"
    form = PaybackForm(request.POST if posted else payback_plan_defaults(rows=rows))
    projection: Projection | None = None
    if form.is_valid():
        projection = payback_compare(data=form.cleaned_data, rows=rows)
        if posted:
            payback_plan_save(
                data=form.cleaned_data, staff=staff, hours=projection.projected.hours_per_week
            )
    context = {
        "report": report,
        "rows": client_rows or rows,
        "client_id": client_id,
        "clients": clients,
        "form": form,
        "projection": projection,
        "is_manager": staff.role == StaffMember.Role.MANAGER,
        "window_weeks": WINDOW_WEEKS,
        "assist_minutes": ASSIST_MINUTES,
    }
    status = 400 if posted and form.errors else 200
    return render(request, "metrics/advisor.html", context, status=status)


@require_POST
@login_required
def advisor_draft_policy(request: HtmxHttpRequest, type_id: int) -> HttpResponse:
    """One click: a draft policy for the type, in shadow mode (nothing runs until a manager
    turns it on)."""
    staff = _owner_or_manager(request)
    if staff is None or staff.role != StaffMember.Role.MANAGER:
        return forbidden(request, "Only a service desk manager creates policies.")
    ticket_type = TicketType.objects.filter(pk=type_id).first()
    if ticket_type is None:
        raise Http404("No such ticket type.")
    try:
        policy = governance.policy_create(
            ticket_type=ticket_type, client=None, staff=staff, shadow_mode=True
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("metrics_advisor")
    messages.success(
        request,
        f"Draft policy for {ticket_type.name} created in shadow mode: the agent records what it "
        "would do without doing it. Review its rules, then switch shadow mode off.",
    )
    return redirect("policy_edit", policy_id=policy.id)


@require_POST
@login_required
def reports_refresh(request: HtmxHttpRequest) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None or staff.role != StaffMember.Role.MANAGER:
        return forbidden(request, "Only a service desk manager asks for a fresh run.")
    what = request.POST.get("what", "")
    if what not in ("advisor", "hygiene"):
        raise Http404("Nothing to refresh.")
    async_task(f"metrics.tasks.{what}_refresh", group="metrics")
    messages.success(request, "A fresh run is queued: reload in a minute.")
    return redirect("metrics_advisor" if what == "advisor" else "metrics_hygiene")


@require_GET
@login_required
def hygiene(request: HtmxHttpRequest) -> HttpResponse:
    staff = _owner_or_manager(request)
    if staff is None:
        return forbidden(request, "The data hygiene report is for owners and managers.")
    history = list(HygieneReport.objects.all()[:TREND_WEEKS])
    latest = history[0] if history else None
    weeks = list(reversed(history))
    findings = [
        {
            "check": check,
            "count": latest.counts.get(check.key) if latest else None,
            "trend": [week.counts.get(check.key) for week in weeks],
        }
        for check in CHECKS
    ]
    context = {
        "latest": latest,
        "weeks": [week.week_starts_on for week in weeks],
        "findings": findings,
        "total": sum(latest.counts.values()) if latest else 0,
        "is_manager": staff.role == StaffMember.Role.MANAGER,
    }
    return render(request, "metrics/hygiene.html", context)


@require_GET
@login_required
def hygiene_records(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """The records behind one finding, live (so a fix shows at once), with where to fix each."""
    if _owner_or_manager(request) is None:
        return forbidden(request, "The data hygiene report is for owners and managers.")
    check = CHECKS_BY_KEY.get(key)
    if check is None:
        raise Http404("No such check.")
    records = check.records(timezone.now())
    if request.GET.get("format") == "csv":
        return _records_csv(check.key, [check.row(r) for r in records.iterator()])
    page = CappedPaginator(records, RECORDS_PAGE_SIZE, cap=100_000).get_page(
        request.GET.get("page")
    )
    rows = [check.row(record) for record in page.object_list]
    context = {
        "check": check,
        "page": page,
        "rows": rows,
        "querystring": querystring_without_page(request),
    }
    return render(request, "metrics/hygiene_records.html", context)


def _records_csv(key: str, rows: list[Any]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="hygiene-{key}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(["record", "detail", "fix_at"])
    writer.writerows([[_csv_cell(r.name), _csv_cell(r.detail), r.fix_url] for r in rows])
    return response
