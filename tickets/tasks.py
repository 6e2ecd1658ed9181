"""Background entry points for intake (django-q2)."""

from __future__ import annotations

from tickets.intake.inbox import inbox_drain as _drain
from tickets.intake.inbox import inbox_sweep as _sweep


def inbox_drain() -> int:
    """Process waiting arrivals in batches until none is left; returns how many."""
    return _drain()


def inbox_sweep() -> int:
    """Every minute: arrivals whose task never ran, or whose worker died, are queued again."""
    return _sweep()
