"""E-mail intake (raw RFC 822): a new message is a ticket with quotes and signature
stripped; a reply threads onto its ticket as the requester's reply (and brings a resolved
ticket back); a "[#123]" reference threads only for someone at that ticket's client."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as HttpClient

from tests.fixtures import World
from tickets.intake.email import strip_quotes_and_signature
from tickets.intake.inbox import inbox_drain
from tickets.models import ClientEmailDomain, InboxEvent, Ticket, TicketEvent

KEY = "e" * 32


def _message(
    message_id: str,
    subject: str,
    text: str,
    *,
    sender: str = "Dana <dana@acme.test>",
    extra: str = "",
) -> str:
    return (
        f"From: {sender}\r\nTo: help@msp.example\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Wed, 25 Nov 2026 09:30:00 +0000\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
    )


def _send(raw: str, content_type: str = "message/rfc822") -> Any:
    return HttpClient().post(
        "/api/intake/email/",
        data=raw,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {KEY}",
    )


@pytest.fixture
def mail(world: World, settings: Any) -> World:
    settings.INTAKE_API_KEYS = [KEY]
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    return world


FIRST = (
    "Hi,\r\n\r\nthe printer on floor 2 shows error 50.\r\n\r\nBest regards,\r\nDana\r\n"
    "-- \r\nDana Smith | Acme Dental | +1 555 0100\r\n"
)


@pytest.mark.django_db
def test_a_new_message_is_an_enriched_ticket(mail: World) -> None:
    first = _send(_message("<m1@acme.test>", "Printer broken", FIRST))
    assert first.status_code == 202
    assert _send(_message("<m1@acme.test>", "Printer broken", FIRST)).json()["duplicate"] is True
    inbox_drain()
    ticket = Ticket.objects.get(source=Ticket.Source.EMAIL)
    assert ticket.summary == "Printer broken" and ticket.external_id == "<m1@acme.test>"
    assert ticket.description == "Hi,\n\nthe printer on floor 2 shows error 50."
    assert ticket.client == mail.client and ticket.contact == mail.contact
    assert ticket.opened_at.isoformat() == "2026-11-25T09:30:00+00:00"


@pytest.mark.django_db
def test_a_reply_threads_onto_its_ticket_and_reopens_it(mail: World) -> None:
    _send(_message("<m1@acme.test>", "Printer broken", FIRST))
    inbox_drain()
    ticket = Ticket.objects.get(source=Ticket.Source.EMAIL)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED)
    reply = (
        "Still broken after the restart.\r\n\r\n"
        "On Tue, Nov 24, 2026, Help wrote:\r\n> Did you restart it?\r\n"
    )
    _send(
        _message(
            "<m2@acme.test>",
            "RE: Printer broken [#999999]",
            reply,
            extra="In-Reply-To: <m1@acme.test>\r\nReferences: <m1@acme.test>\r\n",
        )
    )
    inbox_drain()
    assert Ticket.objects.filter(source=Ticket.Source.EMAIL).count() == 1
    answer = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.REQUESTER_REPLY)
    assert answer.body == "Still broken after the restart."
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.IN_PROGRESS
    # A reply to the reply threads through the stored message ids too.
    _send(
        _message(
            "<m3@acme.test>",
            "Re: Re: Printer broken",
            "Fixed now, thanks.",
            extra="In-Reply-To: <m2@acme.test>\r\n",
        )
    )
    inbox_drain()
    assert TicketEvent.objects.filter(ticket=ticket, kind="requester_reply").count() == 2


@pytest.mark.django_db
def test_a_ticket_reference_threads_only_for_its_client(mail: World) -> None:
    ref = f"[#{mail.ticket.id}]"
    _send(_message("<x1@acme.test>", f"Update {ref}", "It works again."))
    _send(
        _message(
            "<x2@evil.example>",
            f"Update {ref}",
            "Give me access.",
            sender="Mallory <m@evil.example>",
        )
    )
    inbox_drain()
    assert TicketEvent.objects.filter(ticket=mail.ticket, kind="requester_reply").count() == 1
    stranger = Ticket.objects.get(external_id="<x2@evil.example>")
    assert stranger.summary == f"Update {ref}" and stranger.client is None


def test_quotes_and_signatures_are_stripped() -> None:
    text = (
        "Thanks, that fixed it.\n\nCheers\nDana\n\n"
        "-----Original Message-----\nFrom: Help\nSent: Monday\n> quoted\n"
    )
    assert strip_quotes_and_signature(text) == "Thanks, that fixed it."
    german = "Der Drucker geht nicht.\n\nAm 24.11.2026 um 10:00 schrieb Help <h@msp.example>:\n> ok"
    assert strip_quotes_and_signature(german) == "Der Drucker geht nicht."


@pytest.mark.django_db
def test_html_only_mail_and_attachments(mail: World) -> None:
    raw = (
        "From: dana@acme.test\r\nSubject: Screen flickers\r\nMessage-ID: <h1@acme.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>The screen <b>flickers</b> &amp; goes dark.</p>"
        "<script>alert(1)</script></body></html>\r\n"
        "--XX\r\nContent-Type: image/png\r\n"
        "Content-Disposition: attachment; filename=screen.png\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--XX--\r\n"
    )
    _send(raw)
    inbox_drain()
    ticket = Ticket.objects.get(external_id="<h1@acme.test>")
    assert "The screen" in ticket.description and "flickers" in ticket.description
    assert "& goes dark." in ticket.description and "alert(1)" not in ticket.description
    assert ticket.description.endswith("Attachments: screen.png")


@pytest.mark.django_db
def test_not_a_message_is_kept_with_the_reason(mail: World) -> None:
    response = _send("{}", content_type="application/json")
    assert response.status_code == 400
    assert (
        response.json()["detail"]
        == "Send the raw message as message/rfc822, not “application/json”."
    )
    _send("just some words")
    inbox_drain()
    event = InboxEvent.objects.get(
        status=InboxEvent.Status.INVALID, channel="email", error__startswith="Not an"
    )
    assert event.body == "just some words"


@pytest.mark.django_db
def test_processing_a_reply_again_changes_nothing(mail: World) -> None:
    _send(_message("<m1@acme.test>", "Printer broken", FIRST))
    inbox_drain()
    _send(
        _message(
            "<m2@acme.test>",
            "Re: Printer broken",
            "Still broken.",
            extra="In-Reply-To: <m1@acme.test>\r\n",
        )
    )
    inbox_drain()
    # A sweep re-claims it (its worker seemed dead): processing it again records nothing new.
    InboxEvent.objects.filter(delivery_key="message:<m2@acme.test>").update(status="received")
    assert inbox_drain() == 1
    ticket = Ticket.objects.get(source=Ticket.Source.EMAIL)
    assert TicketEvent.objects.filter(ticket=ticket, kind="requester_reply").count() == 1
    assert InboxEvent.objects.get(delivery_key="message:<m2@acme.test>").status == "processed"
