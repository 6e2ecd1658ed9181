"""A playbook as data: the ticket types it handles, what must hold before it starts, and
its steps — each one action for the gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tickets.models import Ticket

# (ticket, the run's state) → the step's parameters, or None to skip the step.
Params = Callable[[Ticket, dict[str, Any]], dict[str, Any] | None]
# (ticket, the run's state) → "" when it may start, else why not (the state may be filled in).
Check = Callable[[Ticket, dict[str, Any]], str]


@dataclass(frozen=True)
class Step:
    kind: str
    params: Params
    rationale: str


@dataclass(frozen=True)
class Playbook:
    slug: str
    title: str
    ticket_types: tuple[str, ...]
    steps: tuple[Step, ...]
    checks: tuple[Check, ...] = field(default_factory=tuple)
    done_note: str = ""

    def applies_to(self, ticket: Ticket) -> bool:
        return ticket.type is not None and ticket.type.slug in self.ticket_types

    def refusal(self, ticket: Ticket, state: dict[str, Any]) -> str:
        """The first precondition that fails, in words ("" when all hold)."""
        for check in self.checks:
            problem = check(ticket, state)
            if problem:
                return problem
        return ""
