"""Data hygiene: the records automation would trip over, each check a query in the database.

Each `Check` counts its records, lists them (with where to fix each), and exports them; a
scheduled job stores the week's counts (`HygieneReport`) so the page shows the trend.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from automation.models import PlaybookRun
from metrics.models import HygieneReport
from tickets.models import (
    Asset,
    Client,
    Contact,
    Contract,
    KnowledgeArticle,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
)
from tickets.psa.models import PsaMapping

RECENT_INTAKE = dt.timedelta(days=30)
STALE_ARTICLE = dt.timedelta(days=365)
MAPPED_FIELDS = (PsaMapping.Field.STATUS, PsaMapping.Field.TYPE)


@dataclass(frozen=True)
class Row:
    """One record behind a finding: what it is, why it is listed, and where to fix it."""

    name: str
    detail: str
    fix_url: str


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    why: str
    records: Callable[[dt.datetime], QuerySet[Any]]
    row: Callable[[Any], Row]


def _admin(obj: Model) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _contacts_without_email(now: dt.datetime) -> QuerySet[Contact]:
    return Contact.objects.filter(is_active=True, client__is_active=True, email="").select_related(
        "client"
    )


def _matchable() -> QuerySet[Contact]:
    """Contacts intake can match a request to: active, at an active client, with an address."""
    return Contact.objects.filter(is_active=True, client__is_active=True).exclude(email="")


def _shared_emails() -> QuerySet[Any]:
    return (
        _matchable()
        .annotate(address=Lower("email"))
        .values("address")
        .annotate(clients=Count("client", distinct=True))
        .filter(clients__gt=1)
        .values("address")
    )


def _contacts_duplicated(now: dt.datetime) -> QuerySet[Contact]:
    return (
        _matchable()
        .annotate(address=Lower("email"))
        .filter(address__in=_shared_emails())
        .select_related("client")
        .order_by("address", "client__name")
    )


def _contact_row(contact: Contact) -> Row:
    return Row(
        f"{contact.full_name} ({contact.client.name})",
        contact.email or "no e-mail address",
        _admin(contact),
    )


def _unmatched_at_intake(now: dt.datetime, what: str) -> Exists:
    """The ticket's intake record says the source named a `what` we could not match."""
    return Exists(
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.ENRICHED,
            occurred_at__gte=now - RECENT_INTAKE,
            ticket_id=OuterRef("pk"),
            data__unmatched__has_key=what,
        )
    )


def _tickets_client_unmatched(now: dt.datetime) -> QuerySet[Ticket]:
    recent = Q(opened_at__gte=now - RECENT_INTAKE, opened_at__lte=now)
    return Ticket.objects.filter(recent, client__isnull=True).order_by("-opened_at")


def _tickets_contact_unmatched(now: dt.datetime) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(
            opened_at__gte=now - RECENT_INTAKE, opened_at__lte=now, contact__isnull=True
        )
        .filter(_unmatched_at_intake(now, "requester"))
        .select_related("client")
        .order_by("-opened_at")
    )


def _tickets_asset_unmatched(now: dt.datetime) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(opened_at__gte=now - RECENT_INTAKE, opened_at__lte=now)
        .filter(_unmatched_at_intake(now, "hostnames"))
        .select_related("client")
        .order_by("-opened_at")
    )


def _ticket_row(ticket: Ticket) -> Row:
    client = ticket.client.name if ticket.client_id and ticket.client else "no client"
    return Row(
        f"#{ticket.id} {ticket.summary}",
        f"{client}, opened {ticket.opened_at:%d %b %Y}",
        reverse("ticket_detail", args=[ticket.id]),
    )


def _assets_without_client(now: dt.datetime) -> QuerySet[Asset]:
    return Asset.objects.filter(is_active=True, client__isnull=True).order_by("hostname")


def _asset_row(asset: Asset) -> Row:
    return Row(asset.hostname, asset.get_kind_display(), _admin(asset))


def _in_force(today: dt.date) -> Q:
    return Q(starts_on__lte=today) & (Q(ends_on__isnull=True) | Q(ends_on__gte=today))


def _clients_without_contract(now: dt.datetime) -> QuerySet[Client]:
    today = timezone.localdate(now)
    contracts = Contract.objects.filter(client=OuterRef("pk"))
    return (
        Client.objects.filter(is_active=True)
        .exclude(Exists(contracts.filter(_in_force(today))))
        .exclude(Exists(contracts.filter(ends_on__lt=today)))
        .order_by("name")
    )


def _clients_contract_expired(now: dt.datetime) -> QuerySet[Client]:
    today = timezone.localdate(now)
    contracts = Contract.objects.filter(client=OuterRef("pk"))
    return (
        Client.objects.filter(is_active=True)
        .exclude(Exists(contracts.filter(_in_force(today))))
        .filter(Exists(contracts.filter(ends_on__lt=today)))
        .order_by("name")
    )


def _client_row(client: Client) -> Row:
    return Row(client.name, client.identifier, reverse("client_detail", args=[client.id]))


def _types_without_article(now: dt.datetime) -> QuerySet[TicketType]:
    published = KnowledgeArticle.objects.filter(is_published=True, ticket_types=OuterRef("pk"))
    return TicketType.objects.filter(is_active=True).exclude(Exists(published)).order_by("name")


def _type_row(ticket_type: TicketType) -> Row:
    return Row(ticket_type.name, "no published knowledge article", _admin(ticket_type))


def _reopened_citations() -> set[int]:
    """Articles a playbook quoted on tickets that were later reopened."""
    runs = PlaybookRun.objects.filter(ticket__fact__reopens__gt=0).values_list("state", flat=True)
    cited = (a for state in runs if isinstance(state, dict) for a in state.get("articles", []))
    return {int(a) for a in cited if str(a).isdigit()}  # a malformed id is not an article


def _stale_articles(now: dt.datetime) -> QuerySet[KnowledgeArticle]:
    old = Q(updated_at__lt=now - STALE_ARTICLE)
    return (
        KnowledgeArticle.objects.filter(is_published=True)
        .filter(old | Q(id__in=_reopened_citations()))
        .order_by("updated_at")
    )


def _article_row(article: KnowledgeArticle) -> Row:
    return Row(article.title, f"last updated {article.updated_at:%d %b %Y}", _admin(article))


def _technicians_without_skills(now: dt.datetime) -> QuerySet[StaffMember]:
    return (
        StaffMember.objects.filter(
            role=StaffMember.Role.TECHNICIAN, takes_tickets=True, user__is_active=True
        )
        .filter(skills__isnull=True)
        .select_related("user")
        .order_by("user__username")
    )


def _staff_row(staff: StaffMember) -> Row:
    return Row(staff.display_name, "no skills recorded", _admin(staff))


def _mapping_gaps(now: dt.datetime) -> QuerySet[PsaMapping]:
    return (
        PsaMapping.objects.filter(value="", field__in=MAPPED_FIELDS)
        .select_related("connection")
        .order_by("connection_id", "field", "label")
    )


def _mapping_row(mapping: PsaMapping) -> Row:
    return Row(
        f"{mapping.get_field_display()} “{mapping.label or mapping.external_id}”",
        f"{mapping.connection.name}: not mapped",
        reverse("psa_mapping", args=[mapping.connection_id]) + "?gaps=1",
    )


CHECKS: tuple[Check, ...] = (
    Check(
        "contacts_without_email",
        "Contacts without an e-mail address",
        "Requests from them cannot be matched, verified or answered by e-mail.",
        _contacts_without_email,
        _contact_row,
    ),
    Check(
        "contacts_duplicated",
        "Contacts duplicated across clients",
        "The same address at two clients makes intake guess which client a request is for.",
        _contacts_duplicated,
        _contact_row,
    ),
    Check(
        "tickets_client_unmatched",
        "Tickets with no client (last 30 days)",
        "Intake could not tell whose ticket it is: no SLA, contract or policy applies.",
        _tickets_client_unmatched,
        _ticket_row,
    ),
    Check(
        "tickets_contact_unmatched",
        "Tickets whose requester is not a contact (last 30 days)",
        "The requester's address is not a contact of the client: no verification, no VIP care.",
        _tickets_contact_unmatched,
        _ticket_row,
    ),
    Check(
        "tickets_asset_unmatched",
        "Tickets naming an unknown device (last 30 days)",
        "The source named a device we do not have: no RMM action can run on it.",
        _tickets_asset_unmatched,
        _ticket_row,
    ),
    Check(
        "assets_without_client",
        "Assets not linked to a client",
        "Alerts about them arrive with no client.",
        _assets_without_client,
        _asset_row,
    ),
    Check(
        "clients_without_contract",
        "Active clients without any contract",
        "No SLA or revenue: margins and SLA attainment cannot be measured.",
        _clients_without_contract,
        _client_row,
    ),
    Check(
        "clients_contract_expired",
        "Active clients whose contract expired",
        "Their last contract ended and none is in force: renew it or mark the client inactive.",
        _clients_contract_expired,
        _client_row,
    ),
    Check(
        "types_without_article",
        "Ticket types with no knowledge article",
        "Guidance and technician briefs have nothing to quote.",
        _types_without_article,
        _type_row,
    ),
    Check(
        "stale_articles",
        "Stale knowledge articles",
        "Not updated for 12 months, or quoted on tickets that were reopened.",
        _stale_articles,
        _article_row,
    ),
    Check(
        "technicians_without_skills",
        "Technicians with no skills recorded",
        "Skill-based dispatch cannot route work to them.",
        _technicians_without_skills,
        _staff_row,
    ),
    Check(
        "psa_mapping_gaps",
        "PSA statuses and types not mapped",
        "Tickets with these values are mirrored without a status or type.",
        _mapping_gaps,
        _mapping_row,
    ),
)
CHECKS_BY_KEY = {check.key: check for check in CHECKS}


def hygiene_counts(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {check.key: check.records(now).count() for check in CHECKS}


def hygiene_report_generate(*, now: dt.datetime | None = None) -> HygieneReport:
    """Count every check and store it as this week's figures (replacing an earlier run)."""
    now = now or timezone.now()
    started = time.perf_counter()
    counts = hygiene_counts(now=now)
    today = timezone.localdate(now)
    report, _ = HygieneReport.objects.update_or_create(
        week_starts_on=today - dt.timedelta(days=today.weekday()),
        defaults={
            "generated_at": now,
            "generation_ms": (time.perf_counter() - started) * 1000,
            "counts": counts,
        },
    )
    return report
