"""The generic intake API's payload (`POST /api/intake/tickets/`): JSON with our own field
names, for any tool that can send a webhook."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime

from tickets.intake.types import IntakeError, TicketInput, json_object
from tickets.models import Priority, Ticket

MAX_SUMMARY = 255
MAX_TEXT = 100_000
_PRIORITY_WORDS = {"critical": 1, "high": 2, "medium": 3, "normal": 3, "low": 4}


def generic_parse(body: str) -> TicketInput:
    data = json_object(body)
    external_id = _text(data, "external_id", 120, required=True)
    summary = _text(data, "summary", MAX_SUMMARY, required=True)
    hostnames = data.get("hostnames", [])
    if not isinstance(hostnames, list) or not all(isinstance(h, str) for h in hostnames):
        raise IntakeError("“hostnames” must be a list of strings.")
    return TicketInput(
        source=Ticket.Source.API,
        external_id=external_id,
        summary=summary,
        description=_text(data, "description", MAX_TEXT),
        requester_email=_text(data, "requester_email", 254).lower(),
        requester_name=_text(data, "requester_name", 200),
        client_identifier=_text(data, "client", 60),
        priority=_priority(data.get("priority")),
        opened_at=_moment(data, "opened_at"),
        updated_at=_moment(data, "updated_at"),
        hostnames=tuple(h.strip() for h in hostnames[:20] if h.strip()),
        raw=data,
    )


def _text(data: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise IntakeError(f"“{name}” is required.")
        return ""
    if not isinstance(value, str | int):
        raise IntakeError(f"“{name}” must be text.")
    text = str(value).strip()
    if required and not text:
        raise IntakeError(f"“{name}” is required.")
    if len(text) > limit:
        raise IntakeError(f"“{name}” is longer than {limit:,} characters.")
    return text


def _priority(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().lower() in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in Priority.values:
        return value
    raise IntakeError("“priority” must be 1–4 or critical, high, medium or low.")


def _moment(data: dict[str, Any], name: str) -> dt.datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise IntakeError(
            f"“{name}” must be an ISO 8601 time with a zone, e.g. 2026-11-27T09:30:00Z."
        )
    return moment
