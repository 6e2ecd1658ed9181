"""`python manage.py seed_automation_demo`: demo triage rules on the demo MSP."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation.demo import seed_rules_demo
from tickets.demo.seed import real_data_present
from tickets.models import Ticket


class Command(BaseCommand):
    help = (
        "Adds demo automation set-up to the demo MSP (run seed_demo first): the triage rules "
        "an MSP writes first. Rules already there are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
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
            raise CommandError("Refusing to add demo automation data with DEBUG off.")
        if not Ticket.objects.filter(source=Ticket.Source.DEMO).exists():
            raise CommandError("No demo tickets: run `python manage.py seed_demo` first.")
        created = seed_rules_demo()
        if not created:
            self.stdout.write("Demo triage rules are already present: nothing added.")
            return
        self.stdout.write(f"Demo automation: {created} triage rules.")
