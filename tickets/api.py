"""The generic intake API: `POST /api/intake/tickets/` stores the request raw in the inbox
and answers 202 at once; a background task makes the ticket. A body that is not JSON, or not
sent as JSON, is a 400 that says why — and is kept, invalid, on the managers' inbox page.

Callers authenticate with `Authorization: Bearer <key>`, a key from INTAKE_API_KEYS."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.intake.inbox import inbox_store
from tickets.models import InboxEvent

KEPT_HEADERS = ("Content-Type", "User-Agent", "Idempotency-Key", "X-Request-Id")


class IntakeKey:
    """The authenticated caller of the intake API (not a user)."""

    is_authenticated = True


class IntakeKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IntakeKey, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        offered = header.removeprefix("Bearer ").strip().encode()
        keys = [key.encode() for key in settings.INTAKE_API_KEYS]
        if not any(hmac.compare_digest(offered, key) for key in keys):
            raise AuthenticationFailed("Unknown intake key.")
        return IntakeKey(), "intake-key"

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="intake"'


class IntakeKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the schema describes the intake key."""

    target_class = "tickets.api.IntakeKeyAuthentication"
    name = "intakeKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A key from INTAKE_API_KEYS, sent as `Authorization: Bearer <key>`.",
        }


class HasIntakeKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, IntakeKey)


class RawBody(BaseParser):
    """Hands the view the bytes: the view stores them before judging them."""

    media_type = "*/*"

    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        return bytes(stream.read()) if stream else b""


_TICKET_EXAMPLE = {
    "external_id": "mon-48213",
    "summary": "Disk full on ACME-FS01",
    "description": "C: has 0.4 GB free.",
    "requester_email": "dana@acme-dental.example",
    "client": "acme-dental",
    "priority": "high",
    "opened_at": "2026-11-27T09:30:00Z",
    "hostnames": ["ACME-FS01"],
}


def _responses(name: str) -> dict[int, Any]:
    """What every intake endpoint answers: 202 once stored, 400 when malformed as sent."""
    return {
        202: inline_serializer(
            f"{name}Accepted",
            {"inbox_id": serializers.IntegerField(), "duplicate": serializers.BooleanField()},
        ),
        400: inline_serializer(
            f"{name}Rejected",
            {"detail": serializers.CharField(), "inbox_id": serializers.IntegerField()},
        ),
    }


class TicketIntakeApi(APIView):
    authentication_classes = [IntakeKeyAuthentication]
    permission_classes = [HasIntakeKey]
    parser_classes = [RawBody]
    channel = InboxEvent.Channel.API

    # The sender's id for a delivery found in its body, when it sends no Idempotency-Key.
    body_key: Callable[[str], str] | None = None

    def body_problem(self, body: str, content_type: str) -> str:
        """Why the request is malformed as sent (it is kept anyway), or ""."""
        return _problem(body, content_type)

    def delivery_key(self, request: Request, body: str) -> str:
        """The sender's id for this delivery ("" lets the store use the body's digest)."""
        header = request.headers.get("Idempotency-Key", "")[:150]
        return header or (self.body_key(body) if self.body_key else "")

    @extend_schema(
        summary="Send a ticket",
        description=(
            "Stored first, processed in the background; a repeated `Idempotency-Key` (or the "
            "same body again) is accepted and changes nothing. Fields: `external_id` and "
            "`summary` (required), `description`, `requester_email`, `requester_name`, "
            "`client` (our client identifier; else matched by the requester's mail domain), "
            "`priority` (1–4 or critical/high/medium/low), `opened_at` and `updated_at` (ISO "
            "8601 with a zone), `hostnames` (a list). A later body for the same `external_id` "
            "with a newer `updated_at` updates the ticket."
        ),
        request=inline_serializer(
            "TicketIntake",
            {
                "external_id": serializers.CharField(),
                "summary": serializers.CharField(),
                "description": serializers.CharField(required=False),
                "requester_email": serializers.EmailField(required=False),
                "client": serializers.CharField(required=False),
                "priority": serializers.CharField(required=False),
                "opened_at": serializers.DateTimeField(required=False),
                "hostnames": serializers.ListField(child=serializers.CharField(), required=False),
            },
        ),
        examples=[OpenApiExample("A monitoring ticket", value=_TICKET_EXAMPLE)],
        responses=_responses("Intake"),
    )
    def post(self, request: Request) -> Response:
        raw: bytes = request.data if isinstance(request.data, bytes) else b""
        body = raw.decode("utf-8", "replace")
        content_type = request.content_type or ""
        error = self.body_problem(body, content_type)
        event, created = inbox_store(
            channel=self.channel,
            body=body,
            delivery_key=self.delivery_key(request, body),
            content_type=content_type,
            headers={
                name: request.headers[name] for name in KEPT_HEADERS if name in request.headers
            },
            error=error,
        )
        if error:
            return Response(
                {"detail": error, "inbox_id": event.id}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(
            {"inbox_id": event.id, "duplicate": not created}, status=status.HTTP_202_ACCEPTED
        )


def _problem(body: str, content_type: str) -> str:
    """Why the request is malformed as sent (kept anyway), or ""."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        sent = content_type or "none"
        return f"Send the ticket as JSON (Content-Type: application/json), not “{sent}”."
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        return (
            f"The body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        )
    if not isinstance(data, dict):
        return "The body must be a JSON object."
    return ""


_ALERT_EXAMPLE = {
    "version": "4",
    "status": "firing",
    "receiver": "servicedesk",
    "groupKey": '{}:{alertname="DiskFull"}',
    "commonLabels": {"alertname": "DiskFull", "client": "acme-dental"},
    "alerts": [
        {
            "status": "firing",
            "fingerprint": "c2a4e0f1b9d3e7a8",
            "labels": {"severity": "critical", "instance": "ACME-FS01:9100"},
            "annotations": {"summary": "Disk full on ACME-FS01"},
            "startsAt": "2026-11-27T09:30:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example/graph",
        }
    ],
}


class AlertmanagerIntakeApi(TicketIntakeApi):
    channel = InboxEvent.Channel.ALERTMANAGER

    @extend_schema(
        summary="Receive Prometheus Alertmanager notifications",
        description=(
            "Point an Alertmanager `webhook_configs` receiver here with "
            "`http_config.authorization.credentials` set to an intake key. Each alert becomes "
            "one ticket keyed by its fingerprint: a repeated notification changes nothing, a "
            "`resolved` alert resolves its ticket and a new firing reopens it, so a flapping "
            "alert stays one ticket. Labels read: `client` or `customer` (client identifier), "
            "`severity`, `instance`/`host`/`hostname`/`node` (matched to assets), `alertname`; "
            "annotations `summary` and `description`."
        ),
        request=inline_serializer("AlertmanagerNotification", {"version": serializers.CharField()}),
        examples=[OpenApiExample("A firing disk alert", value=_ALERT_EXAMPLE)],
        responses=_responses("Alert"),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class NinjaOneIntakeApi(TicketIntakeApi):
    channel = InboxEvent.Channel.NINJAONE

    body_key = staticmethod(lambda body: _activity_key(body))

    @extend_schema(
        summary="Receive NinjaOne condition webhooks",
        description=(
            "Configure a NinjaOne webhook with the header `Authorization: Bearer <intake key>` "
            "(NinjaOne does not sign deliveries). CONDITION activities become tickets keyed by "
            "`seriesUid`: TRIGGERED opens or reopens it, RESET resolves it. The delivery's `id` "
            "is its idempotency key when no `Idempotency-Key` header is sent."
        ),
        request=inline_serializer("NinjaOneActivity", {"seriesUid": serializers.CharField()}),
        responses=_responses("NinjaOne"),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


def _activity_key(body: str) -> str:
    """A NinjaOne activity's id, which names the delivery."""
    try:
        activity = json.loads(body)
    except json.JSONDecodeError:
        return ""
    found = activity.get("id") if isinstance(activity, dict) else None
    return f"activity:{found}" if isinstance(found, int | str) and found != "" else ""


class EmailIntakeApi(TicketIntakeApi):
    channel = InboxEvent.Channel.EMAIL
    body_key = staticmethod(lambda body: _message_id(body))

    def body_problem(self, body: str, content_type: str) -> str:
        kind = content_type.split(";")[0].strip().lower()
        if kind not in ("message/rfc822", "text/plain"):
            return f"Send the raw message as message/rfc822, not “{kind or 'none'}”."
        if not body.strip():
            return "The message is empty."
        return ""

    @extend_schema(
        summary="Receive a raw e-mail (RFC 822)",
        description=(
            "For mail gateways and forwarders: POST the message exactly as received with "
            "`Content-Type: message/rfc822`. Its `Message-ID` is the idempotency key. The "
            "subject becomes the summary and the text (quoted replies and signatures "
            "stripped) the description; attachments stay in the stored message. A reply — "
            "`In-Reply-To`/`References` naming an earlier message, or `[#123]` in the "
            "subject from someone at that ticket's client — goes onto that ticket's timeline."
        ),
        request={"message/rfc822": {"type": "string", "format": "binary"}},
        responses=_responses("Email"),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


def _message_id(body: str) -> str:
    """The Message-ID header of a raw message, read without parsing the whole message."""
    head = body.split("\n\n", 1)[0].split("\r\n\r\n", 1)[0]
    match = re.search(r"^message-id:\s*(<[^<>\s]+>)", head, re.IGNORECASE | re.MULTILINE)
    return f"message:{match[1]}"[:150] if match else ""
