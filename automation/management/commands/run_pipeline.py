"""`python manage.py run_pipeline`: rules, triage and dispatch on open tickets, proposing their
changes to the gate (a backfill after training or after writing rules; new tickets go through
the pipeline task as they arrive)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from automation.pipeline import pipeline_run_many
from automation.services import active_models
from tickets.models import Ticket

BATCH = 200


class Command(BaseCommand):
    help = (
        "Runs the pipeline (rules, triage, dispatch) on open tickets, newest first, and "
        "proposes changes to the gate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="At most this many (500).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not active_models():
            self.stdout.write(
                "No trained triage model (`python manage.py train_triage` makes one): "
                "running rules and dispatch only."
            )
        ids = list(
            Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES)
            .order_by("-opened_at")
            .values_list("id", flat=True)[: max(0, options["limit"])]
        )
        proposed = 0
        show = not options["no_progress"] and sys.stderr.isatty()
        with tqdm(total=len(ids), desc="Pipeline", unit="ticket", disable=not show) as bar:
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                proposed += sum(map(len, pipeline_run_many(ticket_ids=batch).values()))
                bar.update(len(batch))
        self.stdout.write(f"Ran the pipeline on {len(ids):,} open tickets: {proposed:,} proposals.")
