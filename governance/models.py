"""Agent policies, kill switches and the actions that pass the gate."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce

from governance.kinds import KIND_CHOICES, KINDS, Mode, describe
from tickets.models import Client, StaffMember, Ticket, TicketType


class AgentPolicy(models.Model):
    """What the agent may do on tickets of one type (or every type), for one client or all.

    The most specific policy wins: type+client, then type, then client default, then the
    global default. A kind with no rule in the winning policy gets its catalogue default.
    """

    ticket_type = models.ForeignKey(
        TicketType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="agent_policies",
        help_text="Empty: the default for every type without its own policy.",
    )
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="agent_policies",
        help_text="Empty: applies to every client.",
    )
    shadow_mode = models.BooleanField(
        default=False,
        help_text="The agent proposes as usual but nothing executes, so its proposals can be "
        "compared with what technicians did.",
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Coalesce("ticket_type", 0), Coalesce("client", 0), name="agent_policy_unique_scope"
            )
        ]
        verbose_name_plural = "agent policies"

    def __str__(self) -> str:
        return self.scope_label

    def rule_for(self, kind: str) -> PolicyRule | None:
        """This policy's rule for one kind (from prefetched rules when they are loaded)."""
        return next((rule for rule in self.rules.all() if rule.action_kind == kind), None)

    @property
    def scope_label(self) -> str:
        type_name = self.ticket_type.name if self.ticket_type_id and self.ticket_type else None
        client_name = self.client.name if self.client_id and self.client else None
        what = type_name or "Every ticket type"
        return f"{what} · {client_name}" if client_name else what


class PolicyRule(models.Model):
    """The policy's setting for one action kind."""

    class Hours(models.TextChoices):
        ANY = "any", "Any time"
        BUSINESS = "business", "Only in the client's business hours"
        AFTER_HOURS = "after_hours", "Only outside the client's business hours"

    policy = models.ForeignKey(AgentPolicy, on_delete=models.CASCADE, related_name="rules")
    action_kind = models.CharField(max_length=40, choices=KIND_CHOICES)
    mode = models.CharField(max_length=12, choices=Mode.CHOICES, default=Mode.SUGGEST)
    min_confidence = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=0.90,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Below this, an autonomous action waits for approval instead.",
    )
    autonomous_hours = models.CharField(
        max_length=12,
        choices=Hours.choices,
        default=Hours.ANY,
        help_text="Outside these hours an autonomous action waits for approval instead.",
    )
    limit_per_client_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="At most this many executions per client per hour (empty: no limit).",
    )
    limit_total_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="At most this many executions per hour across all clients (empty: no limit).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "action_kind"], name="policy_rule_unique"),
            models.CheckConstraint(condition=Q(mode__in=Mode.ORDER), name="policy_rule_mode_valid"),
            models.CheckConstraint(
                condition=Q(min_confidence__gte=0) & Q(min_confidence__lte=1),
                name="policy_rule_confidence_range",
            ),
        ]
        ordering = ["policy", "action_kind"]

    def __str__(self) -> str:
        return f"{self.policy}: {self.action_kind} {self.mode}"


class PolicyRevision(models.Model):
    """One saved change to a policy: who, when, and what changed (old → new)."""

    policy = models.ForeignKey(AgentPolicy, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    changed_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    summary = models.TextField()
    changes = models.JSONField(default=list)
    snapshot = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_revision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy} v{self.version}"


class KillSwitch(models.Model):
    """Stops every agent execution, globally (client empty) or for one client."""

    client = models.OneToOneField(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="kill_switch"
    )
    engaged = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    changed_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Coalesce("client", 0), name="kill_switch_unique_scope")
        ]

    def __str__(self) -> str:
        where = self.client.name if self.client_id and self.client else "All clients"
        return f"{where}: {'engaged' if self.engaged else 'off'}"


class AgentHold(models.Model):
    """A technician took the ticket over: the agent proposes and executes nothing on it."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="agent_hold")
    held_by = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    held_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id} held by {self.held_by}"


class Action(models.Model):
    """One change the pipeline, the agent or a technician wants, from proposal to outcome."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Awaiting approval"
        SUGGESTED = "suggested", "Suggestion"
        SHADOW = "shadow", "Shadow (not executed)"
        REFUSED = "refused", "Refused by policy"
        QUEUED = "queued", "Queued to execute"
        REJECTED = "rejected", "Rejected"
        EXECUTING = "executing", "Executing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        VERIFIED = "verified", "Verified"
        UNDONE = "undone", "Undone"
        BLOCKED = "blocked", "Blocked at execution"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    class Proposer(models.TextChoices):
        RULE = "rule", "Rule"
        MODEL = "model", "Model"
        PLAYBOOK = "playbook", "Playbook"
        AGENT = "agent", "AI agent"
        HUMAN = "human", "Technician"

    OPEN_STATUSES: ClassVar[tuple[str, ...]] = (Status.PROPOSED, Status.QUEUED)
    EXECUTED_STATUSES: ClassVar[tuple[str, ...]] = (
        Status.EXECUTING,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.VERIFIED,
        Status.UNDONE,
    )
    DONE_OK_STATUSES: ClassVar[tuple[str, ...]] = (Status.SUCCEEDED, Status.VERIFIED)

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="actions")
    # Copied from the ticket at proposal: scope and limits filter on it without a join.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=KIND_CHOICES)
    params = models.JSONField(default=dict)
    original_params = models.JSONField(
        null=True, blank=True, help_text="What was proposed, when a technician edited it."
    )
    proposer_kind = models.CharField(max_length=12, choices=Proposer.choices)
    proposer_name = models.CharField(max_length=200, help_text="Rule, playbook or model name.")
    model_version = models.CharField(max_length=80, blank=True)
    proposed_by_staff = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confidence = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    rationale = models.TextField(blank=True, help_text="Why, in a sentence.")
    evidence = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    status_reason = models.TextField(blank=True, help_text="Why the gate decided as it did.")
    policy_version = models.CharField(max_length=40, blank=True)
    ticket_fingerprint = models.CharField(max_length=64)
    dedupe_key = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, help_text="A repeated proposal is ignored."
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="A proposal not decided by then expires.")
    decided_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approval_expires_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    undone_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="action_unique_dedupe",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True)
                | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="action_confidence_range",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "client"], name="action_status_client_idx"),
            models.Index(fields=["kind", "started_at"], name="action_kind_started_idx"),
            models.Index(fields=["ticket", "status"], name="action_ticket_status_idx"),
            models.Index(fields=["created_at"], name="action_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id} ({self.status})"

    @property
    def kind_spec(self) -> Any:
        return KINDS[self.kind]

    @property
    def is_agent(self) -> bool:
        return self.proposer_kind != self.Proposer.HUMAN

    @property
    def proposer_label(self) -> str:
        if self.proposer_kind == self.Proposer.HUMAN and self.proposed_by_staff:
            return self.proposed_by_staff.display_name
        version = f" {self.model_version}" if self.model_version else ""
        return f"{self.get_proposer_kind_display()} “{self.proposer_name}”{version}"

    def what(self) -> str:
        """What it did, past tense: for the log and executed actions."""
        return describe(KINDS[self.kind], self.params, ticket_ref=self.ticket_ref)

    def plan(self) -> str:
        """What it will do: for proposals."""
        return describe(KINDS[self.kind], self.params, ticket_ref=self.ticket_ref, planned=True)

    @property
    def pk_text(self) -> str:
        return str(self.pk)

    @property
    def dom_id(self) -> str:
        return f"action-{self.pk}"

    @property
    def confidence_text(self) -> str:
        return "" if self.confidence is None else f"{self.confidence:.2f}"

    @property
    def ticket_ref(self) -> str:
        return str(self.ticket_id)


class Correction(models.Model):
    """A technician's correction of an agent decision: labelled data for the next training."""

    class Source(models.TextChoices):
        EDITED = "edited", "Edited before approval"
        UNDONE = "undone", "Undone after execution"
        CORRECTED = "corrected", "Corrected after execution"

    source = models.CharField(max_length=12, choices=Source.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="corrections")
    action = models.ForeignKey(
        Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="corrections"
    )
    field = models.CharField(max_length=40)
    agent_value = models.CharField(max_length=200, blank=True)
    human_value = models.CharField(max_length=200, blank=True)
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["field", "created_at"], name="correction_field_idx")]

    def __str__(self) -> str:
        return f"{self.field}: {self.agent_value} → {self.human_value}"


class Holdout(models.Model):
    """A concurrent control group: while it runs, a share of eligible tickets is kept
    human-only at random, so the agent's lift is measured against tickets handled the old way
    in the same weeks, not only against a historical baseline."""

    share = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.5)],
        help_text="Share of eligible tickets kept human-only, 0.01 … 0.50.",
    )
    ticket_types = models.ManyToManyField(
        TicketType, blank=True, related_name="+", help_text="Empty: every ticket type."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    salt = models.CharField(max_length=32, help_text="Seeds the random draw.")
    created_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"Holdout of {self.share:.0%} from {self.starts_at:%Y-%m-%d}"


class HoldoutTicket(models.Model):
    """A ticket's draw in a holdout: `control` tickets are kept human-only by the gate."""

    class Arm(models.TextChoices):
        CONTROL = "control", "Human-only control"
        TREATED = "treated", "Automation"

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="holdout")
    holdout = models.ForeignKey(Holdout, on_delete=models.CASCADE, related_name="tickets")
    arm = models.CharField(max_length=8, choices=Arm.choices)
    drawn_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id}: {self.arm}"
