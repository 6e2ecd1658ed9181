"""E-mail intake by IMAP: poll the help-desk mailboxes, keep every message raw in the inbox
(`inbox_store`), and only once it is committed move it out of the way (to the processed
folder, or mark it seen where the server cannot move). A crash between the two leaves the
message where it was: the next poll fetches it again and its delivery key — the Message-ID,
as the e-mail API uses — makes the second store a no-op. Nothing lost, nothing twice.

Mailboxes come from settings.INTAKE_IMAP_MAILBOXES (parsed from INTAKE_IMAP_URLS by
`imap_mailboxes_from_urls`). This module is imported by the settings, so it imports the
models only inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from imapclient import IMAPClient, SocketTimeout  # type: ignore[import-untyped]
from imapclient.exceptions import (  # type: ignore[import-untyped]
    IMAPClientError,
    LoginError,
)

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 15.0
READ_SECONDS = 60.0
FETCH_CHUNK = 25  # messages per FETCH: bounded memory, few round trips
# How the raw bytes become the inbox's text. Latin-1 maps each byte to one code point, so
# `body.encode("latin-1")` gives back exactly what the server sent (attachments rely on it),
# and Python's e-mail parser reads those code points as the original bytes when it decodes
# a part, so an 8-bit body comes out right in whatever charset it declares. UTF-8 would lose
# invalid bytes and garble 8-bit bodies in the parser; surrogateescape cannot be stored in
# PostgreSQL. The cost: a header sent as raw 8-bit UTF-8 (instead of the usual =?utf-8?…?=
# encoded words) reads as mojibake.
RAW_ENCODING = "latin-1"
RAW_ENCODING_HEADER = "x-raw-encoding"
MAILBOX_HEADER = "x-imap-mailbox"
# The message's size: the inbox keeps at most inbox.MAX_BODY characters of a body, and
# attachments_keep must know when the stored text is only the start of the message.
ORIGINAL_SIZE_HEADER = "x-original-size"
DEFAULT_FOLDER = "INBOX"
DEFAULT_PROCESSED_FOLDER = "Processed"
IDLE_CHECK_SECONDS = 5.0
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
RETRY_MAX_SECONDS = 300.0
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


class ImapMailbox(TypedDict):
    name: str
    host: str
    port: int
    username: str
    password: str
    folder: NotRequired[str]
    processed_folder: NotRequired[str]  # "" to leave messages in place, marked seen
    ssl: NotRequired[bool]


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    moved: int = 0  # moved to the processed folder, or marked seen where it cannot move
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        counts = (
            f"fetched {self.fetched}, stored {self.stored}, duplicates {self.duplicates}, "
            f"moved {self.moved}"
        )
        return f"{self.mailbox}: {counts}" + (f"; {'; '.join(self.errors)}" if self.errors else "")


class MailboxUnavailable(Exception):
    """A mailbox could not be reached, logged in to or opened; the message says which."""


def imap_poll(mailbox: ImapMailbox, *, limit: int = 500) -> PollResult:
    """Store up to `limit` waiting messages of one mailbox (oldest first) and move each one
    away once stored. Never raises for the mailbox's own failures (network, login, a folder
    that is missing): they are in `errors` and logged. Must run outside a transaction, so
    that each message is committed before it leaves the folder."""
    result = PollResult(mailbox=mailbox["name"])
    client: Any = None
    try:
        client = _open(mailbox)
        _poll_open(client, mailbox, limit=limit, result=result)
    except MailboxUnavailable as error:
        result.errors.append(str(error))
    except (IMAPClientError, OSError) as error:
        result.errors.append(f"IMAP error on {_where(mailbox)}: {_reason(error)}")
    finally:
        if client is not None:
            _logout(client)
    for problem in result.errors:
        logger.warning("IMAP intake, mailbox %s: %s", mailbox["name"], problem)
    return result


def imap_poll_all() -> list[PollResult]:
    """Poll every configured mailbox; one mailbox's failure is recorded and logged, and the
    others are still polled."""
    results: list[PollResult] = []
    for mailbox in imap_mailboxes():
        try:
            results.append(imap_poll(mailbox))
        except Exception as error:  # a bug or a database outage must not starve the rest
            logger.exception("IMAP intake, mailbox %s: poll failed", mailbox["name"])
            results.append(PollResult(mailbox=mailbox["name"], errors=[f"Poll failed: {error}"]))
    return results


def imap_mailboxes() -> list[ImapMailbox]:
    """The configured mailboxes (none when INTAKE_IMAP_URLS is unset)."""
    mailboxes: list[ImapMailbox] = getattr(settings, "INTAKE_IMAP_MAILBOXES", [])
    return mailboxes


def _open(mailbox: ImapMailbox) -> Any:
    """A logged-in client with the intake folder selected."""
    use_ssl = mailbox.get("ssl", False)
    try:
        client = IMAPClient(
            mailbox["host"],
            port=mailbox["port"],
            ssl=use_ssl,
            ssl_context=ssl.create_default_context() if use_ssl else None,
            timeout=SocketTimeout(connect=CONNECT_SECONDS, read=READ_SECONDS),
        )
    except (IMAPClientError, OSError) as error:
        raise MailboxUnavailable(f"Cannot connect to {_where(mailbox)}: {_reason(error)}") from None
    try:
        client.login(mailbox["username"], mailbox["password"])
    except LoginError as error:
        _logout(client)
        raise MailboxUnavailable(
            f"Authentication failed for {mailbox['username']} at {_where(mailbox)} "
            f"({_reason(error)}); check the user name and password in INTAKE_IMAP_URLS."
        ) from None
    folder = mailbox.get("folder", DEFAULT_FOLDER)
    try:
        client.select_folder(folder)
    except IMAPClientError as error:
        _logout(client)
        raise MailboxUnavailable(
            f"Cannot open the folder “{folder}” of {mailbox['username']}: {_reason(error)}"
        ) from None
    return client


def _poll_open(client: Any, mailbox: ImapMailbox, *, limit: int, result: PollResult) -> None:
    processed = mailbox.get("processed_folder", DEFAULT_PROCESSED_FOLDER)
    moving = bool(processed) and client.has_capability("MOVE")
    if moving:
        _ensure_folder(client, processed)
    # Moving empties the folder, so everything still in it is waiting — including mail a
    # person already opened. Without moving, "seen" is the only mark of what was taken.
    criteria = ["UNDELETED"] if moving else ["UNSEEN", "UNDELETED"]
    uids = sorted(client.search(criteria))[:limit]
    for chunk in _chunks(uids, FETCH_CHUNK):
        kept = _store_chunk(client, chunk, mailbox, result)
        if kept:
            result.moved += _move(client, kept, processed if moving else "")


def _store_chunk(
    client: Any, uids: list[int], mailbox: ImapMailbox, result: PollResult
) -> list[int]:
    """Fetch and store these messages (without marking them seen); the UIDs now safely kept."""
    from django.db import DatabaseError

    kept: list[int] = []
    for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items():
        raw = data.get(b"BODY[]")
        if raw is None:  # expunged by someone else meanwhile
            continue
        result.fetched += 1
        try:
            created = message_store(raw, mailbox_name=mailbox["name"])
        except DatabaseError as error:
            result.errors.append(f"Message UID {uid} could not be stored (left in place): {error}")
            continue
        result.stored += created
        result.duplicates += not created
        kept.append(uid)
    return kept


def message_store(raw: bytes, *, mailbox_name: str) -> bool:
    """Keep one fetched message in the inbox, committed when this returns (True when new).
    A message already kept — fetched again after a crash, or sent through the e-mail API
    too — is found by its Message-ID and stored once."""
    from django.db import transaction

    from tickets.intake.inbox import inbox_store
    from tickets.models import InboxEvent

    message_id = _message_id(raw)
    # PostgreSQL text cannot hold NUL, which RFC 5322 forbids in mail anyway.
    text = raw.replace(b"\x00", b"").decode(RAW_ENCODING)
    # durable: refuses to run inside an outer transaction, where "stored" would not yet be
    # committed when the message is moved away.
    with transaction.atomic(durable=True):
        _, created = inbox_store(
            channel=InboxEvent.Channel.EMAIL,
            body=text,
            delivery_key=f"message:{message_id}"[:150] if message_id else "",
            content_type="message/rfc822",
            headers={
                MAILBOX_HEADER: mailbox_name,
                RAW_ENCODING_HEADER: RAW_ENCODING,
                ORIGINAL_SIZE_HEADER: str(len(text)),
            },
        )
    return created


def _message_id(raw: bytes) -> str:
    """The `<id@host>` of the Message-ID header, as the e-mail API's delivery key uses it."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    match = _MESSAGE_ID.search(str(headers.get("Message-ID", "")))
    return match[0] if match else ""


def _move(client: Any, uids: list[int], folder: str) -> int:
    """Move stored messages to `folder`, or (no folder: the server cannot move) flag them
    seen. A failure leaves them to be fetched again, which is harmless."""
    if folder:
        client.move(uids, folder)
    else:
        client.add_flags(uids, [b"\\Seen"])
    return len(uids)


def _ensure_folder(client: Any, folder: str) -> None:
    if client.folder_exists(folder):
        return
    try:
        client.create_folder(folder)
    except IMAPClientError:
        if not client.folder_exists(folder):  # not another poller creating it meanwhile
            raise
    try:
        client.subscribe_folder(folder)  # so people see it in their mail clients
    except IMAPClientError:
        logger.info("IMAP intake: could not subscribe to %s; carrying on", folder)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _logout(client: Any) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        with contextlib.suppress(OSError):  # already closed
            client.shutdown()


def _where(mailbox: ImapMailbox) -> str:
    return f"{mailbox['host']}:{mailbox['port']}"


def _reason(error: BaseException) -> str:
    text = error.args[0] if error.args else error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text) or type(error).__name__


def imap_watch(
    mailbox: ImapMailbox,
    *,
    stop: Callable[[], bool],
    poll: Callable[[ImapMailbox], PollResult] = imap_poll,
    report: Callable[[PollResult], object] = lambda result: None,
    check_seconds: float = IDLE_CHECK_SECONDS,
) -> None:
    """Poll, then wait with IMAP IDLE and poll again as soon as the server announces new mail
    (at the latest every IDLE_RENEW_SECONDS), until `stop()` is true — checked between
    waits of `check_seconds`. A mailbox that cannot be opened is retried with a growing
    pause (up to RETRY_MAX_SECONDS), so a wrong password does not hammer the server."""
    pause = check_seconds
    while not stop():
        try:
            client = _open(mailbox)
        except MailboxUnavailable as error:
            logger.warning("IMAP intake, mailbox %s: %s", mailbox["name"], error)
            report(PollResult(mailbox=mailbox["name"], errors=[str(error)]))
            _sleep_unless(stop, pause)
            pause = min(pause * 2, RETRY_MAX_SECONDS)
            continue
        pause = check_seconds
        try:
            # Polled after SELECT: mail arriving from now on is announced to this session,
            # so none slips in between the poll and the wait.
            report(poll(mailbox))
            _idle_until_mail(client, stop, check_seconds)
        except (IMAPClientError, OSError) as error:
            logger.warning("IMAP intake, mailbox %s: IDLE ended: %s", mailbox["name"], error)
        finally:
            _logout(client)


def _idle_until_mail(client: Any, stop: Callable[[], bool], check_seconds: float) -> None:
    client.idle()
    renew_at = time.monotonic() + IDLE_RENEW_SECONDS
    while not stop() and time.monotonic() < renew_at:
        if _announces_mail(client.idle_check(timeout=check_seconds)):
            break
    client.idle_done()


def _announces_mail(responses: list[tuple[Any, ...]]) -> bool:
    return any(len(item) > 1 and item[1] in (b"EXISTS", b"RECENT") for item in responses)


def _sleep_unless(stop: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(0.2)


def imap_mailboxes_from_urls(urls: list[str]) -> list[ImapMailbox]:
    """Mailboxes from `imap://user:password@host:port/FOLDER?processed=Processed&name=desk`
    (or `imaps://`, TLS; ports default to 143 and 993). User name, password and folder are
    percent-decoded — encode `@ : / ? # %` and commas in them. `processed=` empty leaves mail
    in place, marked seen. A URL that cannot work is an ImproperlyConfigured naming it (with
    the password masked)."""
    mailboxes = [_mailbox_from_url(url, position) for position, url in enumerate(urls, 1)]
    names = [mailbox["name"] for mailbox in mailboxes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ImproperlyConfigured(
            f"INTAKE_IMAP_URLS names the mailbox {', '.join(repeated)} more than once; "
            "give each URL its own ?name=… (the name defaults to the user name)"
        )
    return mailboxes


def _mailbox_from_url(url: str, position: int) -> ImapMailbox:
    def bad(problem: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(
            f"INTAKE_IMAP_URLS entry {position} ({_masked(url)}) {problem}; expected "
            "imap://user:password@host:port/INBOX?processed=Processed (or imaps://…)."
        )

    text = url.strip()
    if not text:
        raise bad("is empty")
    parts = urlsplit(text)
    if parts.scheme not in ("imap", "imaps"):
        raise bad(f"has the scheme “{parts.scheme or 'none'}”, not imap or imaps")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise bad("has a port that is not a number from 1 to 65535")
    if not parts.hostname:
        raise bad("has no host")
    if not parts.username or not parts.password:
        raise bad("has no user name and password")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"processed", "name"})
    if unknown or any(len(values) > 1 for values in query.values()):
        raise bad(f"has unknown or repeated options {unknown or list(query)}")
    username = unquote(parts.username)
    folder = unquote(parts.path.lstrip("/")) or DEFAULT_FOLDER
    return ImapMailbox(
        name=query.get("name", [""])[0] or username,
        host=parts.hostname,
        port=port or (993 if parts.scheme == "imaps" else 143),
        username=username,
        password=unquote(parts.password),
        folder=folder,
        processed_folder=query.get("processed", [DEFAULT_PROCESSED_FOLDER])[0],
        ssl=parts.scheme == "imaps",
    )


def _masked(url: str) -> str:
    parts = urlsplit(url.strip())
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url.strip()
    return parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}").geturl()
