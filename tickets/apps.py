from django.apps import AppConfig


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
