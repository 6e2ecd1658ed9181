"""`python manage.py psa_sync`: sync PSA connections now, with a progress bar — the way to
run a first (initial) sync of a large PSA, or to catch up after an outage. `--process` also
turns what arrived into tickets in this process (without a running worker)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tickets.intake.inbox import inbox_drain
from tickets.psa.models import PsaConnection, PsaSyncRun
from tickets.psa.sync import psa_sync


class Command(BaseCommand):
    help = "Syncs PSA connections from their watermark (or --full) into the inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--connection", help="A connection's name or id (default: every active one)."
        )
        parser.add_argument("--full", action="store_true", help="Read every ticket again.")
        parser.add_argument(
            "--process", action="store_true", help="Also make the tickets here, not in a worker."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        connections = _connections(options["connection"])
        show = not options["no_progress"] and sys.stderr.isatty()
        failed = False
        for connection in connections:
            run = self._sync(connection, full=options["full"], show=show)
            failed |= run.status == PsaSyncRun.Status.FAILED
            line = (
                f"{connection.name}: {run.get_status_display().lower()} — {run.fetched:,} read, "
                f"{run.stored:,} new, {run.pages:,} pages, {run.requests:,} requests"
                + (f", {run.retries} retries" if run.retries else "")
            )
            self.stdout.write(line)
            if run.error:
                self.stdout.write(f"  {run.error}")
        if options["process"]:
            done = inbox_drain(budget_seconds=float("inf"))
            self.stdout.write(f"Processed {done:,} arrivals into tickets.")
        if failed:
            raise CommandError("A sync failed; the next run resumes from its watermark.")

    def _sync(self, connection: PsaConnection, *, full: bool, show: bool) -> PsaSyncRun:
        with tqdm(desc=connection.name, unit="ticket", disable=not show) as bar:

            def progress(run: PsaSyncRun) -> None:
                if run.total is not None and bar.total != run.total:
                    bar.total = run.total
                bar.n = run.fetched
                bar.set_postfix(new=run.stored, requests=run.requests, refresh=False)
                bar.refresh()

            return psa_sync(connection, full=full, progress=progress)


def _connections(wanted: str | None) -> list[PsaConnection]:
    active = PsaConnection.objects.filter(is_active=True).order_by("name")
    if not wanted:
        found = list(active)
        if not found:
            raise CommandError("No active PSA connection: add one under Intake → PSA.")
        return found
    match = PsaConnection.objects.filter(pk=int(wanted)) if wanted.isdigit() else None
    match = (
        match if match is not None and match.exists() else PsaConnection.objects.filter(name=wanted)
    )
    if not match.exists():
        names = ", ".join(active.values_list("name", flat=True)) or "none"
        raise CommandError(f"No connection “{wanted}” (active connections: {names}).")
    return list(match)
