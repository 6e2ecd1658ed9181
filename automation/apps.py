from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AutomationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "automation"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from automation.account_executors import register_account_executors
        from automation.executors import register_ticket_executors
        from automation.models import DispatchPolicy, TriageRule
        from automation.playbooks.engine import on_action_settled
        from governance.services import action_settled
        from tickets.signals import tickets_arrived

        register_ticket_executors()
        register_account_executors()
        action_settled.connect(on_action_settled, dispatch_uid="automation-playbooks")
        auditlog.register(TriageRule)
        tickets_arrived.connect(_pipeline_enqueue, dispatch_uid="automation-pipeline")
        auditlog.register(DispatchPolicy)
        post_migrate.connect(_schedule_retraining, sender=self)


PIPELINE_BATCH = 100


def _pipeline_enqueue(*, ticket_ids: list[int], **kwargs: Any) -> None:
    """Run triage and dispatch on tickets intake stored, in the background, once the intake's
    transaction commits (a rolled-back intake queues nothing)."""
    from django.db import transaction
    from django_q.tasks import async_task

    def enqueue() -> None:
        for start in range(0, len(ticket_ids), PIPELINE_BATCH):
            batch = ticket_ids[start : start + PIPELINE_BATCH]
            async_task("automation.tasks.pipeline_run_batch", batch, group="pipeline")

    transaction.on_commit(enqueue)


def _schedule_retraining(**kwargs: Any) -> None:
    """Retrain the triage classifier weekly; every 15 minutes, chase and auto-close tickets
    waiting on customers and escalate tickets near their SLA deadline; hourly, erase
    unopened one-time secrets that expired (created once; editable in the admin)."""
    from django_q.models import Schedule

    Schedule.objects.get_or_create(
        name="triage-retrain",
        defaults={
            "func": "automation.tasks.triage_retrain",
            "schedule_type": Schedule.WEEKLY,
            "repeats": -1,
        },
    )
    for name, func, minutes in (
        ("desk-chores", "automation.tasks.desk_chores", 15),
        ("secrets-purge", "automation.tasks.secrets_purge", 60),
    ):
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
