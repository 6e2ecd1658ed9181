"""`python manage.py seed_governance_demo`: demo policies, decided actions and proposals."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from governance.demo import seed_governance_demo
from tickets.demo.command import DemoAddOnCommand


class Command(DemoAddOnCommand):
    help = (
        "Adds demo governance data to the demo MSP (run seed_demo first): starting policies, "
        "eight weeks of decided actions and proposals awaiting approval. Skipped when present."
    )
    what = "demo governance data"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
        parser.add_argument(
            "--pending", type=int, default=60, help="Proposals awaiting approval (default 60)."
        )
        parser.add_argument(
            "--history", type=int, default=1500, help="Decided past actions (default 1500)."
        )
        super().add_arguments(parser)

    def add_demo(self, **options: Any) -> None:
        if options["pending"] < 0 or options["history"] < 0:
            raise CommandError("--pending and --history must be 0 or more.")
        report = seed_governance_demo(
            seed=options["seed"], pending=options["pending"], history_tickets=options["history"]
        )
        if not (report.policies or report.history or report.pending):
            self.stdout.write("Demo governance data is already present: nothing added.")
            return
        self.stdout.write(f"Demo governance data: {report.summary()}.")
