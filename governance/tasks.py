"""Background entry points for governance. Each takes ids, calls the gate or a service, and
is safe to run twice."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from governance import gate, services
from governance.models import Action

# A queued action whose task was lost (broker restart, enqueue after a crash) is picked up
# by the sweep once it has waited this long.
QUEUED_GRACE = dt.timedelta(seconds=30)


def action_execute(action_id: int) -> str:
    return gate.action_execute(action_id=action_id).status


def governance_sweep() -> dict[str, int]:
    """Run every minute: execute queued actions whose task went missing, expire undecided
    proposals, and fail executions whose worker died."""
    now = timezone.now()
    queued = Action.objects.filter(
        status=Action.Status.QUEUED, created_at__lt=now - QUEUED_GRACE
    ).values_list("id", flat=True)[:500]
    executed = 0
    for action_id in list(queued):
        if gate.action_execute(action_id=action_id).status != Action.Status.QUEUED:
            executed += 1
    return {
        "executed": executed,
        "expired": services.proposals_expire(now=now),
        "stale_failed": gate.stale_executions_fail(now=now),
    }
