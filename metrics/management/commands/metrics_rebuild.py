"""`python manage.py metrics_rebuild`: recompute every ticket's facts from its timeline."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from metrics.facts import facts_rebuild, facts_refresh_all


class Command(BaseCommand):
    help = (
        "Recomputes every ticket's metric facts from its timeline, time entries, CSAT answers "
        "and LLM calls (after a definition changed, or to prove nothing drifted). With "
        "--stale, only the tickets marked stale (what the scheduler does every minute)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stale", action="store_true", help="Only tickets marked stale.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["stale"]:
            done = facts_refresh_all()
        else:
            bar = tqdm(desc="facts", unit="ticket", file=sys.stderr, disable=options["no_progress"])
            with bar:

                def advance(finished: int, total: int) -> None:
                    bar.total = total
                    bar.update(finished - bar.n)

                done = facts_rebuild(on_batch=advance)
        seconds = time.perf_counter() - started
        self.stdout.write(f"Facts recomputed for {done:,} tickets in {seconds:.1f} s.")
