"""Attachments of an e-mail arrival, kept as `TicketAttachment` rows from the raw message in
the inbox. The same parts the e-mail parser lists in the description ("Attachments: …") are
kept, so the list and the files agree."""

from __future__ import annotations

import email
import email.policy
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage, Message

from tickets.intake.imap import ORIGINAL_SIZE_HEADER, RAW_ENCODING, RAW_ENCODING_HEADER
from tickets.models import InboxEvent, Ticket, TicketAttachment

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class _File:
    filename: str
    content_type: str
    content: bytes
    cut: bool  # the stored message ends inside it: its bytes are incomplete


def attachments_keep(*, event: InboxEvent, ticket: Ticket) -> int:
    """Store the event's attachments on the ticket; how many were new. Safe to repeat (one
    row per ticket, arrival, content and name). A file over MAX_ATTACHMENT_BYTES — or one
    the inbox cut short — is listed with `truncated` set and no content."""
    files = _files(_message(event), cut=_was_cut(event))
    rows = {(f.filename, hashlib.sha256(f.content).hexdigest()): f for f in files}
    existing = set(
        TicketAttachment.objects.filter(ticket=ticket, inbox_event=event).values_list(
            "filename", "sha256"
        )
    )
    new = [
        _row(file, sha, event=event, ticket=ticket)
        for (name, sha), file in rows.items()
        if (name, sha) not in existing
    ]
    # A concurrent run may insert the same rows: the unique constraint keeps one of each.
    TicketAttachment.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _row(file: _File, sha: str, *, event: InboxEvent, ticket: Ticket) -> TicketAttachment:
    keep = not file.cut and len(file.content) <= MAX_ATTACHMENT_BYTES
    return TicketAttachment(
        ticket=ticket,
        inbox_event=event,
        filename=file.filename,
        content_type=file.content_type,
        size=len(file.content),
        sha256=sha,
        content=file.content if keep else b"",
        truncated=not keep,
    )


def _message(event: InboxEvent) -> EmailMessage:
    """The message as bytes again: IMAP arrivals are stored byte for byte as Latin-1; API
    arrivals and a manager's correction are UTF-8 text."""
    if event.corrected_body or event.headers.get(RAW_ENCODING_HEADER) != RAW_ENCODING:
        raw = event.payload.encode("utf-8")
    else:
        raw = event.body.encode(RAW_ENCODING)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # the default policy's message class
    return message


def _was_cut(event: InboxEvent) -> bool:
    """Whether the inbox kept only the start of a larger message."""
    # Imported here: the inbox calls attachments_keep while processing e-mail arrivals.
    from tickets.intake.inbox import MAX_BODY

    if event.corrected_body:
        return False
    original = event.headers.get(ORIGINAL_SIZE_HEADER, "")
    if original.isdigit():
        return len(event.body) < int(original)
    return len(event.body) >= MAX_BODY


def _files(message: EmailMessage, *, cut: bool) -> list[_File]:
    parts = [
        part
        for part in message.iter_attachments()
        if part.get_content_disposition() == "attachment" or part.get_filename()
    ]
    leaves = [part for part in message.walk() if not part.is_multipart()]
    last_leaf = leaves[-1] if leaves else None
    return [
        _File(
            filename=_filename(part),
            content_type=part.get_content_type()[:120],
            content=_content(part),
            cut=cut and any(leaf is last_leaf for leaf in _leaves(part)),
        )
        for part in parts
    ]


def _leaves(part: Message) -> list[Message]:
    return [leaf for leaf in part.walk() if not leaf.is_multipart()]


def _content(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message":  # a forwarded message: keep it as .eml
        inner = part.get_payload(0) if part.is_multipart() else None
        return inner.as_bytes() if isinstance(inner, Message) else part.as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else part.as_bytes()


def _filename(part: EmailMessage) -> str:
    name = part.get_filename() or ""
    if not name and part.get_content_type() == "message/rfc822":
        name = "message.eml"
    # Names come from the sender: no paths, no control characters.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return (name or "unnamed")[:255]
