"""The technician's brief on the ticket page, loaded after the page (it searches the KB and
the client's resolved tickets). Scope: the ticket selector's, like the page itself."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from automation.playbooks.brief import brief_for
from config.http import HtmxHttpRequest
from tickets import selectors


@require_GET
@login_required
def ticket_brief(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, ticket_id=ticket_id)
    return render(request, "automation/_brief.html", {"ticket": ticket, "brief": brief_for(ticket)})
