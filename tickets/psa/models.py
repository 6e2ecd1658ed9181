"""PSA connections, their value mappings, sync runs and the write-back outbox. Imported by
`tickets.models`, so they belong to the tickets app."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from tickets.psa import crypto


class PsaConnection(models.Model):
    """One PSA tenant this desk mirrors. Credentials and webhook secrets are encrypted at
    rest (`tickets.psa.crypto`) and shown back only masked."""

    class Kind(models.TextChoices):
        CONNECTWISE = "connectwise", "ConnectWise PSA"
        AUTOTASK = "autotask", "Autotask"
        HALOPSA = "halopsa", "HaloPSA"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.URLField(
        max_length=300,
        help_text="The PSA site, e.g. https://api-na.myconnectwise.net (the adapter adds the "
        "API path).",
    )
    credentials_sealed = models.TextField(blank=True)
    webhook_secrets_sealed = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    sync_every_minutes = models.PositiveSmallIntegerField(
        default=5, help_text="Incremental sync interval (webhooks bring changes sooner)."
    )
    watermark = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last-updated time up to which every ticket has been stored; the next sync "
        "asks for tickets updated at or after it.",
    )
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="Rate limited: no requests before this."
    )
    last_error = models.TextField(blank=True)
    rejected_deliveries = models.PositiveIntegerField(
        default=0, help_text="Webhook deliveries refused (bad signature or credential)."
    )
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_rejection = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        return str(self.kind)  # Ticket.Source and InboxEvent.Channel share these values

    @property
    def credentials(self) -> dict[str, str]:
        value = crypto.unseal(self.credentials_sealed, {})
        return dict(value) if isinstance(value, dict) else {}

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        self.credentials_sealed = crypto.seal(value)

    @property
    def webhook_secrets(self) -> list[str]:
        value = crypto.unseal(self.webhook_secrets_sealed, [])
        return [str(v) for v in value] if isinstance(value, list) else []

    @webhook_secrets.setter
    def webhook_secrets(self, value: list[str]) -> None:
        self.webhook_secrets_sealed = crypto.seal([v for v in value if v])

    def settings(self) -> Any:
        from tickets.psa.base import ConnectionSettings

        return ConnectionSettings(
            kind=self.kind,
            base_url=self.base_url.rstrip("/"),
            credentials=self.credentials,
            webhook_secrets=tuple(self.webhook_secrets),
        )


class PsaMapping(models.Model):
    """One PSA value (a status of a board, a priority, a type, a board or queue, a company,
    a member) and what it means here. Rows appear as intake meets values; a row with an
    empty `value` is a mapping gap a manager fills in."""

    class Field(models.TextChoices):
        STATUS = "status", "Status"
        PRIORITY = "priority", "Priority"
        TYPE = "type", "Ticket type"
        QUEUE = "queue", "Board / queue"
        COMPANY = "company", "Company"
        MEMBER = "member", "Member / resource"

    connection = models.ForeignKey(PsaConnection, on_delete=models.CASCADE, related_name="mappings")
    field = models.CharField(max_length=12, choices=Field.choices)
    external_id = models.CharField(max_length=120)
    label = models.CharField(max_length=200, blank=True)
    value = models.CharField(
        max_length=60,
        blank=True,
        help_text="Ours: a status code, a priority number, or the id of a type, queue, client "
        "or technician. Empty: not mapped yet.",
    )
    suggested = models.BooleanField(
        default=False, help_text="Filled in from the label; a manager has not confirmed it."
    )
    first_seen_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connection", "field", "label", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "field", "external_id"], name="psa_mapping_unique_value"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.field} {self.label or self.external_id} → {self.value}"


class PsaSyncRun(models.Model):
    """One sync: what it asked for, how far it got. A failed run leaves the connection's
    watermark at the last page it stored completely; the next run resumes from there."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(PsaConnection, on_delete=models.CASCADE, related_name="syncs")
    full = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    watermark_from = models.DateTimeField(null=True, blank=True)
    watermark_to = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0, help_text="New versions put in the inbox.")
    pages = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "-started_at"], name="psa_sync_conn_idx")]

    def __str__(self) -> str:
        return f"{self.connection} sync {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == self.Status.DONE else None
        return min(100, round(100 * self.fetched / self.total))


class OutboxItem(models.Model):
    """One change to write back to the PSA — a note, a status, an assignment, a time entry —
    kept until the PSA has it. Retried with backoff; a 429 waits for its Retry-After; a
    status or assignment whose ticket changed in the PSA since we read it stops as a
    conflict for a manager rather than overwriting the newer change."""

    class Operation(models.TextChoices):
        NOTE = "note", "Note"
        STATUS = "status", "Status"
        ASSIGN = "assign", "Assignment"
        TIME = "time", "Time entry"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Changed in the PSA"
        DISCARDED = "discarded", "Discarded"

    connection = models.ForeignKey(PsaConnection, on_delete=models.CASCADE, related_name="outbox")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="outbox")
    operation = models.CharField(max_length=10, choices=Operation.choices)
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    external_ref = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "dedupe_key"], name="outbox_unique_dedupe"
            ),
        ]
        indexes = [
            models.Index(
                fields=["connection", "next_attempt_at"],
                name="outbox_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["status", "-created_at"], name="outbox_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} for ticket {self.ticket_id} ({self.status})"
