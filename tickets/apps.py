from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"
    verbose_name = "Tickets and the client mirror"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from tickets import models

        # Configuration people edit by hand is audited; high-volume mirror rows are not
        # (the ticket timeline is their audit).
        for model in (
            models.Client,
            models.Contact,
            models.Contract,
            models.SlaTarget,
            models.StaffMember,
            models.TicketType,
            models.Queue,
        ):
            auditlog.register(model)
        post_migrate.connect(_schedule_inbox_sweep, sender=self)


def _schedule_inbox_sweep(**kwargs: Any) -> None:
    """Every minute: queue arrivals whose task never ran, start due PSA syncs, send due
    write-backs and reply mails, and poll the IMAP mailboxes (created once; editable in the
    admin)."""
    from django_q.models import Schedule

    for name, func in (
        ("inbox-sweep", "tickets.tasks.inbox_sweep"),
        ("psa-sync", "tickets.tasks.psa_sync_due"),
        ("psa-outbox", "tickets.tasks.psa_outbox_sweep"),
        ("imap-poll", "tickets.tasks.imap_poll_all"),
        ("mail-outbox", "tickets.tasks.mail_deliver"),
    ):
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
            },
        )
