"""HTML pages. Thin: parse input, call a selector or service, render a page or a partial."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest, querystring_without_page, wants_fragment
from tickets import selectors, services
from tickets.forms import NoteForm, TicketFilterForm, TimeForm
from tickets.models import StaffMember, Ticket
from tickets.pagination import CappedPaginator


@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    staff = selectors.staff_for_user(request.user)
    now = timezone.now()
    role = staff.role if staff else None
    context = {
        "summary": selectors.desk_summary(user=request.user, now=now),
        "queues": selectors.open_by_queue(user=request.user),
        "business": (
            selectors.business_summary(user=request.user, now=now)
            if role == StaffMember.Role.OWNER
            else None
        ),
        "role": role,
    }
    return render(request, "tickets/home.html", context)


@require_GET
@vary_on_headers("HX-Request")
@login_required
def ticket_list(request: HtmxHttpRequest) -> HttpResponse:
    choices = selectors.ticket_filter_choices(user=request.user)
    form = TicketFilterForm(request.GET or None, choices=choices)
    page = None
    if not form.is_bound or form.is_valid():
        filters = form.to_filters() if form.is_bound else selectors.TicketFilters()
        tickets = selectors.ticket_list(user=request.user, filters=filters)
        paginator = CappedPaginator(
            tickets, settings.TICKETS_PAGE_SIZE, cap=settings.TICKETS_COUNT_CAP
        )
        page = paginator.get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "querystring": querystring_without_page(request)}
    template = "tickets/ticket_list.html"
    if wants_fragment(request):
        template += "#results"
    return render(request, template, context, status=200 if page is not None else 400)


@require_GET
@login_required
def ticket_detail(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    return render(request, "tickets/ticket_detail.html", _detail(ticket, NoteForm()))


@require_POST
@login_required
def ticket_note_add(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    staff = selectors.staff_for_user(request.user)
    form = NoteForm(request.POST)
    status = 200
    if staff is None:
        form.add_error(None, "Only staff members can write on tickets.")
        status = 403
    elif form.is_valid():
        try:
            services.ticket_add_note(
                ticket=ticket,
                staff=staff,
                body=form.cleaned_data["body"],
                public=form.cleaned_data["public"],
            )
            form = NoteForm()
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
    else:
        status = 400
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    # A fragment for HTMX: the timeline, plus the facts panel swapped out of band so the
    # first-response time it shows stays true.
    template = (
        "tickets/note_added.html" if wants_fragment(request) else "tickets/ticket_detail.html"
    )
    return render(request, template, _detail(ticket, form), status=status)


@require_POST
@login_required
def ticket_time_add(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    """Log time on a ticket (written back to its PSA); answers with the facts panel."""
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    staff = selectors.staff_for_user(request.user)
    form = TimeForm(request.POST)
    status = 200
    if staff is None:
        form.add_error(None, "Only staff members can log time.")
        status = 403
    elif form.is_valid():
        minutes = form.cleaned_data["minutes"]
        services.time_entry_log(
            ticket=ticket,
            staff=staff,
            started_at=timezone.now() - dt.timedelta(minutes=minutes),
            minutes=minutes,
            notes=form.cleaned_data["notes"],
            billable=form.cleaned_data["billable"],
        )
        form = TimeForm()
    else:
        status = 400
    if not wants_fragment(request) and status == 200:
        return redirect("ticket_detail", ticket_id=ticket.id)
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    context = {**_detail(ticket, NoteForm()), "time_form": form}
    return render(request, "tickets/ticket_detail.html#facts", context, status=status)


def _detail(ticket: Ticket, form: NoteForm) -> dict[str, Any]:
    """The ticket page's context: attachments listed without their bytes, and where the
    ticket's changes and replies stand on their way back to its source."""
    return {
        "ticket": ticket,
        "form": form,
        "time_form": TimeForm(),
        "attachments": ticket.attachments.defer("content"),
        "write_back": selectors.ticket_write_back_state(ticket),
        "mail": selectors.ticket_mail_state(ticket),
    }


@require_GET
@login_required
def client_list(request: HtmxHttpRequest) -> HttpResponse:
    clients = selectors.client_list(user=request.user)
    return render(request, "tickets/client_list.html", {"clients": clients})


@require_GET
@login_required
def client_detail(request: HtmxHttpRequest, client_id: int) -> HttpResponse:
    client = selectors.client_get(user=request.user, client_id=client_id)
    return render(request, "tickets/client_detail.html", {"client": client})
