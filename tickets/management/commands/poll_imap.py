"""`python manage.py poll_imap`: fetch mail from the help-desk mailboxes into the inbox.

`--once` polls each mailbox once and exits (non-zero when a mailbox failed, for cron and
monitoring); without it the command polls every `--interval` seconds until Ctrl-C; `--watch`
waits on one mailbox with IMAP IDLE and polls as soon as mail arrives. The background task
`tickets.tasks.imap_poll_all` does the same as `--once` on a schedule.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.intake.imap import ImapMailbox, PollResult, imap_mailboxes, imap_poll, imap_watch


class Command(BaseCommand):
    help = "Fetches mail from the configured IMAP mailboxes (INTAKE_IMAP_URLS) into the inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--mailbox", action="append", default=[], metavar="NAME", help="Only this mailbox."
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="Poll once and exit.")
        mode.add_argument(
            "--watch", action="store_true", help="Use IMAP IDLE on one mailbox until Ctrl-C."
        )
        parser.add_argument(
            "--interval", type=float, default=60.0, help="Seconds between polls (default 60)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mailboxes = self._chosen(options["mailbox"])
        try:
            if options["watch"]:
                self._watch(mailboxes)
            elif options["once"]:
                self._poll(mailboxes, fail=True)
            else:
                while True:
                    self._poll(mailboxes, fail=False)
                    time.sleep(max(options["interval"], 1.0))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def _chosen(self, names: list[str]) -> list[ImapMailbox]:
        configured = imap_mailboxes()
        if not configured:
            raise CommandError("No mailboxes configured: set INTAKE_IMAP_URLS.")
        if not names:
            return configured
        known = {mailbox["name"]: mailbox for mailbox in configured}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CommandError(
                f"No mailbox named {', '.join(unknown)}; configured: {', '.join(sorted(known))}."
            )
        return [known[name] for name in names]

    def _poll(self, mailboxes: list[ImapMailbox], *, fail: bool) -> None:
        failed = [result for result in map(imap_poll, mailboxes) if not self._report(result)]
        if fail and failed:
            raise CommandError(f"{len(failed)} of {len(mailboxes)} mailboxes failed.")

    def _report(self, result: PollResult) -> bool:
        (self.stdout if result.ok else self.stderr).write(result.summary())
        return result.ok

    def _watch(self, mailboxes: list[ImapMailbox]) -> None:
        if len(mailboxes) != 1:
            raise CommandError("--watch follows one mailbox: choose it with --mailbox NAME.")
        self.stdout.write(f"Watching {mailboxes[0]['name']} (Ctrl-C stops).")
        imap_watch(mailboxes[0], stop=lambda: False, report=self._report)
