"""Demo governance data on top of the demo MSP: starting policies, eight weeks of decided
actions (so the weekly review and the autonomy ladder have something to show), and pending
proposals in the approval queue.

Triage and the agent are not built yet, so these proposals are labelled seed data: the
proposer is "demo-seed". Deterministic for a seed; a second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, When
from django.utils import timezone

from governance import gate
from governance.kinds import KINDS, Mode
from governance.models import Action, AgentPolicy, PolicyRevision, PolicyRule
from tickets.models import Priority, Queue, StaffMember, Ticket, TicketEvent, TicketType

PROPOSER = "demo-seed"
REJECT_REASONS = (
    "Wrong queue: this is a network issue.",
    "Priority is too high; only one user affected.",
    "The requester already replied; not needed.",
    "Assigned to someone on leave.",
    "Duplicate of another ticket.",
)
FIELD_KINDS = ("set_priority", "set_queue", "assign", "set_type")


@dataclass
class GovernanceSeedReport:
    policies: int = 0
    history: int = 0
    pending: int = 0

    def summary(self) -> str:
        return (
            f"{self.policies} policies, {self.history:,} decided actions, "
            f"{self.pending:,} proposals awaiting approval"
        )


def seed_governance_demo(
    *,
    seed: int = 7,
    pending: int = 60,
    history_tickets: int = 1_500,
    client_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> GovernanceSeedReport:
    """Policies, history and pending proposals; skipped when demo-seed actions exist."""
    report = GovernanceSeedReport()
    if Action.objects.filter(proposer_name=PROPOSER).exists():
        return report
    rng = random.Random(seed)
    moment = now or timezone.now()
    with transaction.atomic():
        report.policies = _policies()
        catalogue = _Catalogue.load()
        report.history = _history(rng, catalogue, history_tickets, client_ids, moment)
        report.pending = _pending(rng, catalogue, pending, client_ids, moment)
    return report


def _policies() -> int:
    """A careful start: triage changes need approval on the quick-win types, notes are
    autonomous, printing runs in shadow mode; everything else keeps the safe defaults."""
    created = 0
    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    for ticket_type in TicketType.objects.filter(is_quick_win=True):
        policy, made = AgentPolicy.objects.get_or_create(ticket_type=ticket_type, client=None)
        if not made:
            continue
        created += 1
        for kind in (*FIELD_KINDS, "reply"):
            PolicyRule.objects.create(policy=policy, action_kind=kind, mode=Mode.APPROVAL)
        PolicyRule.objects.create(
            policy=policy, action_kind="add_note", mode=Mode.AUTONOMOUS, min_confidence=0.8
        )
        _first_revision(policy, manager)
    printing = TicketType.objects.filter(name="Printing").first()
    if printing is not None:
        policy, made = AgentPolicy.objects.get_or_create(
            ticket_type=printing, client=None, defaults={"shadow_mode": True}
        )
        if made:
            created += 1
            for kind in FIELD_KINDS:
                PolicyRule.objects.create(policy=policy, action_kind=kind, mode=Mode.AUTONOMOUS)
            _first_revision(policy, manager)
    return created


def _first_revision(policy: AgentPolicy, manager: StaffMember | None) -> None:
    PolicyRevision.objects.create(
        policy=policy,
        version=policy.version,
        changed_by=manager,
        changed_at=timezone.now(),
        summary="Created by the demo seed.",
        changes=[["policy", "", "created"]],
    )


@dataclass
class _Catalogue:
    queues: list[int]
    types: list[int]
    staff_by_client: dict[int, list[int]]
    all_client_staff: list[int]
    deciders: dict[int, list[int]]

    @classmethod
    def load(cls) -> _Catalogue:
        takers = StaffMember.objects.filter(takes_tickets=True)
        by_client: dict[int, list[int]] = {}
        for staff_id, client_id in takers.filter(all_clients=False).values_list("id", "clients"):
            if client_id is not None:
                by_client.setdefault(client_id, []).append(staff_id)
        deciders = StaffMember.objects.filter(
            role__in=(StaffMember.Role.TECHNICIAN, StaffMember.Role.MANAGER)
        )
        decider_map: dict[int, list[int]] = {}
        for staff_id, client_id in deciders.values_list("id", "clients"):
            if client_id is not None:
                decider_map.setdefault(client_id, []).append(staff_id)
        return cls(
            queues=list(Queue.objects.filter(is_active=True).values_list("id", flat=True)),
            types=list(TicketType.objects.filter(is_active=True).values_list("id", flat=True)),
            staff_by_client=by_client,
            all_client_staff=list(takers.filter(all_clients=True).values_list("id", flat=True)),
            deciders=decider_map,
        )

    def staff_for(self, client_id: int | None) -> list[int]:
        return self.staff_by_client.get(client_id or 0, []) + self.all_client_staff


def _params(rng: random.Random, kind: str, ticket: Ticket, cat: _Catalogue) -> dict[str, object]:
    if kind == "set_priority":
        return {"priority": rng.choice(Priority.values)}
    if kind == "set_queue":
        return {"queue": rng.choice(cat.queues)}
    if kind == "assign":
        return {"assignee": rng.choice(cat.staff_for(ticket.client_id) or cat.all_client_staff)}
    if kind == "set_type":
        return {"ticket_type": ticket.type_id or rng.choice(cat.types)}
    return {"body": "Thanks — we have your request and are looking at it now."}


def _confidence(rng: random.Random, quick_win: bool) -> float:
    return round(min(0.999, max(0.3, rng.betavariate(18 if quick_win else 6, 2))), 3)


def _history(
    rng: random.Random,
    cat: _Catalogue,
    count: int,
    client_ids: Sequence[int] | None,
    now: dt.datetime,
) -> int:
    """Decided actions on tickets resolved in the last eight weeks. Quick-win types are
    approved as proposed far more often, so the ladder has a promotion to recommend."""
    tickets = Ticket.objects.filter(
        resolved_at__gte=now - dt.timedelta(weeks=8), resolved_at__lt=now, client__isnull=False
    ).select_related("type")
    if client_ids:
        tickets = tickets.filter(client_id__in=client_ids)
    chosen = list(tickets.order_by("id")[: count * 3])
    rng.shuffle(chosen)
    actions, events = [], []
    for ticket in chosen[:count]:
        quick = bool(ticket.type and ticket.type.is_quick_win)
        kind = rng.choice(("set_priority", "set_queue", "assign") if quick else FIELD_KINDS)
        action, steps = _decided(rng, cat, ticket, kind, quick)
        actions.append(action)
        events.append(steps)
    created = Action.objects.bulk_create(actions, batch_size=500)
    TicketEvent.objects.bulk_create(
        [
            event
            for action, steps in zip(created, events, strict=True)
            for event in _bind(action, steps)
        ],
        batch_size=1000,
    )
    return len(created)


def _decided(
    rng: random.Random, cat: _Catalogue, ticket: Ticket, kind: str, quick: bool
) -> tuple[Action, list[tuple[str, dt.datetime, int | None]]]:
    proposed_at = ticket.opened_at + dt.timedelta(minutes=rng.randint(1, 20))
    decided_at = proposed_at + dt.timedelta(minutes=rng.randint(2, 90))
    deciders = cat.deciders.get(ticket.client_id or 0) or cat.all_client_staff
    decider = rng.choice(deciders)
    params = _params(rng, kind, ticket, cat)
    roll = rng.random()
    approve_share = 0.97 if quick else 0.72
    action = Action(
        ticket=ticket,
        client_id=ticket.client_id,
        kind=kind,
        params=params,
        proposer_kind=Action.Proposer.MODEL,
        proposer_name=PROPOSER,
        model_version="demo",
        confidence=_confidence(rng, quick),
        rationale="Seed data: stands in for the triage model until it is trained.",
        evidence=[{"label": "Seed data", "detail": "Generated for the demo."}],
        status_reason="Needs approval.",
        ticket_fingerprint="",
        created_at=proposed_at,
        expires_at=proposed_at + dt.timedelta(hours=72),
        decided_by_id=decider,
        decided_at=decided_at,
    )
    steps: list[tuple[str, dt.datetime, int | None]] = [("proposed", proposed_at, None)]
    if roll < approve_share:
        action.status = Action.Status.VERIFIED
        action.started_at = action.finished_at = decided_at
        steps += [("approved", decided_at, decider), ("verified", decided_at, None)]
    elif roll < approve_share + 0.12:
        action.status = Action.Status.VERIFIED
        action.original_params = dict(params)
        action.params = _params(rng, kind, ticket, cat)
        action.started_at = action.finished_at = decided_at
        steps += [("edited", decided_at, decider), ("verified", decided_at, None)]
    else:
        action.status = Action.Status.REJECTED
        action.rejection_reason = rng.choice(REJECT_REASONS)
        steps += [("rejected", decided_at, decider)]
    return action, steps


def _bind(action: Action, steps: list[tuple[str, dt.datetime, int | None]]) -> list[TicketEvent]:
    label = KINDS[action.kind].label
    return [
        TicketEvent(
            ticket_id=action.ticket_id,
            kind=TicketEvent.Kind.ACTION,
            occurred_at=when,
            actor_kind=TicketEvent.ActorKind.HUMAN if staff else TicketEvent.ActorKind.MODEL,
            actor_staff_id=staff,
            actor_name="" if staff else f"Model “{PROPOSER}” demo",
            new_value=step,
            body=f"{label}: {step}.",
            data={"action_id": action.id, "kind": action.kind, "step": step},
        )
        for step, when, staff in steps
    ]


def _pending(
    rng: random.Random,
    cat: _Catalogue,
    count: int,
    client_ids: Sequence[int] | None,
    now: dt.datetime,
) -> int:
    """Proposals awaiting approval on open tickets, through the same fingerprint the gate
    checks, so approving one in the demo really executes."""
    # Only where the demo policies ask for approval (the quick-win types): elsewhere the
    # built-in default is "suggest only", and the gate would rightly block an approval.
    tickets = Ticket.objects.filter(
        client__isnull=False, agent_hold__isnull=True, type__is_quick_win=True
    )
    if client_ids:
        tickets = tickets.filter(client_id__in=client_ids)
    # Open tickets first, newest first; a large count spills onto recently closed ones.
    is_open = Case(When(status__in=Ticket.OPEN_STATUSES, then=0), default=1)
    chosen = list(tickets.select_related("type").order_by(is_open, "-opened_at")[:count])
    actions = []
    for index, ticket in enumerate(chosen):
        quick = bool(ticket.type and ticket.type.is_quick_win)
        kind = FIELD_KINDS[index % 3] if index % 5 else "set_priority"
        created = now - dt.timedelta(minutes=rng.randint(1, 240))
        actions.append(
            Action(
                ticket=ticket,
                client_id=ticket.client_id,
                kind=kind,
                params=_params(rng, kind, ticket, cat),
                proposer_kind=Action.Proposer.MODEL,
                proposer_name=PROPOSER,
                model_version="demo",
                confidence=_confidence(rng, quick),
                rationale="Seed data: stands in for the triage model until it is trained.",
                evidence=[
                    {"label": "Seed data", "detail": "Generated for the demo.", "score": None}
                ],
                status=Action.Status.PROPOSED,
                status_reason="Needs approval (demo policy).",
                ticket_fingerprint=gate.ticket_fingerprint(ticket, kind),
                created_at=created,
                expires_at=now + dt.timedelta(hours=72),
            )
        )
    created_actions = Action.objects.bulk_create(actions, batch_size=1000)
    TicketEvent.objects.bulk_create(
        [
            event
            for action in created_actions
            for event in _bind(action, [("proposed", action.created_at, None)])
        ],
        batch_size=1000,
    )
    return len(created_actions)
