"""E-mail (RFC 822) arrivals: the subject is the summary, the text is the description with
quoted replies and signatures stripped, attachments are listed (the raw message, kept in
the inbox, holds them). A reply threads onto its ticket — by `In-Reply-To`/`References`
naming a message we already turned into a ticket, or by a `[#123]` ticket reference in the
subject — and lands on its timeline as the requester's reply instead of a new ticket."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import html
import re
from email.message import EmailMessage

from tickets.intake.types import IntakeError, TicketInput
from tickets.models import Ticket

MAX_BODY = 100_000
SIGN_OFF_LINES = 4
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)
_TICKET_REF = re.compile(r"\[#(\d{1,12})\]")
# A line that starts the quoted earlier message, in the forms common mail clients write.
_QUOTE_HEADERS = (
    re.compile(r"^\s*On .{1,200}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am .{1,200}schrieb .{1,200}:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*From:\s.+$"),
    re.compile(r"^\s*_{10,}\s*$"),
)
_SIGNATURE = re.compile(r"^\s*(--|—)\s*$")
_SIGN_OFF = re.compile(
    r"^\s*(best regards|kind regards|regards|thanks|thank you|cheers|sent from my \w+)[,!.]?\s*$",
    re.IGNORECASE,
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def email_parse(body: str) -> list[TicketInput]:
    message = email.message_from_string(body, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not (message["From"] or message["Subject"]):
        raise IntakeError("Not an e-mail message: it has neither a From nor a Subject header.")
    sender_name, sender = email.utils.parseaddr(str(message["From"] or ""))
    if "@" not in sender:
        raise IntakeError(f"The sender “{message['From']}” is not an e-mail address.")
    message_id = str(message["Message-ID"] or "").strip()
    subject = " ".join(str(message["Subject"] or "").split())
    text, attachments = _text_and_attachments(message)
    description = strip_quotes_and_signature(text)
    if attachments:
        description += "\n\nAttachments: " + ", ".join(attachments)
    sent = _date(message)
    return [
        TicketInput(
            source=Ticket.Source.EMAIL,
            external_id=_external_id(message_id, body),
            summary=(_SUBJECT_PREFIX.sub("", subject) or "(no subject)")[:255],
            description=description[:MAX_BODY],
            requester_email=sender.lower(),
            requester_name=sender_name,
            opened_at=sent,
            updated_at=sent,
            raw={"message_id": message_id, "attachments": attachments},
            thread_message_ids=_thread_ids(message),
            thread_ticket_ref=_ticket_ref(subject),
        )
    ]


def _external_id(message_id: str, body: str) -> str:
    if message_id:
        return message_id[:120]
    return "sha256:" + hashlib.sha256(body.encode("utf-8", "replace")).hexdigest()[:64]


def _thread_ids(message: EmailMessage) -> tuple[str, ...]:
    found = f"{message['In-Reply-To'] or ''} {message['References'] or ''}"
    return tuple(dict.fromkeys(re.findall(r"<[^<>\s]+>", found)))


def _ticket_ref(subject: str) -> int | None:
    match = _TICKET_REF.search(subject)
    return int(match[1]) if match else None


def _date(message: EmailMessage) -> dt.datetime | None:
    try:
        sent = email.utils.parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None
    return sent if sent is not None and sent.tzinfo is not None else None


def _text_and_attachments(message: EmailMessage) -> tuple[str, list[str]]:
    attachments = [
        part.get_filename() or "unnamed"
        for part in message.iter_attachments()
        if part.get_content_disposition() == "attachment" or part.get_filename()
    ]
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", attachments
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        content = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
    text = str(content)
    if part.get_content_type() == "text/html":
        text = html.unescape(_TAGS.sub("\n", text))
    return text, attachments


def strip_quotes_and_signature(text: str) -> str:
    """The new part of a message: up to the quoted earlier message (a "On … wrote:" line, a
    forwarded header, lines starting with ">"), without the signature or a trailing sign-off."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if any(pattern.match(line) for pattern in _QUOTE_HEADERS) or _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    # A sign-off ("Best regards,") in the last few lines starts the signature block.
    tail = [
        i for i in range(max(0, len(kept) - SIGN_OFF_LINES), len(kept)) if _SIGN_OFF.match(kept[i])
    ]
    if tail:
        kept = kept[: tail[0]]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
