"""`python manage.py seed_metrics_demo`: the metrics pages' set-up on the demo MSP.

Three steps, each skipped when its data is already there, so a second run does nothing:

1. holidays: the England and Wales bank holidays of the years the demo history touches, for
   every client (the MSP is in London), and one Irish client's own public holiday;
2. ticket facts: every ticket's facts computed from its timeline (when holidays were just
   added, or some ticket has none yet), so the pages have numbers before the worker runs;
3. the baseline "Before automation": the 8 complete weeks before the week the agent first
   resolved a ticket, frozen and made active, so the pages compare the rollout with before.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from tqdm import tqdm

from metrics.facts import facts_rebuild
from metrics.models import Baseline, FactDirty, Holiday, Path, TicketFact
from metrics.services import baseline_freeze
from tickets.demo import catalogue as cat
from tickets.demo.command import DemoAddOnCommand
from tickets.demo.holidays import between, england_and_wales, ireland_only
from tickets.models import Client, StaffMember, Ticket

BASELINE_NAME = "Before automation"
BASELINE_WEEKS = 8
IRISH_TIMEZONE = "Europe/Dublin"
AUTOMATED = (Path.AGENT, Path.AGENT_APPROVAL)


class Command(DemoAddOnCommand):
    help = (
        "Sets up the metrics pages on the demo MSP (run seed_demo first): public holidays, "
        "every ticket's facts, and the baseline “Before automation” frozen over the 8 weeks "
        "before the agent's rollout. Steps already done are skipped."
    )
    what = "demo metrics data"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def add_demo(self, **options: Any) -> None:
        added = self._holidays()
        self._facts(rebuild=added > 0, progress=not options["no_progress"] and sys.stderr.isatty())
        self._baseline()

    def _holidays(self) -> int:
        """Every bank holiday of the years the history touches, as a desk enters the year's
        holidays, and the Irish client's own latest one within the history."""
        span = Ticket.objects.filter(source=Ticket.Source.DEMO).aggregate(
            first=Min("opened_at"), last=Max("opened_at")
        )
        first, last = timezone.localdate(span["first"]), timezone.localdate(span["last"])
        years = (dt.date(first.year, 1, 1), dt.date(last.year, 12, 31))
        wanted: list[tuple[Client | None, dt.date, str]] = [
            (None, day, name) for day, name in between(england_and_wales, *years)
        ]
        irish = _irish_holiday(first, last)
        if irish is not None:
            wanted.append(irish)
        new = [
            Holiday(date=day, name=name, client=client)
            for client, day, name in wanted
            if not Holiday.objects.filter(date=day, client=client).exists()
        ]
        if not new:
            self.stdout.write("Skipped holidays: already present.")
            return 0
        Holiday.objects.bulk_create(new)
        shared = [holiday for holiday in new if holiday.client is None]
        within = sum(first <= holiday.date <= last for holiday in shared)
        parts = [f"{len(shared)} bank holidays for every client ({within} within the history)"]
        parts += [f"{h.name} {h.date:%Y-%m-%d} for {h.client.name}" for h in new if h.client]
        self.stdout.write(f"Holidays: {', '.join(parts)}.")
        return len(new)

    def _facts(self, *, rebuild: bool, progress: bool) -> None:
        if not rebuild and not Ticket.objects.filter(fact__isnull=True).exists():
            self.stdout.write("Skipped ticket facts: every ticket has them.")
            return
        started = time.perf_counter()
        # The seeding marked every ticket stale; the rebuild below covers them all, so the
        # marks go first (a change recorded meanwhile marks its ticket again).
        with transaction.atomic():
            FactDirty.objects.all().delete()
        with tqdm(desc="ticket facts", unit="ticket", file=sys.stderr, disable=not progress) as bar:
            done = facts_rebuild(on_batch=_advance(bar))
        seconds = time.perf_counter() - started
        self.stdout.write(f"Ticket facts: {done:,} tickets computed in {seconds:.1f} s.")

    def _baseline(self) -> None:
        if Baseline.objects.filter(name=BASELINE_NAME).exists():
            self.stdout.write(f"Skipped baseline: “{BASELINE_NAME}” is already frozen.")
            return
        automated = TicketFact.objects.filter(path__in=AUTOMATED)
        first_automated = automated.aggregate(at=Min("resolved_at"))["at"]
        if first_automated is None:
            self.stdout.write("No baseline: no ticket in the history was resolved by the agent.")
            return
        rollout = _monday(timezone.localdate(first_automated))
        history = Ticket.objects.filter(source=Ticket.Source.DEMO).aggregate(at=Min("opened_at"))
        first_full_week = _monday(timezone.localdate(history["at"]) + dt.timedelta(days=6))
        starts_on = max(rollout - dt.timedelta(weeks=BASELINE_WEEKS), first_full_week)
        ends_on = rollout - dt.timedelta(days=1)
        if starts_on > ends_on:
            self.stdout.write("No baseline: the history holds no complete week before the agent.")
            return
        manager = StaffMember.objects.filter(user__username=cat.MANAGER.username).first()
        try:
            baseline = baseline_freeze(
                name=BASELINE_NAME,
                starts_on=starts_on,
                ends_on=ends_on,
                staff=manager,
                note=f"The weeks before the AI agent went live in the week of {rollout:%d %B %Y}.",
            )
        except ValidationError as error:
            self.stdout.write(f"No baseline: {' '.join(error.messages)}")
            return
        cell = baseline.values.filter(
            metric="deflection_rate", client__isnull=True, ticket_type__isnull=True
        ).first()
        tickets = f", {cell.count:,} tickets resolved" if cell is not None else ""
        self.stdout.write(
            f"Baseline “{BASELINE_NAME}”: {starts_on:%Y-%m-%d} to {ends_on:%Y-%m-%d}{tickets}; "
            f"the agent went live the week of {rollout:%Y-%m-%d}."
        )


def _monday(day: dt.date) -> dt.date:
    """The Monday on or before `day`."""
    return day - dt.timedelta(days=day.weekday())


def _irish_holiday(first: dt.date, last: dt.date) -> tuple[Client, dt.date, str] | None:
    """The latest of Ireland's own public holidays in the history, for the first Irish demo
    client (by name): its office closes when the MSP's does not."""
    client = (
        Client.objects.filter(timezone=IRISH_TIMEZONE, tickets__source=Ticket.Source.DEMO)
        .order_by("name")
        .first()
    )
    days = list(between(ireland_only, first, last))
    if client is None or not days:
        return None
    day, name = days[-1]
    return client, day, name


def _advance(bar: Any) -> Callable[[int, int], None]:
    def advance(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return advance
