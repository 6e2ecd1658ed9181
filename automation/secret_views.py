"""The one-time link a requester opens to see a new password. No account is needed (the
requester has none); the 256-bit token is the credential. A GET shows a button — mail
scanners that follow links do not use it up — and the POST shows the value once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from automation.secrets import LINK_HOURS, secret_open, secret_peek


@require_http_methods(["GET", "POST"])
def one_time_secret(request: HttpRequest, token: str) -> HttpResponse:
    value = secret_open(token) if request.method == "POST" else None
    waiting = secret_peek(token) if request.method == "GET" else None
    context = {
        "value": value,
        "waiting": waiting,
        "posted": request.method == "POST",
        "hours": LINK_HOURS,
    }
    gone = (request.method == "GET" and waiting is None) or (
        request.method == "POST" and value is None
    )
    response = render(
        request, "automation/one_time_secret.html", context, status=410 if gone else 200
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
