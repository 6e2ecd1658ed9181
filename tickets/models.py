"""The mirror of the MSP's service desk: who it serves, what it supports, and every ticket.

`TicketEvent` is the append-only timeline every metric is computed from; the columns on
`Ticket` (status, first response, resolution…) are the current state, kept for fast lists.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"'{value}' is not a time zone name; use an IANA name such as 'Europe/London'."
        ) from None


def validate_business_days(value: str) -> None:
    if not value or not re.fullmatch(r"[1-7]+", value) or len(set(value)) != len(value):
        raise ValidationError(
            "List ISO weekdays once each as digits, Monday=1 … Sunday=7, e.g. '12345'."
        )


_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_domain(value: str) -> None:
    if not _DOMAIN_RE.match(value):
        raise ValidationError(f"'{value}' is not a lower-case e-mail domain such as 'acme.com'.")


class Client(models.Model):
    """A client company the MSP supports."""

    name = models.CharField(max_length=200)
    identifier = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    business_days = models.CharField(
        max_length=7,
        default="12345",
        validators=[validate_business_days],
        help_text="ISO weekdays the client works, Monday=1 … Sunday=7.",
    )
    business_start = models.TimeField(default=dt.time(8, 0))
    business_end = models.TimeField(default=dt.time(18, 0))
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(business_end__gt=models.F("business_start")),
                name="client_business_hours_ordered",
                violation_error_message="Business hours must end after they start.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.business_start and self.business_end and self.business_end <= self.business_start:
            raise ValidationError({"business_end": "Business hours must end after they start."})

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def is_business_time(self, moment: dt.datetime) -> bool:
        """Whether an aware datetime falls inside this client's business hours."""
        local = moment.astimezone(self.tzinfo)
        if str(local.isoweekday()) not in self.business_days:
            return False
        return self.business_start <= local.time() < self.business_end


class ClientEmailDomain(models.Model):
    """A mail domain that identifies a client's requesters at intake."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="email_domains")
    domain = models.CharField(max_length=253, unique=True, validators=[validate_domain])

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.domain = self.domain.strip().lower()
        super().save(*args, **kwargs)


class Site(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)

    class Meta:
        ordering = ["client__name", "name"]
        constraints = [models.UniqueConstraint(fields=["client", "name"], name="site_unique_name")]

    def __str__(self) -> str:
        return f"{self.client} — {self.name}"


class Contact(models.Model):
    """A person at a client who raises tickets."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    site = models.ForeignKey(Site, on_delete=models.SET_NULL, null=True, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    job_title = models.CharField(max_length=120, blank=True)
    directory_username = models.CharField(
        max_length=150, blank=True, help_text="The account name in the client's directory."
    )
    is_vip = models.BooleanField(default=False, help_text="Always needs a technician's approval.")
    is_privileged = models.BooleanField(
        default=False, help_text="Holds administrative rights; agent actions need approval."
    )
    may_request_for_others = models.BooleanField(
        default=False,
        help_text="An authorised contact: may ask for changes to other people's accounts at "
        "the same client (an office manager, the client's IT lead).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def clean(self) -> None:
        if self.site_id and self.site and self.site.client_id != self.client_id:
            raise ValidationError({"site": "The site belongs to a different client."})


class Asset(models.Model):
    class Kind(models.TextChoices):
        WORKSTATION = "workstation", "Workstation"
        LAPTOP = "laptop", "Laptop"
        SERVER = "server", "Server"
        NETWORK = "network", "Network device"
        PRINTER = "printer", "Printer"
        MOBILE = "mobile", "Mobile device"
        OTHER = "other", "Other"

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="assets", null=True, blank=True
    )
    site = models.ForeignKey(Site, on_delete=models.SET_NULL, null=True, blank=True)
    primary_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="assets"
    )
    hostname = models.CharField(max_length=120)
    serial_number = models.CharField(max_length=120, blank=True)
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Its usual address; intake matches it in ticket text."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.WORKSTATION)
    operating_system = models.CharField(max_length=120, blank=True)
    rmm_device_id = models.CharField(max_length=120, blank=True, db_index=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname

    def clean(self) -> None:
        contact = self.primary_contact if self.primary_contact_id else None
        if contact is not None and contact.client_id != self.client_id:
            raise ValidationError({"primary_contact": "The contact belongs to a different client."})


class TicketType(models.Model):
    """Top level of the PSA-style taxonomy: type → subtype → item."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    is_quick_win = models.BooleanField(
        default=False, help_text="High-volume, consistent work that automation targets first."
    )
    skills: models.ManyToManyField[Skill, Any] = models.ManyToManyField(
        "Skill",
        blank=True,
        related_name="ticket_types",
        help_text="Skills a technician needs for this type (skill-based dispatch).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A free label on tickets, set by technicians or by triage rules."""

    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketSubtype(models.Model):
    type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="subtypes")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["type__name", "name"]
        constraints = [models.UniqueConstraint(fields=["type", "name"], name="subtype_unique_name")]

    def __str__(self) -> str:
        return f"{self.type} › {self.name}"


class TicketItem(models.Model):
    subtype = models.ForeignKey(TicketSubtype, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["subtype__name", "name"]
        constraints = [models.UniqueConstraint(fields=["subtype", "name"], name="item_unique_name")]

    def __str__(self) -> str:
        return f"{self.subtype} › {self.name}"


class Queue(models.Model):
    """A board (ConnectWise), queue (Autotask) or team (HaloPSA)."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMember(models.Model):
    """An MSP employee: their role, the clients they may see, and — for those who work
    tickets — skills, shifts and cost."""

    class Role(models.TextChoices):
        TECHNICIAN = "technician", "Technician"
        MANAGER = "manager", "Service desk manager"
        OWNER = "owner", "Owner"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.TECHNICIAN)
    all_clients = models.BooleanField(
        default=False, help_text="Sees every client; otherwise only the clients listed."
    )
    clients = models.ManyToManyField(Client, blank=True, related_name="staff")
    skills = models.ManyToManyField(Skill, blank=True, related_name="staff")
    queues = models.ManyToManyField(Queue, blank=True, related_name="staff")
    hourly_cost = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Loaded cost per hour, for cost-per-ticket and margin.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    takes_tickets = models.BooleanField(
        default=True, help_text="Can be assigned tickets (dispatch considers them)."
    )
    capacity = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1)],
        help_text="Open tickets they can carry; load-aware dispatch compares against it.",
    )

    class Meta:
        ordering = ["user__first_name", "user__last_name", "user__username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Shift(models.Model):
    """A weekly working window in the technician's own time zone."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(7)], help_text="Monday=1 … Sunday=7"
    )
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["staff", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")),
                name="shift_ordered",
                violation_error_message="A shift must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7), name="shift_weekday_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} day {self.weekday} {self.starts:%H:%M}–{self.ends:%H:%M}"

    def clean(self) -> None:
        if self.starts and self.ends and self.ends <= self.starts:
            raise ValidationError({"ends": "A shift must end after it starts."})


class OnCallPeriod(models.Model):
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="on_call")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="on_call_ordered",
                violation_error_message="An on-call period must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff} on call {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "An on-call period must end after it starts."})


class Contract(models.Model):
    class Kind(models.TextChoices):
        MANAGED = "managed", "Managed services"
        BLOCK_HOURS = "block_hours", "Block hours"
        TIME_AND_MATERIALS = "time_materials", "Time and materials"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contracts")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    monthly_revenue = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    hourly_rate = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Billed rate, T&M."
    )
    block_hours = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Hours in the block."
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    covered_types = models.ManyToManyField(TicketType, blank=True, related_name="contracts")

    class Meta:
        ordering = ["client__name", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="contract_dates_ordered",
                violation_error_message="A contract cannot end before it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} — {self.name}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "A contract cannot end before it starts."
        if self.kind == self.Kind.BLOCK_HOURS and not self.block_hours:
            errors["block_hours"] = "A block-hours contract needs its hours."
        if self.kind == self.Kind.TIME_AND_MATERIALS and not self.hourly_rate:
            errors["hourly_rate"] = "A time-and-materials contract needs a rate."
        if errors:
            raise ValidationError(errors)

    def is_in_force(self, on: dt.date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


class Priority(models.IntegerChoices):
    CRITICAL = 1, "P1 Critical"
    HIGH = 2, "P2 High"
    MEDIUM = 3, "P3 Medium"
    LOW = 4, "P4 Low"


class SlaTarget(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="sla_targets")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    response_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    resolution_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    business_hours_only = models.BooleanField(default=True)

    class Meta:
        ordering = ["contract", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "priority"], name="sla_unique_priority"),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=models.F("response_minutes")),
                name="sla_resolution_after_response",
                violation_error_message="Resolution target must not be shorter than response.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} P{self.priority}"

    def clean(self) -> None:
        response, resolution = self.response_minutes, self.resolution_minutes
        if response and resolution and resolution < response:
            raise ValidationError(
                {"resolution_minutes": "Resolution target must not be shorter than response."}
            )


# Ticket.OPEN_STATUSES; defined out here because the partial indexes in Ticket.Meta use it.
OPEN_OR_WAITING = ("new", "in_progress", "waiting_customer", "waiting_third_party", "scheduled")


class Ticket(models.Model):
    class Source(models.TextChoices):
        CONNECTWISE = "connectwise", "ConnectWise PSA"
        AUTOTASK = "autotask", "Autotask"
        HALOPSA = "halopsa", "HaloPSA"
        EMAIL = "email", "E-mail"
        PORTAL = "portal", "Portal"
        ALERT = "alert", "Monitoring alert"
        API = "api", "API"
        DEMO = "demo", "Demo data"

    class Status(models.TextChoices):
        NEW = "new", "New"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING_CUSTOMER = "waiting_customer", "Waiting on customer"
        WAITING_THIRD_PARTY = "waiting_third_party", "Waiting on third party"
        SCHEDULED = "scheduled", "Scheduled"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    OPEN_STATUSES: ClassVar[tuple[str, ...]] = OPEN_OR_WAITING
    DONE_STATUSES: ClassVar[tuple[str, ...]] = (Status.RESOLVED, Status.CLOSED)

    source = models.CharField(max_length=20, choices=Source.choices)
    external_id = models.CharField(max_length=120)
    summary = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    type = models.ForeignKey(
        TicketType, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    subtype = models.ForeignKey(TicketSubtype, on_delete=models.PROTECT, null=True, blank=True)
    item = models.ForeignKey(TicketItem, on_delete=models.PROTECT, null=True, blank=True)
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    site = models.ForeignKey(Site, on_delete=models.SET_NULL, null=True, blank=True)
    assets = models.ManyToManyField(Asset, blank=True, related_name="tickets")
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    contract = models.ForeignKey(
        Contract, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    queue = models.ForeignKey(
        Queue, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    assignee = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    sla_response_due_at = models.DateTimeField(null=True, blank=True)
    sla_resolution_due_at = models.DateTimeField(null=True, blank=True)
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="Last-updated time the source system reported."
    )
    raw_payload = models.JSONField(default=dict, blank=True)
    psa_connection = models.ForeignKey(
        "tickets.PsaConnection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        help_text="The PSA this ticket is mirrored from; our changes are written back to it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="ticket_unique_source"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("opened_at")),
                name="ticket_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("opened_at")),
                name="ticket_closed_after_opened",
            ),
        ]
        indexes = [
            models.Index(fields=["-opened_at", "-id"], name="ticket_opened_idx"),
            models.Index(fields=["client", "-opened_at"], name="ticket_client_opened_idx"),
            models.Index(fields=["status", "-opened_at"], name="ticket_status_opened_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status_idx"),
            models.Index(fields=["assignee", "-opened_at"], name="ticket_assignee_opened_idx"),
            models.Index(fields=["type", "-opened_at"], name="ticket_type_opened_idx"),
            models.Index(fields=["queue", "-opened_at"], name="ticket_queue_opened_idx"),
            models.Index(fields=["resolved_at"], name="ticket_resolved_idx"),
            models.Index(fields=["external_id"], name="ticket_external_id_idx"),
            # The open backlog is a few percent of all tickets and the busiest view of them.
            models.Index(
                fields=["-opened_at"],
                condition=Q(status__in=OPEN_OR_WAITING),
                name="ticket_open_opened_idx",
            ),
            models.Index(
                fields=["client", "-opened_at"],
                condition=Q(status__in=OPEN_OR_WAITING),
                name="ticket_open_client_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.summary}"

    @property
    def reference(self) -> str:
        return f"#{self.pk}" if self.pk else "(unsaved)"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.subtype_id and self.subtype and self.subtype.type_id != self.type_id:
            errors["subtype"] = "The subtype belongs to a different ticket type."
        if self.item_id and self.item and self.item.subtype_id != self.subtype_id:
            errors["item"] = "The item belongs to a different subtype."
        if self.contact_id and self.contact and self.contact.client_id != self.client_id:
            errors["contact"] = "The contact belongs to a different client."
        if self.contract_id and self.contract and self.contract.client_id != self.client_id:
            errors["contract"] = "The contract belongs to a different client."
        for name in ("first_response_at", "resolved_at", "closed_at"):
            moment = getattr(self, name)
            if moment and self.opened_at and moment < self.opened_at:
                errors[name] = "Cannot be earlier than the time the ticket was opened."
        if errors:
            raise ValidationError(errors)


class AppendOnlyError(RuntimeError):
    """Raised when code tries to rewrite or delete the ticket timeline."""


class TicketEventQuerySet(models.QuerySet["TicketEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The ticket timeline is append-only; record a new event instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The ticket timeline is append-only; events cannot be deleted.")


class TicketEvent(models.Model):
    """One fact in a ticket's life. Never updated, never deleted: corrections are new events.

    Metrics read this table: time to first response is the first `reply` by a human or the
    agent, reassignments are `assignment_changed` events with an `old_value`, resolution is a
    `status_changed` into resolved, a reopen is one out of it.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        NOTE = "note", "Internal note"
        REPLY = "reply", "Reply to requester"
        REQUESTER_REPLY = "requester_reply", "Requester replied"
        STATUS_CHANGED = "status_changed", "Status changed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        TYPE_CHANGED = "type_changed", "Type changed"
        SUBTYPE_CHANGED = "subtype_changed", "Subtype changed"
        QUEUE_CHANGED = "queue_changed", "Queue changed"
        ASSIGNMENT_CHANGED = "assignment_changed", "Assignment changed"
        CSAT_RECEIVED = "csat_received", "Satisfaction survey answered"
        ACTION = "action", "Agent action"
        AGENT_HOLD = "agent_hold", "Agent stopped or resumed"
        RULE_MATCHED = "rule_matched", "Triage rule matched"
        ENRICHED = "enriched", "Matched at intake"
        UPDATED_AT_SOURCE = "updated_at_source", "Updated at the source"
        TAGGED = "tagged", "Tag added"
        SLA_CHANGED = "sla_changed", "SLA changed"
        PLAYBOOK = "playbook", "Playbook"

    class ActorKind(models.TextChoices):
        HUMAN = "human", "Technician"
        REQUESTER = "requester", "Requester"
        RULE = "rule", "Rule"
        MODEL = "model", "Model"
        AGENT = "agent", "AI agent"
        SYSTEM = "system", "System"

    # PROTECT: deleting a ticket would silently delete history that metrics are built from.
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=12, choices=ActorKind.choices)
    actor_staff = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(
        max_length=200, blank=True, help_text="Who or what acted: a rule's name, model+version…"
    )
    old_value = models.CharField(max_length=255, blank=True)
    new_value = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # NULL rather than "" so that the unique constraint ignores events without a source id.
    dedupe_key = models.CharField(  # noqa: DJ001
        max_length=200,
        null=True,
        blank=True,
        help_text="Source event id; a replay with the same key is ignored.",
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = TicketEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="ticket_event_unique_dedupe",
            ),
            models.CheckConstraint(
                condition=~Q(actor_kind="human") | Q(actor_staff__isnull=False),
                name="ticket_event_human_has_staff",
                violation_error_message="A technician's event must name the technician.",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "occurred_at"], name="event_ticket_time_idx"),
            models.Index(fields=["kind", "occurred_at"], name="event_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The ticket timeline is append-only; record a new event.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The ticket timeline is append-only; events cannot be deleted.")

    @property
    def actor_label(self) -> str:
        if self.actor_staff_id and self.actor_staff:
            return self.actor_staff.display_name
        if self.actor_contact_id and self.actor_contact:
            return self.actor_contact.full_name
        return self.actor_name or self.get_actor_kind_display()


class TimeEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries")
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="time_entries")
    started_at = models.DateTimeField()
    minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    billable = models.BooleanField(default=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gte=1), name="time_entry_positive")
        ]
        indexes = [
            models.Index(fields=["staff", "started_at"], name="time_staff_started_idx"),
            models.Index(fields=["started_at"], name="time_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on {self.ticket_id} by {self.staff}"


class TicketAttachment(models.Model):
    """A file that came with a ticket or a reply (an e-mail attachment), kept in the database
    beside the raw arrival so nothing depends on a file system. Oversized files are listed
    with `content` empty and `truncated` set."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    inbox_event = models.ForeignKey(
        "tickets.InboxEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120, blank=True)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField(blank=True)
    truncated = models.BooleanField(default=False, help_text="Too large to keep; listed only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "inbox_event", "sha256", "filename"],
                name="attachment_unique_per_arrival",
            )
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size:,} bytes) on {self.ticket_id}"


class MailOutbox(models.Model):
    """A reply to a requester whose ticket came by e-mail or the portal, kept until the mail
    server has it: written in the same transaction as the reply, retried with backoff, and
    its failure shown on the ticket. (PSA tickets' replies go back through the PSA outbox.)"""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="mail_outbox")
    event = models.OneToOneField(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="mail"
    )
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    in_reply_to = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["next_attempt_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="mail_outbox_due_idx")]

    def __str__(self) -> str:
        return f"Reply on {self.ticket_id} to {self.to} ({self.status})"


class CsatResponse(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="csat_responses")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True)
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (poor) … 5 (great)"
    )
    nps = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text="How likely to recommend, 0 … 10.",
    )
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField()

    class Meta:
        ordering = ["-responded_at"]
        verbose_name = "CSAT response"
        indexes = [models.Index(fields=["responded_at"], name="csat_responded_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="csat_score_1_5"),
            models.CheckConstraint(
                condition=Q(nps__isnull=True) | Q(nps__lte=10), name="csat_nps_0_10"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 on {self.ticket_id}"


class KnowledgeArticle(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    ticket_types = models.ManyToManyField(TicketType, blank=True, related_name="articles")
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="articles",
        help_text="Empty for an article that applies to every client.",
    )
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class InboxEvent(models.Model):
    """One arrival — a webhook delivery, an API call, an e-mail, an alert — stored raw before
    anything reads it, so nothing is lost. `(channel, delivery_key)` is unique: a replayed
    delivery finds its row and changes nothing. Processing (`tickets.intake`) turns it into a
    ticket; one that cannot be parsed stays here with the reason, for a manager to correct
    and replay."""

    class Channel(models.TextChoices):
        API = "api", "Intake API"
        CONNECTWISE = "connectwise", "ConnectWise PSA"
        AUTOTASK = "autotask", "Autotask"
        HALOPSA = "halopsa", "HaloPSA"
        EMAIL = "email", "E-mail"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        NINJAONE = "ninjaone", "NinjaOne"
        PORTAL = "portal", "Portal"

    class Status(models.TextChoices):
        RECEIVED = "received", "Waiting to be processed"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        INVALID = "invalid", "Could not be processed"

    channel = models.CharField(max_length=20, choices=Channel.choices)
    delivery_key = models.CharField(
        max_length=200, help_text="The source's delivery or message id, else a body digest."
    )
    received_at = models.DateTimeField()
    content_type = models.CharField(max_length=120, blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="The headers that matter.")
    body = models.TextField(help_text="Exactly as received (decoded as UTF-8).")
    corrected_body = models.TextField(
        blank=True, help_text="A manager's correction; processing reads it instead of the body."
    )
    corrected_by = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, help_text="Why it could not be processed.")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbox_events"
    )
    connection = models.ForeignKey(
        "tickets.PsaConnection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbox_events",
        help_text="The PSA connection a PSA arrival came through.",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_key"], name="inbox_event_unique_delivery"
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbox_status_received_idx"),
            models.Index(fields=["-received_at", "-id"], name="inbox_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.delivery_key} ({self.status})"

    @property
    def payload(self) -> str:
        return self.corrected_body or self.body


# The PSA connector's models live beside its code; importing them here registers them.
from tickets.psa.models import OutboxItem as OutboxItem  # noqa: E402
from tickets.psa.models import PsaConnection as PsaConnection  # noqa: E402
from tickets.psa.models import PsaMapping as PsaMapping  # noqa: E402
from tickets.psa.models import PsaSyncRun as PsaSyncRun  # noqa: E402
