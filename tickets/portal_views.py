"""The end-user portal (`/portal/`): anyone at a client can report a problem without an
account. The form is validated here, stored in the inbox like every other arrival, and
answered with a reference; the ticket is made in the background.

Nothing about clients or tickets is shown back. A hidden field catches form-filling bots
(they are thanked and nothing is stored), and each address may submit a limited number of
requests in ten minutes."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tickets.intake.inbox import inbox_store
from tickets.models import InboxEvent

WINDOW_SECONDS = 600
MAX_PER_WINDOW = 10


class PortalForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=200)
    email = forms.EmailField(label="Your work e-mail", help_text="We reply to this address.")
    summary = forms.CharField(label="What is the problem?", max_length=200)
    description = forms.CharField(
        label="Details", required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 6})
    )
    device = forms.CharField(
        label="Computer or device name (optional)",
        required=False,
        max_length=120,
        help_text="Often on a sticker on the device, e.g. ACME-LT-0042.",
    )
    website = forms.CharField(required=False, label="Leave this empty")  # the bot trap


def _too_many(request: HttpRequest) -> bool:
    key = f"portal:{request.META.get('REMOTE_ADDR', '')}"
    count = cache.get_or_set(key, 0, WINDOW_SECONDS) or 0
    if count >= MAX_PER_WINDOW:
        return True
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, WINDOW_SECONDS)
    return False


@require_http_methods(["GET", "POST"])
def portal(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "tickets/portal.html", {"form": PortalForm()})
    form = PortalForm(request.POST)
    if not form.is_valid():
        return render(request, "tickets/portal.html", {"form": form}, status=400)
    if form.cleaned_data["website"]:
        return render(request, "tickets/portal.html", {"reference": "received"})
    if _too_many(request):
        context = {"form": form, "limited": True}
        return render(request, "tickets/portal.html", context, status=429)
    reference = f"portal-{uuid.uuid4().hex[:12]}"
    data = {key: value for key, value in form.cleaned_data.items() if key != "website"}
    inbox_store(
        channel=InboxEvent.Channel.PORTAL,
        body=json.dumps({"reference": reference, **data}),
        delivery_key=reference,
        content_type="application/json",
        headers={"User-Agent": request.headers.get("User-Agent", "")[:200]},
    )
    return render(request, "tickets/portal.html", {"reference": reference})
