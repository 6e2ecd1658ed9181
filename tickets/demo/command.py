"""The shared shape of the commands that add demo data on top of `seed_demo`'s MSP."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.demo.seed import real_data_present
from tickets.models import Ticket


class DemoAddOnCommand(BaseCommand):
    """A command that adds demo data on top of `seed_demo`'s MSP: it refuses with DEBUG off
    or without the demo tickets, and with --unless-real-data does nothing beside real data.
    Subclasses implement `add_demo()`; `what` names the data in messages."""

    what = "demo data"

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
            raise CommandError(f"Refusing to add {self.what} with DEBUG off.")
        if not Ticket.objects.filter(source=Ticket.Source.DEMO).exists():
            raise CommandError("No demo tickets: run `python manage.py seed_demo` first.")
        self.add_demo(**options)

    def add_demo(self, **options: Any) -> None:
        raise NotImplementedError
