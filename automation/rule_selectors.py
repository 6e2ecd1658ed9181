"""Reads for the rules editor: the rules in order, a draft rule's preview against recent
tickets, and the conflicts between rules (two rules setting one field differently on the
same tickets). Previews only read: nothing is proposed or recorded."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.text import slugify

from automation.models import TriageRule
from automation.rules import (
    ACTION_FIELDS,
    Facts,
    Firing,
    action_words,
    choice_names,
    facts_for,
    rules_run,
)
from governance.kinds import KINDS, names_cached, param_display
from tickets.models import Asset, Tag, Ticket
from tickets.selectors import UserLike, clients_visible_to, tickets_visible_to

PREVIEW_WEEKS = 4
PREVIEW_LIMIT = 5_000
PREVIEW_ROWS = 100
CONFLICT_LIMIT = 2_000


def rules_ordered() -> QuerySet[TriageRule]:
    return TriageRule.objects.select_related("updated_by__user").order_by("position", "id")


def recent_tickets(*, user: UserLike, weeks: int, now: dt.datetime, limit: int) -> list[Ticket]:
    """The most recent tickets opened in the last `weeks` weeks that the user may see."""
    since = now - dt.timedelta(weeks=weeks)
    return list(
        tickets_visible_to(user)
        .filter(opened_at__gte=since)
        .select_related("client", "contact")
        .defer("raw_payload")
        .prefetch_related(
            Prefetch("assets", queryset=Asset.objects.only("id", "kind")),
            Prefetch("tags", queryset=Tag.objects.only("id", "slug", "name")),
        )
        .order_by("-opened_at", "-id")[:limit]
    )


def client_choices(user: UserLike) -> list[tuple[str, str]]:
    """The clients a rule may name, as the viewer may see them (others show as their id)."""
    rows = clients_visible_to(user).order_by("name").values_list("pk", "name")
    return [(str(pk), name) for pk, name in rows]


@dataclass
class Conflict:
    """Two rules set one field differently on `count` tickets; `winner` runs first."""

    winner: str
    loser: str
    field: str
    count: int
    example_ticket: int


@dataclass
class PreviewRow:
    ticket: Ticket
    changes: list[str]
    reasons: list[str]


@dataclass
class Preview:
    weeks: int
    evaluated: int
    truncated: bool
    matched: int
    changed: int
    overridden: int = 0  # matched tickets where an earlier rule decided one of its fields
    rows: list[PreviewRow] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def rule_preview(
    *,
    draft: TriageRule,
    user: UserLike,
    weeks: int = PREVIEW_WEEKS,
    now: dt.datetime,
    limit: int = PREVIEW_LIMIT,
) -> Preview:
    """Run the draft, in its place among the active rules, over recent tickets: which
    tickets it matches, what it would change on each, and which rules it conflicts with."""
    tickets = recent_tickets(user=user, weeks=weeks, now=now, limit=limit)
    rules = _with_draft(draft)
    names = choice_names(rules, clients=client_choices(user))
    preview = Preview(
        weeks=weeks, evaluated=len(tickets), truncated=len(tickets) == limit, matched=0, changed=0
    )
    conflicts: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], int] = {}
    facts = facts_for(tickets)
    with names_cached():
        for ticket in tickets:
            firings = rules_run(rules, facts[ticket.id], names)
            for key in _conflicts(firings, draft):
                conflicts[key] += 1
                examples.setdefault(key, ticket.id)
            mine = next((f for f in firings if f.rule is draft), None)
            if mine is None:
                continue
            preview.matched += 1
            preview.overridden += bool(mine.overridden)
            changes = [
                words
                for action in mine.actions
                if (words := _change_words(ticket, facts[ticket.id], action))
            ]
            if changes:
                preview.changed += 1
                if len(preview.rows) < PREVIEW_ROWS:
                    preview.rows.append(PreviewRow(ticket, changes, mine.reasons))
    preview.conflicts = [
        Conflict(winner, loser, name, count, examples[(winner, loser, name)])
        for (winner, loser, name), count in conflicts.most_common()
    ]
    return preview


def _with_draft(draft: TriageRule) -> list[TriageRule]:
    """The active rules with the draft in its place (replacing its saved version)."""
    others = [
        rule
        for rule in TriageRule.objects.filter(is_active=True).order_by("position", "id")
        if rule.pk != draft.pk
    ]
    return sorted([*others, draft], key=lambda rule: (rule.position, rule.pk or 1 << 62))


def _conflicts(firings: Sequence[Firing], draft: TriageRule) -> list[tuple[str, str, str]]:
    """(winner, loser, field) for every override that involves the draft."""
    found = []
    for firing in firings:
        for action, winner in firing.overridden:
            if draft in (firing.rule, winner):
                found.append((winner.name, firing.rule.name, _field_label(action)))
    return found


def _field_label(action: dict[str, Any]) -> str:
    return ACTION_FIELDS[action["kind"]].replace("sla", "SLA")


def _change_words(ticket: Ticket, facts: Facts, action: dict[str, Any]) -> str:
    """“Priority: Medium → High”, or "" when the ticket already is so."""
    kind, params = action["kind"], action["params"]
    if kind == "add_tag":
        return "" if slugify(params["tag"]) in facts.tags else action_words(action)
    if kind == "set_sla":
        due = ticket.opened_at + dt.timedelta(minutes=params["resolution_minutes"])
        return "" if ticket.sla_resolution_due_at == due else action_words(action)
    spec = KINDS[kind]
    param = spec.params[0]
    current = getattr(ticket, "priority" if kind == "set_priority" else f"{spec.field_name}_id")
    if current == params[param.name]:
        return ""
    before = param_display(param, current) if current is not None else "(none)"
    return f"{spec.field_name.title()}: {before} → {param_display(param, params[param.name])}"


def rules_conflicts(
    *, rules: Sequence[TriageRule], user: UserLike, now: dt.datetime
) -> dict[int, list[Conflict]]:
    """Per rule, the conflicts it is part of on recent tickets (as winner or loser)."""
    tickets = recent_tickets(user=user, weeks=PREVIEW_WEEKS, now=now, limit=CONFLICT_LIMIT)
    active = [rule for rule in rules if rule.is_active]
    names = choice_names(active, clients=client_choices(user))
    by_name = {rule.name: rule for rule in active}
    counts: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], int] = {}
    for ticket_id, facts in facts_for(tickets).items():
        for firing in rules_run(active, facts, names):
            for action, earlier in firing.overridden:
                key = (earlier.name, firing.rule.name, _field_label(action))
                counts[key] += 1
                examples.setdefault(key, ticket_id)
    found: dict[int, list[Conflict]] = {}
    for (winner, loser, name), count in counts.most_common():
        conflict = Conflict(winner, loser, name, count, examples[(winner, loser, name)])
        for rule_name in (winner, loser):
            found.setdefault(by_name[rule_name].pk, []).append(conflict)
    return found
