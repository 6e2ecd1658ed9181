"""Dispatch: who should handle a ticket, and why, in a sentence a manager can check.

A queue's `DispatchPolicy` (or the default) picks a strategy. Candidates are staff who take
tickets, whose account is active, who serve the ticket's client, and who belong to the decided
queue when that queue has members. The policy may then require the type's skills or being at
work now, and (by default) leaves out technicians at capacity unless everyone is. The strategy
ranks who is left; a strategy with nothing to go on (a ticket that is not urgent, no history,
a type without skills) hands over to the policy's fallback and says so.

Everything is read once per batch (a constant number of queries however many tickets or
technicians), and the batch keeps its own tally: a ticket decided earlier in the batch counts
as open work and as the latest assignment for the ones after it, exactly as if they had been
dispatched one by one. Nothing is written here: the pipeline turns decisions into `assign`
proposals for the governance gate (`dispatch_proposal`).

Confidence says how clear-cut the choice was: 1.0 when only one technician qualifies;
otherwise 0.5 + 0.5 × the relative gap between the winner and the runner-up on the first
criterion that tells them apart (0.5 when they are tied on everything and the name decides).
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Q,
)

from automation.models import DISPATCH_FALLBACKS, DispatchPolicy
from governance.models import Action
from governance.services import Proposal
from tickets.models import (
    OnCallPeriod,
    Priority,
    Queue,
    Shift,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
)

Strategy = DispatchPolicy.Strategy

ROTATION_WINDOW = dt.timedelta(days=30)  # round robin: assignments older than this tie
AFFINITY_WINDOW = dt.timedelta(days=90)
LEARNED_WINDOW = dt.timedelta(days=180)
# A reassignment of a ticket resolved in the window happened while it was open: this far
# back covers all but tickets open for more than a month.
REASSIGNMENT_LOOKBACK = dt.timedelta(days=30)
LEARNED_PRIOR_WEIGHT = 5  # tickets' worth of the desk-wide average mixed into each score
SLA_SOON = dt.timedelta(hours=4)  # SLA due within this is urgent work
URGENT_PRIORITIES = (Priority.CRITICAL, Priority.HIGH)
RUNNERS_UP_SHOWN = 3


@dataclass(frozen=True)
class DispatchInput:
    ticket: Ticket  # loaded with select_related("client", "type", "queue")
    queue_id: int | None  # the queue decided in this run (may differ from ticket.queue_id)
    type_id: int | None  # likewise the decided type
    priority: int  # likewise the decided priority (tickets.models.Priority: 1 = critical)


@dataclass(frozen=True)
class DispatchDecision:
    ticket_id: int
    staff_id: int
    strategy: str  # the strategy that decided (the fallback's key when it stood in)
    confidence: float  # 0..1, see the module docstring
    reason: str  # "Assigned to Dana: has the Exchange skill, 3 open tickets (capacity 12), …"
    evidence: list[dict[str, str]]  # [{"kind": "dispatch", "label": …, "detail": …}]


@dataclass(frozen=True)
class Ranked:
    """One candidate as the deciding strategy saw them, best first in `DispatchOutcome`."""

    staff_id: int
    name: str
    facts: str  # the facts that ranked them, in words
    lost_on: str  # why they rank below the one above them ("" for the winner)


@dataclass(frozen=True)
class DispatchOutcome:
    """What dispatch concluded for one ticket: a decision, or None with the explanation why
    nobody is proposed (already assigned, done, manual queue, nobody qualifies)."""

    ticket_id: int
    decision: DispatchDecision | None
    explanation: str
    policy_label: str
    ranking: tuple[Ranked, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()  # (name, why) for staff filtered out


def dispatch_decide_many(
    items: Sequence[DispatchInput], *, now: dt.datetime
) -> dict[int, DispatchDecision | None]:
    """A decision per ticket id, or None when nothing should be proposed; the reasons for a
    None are in `dispatch_outcomes`."""
    outcomes = dispatch_outcomes(items, now=now)
    return {ticket_id: outcome.decision for ticket_id, outcome in outcomes.items()}


def dispatch_outcomes(
    items: Sequence[DispatchInput], *, now: dt.datetime, preview: bool = False
) -> dict[int, DispatchOutcome]:
    """Decide a batch. Urgent tickets choose first (priority, then age), so the batch's tally
    of new work falls on later, less urgent ones. `preview` (the manager's "try it" panel)
    ranks a ticket that already has an assignee as if it had none."""
    facts = desk_facts_load(items, now=now)
    if preview:
        _as_if_unassigned(items, facts)
    ordered = sorted(items, key=lambda item: (item.priority, item.ticket.opened_at, item.ticket.id))
    outcomes = {item.ticket.id: _decide(item, facts, preview=preview) for item in ordered}
    return {item.ticket.id: outcomes[item.ticket.id] for item in items}


def _as_if_unassigned(items: Sequence[DispatchInput], facts: DeskFacts) -> None:
    """For the try-it ranking of an assigned ticket: its assignee's open work and affinity
    without this ticket, so they are judged as if it were still to be dispatched."""
    techs = {tech.id: tech for tech in facts.technicians}
    for item in items:
        ticket = item.ticket
        tech = techs.get(ticket.assignee_id or 0)
        if tech is None or ticket.status not in Ticket.OPEN_STATUSES:
            continue
        tech.open_tickets = max(0, tech.open_tickets - 1)
        key = (ticket.client_id or 0, tech.id)
        if facts.affinity.get(key):
            facts.affinity[key] -= 1


def dispatch_proposal(decision: DispatchDecision) -> Proposal:
    """The `assign` proposal for a decision. Keyed by the technician, so re-running dispatch
    that reaches the same answer proposes nothing new."""
    return Proposal(
        kind="assign",
        params={"assignee": decision.staff_id},
        proposer_kind=Action.Proposer.RULE,
        proposer_name=f"dispatch-{decision.strategy}",
        confidence=decision.confidence,
        rationale=decision.reason,
        evidence=decision.evidence,
        dedupe_key=f"dispatch:{decision.staff_id}",
    )


# --- facts, loaded once per batch --------------------------------------------------------


@dataclass
class Technician:
    id: int
    name: str
    zone: zoneinfo.ZoneInfo
    capacity: int
    all_clients: bool
    client_ids: set[int] = field(default_factory=set)
    queue_ids: set[int] = field(default_factory=set)
    skills: dict[int, str] = field(default_factory=dict)
    shifts: list[tuple[int, dt.time, dt.time]] = field(default_factory=list)
    on_call: bool = False
    on_shift_now: bool = False  # at the time the facts were loaded
    open_tickets: int = 0
    last_assigned: dt.datetime | None = None

    def serves(self, client_id: int | None) -> bool:
        return self.all_clients or (client_id is not None and client_id in self.client_ids)

    def on_shift(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone)
        day, moment = local.isoweekday(), local.time()
        return any(d == day and start <= moment < end for d, start, end in self.shifts)

    @property
    def load(self) -> float:
        return self.open_tickets / self.capacity

    @property
    def full(self) -> bool:
        return self.open_tickets >= self.capacity


@dataclass(frozen=True)
class History:
    """How one technician resolved similar tickets."""

    resolved: int
    troubled: int  # reopened or reassigned
    reopened: int
    typical_hours: float


@dataclass
class DeskFacts:
    now: dt.datetime
    technicians: list[Technician]
    policies: dict[int | None, DispatchPolicy]
    queue_names: dict[int, str]
    type_names: dict[int, str]
    type_skills: dict[int, dict[int, str]]
    affinity: dict[tuple[int, int], int]  # (client, staff) -> tickets in the window
    learned: dict[tuple[str, int], dict[int, History]]  # (key kind, key id) -> staff -> history
    batch_seq: int = 0

    def policy_for(self, queue_id: int | None) -> DispatchPolicy:
        return self.policies.get(queue_id) or self.policies.get(None) or DispatchPolicy()

    def name_of(self, staff_id: int) -> str:
        found = next((tech.name for tech in self.technicians if tech.id == staff_id), None)
        return found or f"technician #{staff_id}"


def desk_facts_load(items: Sequence[DispatchInput], *, now: dt.datetime) -> DeskFacts:
    """Everything the batch needs, in a fixed number of queries (at most 16)."""
    policies = {policy.queue_id: policy for policy in DispatchPolicy.objects.all()}
    used = {p.strategy for p in policies.values()} | {p.fallback for p in policies.values()}
    used |= {DispatchPolicy().strategy}
    type_ids = {item.type_id for item in items if item.type_id is not None}
    client_ids = {item.ticket.client_id for item in items if item.ticket.client_id is not None}
    technicians = technicians_load(now, with_rotation=Strategy.ROUND_ROBIN in used)
    return DeskFacts(
        now=now,
        technicians=technicians,
        policies=policies,
        queue_names=dict(Queue.objects.values_list("id", "name")),
        type_names=dict(TicketType.objects.filter(id__in=type_ids).values_list("id", "name")),
        type_skills=_type_skills(type_ids),
        affinity=_affinity(client_ids, now) if Strategy.AFFINITY in used else {},
        learned=_learned(items, now) if Strategy.LEARNED in used else {},
    )


def technicians_load(now: dt.datetime, *, with_rotation: bool) -> list[Technician]:
    """Everyone dispatch may consider, with scope, skills, shifts, on-call and open work:
    six queries (seven `with_rotation`), sorted by name."""
    takers = StaffMember.objects.filter(takes_tickets=True, user__is_active=True)
    rows = takers.select_related("user").only(
        "id", "timezone", "capacity", "all_clients", "user__first_name", "user__last_name",
        "user__username",
    )  # fmt: skip
    techs = {
        staff.id: Technician(
            id=staff.id,
            name=staff.display_name,
            zone=zoneinfo.ZoneInfo(staff.timezone),
            capacity=max(1, staff.capacity),
            all_clients=staff.all_clients,
        )
        for staff in rows
    }
    _attach_scope(techs)
    _attach_time(techs, now)
    _attach_load(techs, now, with_rotation=with_rotation)
    return sorted(techs.values(), key=lambda tech: (tech.name.lower(), tech.id))


def _attach_scope(techs: dict[int, Technician]) -> None:
    through_clients = StaffMember.clients.through.objects.filter(staffmember_id__in=techs)
    for staff_id, client_id in through_clients.values_list("staffmember_id", "client_id"):
        techs[staff_id].client_ids.add(client_id)
    through_queues = StaffMember.queues.through.objects.filter(staffmember_id__in=techs)
    for staff_id, queue_id in through_queues.values_list("staffmember_id", "queue_id"):
        techs[staff_id].queue_ids.add(queue_id)
    through_skills = StaffMember.skills.through.objects.filter(staffmember_id__in=techs)
    for staff_id, skill_id, name in through_skills.order_by("skill__name").values_list(
        "staffmember_id", "skill_id", "skill__name"
    ):
        techs[staff_id].skills[skill_id] = name


def _attach_time(techs: dict[int, Technician], now: dt.datetime) -> None:
    shifts = Shift.objects.filter(staff_id__in=techs).values_list(
        "staff_id", "weekday", "starts", "ends"
    )
    for staff_id, weekday, starts, ends in shifts:
        techs[staff_id].shifts.append((weekday, starts, ends))
    on_call = OnCallPeriod.objects.filter(staff_id__in=techs, starts_at__lte=now, ends_at__gt=now)
    for staff_id in on_call.values_list("staff_id", flat=True):
        techs[staff_id].on_call = True
    for tech in techs.values():
        tech.on_shift_now = tech.on_shift(now)


def _attach_load(techs: dict[int, Technician], now: dt.datetime, *, with_rotation: bool) -> None:
    open_work = (
        Ticket.objects.filter(assignee_id__in=techs, status__in=Ticket.OPEN_STATUSES)
        .order_by()
        .values_list("assignee_id")
        .annotate(total=Count("id"))
    )
    for staff_id, total in open_work:
        techs[staff_id].open_tickets = total
    if not with_rotation:
        return
    # The timeline stores the new assignee's id as text (tickets.services._field_code).
    latest = (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.ASSIGNMENT_CHANGED,
            occurred_at__gte=now - ROTATION_WINDOW,
            occurred_at__lte=now,
            new_value__in=[str(staff_id) for staff_id in techs],
        )
        .order_by()
        .values_list("new_value")
        .annotate(last=Max("occurred_at"))
    )
    for staff_text, last in latest:
        techs[int(staff_text)].last_assigned = last


def _type_skills(type_ids: set[int]) -> dict[int, dict[int, str]]:
    needed: dict[int, dict[int, str]] = defaultdict(dict)
    rows = (
        TicketType.skills.through.objects.filter(tickettype_id__in=type_ids)
        .order_by("skill__name")
        .values_list("tickettype_id", "skill_id", "skill__name")
    )
    for type_id, skill_id, name in rows:
        needed[type_id][skill_id] = name
    return dict(needed)


def _affinity(client_ids: set[int], now: dt.datetime) -> dict[tuple[int, int], int]:
    rows = (
        Ticket.objects.filter(
            client_id__in=client_ids,
            opened_at__gte=now - AFFINITY_WINDOW,
            assignee_id__isnull=False,
        )
        .order_by()
        .values_list("client_id", "assignee_id")
        .annotate(total=Count("id"))
    )
    return {(client_id, staff_id): total for client_id, staff_id, total in rows}


class Median(Aggregate):
    """The median of a duration. PostgreSQL has it; elsewhere (the SQLite demo) the mean
    stands in."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, template="AVG(%(expressions)s)", **extra)


def typical_word() -> str:
    return "median" if connection.vendor == "postgresql" else "mean"


def similarity_key(item: DispatchInput) -> tuple[str, int] | None:
    """'Tickets like this one': the same type, else the same queue, else the same client."""
    if item.type_id is not None:
        return ("type", item.type_id)
    if item.queue_id is not None:
        return ("queue", item.queue_id)
    if item.ticket.client_id is not None:
        return ("client", item.ticket.client_id)
    return None


_KEY_FIELDS = {"type": "type_id", "queue": "queue_id", "client": "client_id"}


def _learned(
    items: Sequence[DispatchInput], now: dt.datetime
) -> dict[tuple[str, int], dict[int, History]]:
    """Resolved history per similarity key and technician: one query per kind of key used."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for item in items:
        key = similarity_key(item)
        if key is not None:
            wanted[key[0]].add(key[1])
    result: dict[tuple[str, int], dict[int, History]] = defaultdict(dict)
    for kind, ids in wanted.items():
        for key_id, staff_id, history in _history_rows(_KEY_FIELDS[kind], ids, now):
            result[(kind, key_id)][staff_id] = history
    return dict(result)


def _history_rows(
    key_field: str, ids: set[int], now: dt.datetime
) -> Iterable[tuple[int, int, History]]:
    since = now - LEARNED_WINDOW
    # Ticket ids as uncorrelated subqueries, which PostgreSQL hashes once, rather than an
    # EXISTS probe per resolved ticket (ten times slower on the demo's 15,000 tickets).
    reopened = TicketEvent.objects.filter(
        kind=TicketEvent.Kind.STATUS_CHANGED,
        occurred_at__gte=since,
        old_value__in=Ticket.DONE_STATUSES,
        new_value__in=Ticket.OPEN_STATUSES,
    ).values("ticket_id")
    reassigned = (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.ASSIGNMENT_CHANGED,
            occurred_at__gte=since - REASSIGNMENT_LOOKBACK,
        )
        .exclude(old_value="")
        .values("ticket_id")
    )
    duration = ExpressionWrapper(F("resolved_at") - F("opened_at"), output_field=DurationField())
    rows = (
        Ticket.objects.filter(
            **{f"{key_field}__in": ids},
            resolved_at__gte=since,
            resolved_at__lte=now,
            assignee_id__isnull=False,
        )
        .order_by()
        .values_list(key_field, "assignee_id")
        .annotate(
            resolved=Count("id"),
            troubled=Count("id", filter=Q(id__in=reopened) | Q(id__in=reassigned)),
            reopened=Count("id", filter=Q(id__in=reopened)),
            typical=Median(duration),
        )
    )
    for key_id, staff_id, resolved, troubled, reopened_count, typical in rows:
        hours = typical.total_seconds() / 3600 if typical is not None else 0.0
        yield key_id, staff_id, History(resolved, troubled, reopened_count, hours)


# --- one ticket --------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """One ticket as dispatch sees it, with the batch's facts."""

    item: DispatchInput
    facts: DeskFacts
    policy: DispatchPolicy
    business_time: bool
    needed_skills: dict[int, str]

    @property
    def now(self) -> dt.datetime:
        return self.facts.now

    @property
    def client_name(self) -> str:
        client = self.item.ticket.client
        return client.name if client is not None else "a ticket with no client"

    def available(self, tech: Technician) -> bool:
        if tech.on_call:
            return True
        return self.business_time and tech.on_shift_now

    def availability_words(self, tech: Technician) -> str:
        if tech.on_call:
            return "on call"
        if not self.business_time:
            return "after the client's hours and not on call"
        if tech.on_shift_now:
            return "on shift"
        return "no shift now" if tech.shifts else "no shifts recorded"

    def matched_skills(self, tech: Technician) -> list[str]:
        return [name for skill_id, name in self.needed_skills.items() if skill_id in tech.skills]

    def skill_words(self, tech: Technician) -> str:
        matched = self.matched_skills(tech)
        if not self.needed_skills:
            return ""
        if len(matched) == len(self.needed_skills):
            return f"has the {_and(matched)} skill{'s' if len(matched) > 1 else ''}"
        missing = [name for name in self.needed_skills.values() if name not in matched]
        return f"lacks the {_and(missing)} skill{'s' if len(missing) > 1 else ''}"


def _decide(item: DispatchInput, facts: DeskFacts, *, preview: bool) -> DispatchOutcome:
    policy = facts.policy_for(item.queue_id)
    label = _policy_label(policy, facts, item.queue_id)
    refusal = _refusal(item, facts, policy, preview=preview)
    if refusal:
        return DispatchOutcome(item.ticket.id, None, refusal, label)
    client = item.ticket.client
    context = Context(
        item=item,
        facts=facts,
        policy=policy,
        business_time=client.is_business_time(facts.now) if client is not None else True,
        needed_skills=facts.type_skills.get(item.type_id or 0, {}),
    )
    candidates, excluded, empty_reason = _candidates(context)
    if not candidates:
        return DispatchOutcome(item.ticket.id, None, empty_reason, label, excluded=excluded)
    return _rank_and_choose(context, candidates, excluded, label)


def _refusal(
    item: DispatchInput, facts: DeskFacts, policy: DispatchPolicy, *, preview: bool
) -> str:
    ticket = item.ticket
    if ticket.status in Ticket.DONE_STATUSES:
        return f"Not dispatched: ticket {ticket.reference} is {ticket.get_status_display()}."
    if ticket.assignee_id is not None and not preview:
        who = facts.name_of(ticket.assignee_id)
        return f"Not dispatched: ticket {ticket.reference} is already assigned to {who}."
    if policy.strategy == Strategy.MANUAL:
        return "Not dispatched: this queue is dispatched by hand (manual)."
    return ""


def _policy_label(policy: DispatchPolicy, facts: DeskFacts, queue_id: int | None) -> str:
    own = policy.pk is not None and policy.queue_id == queue_id and queue_id is not None
    where = facts.queue_names.get(queue_id or 0, "no queue")
    source = f"the {where} policy" if own else "the default policy"
    return f"{policy.get_strategy_display()} ({source})"


Filter = tuple[str, Callable[[Technician], bool], Callable[[Technician], str]]


def _candidates(
    context: Context,
) -> tuple[list[Technician], tuple[tuple[str, str], ...], str]:
    """Who may take the ticket, who was left out and why, and — when nobody is left — why."""
    remaining = list(context.facts.technicians)
    excluded: list[tuple[str, str]] = []
    for empty_reason, keep, why in _filters(context, remaining):
        kept = [tech for tech in remaining if keep(tech)]
        if not kept and not empty_reason:
            continue  # a soft filter (capacity) that would leave nobody is skipped
        excluded += [(tech.name, why(tech)) for tech in remaining if not keep(tech)]
        if not kept:
            return [], tuple(excluded), empty_reason
        remaining = kept
    return remaining, tuple(excluded), ""


def _filters(context: Context, everyone: list[Technician]) -> list[Filter]:
    ticket, policy, facts = context.item.ticket, context.policy, context.facts
    client_id, queue_id = ticket.client_id, context.item.queue_id
    queue_name = facts.queue_names.get(queue_id or 0, "")
    filters: list[Filter] = [
        (
            f"No one can be proposed: no technician who takes tickets serves "
            f"{context.client_name}.",
            lambda tech: tech.serves(client_id),
            lambda tech: f"does not serve {context.client_name}",
        )
    ]
    if queue_id is not None and any(queue_id in tech.queue_ids for tech in everyone):
        filters.append(
            (
                f"No one can be proposed: no member of the {queue_name} queue serves "
                f"{context.client_name}. Add technicians to the queue in the admin.",
                lambda tech: queue_id in tech.queue_ids,
                lambda tech: f"not in the {queue_name} queue",
            )
        )
    if policy.require_skills and context.needed_skills:
        filters.append(
            (
                "No one can be proposed: nobody eligible has the "
                f"{_and(list(context.needed_skills.values()))} skills this type needs.",
                lambda tech: len(context.matched_skills(tech)) == len(context.needed_skills),
                context.skill_words,
            )
        )
    if policy.require_available:
        filters.append(
            (
                "No one can be proposed: nobody eligible is "
                + ("on shift or on call now." if context.business_time else "on call now.")
                + " The policy requires technicians at work.",
                context.available,
                context.availability_words,
            )
        )
    if policy.respect_capacity:
        # "Unless everyone is": when the filter would empty the list, skip it instead.
        def keep(tech: Technician) -> bool:
            return not tech.full

        filters.append(
            ("", keep, lambda tech: f"at capacity ({tech.open_tickets} of {tech.capacity} open)")
        )
    return filters


def _open_words(tech: Technician) -> str:
    noun = "open ticket" if tech.open_tickets == 1 else "open tickets"
    return f"{tech.open_tickets} {noun} (capacity {tech.capacity})"


# --- strategies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One thing a strategy ranks by: lower `value` is better; `worse` says how the one who
    loses on it compares ("more open work for their capacity")."""

    worse: str
    value: float


@dataclass(frozen=True)
class Scored:
    tech: Technician
    criteria: tuple[Criterion, ...]
    facts: list[str]  # the deciding facts first

    def sort_key(self) -> tuple[Any, ...]:
        return (tuple(c.value for c in self.criteria), self.tech.name.lower(), self.tech.id)


@dataclass(frozen=True)
class Verdict:
    """A strategy's ranking, or an abstention: `note` says why the fallback decided."""

    scored: list[Scored]
    note: str = ""
    headline: str = ""  # said of the winner only ("urgent (P1 Critical): least loaded …")


StrategyFn = Callable[[Context, list[Technician]], Verdict | str]


def _load(tech: Technician) -> tuple[Criterion, ...]:
    return (
        Criterion("more open work for their capacity", tech.load),
        Criterion("more open tickets", tech.open_tickets),
    )


def _by_load(context: Context, candidates: list[Technician]) -> Verdict | str:
    return Verdict(
        [
            Scored(tech, _load(tech), [_open_words(tech), *_context_words(context, tech)])
            for tech in candidates
        ]
    )


def _by_rotation(context: Context, candidates: list[Technician]) -> Verdict | str:
    scored = []
    for tech in candidates:
        idle = _idle_hours(tech, context.now)
        scored.append(
            Scored(
                tech,
                (Criterion("was assigned a ticket more recently", -idle), *_load(tech)),
                [_rotation_words(tech, context.now), _open_words(tech)],
            )
        )
    return Verdict(scored)


def _idle_hours(tech: Technician, now: dt.datetime) -> float:
    if tech.last_assigned is None:
        return ROTATION_WINDOW.total_seconds() / 3600
    return (now - tech.last_assigned).total_seconds() / 3600


def _rotation_words(tech: Technician, now: dt.datetime) -> str:
    if tech.last_assigned is None:
        return f"no ticket assigned in {ROTATION_WINDOW.days} days"
    if tech.last_assigned >= now:
        return "next in turn after this batch's earlier assignments"
    return f"longest without a new ticket (last {_ago(now - tech.last_assigned)} ago)"


def _by_skills(context: Context, candidates: list[Technician]) -> Verdict | str:
    if not context.needed_skills:
        type_name = context.facts.type_names.get(context.item.type_id or 0)
        return f"{type_name or 'the ticket type'} needs no particular skills"
    scored = []
    for tech in candidates:
        matched = len(context.matched_skills(tech))
        criteria = (Criterion("has fewer of the needed skills", -matched), *_load(tech))
        words = [context.skill_words(tech), _open_words(tech), context.availability_words(tech)]
        scored.append(Scored(tech, criteria, words))
    return Verdict(scored)


def _by_availability(context: Context, candidates: list[Technician]) -> Verdict | str:
    scored = []
    for tech in candidates:
        away = 0.0 if context.available(tech) else 1.0
        criteria = (Criterion("is not at work now", away), *_load(tech))
        words = [context.availability_words(tech), _open_words(tech)]
        words += [context.skill_words(tech)]
        scored.append(Scored(tech, criteria, words))
    return Verdict(scored)


def _by_affinity(context: Context, candidates: list[Technician]) -> Verdict | str:
    client_id = context.item.ticket.client_id
    worked = {
        tech.id: context.facts.affinity.get((client_id or 0, tech.id), 0) for tech in candidates
    }
    if not any(worked.values()):
        return f"no one eligible worked {context.client_name} tickets in the last 90 days"
    scored = []
    for tech in candidates:
        count = worked[tech.id]
        criteria = (Criterion(f"worked fewer {context.client_name} tickets", -count), *_load(tech))
        noun = "ticket" if count == 1 else "tickets"
        words = [f"worked {count} {context.client_name} {noun} in 90 days", _open_words(tech)]
        scored.append(Scored(tech, criteria, [*words, context.availability_words(tech)]))
    return Verdict(scored)


def _urgency(context: Context) -> str:
    """Why the ticket is urgent, in words, or "" when it is not."""
    ticket, now = context.item.ticket, context.now
    if context.item.priority in URGENT_PRIORITIES:
        return f"urgent ({Priority(context.item.priority).label})"
    due = ticket.sla_resolution_due_at
    if ticket.first_response_at is None and ticket.sla_response_due_at is not None:
        due = min(filter(None, (due, ticket.sla_response_due_at)))
    if due is not None and due - now <= SLA_SOON:
        return "urgent (SLA overdue)" if due <= now else f"urgent (SLA due in {_ago(due - now)})"
    return ""


def _by_sla(context: Context, candidates: list[Technician]) -> Verdict | str:
    urgency = _urgency(context)
    if not urgency:
        return "not urgent"
    scored = []
    for tech in candidates:
        missing = len(context.needed_skills) - len(context.matched_skills(tech))
        criteria = (
            Criterion("lacks a skill the type needs", float(missing > 0)),
            Criterion("is not at work now", 0.0 if context.available(tech) else 1.0),
            *_load(tech),
        )
        words = [_open_words(tech), context.skill_words(tech), context.availability_words(tech)]
        scored.append(Scored(tech, criteria, words))
    return Verdict(scored, headline=f"{urgency}, so the least loaded qualified technician")


def _by_history(context: Context, candidates: list[Technician]) -> Verdict | str:
    key = similarity_key(context.item)
    histories = context.facts.learned.get(key, {}) if key is not None else {}
    mine = {tech.id: histories[tech.id] for tech in candidates if tech.id in histories}
    if not mine:
        return "no one eligible has resolved similar tickets in the last 180 days"
    prior = _prior(list(histories.values()))
    scored = []
    for tech in candidates:
        history = mine.get(tech.id)
        score = _learned_score(history, prior)
        criteria = (Criterion("has a lower learned score", -score), *_load(tech))
        words = [_history_words(context, history, score), _open_words(tech)]
        scored.append(Scored(tech, criteria, [*words, context.availability_words(tech)]))
    return Verdict(scored)


@dataclass(frozen=True)
class Prior:
    clean_rate: float  # share resolved without a reopen or reassignment, desk-wide
    typical_hours: float


def _prior(histories: list[History]) -> Prior:
    resolved = sum(h.resolved for h in histories)
    clean = sum(h.resolved - h.troubled for h in histories)
    hours = sum(h.typical_hours * h.resolved for h in histories) / resolved
    return Prior(clean_rate=clean / resolved, typical_hours=max(hours, 0.1))


def _learned_score(history: History | None, prior: Prior) -> float:
    """Smoothed: the technician's clean-resolution rate and typical time, each pulled towards
    the desk-wide figure by `LEARNED_PRIOR_WEIGHT` tickets, so two lucky tickets do not beat
    forty good ones. Speed counts as typical / (typical + theirs): 0.5 at the desk's pace."""
    weight = LEARNED_PRIOR_WEIGHT
    resolved = history.resolved if history else 0
    clean = (history.resolved - history.troubled) if history else 0
    hours = history.typical_hours if history else prior.typical_hours
    rate = (clean + weight * prior.clean_rate) / (resolved + weight)
    smoothed_hours = (resolved * hours + weight * prior.typical_hours) / (resolved + weight)
    return round(rate * prior.typical_hours / (prior.typical_hours + smoothed_hours), 4)


def _history_words(context: Context, history: History | None, score: float) -> str:
    if history is None:
        return f"no similar tickets resolved yet (learned score {score:.2f}, the desk average)"
    noun = "ticket" if history.resolved == 1 else "tickets"
    reopened = f"{history.reopened} reopened" if history.reopened else "none reopened"
    return (
        f"resolved {history.resolved} similar {noun}, {typical_word()} "
        f"{history.typical_hours:.1f} h, {reopened} (learned score {score:.2f})"
    )


STRATEGIES: dict[str, StrategyFn] = {
    Strategy.ROUND_ROBIN: _by_rotation,
    Strategy.SKILLS: _by_skills,
    Strategy.LOAD: _by_load,
    Strategy.AVAILABILITY: _by_availability,
    Strategy.AFFINITY: _by_affinity,
    Strategy.SLA: _by_sla,
    Strategy.LEARNED: _by_history,
}


def _context_words(context: Context, tech: Technician) -> list[str]:
    return [context.skill_words(tech), context.availability_words(tech)]


# --- choosing ----------------------------------------------------------------------------


def _rank_and_choose(
    context: Context,
    candidates: list[Technician],
    excluded: tuple[tuple[str, str], ...],
    label: str,
) -> DispatchOutcome:
    strategy = context.policy.strategy
    verdict = STRATEGIES[strategy](context, candidates)
    if isinstance(verdict, str):
        strategy = context.policy.fallback
        fallback = STRATEGIES[strategy](context, candidates)
        assert isinstance(fallback, Verdict), "fallback strategies always rank"
        fallback_label = DispatchPolicy.Strategy(strategy).label.lower()
        verdict = Verdict(fallback.scored, note=f"{verdict}, so {fallback_label} decided")
    assert isinstance(verdict, Verdict)
    ranked = sorted(verdict.scored, key=Scored.sort_key)
    winner = ranked[0]
    _tally(winner.tech, context.facts)
    decision = DispatchDecision(
        ticket_id=context.item.ticket.id,
        staff_id=winner.tech.id,
        strategy=strategy,
        confidence=_confidence(ranked),
        reason=_reason(winner, verdict),
        evidence=_evidence(label, ranked, excluded, verdict.note),
    )
    return DispatchOutcome(
        ticket_id=context.item.ticket.id,
        decision=decision,
        explanation=decision.reason,
        policy_label=label,
        ranking=tuple(
            Ranked(s.tech.id, s.tech.name, _words(s.facts), _lost_on(ranked[0], s) if i else "")
            for i, s in enumerate(ranked)
        ),
        excluded=excluded,
    )


def _tally(tech: Technician, facts: DeskFacts) -> None:
    """Count the decision in the batch's own tally: one more open ticket, and the latest
    assignment (a microsecond apart, so the batch's order is the rotation's order)."""
    facts.batch_seq += 1
    tech.open_tickets += 1
    tech.last_assigned = facts.now + dt.timedelta(microseconds=facts.batch_seq)


def _confidence(ranked: list[Scored]) -> float:
    if len(ranked) == 1:
        return 1.0
    first, second = ranked[0], ranked[1]
    for mine, theirs in zip(first.criteria, second.criteria, strict=True):
        if mine.value != theirs.value:
            scale = max(abs(mine.value), abs(theirs.value))
            gap = min(1.0, abs(mine.value - theirs.value) / scale) if scale else 0.0
            return round(0.5 + 0.5 * gap, 2)
    return 0.5


def _lost_on(winner: Scored, other: Scored) -> str:
    for mine, theirs in zip(winner.criteria, other.criteria, strict=True):
        if mine.value != theirs.value:
            return theirs.worse
    return "tied on every count; the name decided"


def _reason(winner: Scored, verdict: Verdict) -> str:
    sentence = f"Assigned to {winner.tech.name}: {_words([verdict.headline, *winner.facts])}"
    return f"{sentence} ({verdict.note})." if verdict.note else f"{sentence}."


def _words(parts: Iterable[str]) -> str:
    return ", ".join(part for part in parts if part)


def _evidence(
    label: str,
    ranked: list[Scored],
    excluded: tuple[tuple[str, str], ...],
    note: str,
) -> list[dict[str, str]]:
    detail = f"{label}; {note}" if note else label
    items = [{"kind": "dispatch", "label": "Dispatch policy", "detail": detail}]
    for other in ranked[1 : 1 + RUNNERS_UP_SHOWN]:
        lost = _lost_on(ranked[0], other)
        items.append(
            {
                "kind": "dispatch",
                "label": f"Runner-up: {other.tech.name}",
                "detail": f"{_words(other.facts)} — {lost}",
            }
        )
    if excluded:
        shown = "; ".join(f"{name}: {why}" for name, why in excluded[:5])
        more = f"; and {len(excluded) - 5} more" if len(excluded) > 5 else ""
        items.append({"kind": "dispatch", "label": "Left out", "detail": shown + more})
    return items


def _and(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _ago(delta: dt.timedelta) -> str:
    minutes = max(0, math.floor(delta.total_seconds() / 60))
    if minutes < 90:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


STRATEGY_HELP: dict[str, str] = {
    Strategy.ROUND_ROBIN: "whoever was assigned a ticket least recently (from the timeline)",
    Strategy.SKILLS: "whoever has most of the skills the ticket type needs, then the lightest load",
    Strategy.LOAD: "whoever has the least open work for their capacity",
    Strategy.AVAILABILITY: "whoever is on shift now (after the client's hours: on call), then "
    "the lightest load",
    Strategy.AFFINITY: "whoever worked most of the client's tickets in the last 90 days",
    Strategy.SLA: "for urgent work (P1/P2, or SLA due within 4 h) the least loaded technician "
    "with the type's skills; other work goes to the fallback",
    Strategy.LEARNED: "whoever resolved similar tickets (same type, else queue, else client) "
    "fastest without reopens or reassignments in the last 180 days",
    Strategy.MANUAL: "nobody: technicians pick tickets up themselves",
}


def policy_sentence(policy: DispatchPolicy) -> str:
    """What a policy does, in words, for the configuration page."""
    if policy.strategy == Strategy.MANUAL:
        return "Manual: dispatch proposes nobody; technicians pick tickets up themselves."
    parts = [f"{policy.get_strategy_display()}: {STRATEGY_HELP[policy.strategy]}."]
    rules = []
    if policy.require_skills:
        rules.append("only technicians with every skill the type needs")
    if policy.require_available:
        rules.append("only technicians at work now")
    if policy.respect_capacity:
        rules.append("technicians at capacity are left out unless everyone is")
    if rules:
        parts.append(_and(rules).capitalize() + ".")
    if policy.strategy not in DISPATCH_FALLBACKS:
        parts.append(f"With nothing to go on: {policy.get_fallback_display().lower()}.")
    return " ".join(parts)
