"""E-mail intake by IMAP, against a real Dovecot: a message is stored, then moved; a crash
between the two fetches it again and stores nothing twice; replies thread; attachments are
kept byte for byte and only people who may see the ticket can download them; one mailbox's
failure does not stop the others."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client as HttpClient
from django.urls import NoReverseMatch, path, reverse

from config.urls import urlpatterns as product_urlpatterns
from tests.dovecot import Dovecot, Mailbox
from tests.fixtures import World
from tickets.attachment_views import attachment_download
from tickets.intake import attachments as attachments_module
from tickets.intake import inbox as inbox_module
from tickets.intake.attachments import attachments_keep
from tickets.intake.imap import (
    PollResult,
    imap_mailboxes_from_urls,
    imap_poll,
    imap_poll_all,
    imap_watch,
    message_store,
)
from tickets.intake.inbox import inbox_drain
from tickets.models import ClientEmailDomain, InboxEvent, Ticket, TicketAttachment, TicketEvent

FIRST_TEXT = (
    "Hi,\r\n\r\nthe printer on floor 2 shows error 50.\r\n\r\nBest regards,\r\nDana\r\n"
    "-- \r\nDana Smith | Acme Dental | +1 555 0100\r\n"
)
REPLY_TEXT = (
    "Still broken after the restart.\r\n\r\n"
    "On Tue, Nov 24, 2026, Help wrote:\r\n> Did you restart it?\r\n> The help desk\r\n"
)


def _message(
    message_id: str,
    subject: str,
    text: str,
    *,
    extra: str = "",
    sender: str = "Dana <dana@acme.test>",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: help@msp.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Wed, 25 Nov 2026 09:30:00 +0000\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
    ).encode()


def _with_attachment(message_id: str, filename: str, content: bytes) -> bytes:
    encoded = base64.encodebytes(content).decode().replace("\n", "\r\n")
    return (
        "From: Dana <dana@acme.test>\r\nTo: help@msp.test\r\nSubject: Scan attached\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scan you asked for.\r\n"
        "--XX\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--XX--\r\n"
    ).encode()


@pytest.fixture
def mail(world: World) -> World:
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    return world


@pytest.fixture
def desk(dovecot: Dovecot) -> Mailbox:
    return dovecot.mailbox()


# Used as the URL configuration until tickets/urls.py routes the download (see `routed`).
urlpatterns = [
    path("attachments/<int:pk>/", attachment_download, name="attachment_download"),
    *product_urlpatterns,
]


@pytest.fixture
def routed(settings: Any) -> None:
    try:
        reverse("attachment_download", args=[1])
    except NoReverseMatch:
        settings.ROOT_URLCONF = __name__


def _counts(result: PollResult) -> tuple[int, int, int, int, list[str]]:
    return (result.fetched, result.stored, result.duplicates, result.moved, result.errors)


@pytest.mark.django_db
def test_a_new_mail_becomes_an_enriched_ticket_and_is_moved(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    raw = _message("<m1@acme.test>", "Printer broken", FIRST_TEXT)
    dovecot.deliver(desk, raw)
    result = imap_poll(desk.config("helpdesk"))
    assert _counts(result) == (1, 1, 0, 1, [])
    assert dovecot.messages(desk, "INBOX") == []
    assert dovecot.messages(desk, "Processed") == [raw]
    event = InboxEvent.objects.get(channel=InboxEvent.Channel.EMAIL)
    assert event.delivery_key == "message:<m1@acme.test>"
    assert event.content_type == "message/rfc822"
    assert event.headers["x-imap-mailbox"] == "helpdesk"
    assert event.body.encode("latin-1") == raw
    assert inbox_drain() == 1
    ticket = Ticket.objects.get(source=Ticket.Source.EMAIL)
    assert ticket.summary == "Printer broken" and ticket.external_id == "<m1@acme.test>"
    assert ticket.description == "Hi,\n\nthe printer on floor 2 shows error 50."
    assert ticket.client == mail.client and ticket.contact == mail.contact
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.PROCESSED and event.ticket == ticket


@pytest.mark.django_db
def test_a_reply_threads_onto_its_ticket_without_the_quote(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    dovecot.deliver(desk, _message("<m1@acme.test>", "Printer broken", FIRST_TEXT))
    imap_poll(desk.config())
    inbox_drain()
    reply = _message(
        "<m2@acme.test>",
        "RE: Printer broken",
        REPLY_TEXT,
        extra="In-Reply-To: <m1@acme.test>\r\nReferences: <m1@acme.test>\r\n",
    )
    dovecot.deliver(desk, reply)
    assert _counts(imap_poll(desk.config())) == (1, 1, 0, 1, [])
    inbox_drain()
    ticket = Ticket.objects.get(source=Ticket.Source.EMAIL)
    answer = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.REQUESTER_REPLY)
    assert answer.body == "Still broken after the restart."
    assert "Did you restart it?" not in answer.body
    assert answer.data["from"] == "dana@acme.test"
    assert len(dovecot.messages(desk, "Processed")) == 2


@pytest.mark.django_db
def test_an_8bit_body_keeps_its_characters(mail: World, dovecot: Dovecot, desk: Mailbox) -> None:
    raw = (
        "From: =?utf-8?q?J=C3=BCrgen?= <juergen@acme.test>\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        "Message-ID: <u1@acme.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Der Drucker zeigt „Fehler 50“ – 5 € Toner?\r\n"
    ).encode()
    dovecot.deliver(desk, raw)
    imap_poll(desk.config())
    inbox_drain()
    ticket = Ticket.objects.get(external_id="<u1@acme.test>")
    assert ticket.summary == "Grüße"
    assert ticket.description == "Der Drucker zeigt „Fehler 50“ – 5 € Toner?"
    assert InboxEvent.objects.get(ticket=ticket).body.encode("latin-1") == raw


@pytest.mark.django_db
def test_polling_again_creates_nothing(mail: World, dovecot: Dovecot, desk: Mailbox) -> None:
    dovecot.deliver(desk, _message("<m1@acme.test>", "Printer broken", FIRST_TEXT))
    assert _counts(imap_poll(desk.config())) == (1, 1, 0, 1, [])
    assert _counts(imap_poll(desk.config())) == (0, 0, 0, 0, [])
    inbox_drain()
    assert _counts(imap_poll(desk.config())) == (0, 0, 0, 0, [])
    assert InboxEvent.objects.count() == 1
    assert Ticket.objects.filter(source=Ticket.Source.EMAIL).count() == 1


@pytest.mark.django_db
def test_a_crash_between_store_and_move_stores_nothing_twice(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    raw = _message("<m1@acme.test>", "Printer broken", FIRST_TEXT)
    dovecot.deliver(desk, raw)
    # The poller stored the message, then died before moving it.
    assert message_store(raw, mailbox_name="helpdesk") is True
    inbox_drain()
    assert dovecot.messages(desk, "INBOX") == [raw]
    # The next poll fetches it again: known by its Message-ID, moved, nothing new.
    assert _counts(imap_poll(desk.config())) == (1, 0, 1, 1, [])
    assert inbox_drain() == 0
    assert InboxEvent.objects.count() == 1
    assert Ticket.objects.filter(source=Ticket.Source.EMAIL).count() == 1
    assert dovecot.messages(desk, "INBOX") == []
    assert dovecot.messages(desk, "Processed") == [raw]


@pytest.mark.django_db
def test_a_message_sent_through_the_api_too_is_stored_once(
    mail: World, dovecot: Dovecot, desk: Mailbox, settings: Any
) -> None:
    key = "k" * 32
    settings.INTAKE_API_KEYS = [key]
    raw = _message("<m1@acme.test>", "Printer broken", FIRST_TEXT)
    posted = HttpClient().post(
        "/api/intake/email/",
        data=raw,
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert posted.json()["duplicate"] is False
    dovecot.deliver(desk, raw)
    assert _counts(imap_poll(desk.config())) == (1, 0, 1, 1, [])
    assert InboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_message_without_message_id_is_stored_once_by_its_content(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    raw = _message("", "No id", "Hello").replace(b"Message-ID: \r\n", b"")
    dovecot.deliver(desk, raw)
    message_store(raw, mailbox_name="helpdesk")
    assert _counts(imap_poll(desk.config())) == (1, 0, 1, 1, [])
    event = InboxEvent.objects.get()
    assert event.delivery_key.startswith("sha256:")


@pytest.mark.django_db
def test_storing_inside_a_transaction_is_refused(mail: World) -> None:
    # Inside an outer transaction "stored" is not committed when the mail is moved away.
    with pytest.raises(RuntimeError), transaction.atomic():
        message_store(_message("<t@acme.test>", "x", "y"), mailbox_name="helpdesk")
    assert not InboxEvent.objects.exists()


@pytest.mark.django_db
def test_without_a_processed_folder_mail_is_marked_seen(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    raw = _message("<m1@acme.test>", "Printer broken", FIRST_TEXT)
    dovecot.deliver(desk, raw)
    assert _counts(imap_poll(desk.config(processed_folder=""))) == (1, 1, 0, 1, [])
    assert dovecot.messages(desk, "INBOX") == [raw]
    assert b"\\Seen" in dovecot.flags(desk, "INBOX")[0]
    assert _counts(imap_poll(desk.config(processed_folder=""))) == (0, 0, 0, 0, [])


@pytest.mark.django_db
def test_mail_a_person_already_read_is_still_taken(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    dovecot.deliver(desk, _message("<m1@acme.test>", "Printer broken", FIRST_TEXT))
    client = dovecot.connect(desk)
    client.select_folder("INBOX")
    client.add_flags(client.search(["ALL"]), [b"\\Seen"])
    dovecot.logout(client)
    assert _counts(imap_poll(desk.config())) == (1, 1, 0, 1, [])


@pytest.mark.django_db
def test_the_limit_leaves_the_rest_for_the_next_poll(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    for number in range(3):
        dovecot.deliver(desk, _message(f"<n{number}@acme.test>", f"Issue {number}", "Help"))
    assert _counts(imap_poll(desk.config(), limit=2)) == (2, 2, 0, 2, [])
    assert sorted(InboxEvent.objects.values_list("delivery_key", flat=True)) == [
        "message:<n0@acme.test>",
        "message:<n1@acme.test>",
    ]
    assert _counts(imap_poll(desk.config(), limit=2)) == (1, 1, 0, 1, [])


@pytest.mark.django_db
def test_an_attachment_is_kept_byte_for_byte(mail: World, dovecot: Dovecot, desk: Mailbox) -> None:
    content = bytes(range(256)) * 200 + b"\x00\r\n\x80end"
    dovecot.deliver(desk, _with_attachment("<a1@acme.test>", "scan 2026.pdf", content))
    imap_poll(desk.config())
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.ticket is not None
    assert event.ticket.description == "The scan you asked for.\n\nAttachments: scan 2026.pdf"
    assert event.ticket.attachments.count() == 1  # kept as the inbox processed it
    assert attachments_keep(event=event, ticket=event.ticket) == 0  # and only once
    kept = TicketAttachment.objects.get()
    assert (kept.filename, kept.content_type, kept.size) == (
        "scan 2026.pdf",
        "application/pdf",
        len(content),
    )
    assert bytes(kept.content) == content
    assert kept.sha256 == hashlib.sha256(content).hexdigest()
    assert kept.truncated is False and kept.inbox_event == event


@pytest.mark.django_db
def test_an_attachment_of_a_message_posted_to_the_api_is_kept(mail: World, settings: Any) -> None:
    key = "k" * 32
    settings.INTAKE_API_KEYS = [key]
    content = os.urandom(3000)
    HttpClient().post(
        "/api/intake/email/",
        data=_with_attachment("<p1@acme.test>", "photo.pdf", content),
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.ticket is not None
    assert attachments_keep(event=event, ticket=event.ticket) == 0  # the inbox kept it
    assert bytes(TicketAttachment.objects.get().content) == content


@pytest.mark.django_db
def test_an_oversized_attachment_is_listed_without_content(
    mail: World, dovecot: Dovecot, desk: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attachments_module, "MAX_ATTACHMENT_BYTES", 1000)
    content = os.urandom(1001)
    dovecot.deliver(desk, _with_attachment("<a1@acme.test>", "big.pdf", content))
    imap_poll(desk.config())
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.ticket is not None
    assert attachments_keep(event=event, ticket=event.ticket) == 0  # the inbox kept it
    kept = TicketAttachment.objects.get()
    assert (kept.size, kept.truncated, bytes(kept.content)) == (1001, True, b"")
    assert kept.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.django_db
def test_an_attachment_the_inbox_cut_short_is_not_kept_as_if_whole(
    mail: World, dovecot: Dovecot, desk: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_EMAIL_BODY", 3000)  # the inbox keeps the first 3000
    raw = _with_attachment("<a1@acme.test>", "big.pdf", os.urandom(6000))
    dovecot.deliver(desk, raw)
    imap_poll(desk.config())
    inbox_drain()
    event = InboxEvent.objects.get()
    assert len(event.body) == 3000 and event.headers["x-original-size"] == str(len(raw))
    assert event.ticket is not None
    assert attachments_keep(event=event, ticket=event.ticket) == 0  # the inbox kept it
    kept = TicketAttachment.objects.get()
    assert (kept.filename, kept.truncated, bytes(kept.content)) == ("big.pdf", True, b"")
    # The whole message is still in the mailbox's processed folder.
    assert dovecot.messages(desk, "Processed") == [raw]


@pytest.mark.django_db
def test_a_wrong_password_is_reported_and_other_mailboxes_still_poll(
    mail: World,
    dovecot: Dovecot,
    desk: Mailbox,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    locked = dovecot.mailbox("locked")
    dovecot.deliver(desk, _message("<m1@acme.test>", "Printer broken", FIRST_TEXT))
    settings.INTAKE_IMAP_MAILBOXES = [
        locked.config("sales", password="wrong"),
        desk.config("helpdesk"),
    ]
    with caplog.at_level(logging.WARNING, logger="tickets.intake.imap"):
        sales, helpdesk = imap_poll_all()
    assert (sales.mailbox, sales.fetched, sales.stored) == ("sales", 0, 0)
    assert sales.errors[0].startswith(f"Authentication failed for {locked.user} at 127.0.0.1:")
    assert "wrong" not in sales.errors[0]
    assert "Authentication failed" in caplog.text and "sales" in caplog.text
    assert _counts(helpdesk) == (1, 1, 0, 1, [])


@pytest.mark.django_db
def test_an_unreachable_server_is_reported(mail: World, dovecot: Dovecot, desk: Mailbox) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = imap_poll(desk.config("helpdesk", port=port))
    assert result.errors[0].startswith(f"Cannot connect to 127.0.0.1:{port}: ")
    assert (result.fetched, result.stored) == (0, 0)


@pytest.mark.django_db
def test_a_missing_folder_is_reported(mail: World, dovecot: Dovecot, desk: Mailbox) -> None:
    result = imap_poll(desk.config(folder="Support"))
    assert result.errors[0].startswith(f"Cannot open the folder “Support” of {desk.user}: ")


@pytest.mark.django_db
def test_the_command_prints_counts_per_mailbox(
    mail: World, dovecot: Dovecot, desk: Mailbox, settings: Any
) -> None:
    locked = dovecot.mailbox("locked")
    dovecot.deliver(desk, _message("<m1@acme.test>", "Printer broken", FIRST_TEXT))
    settings.INTAKE_IMAP_MAILBOXES = [desk.config("helpdesk"), locked.config("sales", password="x")]
    out = StringIO()
    call_command("poll_imap", "--once", "--mailbox", "helpdesk", stdout=out)
    assert out.getvalue() == "helpdesk: fetched 1, stored 1, duplicates 0, moved 1\n"
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 2 mailboxes failed"):
        call_command("poll_imap", "--once", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("sales: fetched 0, stored 0, duplicates 0, moved 0; ")
    with pytest.raises(CommandError, match="No mailbox named nope; configured: helpdesk, sales"):
        call_command("poll_imap", "--once", "--mailbox", "nope")


def test_the_command_needs_configured_mailboxes(settings: Any) -> None:
    settings.INTAKE_IMAP_MAILBOXES = []
    with pytest.raises(CommandError, match="No mailboxes configured: set INTAKE_IMAP_URLS"):
        call_command("poll_imap", "--once")


def test_watching_polls_again_when_mail_arrives(dovecot: Dovecot, desk: Mailbox) -> None:
    polled = threading.Semaphore(0)
    stop = threading.Event()
    polls: list[str] = []

    def poll(mailbox: Any) -> PollResult:
        polls.append(mailbox["name"])
        polled.release()
        return PollResult(mailbox=mailbox["name"])

    watcher = threading.Thread(
        target=imap_watch,
        args=(desk.config("helpdesk"),),
        kwargs={"stop": stop.is_set, "poll": poll, "check_seconds": 2.0},
    )
    watcher.start()
    try:
        assert polled.acquire(timeout=30)  # the first poll, before waiting
        dovecot.deliver(desk, _message("<w1@acme.test>", "New", "Hello"))
        assert polled.acquire(timeout=60)  # IDLE saw the new mail
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert not watcher.is_alive()
    assert polls[:2] == ["helpdesk", "helpdesk"]


@pytest.mark.django_db
@pytest.mark.usefixtures("routed")
def test_only_people_who_see_the_ticket_download_an_attachment(
    mail: World, dovecot: Dovecot, desk: Mailbox
) -> None:
    content = b"%PDF-1.4 <script>alert(1)</script>"
    dovecot.deliver(desk, _with_attachment("<a1@acme.test>", "report <1>.pdf", content))
    imap_poll(desk.config())
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.ticket is not None and event.ticket.client == mail.client
    attachments_keep(event=event, ticket=event.ticket)
    kept = TicketAttachment.objects.get()
    url = reverse("attachment_download", args=[kept.pk])
    response = mail.login(mail.tech_in).get(url)
    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report <1>.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert mail.login(mail.tech_out).get(url).status_code == 404
    assert mail.login(mail.manager).get(url).status_code == 200
    assert HttpClient().get(url).status_code == 302  # to the login page
    missing = reverse("attachment_download", args=[kept.pk + 1000])
    assert mail.login(mail.manager).get(missing).status_code == 404


@pytest.mark.django_db
@pytest.mark.usefixtures("routed")
def test_a_truncated_attachment_cannot_be_downloaded(mail: World) -> None:
    kept = TicketAttachment.objects.create(
        ticket=mail.ticket,
        filename="huge.iso",
        size=20_000_000,
        sha256="0" * 64,
        truncated=True,
    )
    response = mail.login(mail.tech_in).get(reverse("attachment_download", args=[kept.pk]))
    assert response.status_code == 410
    assert "“huge.iso” was too large to keep" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("routed")
def test_the_ticket_page_snippet_lists_attachments(mail: World) -> None:
    kept, huge = (
        TicketAttachment.objects.create(
            ticket=mail.ticket, filename=name, size=size, sha256=str(size), truncated=truncated
        )
        for name, size, truncated in (("scan.pdf", 2048, False), ("huge.iso", 20_000_000, True))
    )
    html = render_to_string("tickets/_attachments.html", {"attachments": [kept, huge]})
    assert f'href="/attachments/{kept.pk}/"' in html and ">scan.pdf</a>" in html
    assert "2.0\xa0KB" in html
    assert f"/attachments/{huge.pk}/" not in html and "too large to keep" in html
    assert render_to_string("tickets/_attachments.html", {"attachments": []}).strip() == ""


def test_mailbox_urls_are_parsed() -> None:
    plain, secure = imap_mailboxes_from_urls(
        [
            "imap://helpdesk%40msp.test:p%40ss%2Cword@mail.msp.test:1143/Support%20Desk"
            "?processed=Done&name=desk",
            "imaps://alerts:secret@imap.msp.test",
        ]
    )
    assert plain == {
        "name": "desk",
        "host": "mail.msp.test",
        "port": 1143,
        "username": "helpdesk@msp.test",
        "password": "p@ss,word",
        "folder": "Support Desk",
        "processed_folder": "Done",
        "ssl": False,
    }
    assert secure == {
        "name": "alerts",
        "host": "imap.msp.test",
        "port": 993,
        "username": "alerts",
        "password": "secret",
        "folder": "INBOX",
        "processed_folder": "Processed",
        "ssl": True,
    }
    (seen_only,) = imap_mailboxes_from_urls(["imap://u:p@h/INBOX?processed="])
    assert (seen_only["port"], seen_only["processed_folder"]) == (143, "")
    assert imap_mailboxes_from_urls([]) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "() is empty"),
        ("https://u:secret@h/", "(https://u:***@h/) has the scheme “https”, not imap or imaps"),
        ("imap://mail.msp.test/", "(imap://mail.msp.test/) has no user name and password"),
        ("imap://u@mail.msp.test/", "has no user name and password"),
        ("imap://u:secret@h:99999/", "(imap://u:***@h:99999/) has a port that is not a number"),
        ("imap://u:secret@h:0/", "has a port that is not a number from 1 to 65535"),
        ("imap://u:secret@:143/", "(imap://u:***@:143/) has no host"),
        ("imap://u:secret@h/?moved=X", "has unknown or repeated options ['moved']"),
        ("imap://u:secret@h/?name=a&name=b", "has unknown or repeated options ['name']"),
    ],
)
def test_a_bad_mailbox_url_names_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        imap_mailboxes_from_urls(["imaps://ok:pw@h", url])
    message = str(error.value)
    assert message.startswith("INTAKE_IMAP_URLS entry 2 (")
    assert problem in message
    assert "secret" not in message


def test_two_urls_for_one_mailbox_name_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="names the mailbox desk more than once"):
        imap_mailboxes_from_urls(["imap://desk:a@h/INBOX", "imap://desk:b@h/Other"])
