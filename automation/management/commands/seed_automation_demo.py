"""`python manage.py seed_automation_demo`: demo triage rules on the demo MSP."""

from __future__ import annotations

from typing import Any

from automation.demo import seed_rules_demo
from tickets.demo.command import DemoAddOnCommand


class Command(DemoAddOnCommand):
    help = (
        "Adds demo automation set-up to the demo MSP (run seed_demo first): the triage rules "
        "an MSP writes first. Rules already there are left as they are."
    )
    what = "demo automation data"

    def add_demo(self, **options: Any) -> None:
        created = seed_rules_demo()
        if not created:
            self.stdout.write("Demo triage rules are already present: nothing added.")
            return
        self.stdout.write(f"Demo automation: {created} triage rules.")
