"""Replies to tickets that came by e-mail go to the requester by e-mail, through a real SMTP
server on loopback: kept in the outbox with the reply, threaded by the ticket number and
the original message id, retried when the server is down."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.fixtures import World, make_ticket
from tickets.mail import MAX_ATTEMPTS, mail_deliver
from tickets.models import MailOutbox, Ticket
from tickets.services import ticket_add_note

pytestmark = pytest.mark.django_db


def _mailed(world: World) -> Ticket:
    ticket = make_ticket(
        world.client, summary="Scanner offline", external_id="<m1@acme.test>", contact=world.contact
    )
    Ticket.objects.filter(pk=ticket.pk).update(
        source=Ticket.Source.EMAIL, raw_payload={"message_id": "<m1@acme.test>"}
    )
    ticket.refresh_from_db()
    return ticket


def test_a_public_reply_is_mailed_to_the_requester(world: World, smtp_server: Any) -> None:
    ticket = _mailed(world)
    ticket_add_note(ticket=ticket, staff=world.tech_in, body="Internal only.", public=False)
    ticket_add_note(ticket=ticket, staff=world.tech_in, body="Please restart it.", public=True)

    assert mail_deliver() == 1

    [message] = smtp_server.messages
    assert message["To"] == "dana@acme.test" and message["From"] == "help@msp.test"
    assert message["Subject"] == f"Re: [#{ticket.id}] Scanner offline"
    assert message["In-Reply-To"] == "<m1@acme.test>"
    assert "Please restart it." in message.get_content()
    item = MailOutbox.objects.get()
    assert item.status == MailOutbox.Status.SENT and item.message_id == message["Message-ID"]
    assert mail_deliver() == 0  # nothing sent twice
    page = world.login(world.tech_in).get(f"/tickets/{ticket.id}/").content.decode()
    assert 'id="reply-mail">1 sent' in page


def test_psa_and_api_tickets_are_not_mailed(world: World, smtp_server: Any) -> None:
    ticket_add_note(ticket=world.ticket, staff=world.tech_in, body="Done.", public=True)
    assert not MailOutbox.objects.exists()


def test_a_server_that_is_down_is_retried_then_given_up(world: World, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    ticket = _mailed(world)
    ticket_add_note(ticket=ticket, staff=world.tech_in, body="Please restart it.", public=True)

    assert mail_deliver() == 0
    item = MailOutbox.objects.get()
    assert (item.status, item.attempts) == (MailOutbox.Status.PENDING, 1)
    assert item.next_attempt_at > timezone.now() and "ConnectionRefused" in item.last_error

    later = timezone.now()
    for _ in range(MAX_ATTEMPTS - 1):
        later += dt.timedelta(hours=2)
        mail_deliver(now=later)
    item.refresh_from_db()
    assert (item.status, item.attempts) == (MailOutbox.Status.FAILED, MAX_ATTEMPTS)
