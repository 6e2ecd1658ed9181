"""Background entry points for intake (django-q2)."""

from __future__ import annotations

from tickets.intake.inbox import inbox_process as _process
from tickets.intake.inbox import inbox_sweep as _sweep


def inbox_process(event_id: int) -> str:
    """Process one stored arrival; returns its status."""
    return _process(event_id=event_id).status


def inbox_sweep() -> int:
    """Every minute: arrivals whose task never ran, or whose worker died, are queued again."""
    return _sweep()
