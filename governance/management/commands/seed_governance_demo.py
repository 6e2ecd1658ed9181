"""`python manage.py seed_governance_demo`: demo policies, decided actions and proposals."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.demo import seed_governance_demo
from tickets.demo.seed import real_data_present
from tickets.models import Ticket


class Command(BaseCommand):
    help = (
        "Adds demo governance data to the demo MSP (run seed_demo first): starting policies, "
        "eight weeks of decided actions and proposals awaiting approval. Skipped when present."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
        parser.add_argument(
            "--pending", type=int, default=60, help="Proposals awaiting approval (default 60)."
        )
        parser.add_argument(
            "--history", type=int, default=1500, help="Decided past actions (default 1500)."
        )
        parser.add_argument(
            "--unless-real-data",
            action="store_true",
            help="Do nothing (successfully) when the database holds real clients or tickets.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["unless_real_data"] and real_data_present():
            self.stdout.write("This database holds real clients or tickets: demo not seeded.")
            return
        if not settings.DEBUG:
            raise CommandError("Refusing to add demo governance data with DEBUG off.")
        if options["pending"] < 0 or options["history"] < 0:
            raise CommandError("--pending and --history must be 0 or more.")
        if not Ticket.objects.filter(source=Ticket.Source.DEMO).exists():
            raise CommandError("No demo tickets: run `python manage.py seed_demo` first.")
        report = seed_governance_demo(
            seed=options["seed"], pending=options["pending"], history_tickets=options["history"]
        )
        if not (report.policies or report.history or report.pending):
            self.stdout.write("Demo governance data is already present: nothing added.")
            return
        self.stdout.write(f"Demo governance data: {report.summary()}.")
