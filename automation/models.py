"""Trained triage models and the predictions they made."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce

from tickets.models import Ticket


class TriageModel(models.Model):
    """One trained version of the local classifier for one target. The newest active version
    of a target is the one in use; older versions stay for audit and comparison."""

    class Target(models.TextChoices):
        TYPE = "type", "Ticket type"
        SUBTYPE = "subtype", "Ticket subtype"
        PRIORITY = "priority", "Priority"
        QUEUE = "queue", "Queue"

    target = models.CharField(max_length=20, choices=Target.choices)
    version = models.CharField(max_length=80, unique=True)
    algorithm = models.CharField(max_length=120)
    trained_at = models.DateTimeField()
    trained_rows = models.PositiveIntegerField()
    labels = models.JSONField(default=list, help_text="The classes it can predict.")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Held-out accuracy, macro-F1 and coverage."
    )
    train_seconds = models.FloatField()
    artifact = models.BinaryField(help_text="The fitted model, compressed.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        indexes = [
            models.Index(
                fields=["target", "-trained_at"],
                condition=Q(is_active=True),
                name="triage_model_active_idx",
            )
        ]

    def __str__(self) -> str:
        return self.version


class TriagePrediction(models.Model):
    """What a model predicted for a ticket, how sure it was and how long it took."""

    class Source(models.TextChoices):
        LOCAL = "local", "Local classifier"
        LLM = "llm", "LLM"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="predictions")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LOCAL)
    model = models.ForeignKey(
        TriageModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="predictions",
        help_text="The local model version; empty for an LLM prediction.",
    )
    model_version = models.CharField(
        max_length=120, help_text="The local model's version, or the LLM's model name."
    )
    target = models.CharField(max_length=20, choices=TriageModel.Target.choices)
    label = models.CharField(max_length=200)
    confidence = models.FloatField()
    alternatives = models.JSONField(default=list, blank=True)
    latency_ms = models.FloatField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ticket", "target"], name="triage_prediction_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.target}={self.label} ({self.confidence:.2f}) on {self.ticket_id}"


class LlmCall(models.Model):
    """One request to the LLM endpoint: what it cost, how long it took, and whether its answer
    was used or the local model's stood (and why)."""

    class Outcome(models.TextChoices):
        OK = "ok", "Answer used"
        FALLBACK = "fallback", "Fell back to the local model"

    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="llm_calls"
    )
    purpose = models.CharField(max_length=40, help_text="What the call was for, e.g. triage.")
    model = models.CharField(max_length=120, help_text="The configured LLM model name.")
    prompt_tokens = models.PositiveIntegerField(
        default=0, help_text="As the endpoint reported them; 0 when it reported none."
    )
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=8,
        default=0,
        help_text="Tokens at the configured prices per million tokens.",
    )
    latency_ms = models.FloatField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True, help_text="Why the call fell back.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="llm_call_created_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} {self.outcome} via {self.model} at {self.created_at:%Y-%m-%d %H:%M}"


class TriageRule(models.Model):
    """A manager's rule for work that must never vary: when its conditions hold, it proposes
    its actions to the governance gate with full confidence. Rules run in `position` order;
    one with `stop_processing` ends the run for that ticket. The conditions and actions are
    JSON lists validated by `automation.rules` (see `rule_validate`)."""

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list, help_text='[{"field", "op", "value"}, …]')
    actions = models.JSONField(default=list, help_text='[{"kind", "value"}, …]')
    stop_processing = models.BooleanField(
        default=False, help_text="Rules after this one are not evaluated when it matches."
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        "tickets.StaffMember", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        "tickets.StaffMember", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


# Dispatch strategies that always decide when anyone qualifies, so they can stand in for one
# that has nothing to go on (no urgency, no history, no skills on the type).
DISPATCH_FALLBACKS = ("round_robin", "load", "availability")


class DispatchPolicy(models.Model):
    """How dispatch picks a technician for tickets in one queue. The row without a queue is
    the default for tickets with no queue and for queues without their own policy; with no
    rows at all, dispatch uses `DispatchPolicy()` as built (least loaded, capacity respected).
    See docs/dispatch.md for what each strategy reads."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        SKILLS = "skills", "Skills"
        LOAD = "load", "Least loaded"
        AVAILABILITY = "availability", "Availability"
        AFFINITY = "affinity", "Client affinity"
        SLA = "sla", "SLA-aware"
        LEARNED = "learned", "Learned from history"
        MANUAL = "manual", "Manual (never assign)"

    queue = models.OneToOneField(
        "tickets.Queue",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dispatch_policy",
        help_text="Empty for the default policy.",
    )
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.LOAD)
    fallback = models.CharField(
        max_length=20,
        choices=[(key, label) for key, label in Strategy.choices if key in DISPATCH_FALLBACKS],
        default=Strategy.LOAD,
        help_text="Decides when the strategy has nothing to go on.",
    )
    require_skills = models.BooleanField(
        default=False, help_text="Only technicians with every skill the ticket type needs."
    )
    require_available = models.BooleanField(
        default=False,
        help_text="Only technicians on shift now (after the client's hours: on call).",
    )
    respect_capacity = models.BooleanField(
        default=True, help_text="Leave out technicians at capacity, unless everyone is."
    )
    updated_by = models.ForeignKey(
        "tickets.StaffMember", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "dispatch policies"
        constraints = [
            # One default: NULL queues would not collide under the one-to-one's own index.
            models.UniqueConstraint(
                Coalesce("queue", models.Value(0)), name="dispatch_policy_one_per_queue"
            ),
            models.CheckConstraint(
                condition=Q(fallback__in=DISPATCH_FALLBACKS),
                name="dispatch_policy_fallback_decides",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispatch for {self.queue or 'every queue'}: {self.get_strategy_display()}"


class ToolConnection(models.Model):
    """Where a client's accounts and devices live: its on-premises directory (LDAP/AD), its
    Entra ID tenant (Microsoft Graph) or its RMM. Settings are plain (addresses, base DNs);
    the secret (a bind password, a client secret) is sealed at rest like PSA credentials and
    never shown back. Executors look a client's connection up by category."""

    class Kind(models.TextChoices):
        LDAP = "ldap", "LDAP directory (OpenLDAP)"
        ACTIVE_DIRECTORY = "ad", "Active Directory"
        ENTRA = "entra", "Entra ID (Microsoft Graph)"
        RMM = "rmm", "RMM"

    DIRECTORY_KINDS = ("ldap", "ad", "entra")

    client = models.ForeignKey(
        "tickets.Client", on_delete=models.CASCADE, related_name="tool_connections"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    settings = models.JSONField(default=dict, blank=True)
    secret_sealed = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["client", "kind"], name="tool_connection_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.client} — {self.get_kind_display()}"

    @property
    def secret(self) -> str:
        from tickets.psa import crypto

        return str(crypto.unseal(self.secret_sealed, ""))

    @secret.setter
    def secret(self, value: str) -> None:
        from tickets.psa import crypto

        self.secret_sealed = crypto.seal(value)


class OneTimeSecret(models.Model):
    """A new password on its way to its owner: sealed at rest, opened once through an
    expiring link (only the token's hash is stored), then erased. Never on the ticket, the
    PSA, an e-mail body or a log."""

    token_hash = models.CharField(max_length=64, unique=True)
    value_sealed = models.TextField(blank=True, help_text="Erased when opened or expired.")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("tickets.Contact", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="one_time_secret_expiry_idx")]

    def __str__(self) -> str:
        state = "opened" if self.opened_at else "waiting"
        return f"{self.purpose} for {self.contact_id} ({state})"


class PlaybookRun(models.Model):
    """One playbook working one ticket: which step it is on, what it learned, and how it
    ended — resolved and verified, or handed to a technician with the reason."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for approval"
        DONE = "done", "Resolved"
        HANDED_OVER = "handed_over", "Handed to a technician"
        SHADOW = "shadow", "Shadow (recorded, not executed)"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="playbook_runs")
    playbook = models.CharField(max_length=60)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    step = models.PositiveSmallIntegerField(default=0)
    state = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "playbook"], name="playbook_run_once_per_ticket"
            )
        ]

    def __str__(self) -> str:
        return f"{self.playbook} on {self.ticket_id} ({self.status})"
