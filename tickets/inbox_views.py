"""The inbox pages: every arrival as it was received, what became of it, and — for one that
could not be processed — a correction and a replay.

Managers only: a raw body carries whatever the sender put in it, for any client, so the
technicians' client scope cannot be applied to it. Anyone else gets the 403 page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest, forbidden, querystring_without_page, wants_fragment
from tickets.intake.inbox import inbox_replay as replay_event
from tickets.intake.types import IntakeError
from tickets.models import InboxEvent
from tickets.pagination import CappedPaginator
from tickets.selectors import manager_for_user

_MANAGERS_ONLY = "Only service desk managers see the inbox: raw arrivals carry any client's data."
_PENDING = (InboxEvent.Status.RECEIVED, InboxEvent.Status.PROCESSING)


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *InboxEvent.Status.choices], required=False, label="Status"
    )
    channel = forms.ChoiceField(
        choices=[("", "Any channel"), *InboxEvent.Channel.choices],
        required=False,
        label="Channel",
    )


class ReplayForm(forms.Form):
    body = forms.CharField(
        label="Body to replay",
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 14, "spellcheck": "false", "aria-describedby": "id_body_help"}
        ),
        error_messages={"required": "The body to replay cannot be empty."},
        help_text="Correct what the error names, then replay. The body as received is kept.",
    )


def inbox_events(*, status: str = "", channel: str = "") -> QuerySet[InboxEvent]:
    """Newest first, without the bodies (a body may be megabytes)."""
    events = InboxEvent.objects.select_related("ticket").only(
        "id",
        "channel",
        "delivery_key",
        "received_at",
        "status",
        "error",
        "attempts",
        "ticket__id",
        "ticket__summary",
    )
    if status:
        events = events.filter(status=status)
    if channel:
        events = events.filter(channel=channel)
    return events.order_by("-received_at", "-id")


def inbox_counts() -> dict[str, int]:
    """Arrivals needing a manager, and arrivals waiting for a worker: one query on the
    status index."""
    counts = InboxEvent.objects.filter(status__in=[InboxEvent.Status.INVALID, *_PENDING]).aggregate(
        invalid=Count("id", filter=Q(status=InboxEvent.Status.INVALID)),
        pending=Count("id", filter=Q(status__in=_PENDING)),
    )
    return {"invalid": counts["invalid"] or 0, "pending": counts["pending"] or 0}


@require_GET
@vary_on_headers("HX-Request")
@login_required
def inbox_list(request: HtmxHttpRequest) -> HttpResponse:
    if manager_for_user(request.user) is None:
        return forbidden(request, _MANAGERS_ONLY)
    form = InboxFilterForm(request.GET or None)
    page = None
    if not form.is_bound or form.is_valid():
        data = form.cleaned_data if form.is_bound else {}
        events = inbox_events(status=data.get("status", ""), channel=data.get("channel", ""))
        paginator = CappedPaginator(
            events, settings.TICKETS_PAGE_SIZE, cap=settings.TICKETS_COUNT_CAP
        )
        page = paginator.get_page(request.GET.get("page"))
    filtered = form.is_bound and any(request.GET.get(name) for name in ("status", "channel"))
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "filtered": filtered,
        "querystring": querystring_without_page(request),
        "counts": inbox_counts(),
        "invalid_status": InboxEvent.Status.INVALID,
    }
    template = "tickets/inbox_list.html"
    if wants_fragment(request):
        template += "#results"
    return render(request, template, context, status=200 if page is not None else 400)


def _detail_context(
    event: InboxEvent, form: ReplayForm | None = None, refusal: str = ""
) -> dict[str, Any]:
    invalid = event.status == InboxEvent.Status.INVALID
    if form is None and invalid:
        form = ReplayForm(initial={"body": event.payload})
    return {
        "event": event,
        "form": form if invalid else None,
        "refusal": refusal,
        "pending": event.status in _PENDING,
        "headers": sorted((event.headers or {}).items()),
    }


def _event(event_id: int) -> InboxEvent:
    return get_object_or_404(
        InboxEvent.objects.select_related("ticket", "corrected_by__user"), pk=event_id
    )


@require_GET
@vary_on_headers("HX-Request")
@login_required
def inbox_detail(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    if manager_for_user(request.user) is None:
        return forbidden(request, _MANAGERS_ONLY)
    event = _event(event_id)
    context = _detail_context(event)
    if wants_fragment(request):
        # The queued arrival's status, polled until it settles; then the whole page, so an
        # arrival that is still invalid offers its correction form again.
        if context["pending"]:
            return render(request, "tickets/inbox_detail.html#outcome", context)
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "tickets/inbox_detail.html", context)


def _same_text(a: str, b: str) -> bool:
    # Browsers send a textarea's line breaks as CRLF: that alone is not a correction.
    return a.replace("\r\n", "\n") == b.replace("\r\n", "\n")


@require_POST
@login_required
def inbox_replay(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    staff = manager_for_user(request.user)
    if staff is None:
        return forbidden(request, _MANAGERS_ONLY)
    form = ReplayForm(request.POST)
    refusal = ""
    with transaction.atomic():
        # Locked, so two managers replaying at once replay it once.
        event = get_object_or_404(InboxEvent.objects.select_for_update(), pk=event_id)
        if event.status != InboxEvent.Status.INVALID:
            refusal = (
                f"Not replayed: this arrival is “{event.get_status_display()}”. Only an "
                "arrival that could not be processed can be replayed."
            )
        elif form.is_valid():
            posted: str = form.cleaned_data["body"]
            corrected = None if _same_text(posted, event.payload) else posted.replace("\r\n", "\n")
            try:
                replay_event(event=event, staff=staff, corrected_body=corrected)
            except IntakeError as error:  # the service's own check, should the rules change
                refusal = f"Not replayed: {error}"
    # Committed: with a worker the task is queued; in synchronous mode it has already run.
    event = _event(event_id)
    if refusal or form.errors:
        context = _detail_context(event, None if refusal else form, refusal)
        return render(request, "tickets/inbox_detail.html", context, status=409 if refusal else 400)
    if event.status == InboxEvent.Status.PROCESSED:
        messages.success(request, "Replayed: the arrival was processed.")
    elif event.status == InboxEvent.Status.INVALID:
        messages.error(request, "Replayed, but it still could not be processed — see the error.")
    else:
        messages.info(request, "Replay queued: a worker will process it shortly.")
    return redirect("inbox_detail", event_id=event.id)
