"""Signals the mirror sends for the layers above it. `tickets` imports nothing of the
pipeline: `automation` listens (see `automation.apps`) and queues its background work."""

from __future__ import annotations

from collections.abc import Sequence

from django.dispatch import Signal

# Sent with `ticket_ids` after intake created or changed tickets (sent inside the intake's
# transaction; receivers defer their work until it commits).
tickets_arrived = Signal()


def tickets_arrived_send(ticket_ids: Sequence[int]) -> None:
    """Intake calls this once per batch it stored."""
    if ticket_ids:
        tickets_arrived.send(sender="intake", ticket_ids=list(ticket_ids))
