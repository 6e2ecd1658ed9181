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


def psa_sync(connection_id: int) -> str:
    """One sync of a PSA connection from its watermark (bounded in time; the schedule
    starts the next)."""
    from tickets.psa.models import PsaConnection
    from tickets.psa.sync import psa_sync as sync

    run = sync(PsaConnection.objects.get(pk=connection_id), budget_seconds=240)
    return f"{run.status}: {run.fetched} fetched, {run.stored} new"


def psa_sync_due() -> list[int]:
    """Every minute: queue a sync for each connection whose interval has passed."""
    from tickets.psa.sync import psa_sync_due as due

    return due()


def psa_refetch(event_ids: list[int]) -> int:
    """Fetch the tickets verified webhook deliveries named."""
    from tickets.psa.intake import psa_refetch as refetch

    return refetch(event_ids)


def psa_outbox_deliver(connection_id: int) -> int:
    """Send a connection's due write-backs."""
    from tickets.psa.outbox import outbox_deliver

    return outbox_deliver(connection_id)


def psa_outbox_sweep() -> list[int]:
    """Every minute: deliver write-backs whose backoff has passed or whose task was lost."""
    from tickets.psa.outbox import outbox_due_connections

    return outbox_due_connections()


def psa_sync_now(connection_id: int, full: bool = False) -> str:
    """A sync a manager started from the connection's page."""
    from tickets.psa.models import PsaConnection
    from tickets.psa.sync import psa_sync as sync

    run = sync(PsaConnection.objects.get(pk=connection_id), full=full, budget_seconds=240)
    return f"{run.status}: {run.fetched} fetched, {run.stored} new"


def imap_poll_all() -> list[str]:
    """Every minute: fetch the help-desk mailboxes into the inbox."""
    from tickets.intake.imap import imap_poll_all as poll

    return [result.summary() for result in poll()]


def mail_deliver() -> int:
    """Send the replies waiting in the mail outbox (also every minute, for retries)."""
    from tickets.mail import mail_deliver as deliver

    return deliver()
