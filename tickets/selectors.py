"""Reads, always through the signed-in person's client scope.

Every list and detail in the product starts from one of these functions, so a technician
never sees a client they do not serve, and a foreign object is a 404, not a 403 that would
confirm it exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from tickets.mail import MAIL_SOURCES
from tickets.models import (
    Asset,
    Client,
    Contact,
    Contract,
    CsatResponse,
    MailOutbox,
    OutboxItem,
    Queue,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
    TimeEntry,
)

UserLike = AbstractBaseUser | AnonymousUser
ModelT = TypeVar("ModelT", bound=Model)


def staff_for_user(user: UserLike) -> StaffMember | None:
    if not user.is_authenticated:
        return None
    try:
        return cast(User, user).staff
    except StaffMember.DoesNotExist:
        return None


def is_manager(staff: StaffMember | None) -> bool:
    return staff is not None and staff.role == StaffMember.Role.MANAGER


def manager_for_user(user: UserLike) -> StaffMember | None:
    """The user's staff profile when they are a service desk manager, else None."""
    staff = staff_for_user(user)
    return staff if is_manager(staff) else None


def _sees_all_clients(user: UserLike) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    staff = staff_for_user(user)
    return staff is not None and staff.all_clients


def client_ids_visible_to(user: UserLike) -> QuerySet[Client, int] | None:
    """The ids of clients in scope, or None when every client is (no filter needed)."""
    if _sees_all_clients(user):
        return None
    staff = staff_for_user(user)
    if staff is None:
        return Client.objects.none().values_list("id", flat=True)
    return staff.clients.values_list("id", flat=True)


def clients_visible_to(user: UserLike) -> QuerySet[Client]:
    ids = client_ids_visible_to(user)
    clients = Client.objects.all()
    return clients if ids is None else clients.filter(id__in=ids)


def tickets_visible_to(user: UserLike) -> QuerySet[Ticket]:
    """Tickets in scope. Tickets whose client is not known yet are seen by all-client staff."""
    return in_client_scope(Ticket.objects.all(), user=user, client_field="client_id")


def in_client_scope(
    queryset: QuerySet[ModelT], *, user: UserLike, client_field: str
) -> QuerySet[ModelT]:
    """Narrow any queryset to the user's clients through `client_field` (a lookup path to a
    client id). Adds no filter at all for all-client staff, so their queries stay simple."""
    ids = client_ids_visible_to(user)
    return queryset if ids is None else queryset.filter(**{f"{client_field}__in": ids})


@dataclass(frozen=True)
class TicketFilters:
    q: str = ""
    status: str = ""
    priority: int | None = None
    client_id: int | None = None
    type_id: int | None = None
    queue_id: int | None = None
    assignee: str = ""  # "", "me", "none" or a StaffMember id as text


def ticket_list(*, user: UserLike, filters: TicketFilters) -> QuerySet[Ticket]:
    tickets = tickets_visible_to(user).select_related("client", "type", "queue", "assignee__user")
    tickets = tickets.only(
        "id",
        "summary",
        "status",
        "priority",
        "opened_at",
        "sla_resolution_due_at",
        "client__name",
        "type__name",
        "queue__name",
        "assignee__user__first_name",
        "assignee__user__last_name",
        "assignee__user__username",
    )
    return _apply_filters(tickets, user=user, filters=filters)


def _apply_filters(
    tickets: QuerySet[Ticket], *, user: UserLike, filters: TicketFilters
) -> QuerySet[Ticket]:
    if filters.q:
        tickets = _search(tickets, filters.q)
    if filters.status == "open":
        tickets = tickets.filter(status__in=Ticket.OPEN_STATUSES)
    elif filters.status:
        tickets = tickets.filter(status=filters.status)
    if filters.priority:
        tickets = tickets.filter(priority=filters.priority)
    if filters.client_id:
        tickets = tickets.filter(client_id=filters.client_id)
    if filters.type_id:
        tickets = tickets.filter(type_id=filters.type_id)
    if filters.queue_id:
        tickets = tickets.filter(queue_id=filters.queue_id)
    return _filter_assignee(tickets, user=user, assignee=filters.assignee)


def _search(tickets: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """'#123' or '123' is our id, a PSA ticket number, or words in a summary; a term with a
    digit that is exactly some ticket's PSA reference finds just that ticket; anything else
    searches summaries.

    Reference lookups are tried on their own first: OR-ed with a summary search, the
    database walked the whole table by recency to find the one matching row.
    """
    term = text.strip()
    number = term.lstrip("#")
    if number.isascii() and number.isdigit():
        return tickets.filter(
            Q(id=int(number)) | Q(external_id=number) | Q(summary__icontains=number)
        )
    if " " not in term and any(char.isdigit() for char in term):
        by_reference = tickets.filter(external_id=term)
        if by_reference.exists():
            return by_reference
    return tickets.filter(summary__icontains=term)


def _filter_assignee(
    tickets: QuerySet[Ticket], *, user: UserLike, assignee: str
) -> QuerySet[Ticket]:
    if assignee == "none":
        return tickets.filter(assignee__isnull=True)
    if assignee == "me":
        staff = staff_for_user(user)
        return tickets.filter(assignee=staff) if staff else tickets.none()
    if assignee.isdigit():
        return tickets.filter(assignee_id=int(assignee))
    return tickets


def ticket_get(*, user: UserLike, ticket_id: int) -> Ticket:
    """One ticket with everything its detail page shows, or 404 if out of scope."""
    events = TicketEvent.objects.select_related("actor_staff__user", "actor_contact")
    ticket = (
        tickets_visible_to(user)
        .select_related(
            "client",
            "contact",
            "site",
            "contract",
            "queue",
            "type",
            "subtype",
            "item",
            "assignee__user",
        )
        .prefetch_related(
            "assets",
            Prefetch("events", queryset=events),
            "time_entries__staff__user",
            "csat_responses",
        )
        .filter(id=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket in your clients.")
    return ticket


def client_list(*, user: UserLike) -> QuerySet[Client]:
    # A correlated count over open tickets only (a partial index): joining every ticket to
    # count the open ones scanned the whole history.
    open_count = (
        Ticket.objects.filter(client=OuterRef("pk"), status__in=Ticket.OPEN_STATUSES)
        .order_by()
        .values("client")
        .annotate(total=Count("id"))
        .values("total")
    )
    return clients_visible_to(user).annotate(open_tickets=Coalesce(Subquery(open_count), 0))


def client_get(*, user: UserLike, client_id: int) -> Client:
    contracts = Contract.objects.prefetch_related("sla_targets")
    client = (
        clients_visible_to(user)
        .prefetch_related(
            "email_domains",
            "sites",
            Prefetch("contracts", queryset=contracts),
            Prefetch("contacts", queryset=Contact.objects.select_related("site")),
            Prefetch("assets", queryset=Asset.objects.select_related("primary_contact")),
        )
        .filter(id=client_id)
        .first()
    )
    if client is None:
        raise Http404("No such client in your scope.")
    return client


@dataclass(frozen=True)
class FilterChoices:
    clients: QuerySet[Client]
    types: QuerySet[TicketType]
    queues: QuerySet[Queue]
    assignees: QuerySet[StaffMember]


def ticket_filter_choices(*, user: UserLike) -> FilterChoices:
    return FilterChoices(
        clients=clients_visible_to(user).only("id", "name"),
        types=TicketType.objects.filter(is_active=True).only("id", "name"),
        queues=Queue.objects.filter(is_active=True).only("id", "name"),
        assignees=StaffMember.objects.filter(takes_tickets=True).select_related("user"),
    )


@dataclass(frozen=True)
class DeskSummary:
    open_tickets: int
    unassigned: int
    breached: int
    mine_open: int
    opened_7d: int
    resolved_7d: int


def desk_summary(*, user: UserLike, now: dt.datetime) -> DeskSummary:
    """Headline counts for the home page. Three queries, each on an index: the open backlog
    (a partial index), tickets opened and tickets resolved in the last week."""
    staff = staff_for_user(user)
    week_ago = now - dt.timedelta(days=7)
    visible = tickets_visible_to(user)
    backlog = visible.filter(status__in=Ticket.OPEN_STATUSES).aggregate(
        open_tickets=Count("id"),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        breached=Count("id", filter=Q(sla_resolution_due_at__lt=now)),
        mine_open=Count("id", filter=Q(assignee=staff))
        if staff
        else Count("id", filter=Q(pk=None)),
    )
    return DeskSummary(
        **{key: int(value or 0) for key, value in backlog.items()},
        opened_7d=visible.filter(opened_at__gte=week_ago).count(),
        resolved_7d=visible.filter(resolved_at__gte=week_ago).count(),
    )


def open_by_queue(*, user: UserLike) -> list[dict[str, Any]]:
    rows = (
        tickets_visible_to(user)
        .filter(status__in=Ticket.OPEN_STATUSES)
        .values("queue__id", "queue__name")
        .annotate(total=Count("id"), unassigned=Count("id", filter=Q(assignee__isnull=True)))
        .order_by("-total")
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class BusinessSummary:
    """The owner's first look: revenue in force against the technician time it took."""

    monthly_revenue: Decimal
    contracts_in_force: int
    resolved_30d: int
    technician_hours_30d: float
    technician_cost_30d: Decimal
    csat_average_30d: float | None
    csat_responses_30d: int


def business_summary(*, user: UserLike, now: dt.datetime) -> BusinessSummary:
    today = now.date()
    since = now - dt.timedelta(days=30)
    clients = clients_visible_to(user)
    in_force = Contract.objects.filter(client__in=clients, starts_on__lte=today).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today)
    )
    contracts = in_force.aggregate(revenue=Sum("monthly_revenue"), count=Count("id"))
    time = in_client_scope(
        TimeEntry.objects.filter(started_at__gte=since), user=user, client_field="ticket__client_id"
    )
    cost_expr = ExpressionWrapper(
        F("minutes") * F("staff__hourly_cost") / 60, output_field=DecimalField()
    )
    labour = time.aggregate(logged=Sum("minutes"), cost=Sum(cost_expr))
    csat = in_client_scope(
        CsatResponse.objects.filter(responded_at__gte=since),
        user=user,
        client_field="ticket__client_id",
    ).aggregate(average=Avg("score"), count=Count("id"))
    return BusinessSummary(
        monthly_revenue=contracts["revenue"] or Decimal("0"),
        contracts_in_force=contracts["count"],
        resolved_30d=tickets_visible_to(user).filter(resolved_at__gte=since).count(),
        technician_hours_30d=round((labour["logged"] or 0) / 60, 1),
        technician_cost_30d=Decimal(labour["cost"] or 0).quantize(Decimal("1")),
        csat_average_30d=round(csat["average"], 2) if csat["average"] is not None else None,
        csat_responses_30d=csat["count"],
    )


def ticket_write_back_state(ticket: Ticket) -> dict[str, int]:
    """For a ticket mirrored from a PSA: changes on their way to it, and those that failed
    or conflicted (empty for other tickets). One query."""
    if not ticket.psa_connection_id:
        return {}
    problems = (OutboxItem.Status.FAILED, OutboxItem.Status.CONFLICT)
    waiting = (OutboxItem.Status.PENDING, OutboxItem.Status.SENDING)
    return ticket.outbox.aggregate(
        waiting=Count("id", filter=Q(status__in=waiting)),
        problems=Count("id", filter=Q(status__in=problems)),
    )


def ticket_mail_state(ticket: Ticket) -> dict[str, int]:
    """For a ticket answered by e-mail: replies waiting, failed and sent (empty for others).
    One query."""
    if ticket.source not in MAIL_SOURCES or ticket.psa_connection_id:
        return {}
    return ticket.mail_outbox.aggregate(
        waiting=Count("id", filter=Q(status=MailOutbox.Status.PENDING)),
        failed=Count("id", filter=Q(status=MailOutbox.Status.FAILED)),
        sent=Count("id", filter=Q(status=MailOutbox.Status.SENT)),
    )
