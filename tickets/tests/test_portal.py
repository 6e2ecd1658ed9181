"""The end-user portal: a request becomes a ticket through the inbox, matched to the
requester's client; bad input is shown back field by field; bots and floods are held off."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client as HttpClient

from tests.fixtures import World
from tickets.intake.inbox import inbox_drain
from tickets.models import ClientEmailDomain, InboxEvent, Ticket, TicketEvent

FORM = {
    "name": "Dana",
    "email": "Dana@Acme.test",
    "summary": "Outlook keeps asking for my password",
    "description": "Since this morning, every few minutes.",
    "device": "ACME-LT-0001",
}


@pytest.fixture
def portal(world: World) -> World:
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    cache.clear()
    return world


@pytest.mark.django_db
def test_a_request_becomes_a_matched_ticket(portal: World) -> None:
    http = HttpClient()
    assert "Report a problem" in http.get("/portal/").content.decode()
    page = http.post("/portal/", FORM).content.decode()
    assert "Thank you — we have your request." in page and "portal-" in page
    event = InboxEvent.objects.get(channel=InboxEvent.Channel.PORTAL)
    assert event.delivery_key in page
    inbox_drain()
    ticket = Ticket.objects.get(source=Ticket.Source.PORTAL)
    assert ticket.summary == FORM["summary"] and ticket.external_id == event.delivery_key
    assert ticket.client == portal.client and ticket.contact == portal.contact
    assert [a.hostname for a in ticket.assets.all()] == ["ACME-LT-0001"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ENRICHED).exists()
    assert "Acme" not in page.replace("Acme.test", "")  # nothing about the client shown back


@pytest.mark.django_db
def test_bad_input_is_shown_back_and_nothing_is_stored(portal: World) -> None:
    response = HttpClient().post("/portal/", {**FORM, "email": "not an address", "summary": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address." in page and "This field is required." in page
    assert 'value="Dana"' in page  # what they typed is kept
    assert not InboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_bot_is_thanked_and_ignored(portal: World) -> None:
    page = HttpClient().post("/portal/", {**FORM, "website": "http://spam.example"})
    assert "Thank you" in page.content.decode() and not InboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_flood_is_limited(portal: World) -> None:
    http = HttpClient()
    codes: list[Any] = [http.post("/portal/", FORM).status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
    assert InboxEvent.objects.count() == 10
