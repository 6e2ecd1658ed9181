"""Reads for governance, always through the signed-in person's client scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.http import Http404

from governance.models import Action, AgentPolicy, KillSwitch
from tickets.selectors import UserLike, client_ids_visible_to, in_client_scope

SORTS = {
    # SLA risk: the resolution deadline that comes first, then the most urgent priority.
    "sla": (
        F("ticket__sla_resolution_due_at").asc(nulls_last=True),
        "ticket__priority",
        "created_at",
        "id",
    ),
    "oldest": ("created_at", "id"),
    "newest": ("-created_at", "-id"),
    "confidence": (F("confidence").desc(nulls_last=True), "created_at", "id"),
}


def actions_visible_to(user: UserLike) -> QuerySet[Action]:
    """Actions on tickets of clients in scope. Actions on tickets with no client yet are seen
    by all-client staff only (the filter below drops NULL clients for everyone else)."""
    return in_client_scope(Action.objects.all(), user=user, client_field="client_id")


@dataclass(frozen=True)
class QueueFilters:
    sort: str = "sla"
    kind: str = ""
    client_id: int | None = None


def approval_queue(*, user: UserLike, filters: QueueFilters) -> QuerySet[Action]:
    """Proposals waiting for a technician, most at risk first."""
    actions = actions_visible_to(user).filter(status=Action.Status.PROPOSED)
    if filters.kind:
        actions = actions.filter(kind=filters.kind)
    if filters.client_id:
        actions = actions.filter(client_id=filters.client_id)
    return actions.select_related(
        "ticket__client",
        "ticket__contact",
        "ticket__type",
        "ticket__queue",
        "ticket__assignee__user",
    ).order_by(*SORTS.get(filters.sort, SORTS["sla"]))


def approval_queue_ids(*, user: UserLike, filters: QueueFilters) -> QuerySet[Action, int]:
    """The queue's order as ids only. Page over this, then load the page with
    `actions_for_cards`: sorting 5,000 narrow rows is several times faster than sorting them
    joined to everything a card shows."""
    return (
        approval_queue(user=user, filters=filters).select_related(None).values_list("id", flat=True)
    )


def actions_for_cards(ids: list[int]) -> list[Action]:
    """Actions with everything an action card shows, in the order of `ids`."""
    loaded = (
        Action.objects.select_related(
            "ticket__client",
            "ticket__contact",
            "ticket__type",
            "ticket__queue",
            "ticket__assignee__user",
        )
        .defer("ticket__description", "ticket__raw_payload")
        .in_bulk(ids)
    )
    return [loaded[action_id] for action_id in ids if action_id in loaded]


def action_get(*, user: UserLike, action_id: int) -> Action:
    """One action with its ticket, or 404 outside scope."""
    action = (
        actions_visible_to(user)
        .select_related(
            "ticket__client",
            "ticket__contact",
            "ticket__type",
            "ticket__queue",
            "ticket__assignee__user",
            "decided_by__user",
            "undone_by__user",
            "proposed_by_staff__user",
        )
        .filter(pk=action_id)
        .first()
    )
    if action is None:
        raise Http404("No such action.")
    return action


def actions_get_many(*, user: UserLike, action_ids: list[int]) -> list[Action]:
    """Several actions, all in scope, or 404 if any is not."""
    actions = list(
        actions_visible_to(user).select_related("ticket").filter(pk__in=action_ids).order_by("id")
    )
    if len(actions) != len(set(action_ids)):
        raise Http404("No such action.")
    return actions


def ticket_actions(*, user: UserLike, ticket_id: int) -> QuerySet[Action]:
    return (
        actions_visible_to(user)
        .filter(ticket_id=ticket_id)
        .select_related("decided_by__user", "proposed_by_staff__user", "ticket")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class LogFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str = ""
    status: str = ""
    client_id: int | None = None
    ticket_type_id: int | None = None


def action_log(*, user: UserLike, filters: LogFilters) -> QuerySet[Action]:
    """Decided and executed actions for the plain-English log, newest first. Suggestions and
    refusals are included: the log answers 'what did the agent want, and what happened'."""
    actions = actions_visible_to(user)
    if filters.since:
        actions = actions.filter(created_at__gte=filters.since)
    if filters.until:
        actions = actions.filter(created_at__lt=filters.until)
    if filters.kind:
        actions = actions.filter(kind=filters.kind)
    if filters.status:
        actions = actions.filter(status=filters.status)
    if filters.client_id:
        actions = actions.filter(client_id=filters.client_id)
    if filters.ticket_type_id:
        actions = actions.filter(ticket__type_id=filters.ticket_type_id)
    return actions.select_related(
        "ticket__client",
        "ticket__type",
        "decided_by__user",
        "undone_by__user",
        "proposed_by_staff__user",
    ).order_by("-created_at", "-id")


def pending_count(*, user: UserLike) -> int:
    return actions_visible_to(user).filter(status=Action.Status.PROPOSED).count()


def kill_switches_engaged(*, user: UserLike) -> list[KillSwitch]:
    """Engaged switches the user should know about: the global one and their clients'."""
    switches = KillSwitch.objects.filter(engaged=True).select_related("client")
    ids = client_ids_visible_to(user)
    if ids is not None:
        switches = switches.filter(Q(client__isnull=True) | Q(client_id__in=ids))
    return list(switches.order_by(F("client__name").asc(nulls_first=True)))


def policy_list() -> QuerySet[AgentPolicy]:
    return (
        AgentPolicy.objects.select_related("ticket_type", "client", "updated_by__user")
        .prefetch_related("rules")
        .order_by(
            F("ticket_type__name").asc(nulls_first=True), F("client__name").asc(nulls_first=True)
        )
    )


def policy_get(*, policy_id: int) -> AgentPolicy:
    policy = (
        AgentPolicy.objects.select_related("ticket_type", "client")
        .prefetch_related("rules", "revisions__changed_by__user")
        .filter(pk=policy_id)
        .first()
    )
    if policy is None:
        raise Http404("No such policy.")
    return policy
