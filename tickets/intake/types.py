"""What every channel's parser produces: one normalized ticket as the source described it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any


class IntakeError(ValueError):
    """The arrival cannot become a ticket; the message says why, for the manager's page."""


def json_object(body: str) -> dict[str, Any]:
    """The body as a JSON object, or an IntakeError that says what is wrong with it."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise IntakeError(f"The body is not JSON: {error.msg} at line {error.lineno}.") from None
    if not isinstance(data, dict):
        raise IntakeError("The body must be a JSON object.")
    return data


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON field that should hold an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class TicketInput:
    source: str  # Ticket.Source
    external_id: str
    summary: str
    description: str = ""
    requester_email: str = ""
    requester_name: str = ""
    client_identifier: str = ""  # our Client.identifier, when the source names it
    priority: int | None = None
    opened_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    hostnames: tuple[str, ...] = field(default_factory=tuple)
    raw: dict[str, object] = field(default_factory=dict)
    # What the source says about the issue: True over (resolve the ticket), False still
    # happening (reopen a resolved one: a flapping alert stays one ticket), None unknown.
    resolved: bool | None = None
    # A reply: the message ids it answers, or a ticket it names ("[#123]" in a subject).
    thread_message_ids: tuple[str, ...] = ()
    thread_ticket_ref: int | None = None
    # A PSA's ticket, through the connection's mapping (None: not given or not mapped).
    status: str | None = None
    client_id: int | None = None
    type_id: int | None = None
    queue_id: int | None = None
    assignee_id: int | None = None
    connection_id: int | None = None
    # Which of status, priority, type, queue and assignee the source changed since the
    # version we hold: only those overwrite ours (None: a new ticket, all apply).
    changed_at_source: tuple[str, ...] | None = None
