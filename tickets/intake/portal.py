"""The end-user portal's submissions: our own JSON, written by `tickets/portal_views.py`
after its form validated them. The requester is matched like any other (by mail domain and
address); the portal itself asks for nothing else."""

from __future__ import annotations

from tickets.intake.types import IntakeError, TicketInput, json_object
from tickets.models import Ticket


def portal_parse(body: str) -> list[TicketInput]:
    data = json_object(body)
    reference = data.get("reference")
    email = data.get("email")
    summary = data.get("summary")
    if not isinstance(reference, str) or not isinstance(email, str) or not summary:
        raise IntakeError("A portal submission needs a reference, an e-mail and a summary.")
    hostname = str(data.get("device") or "").strip()
    return [
        TicketInput(
            source=Ticket.Source.PORTAL,
            external_id=reference,
            summary=str(summary)[:255],
            description=str(data.get("description") or ""),
            requester_email=email.lower(),
            requester_name=str(data.get("name") or ""),
            hostnames=(hostname,) if hostname else (),
            raw=data,
        )
    ]
