"""Managers' pages for PSA connections: the list, add/edit (credentials write-only, the
webhook address to paste into the PSA), a connection test, sync with a live progress bar,
the value mapping, and the write-back failures."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest, forbidden, querystring_without_page, wants_fragment
from tickets.pagination import CappedPaginator
from tickets.psa import selectors, services
from tickets.psa.base import PsaError
from tickets.psa.crypto import SecretUnreadable
from tickets.psa.forms import ConnectionForm, MappingForm
from tickets.psa.models import OutboxItem, PsaConnection, PsaMapping
from tickets.psa.outbox import outbox_discard, outbox_retry
from tickets.selectors import manager_for_user

_MANAGERS_ONLY = "Only service desk managers manage PSA connections."


def _refuse(request: HtmxHttpRequest) -> HttpResponse | None:
    return forbidden(request, _MANAGERS_ONLY) if manager_for_user(request.user) is None else None


@require_GET
@login_required
def connection_list(request: HtmxHttpRequest) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    context = {"rows": selectors.connection_rows(), "kinds": PsaConnection.Kind.choices}
    return render(request, "tickets/psa/connection_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def connection_edit(request: HtmxHttpRequest, connection_id: int | None = None) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    if connection_id is None:
        kind = request.GET.get("kind", "")
        if kind not in PsaConnection.Kind.values:
            return redirect("psa_connection_list")
        connection = PsaConnection(kind=kind)
    else:
        connection = get_object_or_404(PsaConnection, pk=connection_id)
    try:
        form = ConnectionForm(request.POST or None, instance=connection, kind=connection.kind)
    except SecretUnreadable as error:
        messages.error(request, str(error))
        connection.credentials_sealed = connection.webhook_secrets_sealed = ""
        form = ConnectionForm(request.POST or None, instance=connection, kind=connection.kind)
    if request.method == "POST" and form.is_valid():
        saved = services.connection_save(
            connection=form.save(commit=False),
            credentials=form.credentials(),
            webhook_secret=form.cleaned_data["webhook_secret"],
            keep_previous_secret=form.cleaned_data["keep_previous_secret"],
        )
        messages.success(request, f"Saved {saved.name}.")
        return redirect("psa_connection_edit", connection_id=saved.id)
    context = _edit_context(request, connection, form)
    return render(
        request,
        "tickets/psa/connection_edit.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )


def _edit_context(
    request: HtmxHttpRequest, connection: PsaConnection, form: ConnectionForm
) -> dict[str, Any]:
    webhook = ""
    if connection.pk:
        path = reverse("api_psa_webhook", args=[connection.pk])
        webhook = request.build_absolute_uri(path)
    return {
        "connection": connection,
        "form": form,
        "webhook_url": webhook,
        "runs": selectors.recent_runs(connection) if connection.pk else [],
    }


@require_POST
@login_required
def connection_check(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    try:
        worked, message = services.connection_check(connection)
    except SecretUnreadable as error:
        worked, message = False, str(error)
    context = {"worked": worked, "message": message}
    return render(request, "tickets/psa/connection_edit.html#check", context)


@require_POST
@login_required
def connection_sync(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    full = request.POST.get("full") == "1"
    services.sync_start(connection, full=full)
    messages.info(request, "Full sync queued." if full else "Sync queued.")
    return redirect(reverse("psa_connection_edit", args=[connection.id]) + "#sync")


@require_GET
@login_required
def connection_runs(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    """The sync section alone, polled while a run is going."""
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    context = {"connection": connection, "runs": selectors.recent_runs(connection)}
    return render(request, "tickets/psa/connection_edit.html#runs", context)


@require_GET
@vary_on_headers("HX-Request")
@login_required
def mapping(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    field = request.GET.get("field", "")
    field = field if field in PsaMapping.Field.values else ""
    gaps_only = request.GET.get("gaps") == "1"
    rows = selectors.mapping_rows(connection, field=field, gaps_only=gaps_only)
    page = CappedPaginator(rows, 100, cap=settings.TICKETS_COUNT_CAP).get_page(
        request.GET.get("page")
    )
    context = {
        "connection": connection,
        "page": page,
        "suggested": connection.mappings.filter(suggested=True).count(),
        "field": field,
        "gaps_only": gaps_only,
        "fields": PsaMapping.Field.choices,
        "choices": selectors.value_choices(),
        "querystring": querystring_without_page(request),
    }
    template = "tickets/psa/mapping.html"
    if wants_fragment(request):
        template += "#rows"
    return render(request, template, context)


@require_POST
@login_required
def mapping_row(request: HtmxHttpRequest, connection_id: int, row_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    row = get_object_or_404(PsaMapping, pk=row_id, connection_id=connection_id)
    form = MappingForm(request.POST)
    choices = selectors.value_choices()
    if not form.is_valid():
        return HttpResponse("That value is not one of ours.", status=400)
    try:
        services.mapping_set(row=row, value=form.cleaned_data["value"], choices=choices)
    except ValueError as error:
        return HttpResponse(str(error), status=400)
    context = {"row": row, "choices": choices, "saved": True}
    if wants_fragment(request):
        return render(request, "tickets/psa/mapping.html#row", context)
    return redirect("psa_mapping", connection_id=connection_id)


@require_POST
@login_required
def mapping_load(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    try:
        added = services.mapping_load(connection)
    except (PsaError, SecretUnreadable) as error:
        messages.error(request, f"Could not read the PSA's values: {error}")
    else:
        messages.success(request, f"{added} new value{'s' if added != 1 else ''} from the PSA.")
    return redirect("psa_mapping", connection_id=connection.id)


@require_POST
@login_required
def mapping_confirm(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    connection = get_object_or_404(PsaConnection, pk=connection_id)
    confirmed = services.mapping_confirm_suggestions(connection)
    messages.success(request, f"Confirmed {confirmed} suggestion{'s' if confirmed != 1 else ''}.")
    return redirect("psa_mapping", connection_id=connection.id)


@require_GET
@login_required
def outbox_list(request: HtmxHttpRequest) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    status = request.GET.get("status", "")
    status = status if status in OutboxItem.Status.values else ""
    items = selectors.outbox_items(status=status)
    page = CappedPaginator(items, 50, cap=settings.TICKETS_COUNT_CAP).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "status": status,
        "statuses": OutboxItem.Status.choices,
        "querystring": querystring_without_page(request),
    }
    return render(request, "tickets/psa/outbox.html", context)


@require_POST
@login_required
def outbox_act(request: HtmxHttpRequest, item_id: int, verb: str) -> HttpResponse:
    if (refusal := _refuse(request)) is not None:
        return refusal
    if verb not in ("retry", "discard"):
        raise Http404("No such outbox action.")
    item = get_object_or_404(OutboxItem, pk=item_id)
    try:
        (outbox_retry if verb == "retry" else outbox_discard)(item)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Queued again." if verb == "retry" else "Discarded.")
    return redirect(reverse("psa_outbox") + f"?{querystring_without_page(request)}")
