"""`python manage.py psa_demo`: a simulated PSA for the demo, connected to this desk, with a
trickle of new tickets delivered by signed webhooks (`make run` starts it). Ctrl-C stops it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tickets.psa.demo import demo_connection, demo_simulator, demo_trickle
from tickets.psa.models import PsaConnection


class Command(BaseCommand):
    help = "Runs a simulated PSA with a trickle of new tickets, connected to this desk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kind", choices=PsaConnection.Kind.values, default=PsaConnection.Kind.CONNECTWISE
        )
        parser.add_argument("--port", type=int, default=8101, help="Simulator port (8101).")
        parser.add_argument(
            "--desk-url", default="http://127.0.0.1:8000", help="Where this desk listens."
        )
        parser.add_argument(
            "--every", type=float, default=20.0, help="Seconds between new tickets (20)."
        )
        parser.add_argument("--count", type=int, default=None, help="Stop after this many.")

    def handle(self, *args: Any, **options: Any) -> None:
        sim = demo_simulator(options["kind"], port=options["port"])
        connection = demo_connection(sim)
        self.stdout.write(
            f"{connection.name} at {sim.base_url}: a new ticket every {options['every']:g} s, "
            f"delivered to {options['desk_url']}."
        )
        try:
            demo_trickle(
                sim,
                connection,
                desk_url=options["desk_url"],
                every_seconds=options["every"],
                count=options["count"],
                say=lambda line: self.stdout.write(line),
            )
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
