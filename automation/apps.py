from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AutomationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "automation"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from automation.executors import register_ticket_executors
        from automation.models import TriageRule

        register_ticket_executors()
        auditlog.register(TriageRule)
        post_migrate.connect(_schedule_retraining, sender=self)


def _schedule_retraining(**kwargs: Any) -> None:
    """Retrain the triage classifier weekly (created once; editable in the admin)."""
    from django_q.models import Schedule

    Schedule.objects.get_or_create(
        name="triage-retrain",
        defaults={
            "func": "automation.tasks.triage_retrain",
            "schedule_type": Schedule.WEEKLY,
            "repeats": -1,
        },
    )
