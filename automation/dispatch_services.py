"""Writes for dispatch configuration: a queue's policy (or the default) is set or cleared by
a service desk manager. django-auditlog records every change (registered in apps.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from automation.models import DispatchPolicy
from tickets.models import Queue, StaffMember
from tickets.selectors import is_manager


@dataclass(frozen=True)
class PolicySettings:
    strategy: str
    fallback: str = DispatchPolicy.Strategy.LOAD
    require_skills: bool = False
    require_available: bool = False
    respect_capacity: bool = True


def _check_manager(staff: StaffMember) -> None:
    if not is_manager(staff):
        raise PermissionDenied("Only service desk managers change how tickets are dispatched.")


def dispatch_policy_save(
    *, staff: StaffMember, queue: Queue | None, settings: PolicySettings
) -> DispatchPolicy:
    """Set the policy of `queue` (None: the default). Values are the form's, already valid."""
    _check_manager(staff)
    policy, _ = DispatchPolicy.objects.update_or_create(
        queue=queue,
        defaults={
            "strategy": settings.strategy,
            "fallback": settings.fallback,
            "require_skills": settings.require_skills,
            "require_available": settings.require_available,
            "respect_capacity": settings.respect_capacity,
            "updated_by": staff,
        },
    )
    return policy


def dispatch_policy_clear(*, staff: StaffMember, queue: Queue) -> None:
    """Drop a queue's own policy, so its tickets follow the default again."""
    _check_manager(staff)
    policy = DispatchPolicy.objects.filter(queue=queue).first()
    if policy is not None:
        policy.delete()  # one row, so auditlog records the deletion
