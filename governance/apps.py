from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GovernanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "governance"
    verbose_name = "Governance: agent policy, approvals and the action gate"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from governance import models

        for model in (
            models.AgentPolicy,
            models.PolicyRule,
            models.KillSwitch,
            models.AgentHold,
            models.Action,
        ):
            auditlog.register(model)
        post_migrate.connect(_schedule_sweep, sender=self)


def _schedule_sweep(**kwargs: Any) -> None:
    """The sweep runs every minute under django-q2 (created once; editable in the admin)."""
    from django_q.models import Schedule

    Schedule.objects.get_or_create(
        name="governance-sweep",
        defaults={
            "func": "governance.tasks.governance_sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
