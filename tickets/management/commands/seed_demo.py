"""`python manage.py seed_demo`: the demo MSP, deterministic for a seed and an end time."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.demo.seed import DemoDataMismatch, real_data_present, seed_demo


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO datetime such as 2025-06-30T17:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _count(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return number

    return parse


class Command(BaseCommand):
    help = (
        "Builds the demo MSP: clients, contacts, assets, staff, contracts, knowledge base and "
        "a ticket history with full timelines. Steps already present are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
        parser.add_argument(
            "--tickets", type=_count(0), default=15000, help="Tickets (default 15000)."
        )
        parser.add_argument(
            "--months", type=_count(1), default=6, help="Months of history (default 6)."
        )
        parser.add_argument(
            "--now",
            type=_moment,
            default=None,
            help="ISO datetime the history ends at; naive means UTC (default: this hour, UTC).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bars on stderr."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (the demo logins all use the password 'demo').",
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
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to seed with DEBUG off: the demo adds staff logins whose password is "
                "'demo'. Seed a development database (DEBUG=true), or pass --force if this "
                "database is a throwaway."
            )
        now = options["now"] or dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        try:
            report = seed_demo(
                seed=options["seed"],
                tickets=options["tickets"],
                months=options["months"],
                now=now,
                progress=not options["no_progress"] and sys.stderr.isatty(),
            )
        except DemoDataMismatch as error:
            raise CommandError(str(error)) from None
        for step in report.skipped:
            self.stdout.write(f"Skipped {step}: already present.")
        self.stdout.write(report.summary())
