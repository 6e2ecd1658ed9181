"""Webhook receivers for the three PSAs: `POST /api/intake/psa/<connection id>/webhook/`.

The delivery is verified against the raw body first (ConnectWise and Autotask HMACs,
Halo's Basic or Bearer credential); a refusal is a 401, logged and counted on the connection,
and nothing is stored or processed. A verified delivery is stored in the inbox under the
PSA's delivery id (a repeat is a no-op) and answered 202 at once; its processing re-fetches
the ticket rather than trusting the body. A body that is not JSON, or not sent as JSON, is a
400 that says why, kept invalid on the managers' inbox page.
"""

from __future__ import annotations

import json
import logging

from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tickets.intake.inbox import MAX_BODY, inbox_store
from tickets.psa.adapters import adapter
from tickets.psa.base import WebhookRejected
from tickets.psa.crypto import SecretUnreadable
from tickets.psa.intake import KIND_HEADER, WEBHOOK
from tickets.psa.models import PsaConnection

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def psa_webhook(request: HttpRequest, connection_id: int) -> JsonResponse:
    connection = PsaConnection.objects.filter(pk=connection_id, is_active=True).first()
    if connection is None:
        return JsonResponse({"error": "No active PSA connection here."}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": f"Deliveries are limited to {MAX_BODY:,} bytes."}, status=413)
    text = request.body.decode("utf-8", "replace")
    content_type = request.headers.get("Content-Type", "")
    problem = _body_problem(text, content_type)
    if problem:
        event, _ = inbox_store(
            channel=connection.kind,
            body=text,
            content_type=content_type,
            headers={KIND_HEADER: WEBHOOK},
            error=problem,
            connection=connection,
        )
        return JsonResponse({"error": problem, "id": event.id}, status=400)
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        delivery = adapter(connection.kind).verify_webhook(
            connection.settings(), headers, request.body, now=timezone.now()
        )
    except (WebhookRejected, SecretUnreadable) as error:
        _rejected(connection, str(error), request)
        return JsonResponse(
            {"error": "The delivery's signature or credential is wrong."}, status=401
        )
    event, created = inbox_store(
        channel=connection.kind,
        body=text,
        delivery_key=f"{connection.id}:delivery:{delivery.delivery_id}",
        content_type=content_type,
        headers={
            KIND_HEADER: WEBHOOK,
            "x-psa-ticket": delivery.external_id,
            "x-psa-action": delivery.action,
        },
        connection=connection,
    )
    return JsonResponse({"id": event.id, "duplicate": not created}, status=202)


def _body_problem(text: str, content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    if kind != "application/json":
        return (
            f"Send the delivery as JSON (Content-Type: application/json), not “{kind or 'none'}”."
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return (
            f"The body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        )
    return ""


def _rejected(connection: PsaConnection, reason: str, request: HttpRequest) -> None:
    log.warning(
        "Refused a %s webhook for connection %s from %s: %s",
        connection.get_kind_display(),
        connection.pk,
        request.META.get("REMOTE_ADDR", "?"),
        reason,
    )
    PsaConnection.objects.filter(pk=connection.pk).update(
        rejected_deliveries=F("rejected_deliveries") + 1,
        last_rejected_at=timezone.now(),
        last_rejection=reason[:300],
    )
