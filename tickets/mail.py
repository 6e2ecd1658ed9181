"""Replies by e-mail, for tickets that came by e-mail or the portal: the reply goes to the
requester through the ticket's own source. Each public reply is put in the mail outbox in
the transaction that records it; `mail_deliver` sends what is due through Django's mail
backend (SMTP when `EMAIL_HOST` is set), retrying with backoff. The subject carries the
ticket number ("[#123]") and the headers the original message's id, so the requester's
answer threads back onto the ticket."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import transaction
from django.utils import timezone

from tickets.models import MailOutbox, Ticket, TicketEvent

log = logging.getLogger(__name__)
MAIL_SOURCES = (Ticket.Source.EMAIL, Ticket.Source.PORTAL)
MAX_ATTEMPTS = 8
BATCH = 50


def mail_reply_enqueue(*, ticket: Ticket, event: TicketEvent) -> MailOutbox | None:
    """Queue a public reply for the requester, if the ticket came by mail or the portal.
    Call inside the transaction that records the reply."""
    if ticket.source not in MAIL_SOURCES or ticket.psa_connection_id is not None:
        return None
    to = ticket.contact.email if ticket.contact else ""
    to = to or str(ticket.raw_payload.get("requester_email", "") or "")
    if not to:
        return None
    original = str(ticket.raw_payload.get("message_id", "") or "")
    item = MailOutbox.objects.create(
        ticket=ticket,
        event=event,
        to=to,
        subject=f"Re: [#{ticket.id}] {ticket.summary}"[:300],
        body=event.body,
        in_reply_to=original,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(_queue)
    return item


def _queue() -> None:
    from django_q.tasks import async_task

    async_task("tickets.tasks.mail_deliver", group="mail")


def mail_deliver(*, now: dt.datetime | None = None) -> int:
    """Send the due replies, oldest first; returns how many went out."""
    moment = now or timezone.now()
    with transaction.atomic():
        due = list(
            MailOutbox.objects.select_for_update(skip_locked=True)
            .filter(status=MailOutbox.Status.PENDING, next_attempt_at__lte=moment)
            .order_by("next_attempt_at", "id")[:BATCH]
        )
        sent = 0
        for item in due:
            sent += _send(item, moment)
    return sent


def _send(item: MailOutbox, moment: dt.datetime) -> int:
    message_id = item.message_id or make_msgid(domain=settings.DEFAULT_FROM_EMAIL.split("@")[-1])
    headers = {"Message-ID": message_id}
    if item.in_reply_to:
        headers.update({"In-Reply-To": item.in_reply_to, "References": item.in_reply_to})
    mail = EmailMessage(
        item.subject, item.body, settings.DEFAULT_FROM_EMAIL, [item.to], headers=headers
    )
    item.attempts += 1
    item.message_id = message_id
    try:
        mail.send()
    except (smtplib.SMTPException, OSError) as error:
        item.last_error = f"{type(error).__name__}: {error}"[:1000]
        if item.attempts >= MAX_ATTEMPTS:
            item.status = MailOutbox.Status.FAILED
            log.warning("Reply mail for ticket %s failed for good: %s", item.ticket_id, error)
        else:
            item.next_attempt_at = moment + dt.timedelta(seconds=min(3600, 30 * 2**item.attempts))
        item.save(
            update_fields=["attempts", "message_id", "last_error", "status", "next_attempt_at"]
        )
        return 0
    item.status, item.sent_at, item.last_error = MailOutbox.Status.SENT, moment, ""
    item.save(update_fields=["attempts", "message_id", "status", "sent_at", "last_error"])
    return 1
