"""A private Dovecot IMAP server on loopback, for testing the IMAP intake against a real server.
Registered as a pytest plugin: a test asks for `dovecot` (one server per xdist worker, started
once per session) and gets a fresh mailbox from `dovecot.mailbox()`, so tests never share
one.

Dovecot comes from apt (`scripts/ensure_dovecot.sh`, run by the test command). Without it the
fixture fails, unless ALLOW_MISSING_SERVERS=1 asks to skip such tests instead.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

from tests.servers import binary, free_port, private_server, wait_until_ready
from tickets.intake.imap import ImapMailbox

READY_SECONDS = 20.0
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class Mailbox:
    """One user's mailbox on the test server; `config()` is its INTAKE_IMAP_MAILBOXES entry."""

    host: str
    port: int
    user: str
    password: str

    def config(self, name: str = "", **overrides: Any) -> ImapMailbox:
        entry = ImapMailbox(
            name=name or self.user,
            host=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            folder="INBOX",
            processed_folder="Processed",
            ssl=False,
        )
        return cast(ImapMailbox, {**entry, **overrides})


class Dovecot:
    def __init__(self, base: Path, host: str, port: int) -> None:
        self.base, self.host, self.port = base, host, port
        self.users = base / "users"
        self.conf = base / "dovecot.conf"
        self.log = base / "dovecot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._open: list[IMAPClient] = []

    def mailbox(self, name: str = "helpdesk") -> Mailbox:
        """A new user with an empty mailbox. Each user has a passwd-file of their own: Dovecot
        re-reads a changed file at most once a second, so one shared file would miss users
        added in quick succession."""
        user = f"{name}-{uuid.uuid4().hex[:12]}@msp.test"
        password = uuid.uuid4().hex
        entry = self.users / user
        entry.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        entry.chmod(0o644)
        return Mailbox(host=self.host, port=self.port, user=user, password=password)

    def connect(self, mailbox: Mailbox) -> IMAPClient:
        """A logged-in client, logged out when the server stops if the test does not."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        self._open.append(client)
        client.login(mailbox.user, mailbox.password)
        return client

    def deliver(self, mailbox: Mailbox, raw: bytes, folder: str = "INBOX") -> int:
        """Put a message in the mailbox as a mail server would (IMAP APPEND); its UID."""
        client = self.connect(mailbox)
        try:
            answer = client.append(folder, raw)
        finally:
            self._logout(client)
        return int(answer.split(b"]")[0].split()[-1]) if b"APPENDUID" in answer else 0

    def messages(self, mailbox: Mailbox, folder: str = "INBOX") -> list[bytes]:
        """The raw messages in a folder (oldest first, read without marking them seen); an
        empty list for a folder that does not exist."""
        client = self.connect(mailbox)
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            found = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [found[uid][b"BODY[]"] for uid in uids]
        finally:
            self._logout(client)

    def flags(self, mailbox: Mailbox, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        client = self.connect(mailbox)
        try:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            found = client.get_flags(uids) if uids else {}
            return [tuple(found[uid]) for uid in uids]
        finally:
            self._logout(client)

    def start(self) -> None:
        # A daemon's children keep inherited pipes open: output goes to a file, never a pipe.
        with (self.base / "stdout.log").open("wb") as output:
            self.proc = subprocess.Popen(
                [binary("dovecot"), "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
        wait_until_ready(
            self.proc,
            title="Dovecot",
            answers=self._answers,
            logs=self._logs,
            stop=self.stop,
            seconds=READY_SECONDS,
        )

    def stop(self) -> None:
        # Open IMAP sessions keep their processes (and so the master) alive: log out first.
        try:
            while self._open:
                self._logout(self._open[-1])
        finally:
            self._terminate()

    def _terminate(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def logout(self, client: IMAPClient) -> None:
        self._logout(client)

    def _logout(self, client: IMAPClient) -> None:
        if client in self._open:
            self._open.remove(client)
        try:
            client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(OSError):  # already closed
                client.shutdown()

    def _answers(self) -> bool:
        """Whether the server greets a client (IMAPClient reads the greeting on connect)."""
        try:
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=2)
        except (IMAPClientError, OSError):
            return False
        self._logout(client)
        return True

    def _logs(self) -> str:
        parts = [path.read_text(errors="replace") for path in (self.log, self.base / "stdout.log")]
        return "\n".join(part for part in parts if part.strip())


def _config(base: Path, port: int) -> str:
    return "\n".join(
        [
            f"base_dir = {base}/run",
            f"state_dir = {base}/state",
            f"log_path = {base}/dovecot.log",
            "protocols = imap",
            "listen = 127.0.0.1",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            f"mail_location = maildir:{base}/mail/%u",
            "mail_uid = nobody",
            "mail_gid = nogroup",
            "first_valid_uid = 1",
            # Failed logins (tests of wrong passwords) must not slow every later login from
            # loopback by seconds: no auth penalty.
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
            "passdb {\n  driver = passwd-file\n  args = " + f"{base}/users/%u\n}}",
            "userdb {\n  driver = passwd-file\n  args = " + f"{base}/users/%u\n}}",
            f"service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n}}",
            "",
        ]
    )


def _prepare(base: Path, port: int) -> None:
    """Directories a server that drops root can use (pytest's tmp_path is mode 0700)."""
    base.chmod(0o755)
    for sub in ("run", "state"):
        (base / sub).mkdir()
    mail = base / "mail"
    mail.mkdir()
    shutil.chown(mail, "nobody", "nogroup")
    (base / "users").mkdir()
    (base / "dovecot.conf").write_text(_config(base, port))


def dovecot_start() -> Dovecot:
    # base_dir (here <base>/run) must stay under 82 characters for its socket paths.
    base = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
    port = free_port()
    _prepare(base, port)
    server = Dovecot(base, "127.0.0.1", port)
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    yield from private_server(
        program="dovecot",
        title="Dovecot",
        installer="scripts/ensure_dovecot.sh",
        why_root="it runs mail as nobody:nogroup",
        start=dovecot_start,
    )
