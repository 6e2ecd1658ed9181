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
