"""The technician's brief: what a person picking a ticket up needs, gathered before they
start — the request in a line, what resolved similar tickets at this client (the likely
cause), the knowledge-base passages that match, and the recent alerts on the ticket's
devices. Read only; everything comes from the ticket's own client."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from automation.tools.kb import Passage, SimilarTicket, kb_search, similar_resolved
from tickets.models import Ticket

ALERT_DAYS = 14


@dataclass(frozen=True)
class Brief:
    request: str
    likely_cause: str
    passages: list[Passage] = field(default_factory=list)
    similar: list[SimilarTicket] = field(default_factory=list)
    alerts: list[Ticket] = field(default_factory=list)

    def text(self) -> str:
        """The brief as plain text, for the ticket's timeline."""
        lines = [f"Request: {self.request}"]
        if self.likely_cause:
            lines.append(f"Likely cause: {self.likely_cause}")
        for passage in self.passages[:3]:
            lines.append(f"KB: {passage.title} — {passage.text[:160]}")
        for ticket in self.similar[:3]:
            lines.append(
                f"Similar: #{ticket.ticket_id} {ticket.summary} — {ticket.resolution[:120]}"
            )
        for alert in self.alerts[:5]:
            lines.append(f"Alert: #{alert.id} {alert.summary} ({alert.opened_at:%d %b %H:%M})")
        return "\n".join(lines)


def brief_for(ticket: Ticket, *, now: dt.datetime | None = None) -> Brief:
    question = f"{ticket.summary}\n{ticket.description[:5000]}"
    passages = kb_search(question, client_id=ticket.client_id, ticket_type_id=ticket.type_id, k=3)
    similar = similar_resolved(
        question, client_id=ticket.client_id, k=3, exclude_ticket_id=ticket.id
    )
    moment = now or timezone.now()
    alerts = (
        list(
            Ticket.objects.filter(
                source=Ticket.Source.ALERT,
                client_id=ticket.client_id,
                assets__in=ticket.assets.all(),
                opened_at__gte=moment - dt.timedelta(days=ALERT_DAYS),
            )
            .exclude(pk=ticket.pk)
            .distinct()
            .order_by("-opened_at")[:5]
        )
        if ticket.client_id is not None
        else []
    )
    cause = ""
    if similar and similar[0].resolution:
        cause = f"#{similar[0].ticket_id} like it was resolved by: {similar[0].resolution[:200]}"
    request = " ".join(f"{ticket.summary}. {ticket.description}".split())[:240]
    return Brief(request, cause, passages, similar, alerts)
