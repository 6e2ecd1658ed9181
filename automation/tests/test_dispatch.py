"""Dispatch: each strategy on a hand-built desk where the right technician is known, the
filters (scope, queue, skills, availability, capacity), the sentences, and the query count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.dispatch import (
    DispatchInput,
    DispatchOutcome,
    dispatch_decide_many,
    dispatch_outcomes,
    dispatch_proposal,
)
from automation.models import DispatchPolicy
from governance.models import Action
from governance.services import action_perform, action_propose
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import (
    Client,
    OnCallPeriod,
    Priority,
    Queue,
    Shift,
    Skill,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
)
from tickets.services import Actor, ticket_change, ticket_event_record

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# A Wednesday afternoon in London; Acme (UTC, 08:00–18:00 Mon–Fri) is open.
NOW = dt.datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
_serial = iter(range(10_000, 99_999))


@pytest.fixture
def desk(world: World) -> World:
    """The world with only technicians taking tickets: the manager and owner do not, and the
    world's insider is off today unless a test brings them in."""
    StaffMember.objects.filter(pk__in=[world.manager.pk, world.owner.pk]).update(
        takes_tickets=False
    )
    StaffMember.objects.filter(pk=world.tech_in.pk).update(takes_tickets=False)
    return world


def tech(
    name: str,
    clients: Sequence[Client] = (),
    *,
    all_clients: bool = False,
    skills: Sequence[str] = (),
    queues: Sequence[Queue] = (),
    zone: str = "UTC",
    capacity: int = 12,
    shifts: Sequence[tuple[int, str, str]] = (),
) -> StaffMember:
    staff = make_staff(
        name, StaffMember.Role.TECHNICIAN, clients=list(clients), all_clients=all_clients
    )
    staff.timezone, staff.capacity = zone, capacity
    staff.save(update_fields=["timezone", "capacity"])
    staff.skills.set([Skill.objects.get_or_create(name=skill)[0] for skill in skills])
    staff.queues.set(queues)
    for weekday, starts, ends in shifts:
        Shift.objects.create(
            staff=staff,
            weekday=weekday,
            starts=dt.time.fromisoformat(starts),
            ends=dt.time.fromisoformat(ends),
        )
    return staff


def ticket(client: Client | None, **fields: Any) -> Ticket:
    fields.setdefault("opened_at", NOW - dt.timedelta(hours=1))
    number = next(_serial)
    return make_ticket(client, summary=f"Ticket {number}", external_id=f"D-{number}", **fields)  # type: ignore[arg-type]


def give_open(staff: StaffMember, client: Client, count: int) -> None:
    for _ in range(count):
        ticket(client, assignee=staff, status=Ticket.Status.IN_PROGRESS)


def policy(queue: Queue | None = None, **fields: Any) -> DispatchPolicy:
    return DispatchPolicy.objects.create(queue=queue, **fields)


def inputs(*tickets: Ticket, **overrides: Any) -> list[DispatchInput]:
    loaded = Ticket.objects.select_related("client", "type", "queue").in_bulk(
        [t.pk for t in tickets]
    )
    return [
        DispatchInput(
            ticket=loaded[t.pk],
            queue_id=overrides.get("queue_id", loaded[t.pk].queue_id),
            type_id=overrides.get("type_id", loaded[t.pk].type_id),
            priority=overrides.get("priority", loaded[t.pk].priority),
        )
        for t in tickets
    ]


def outcome(one: Ticket, now: dt.datetime = NOW, **overrides: Any) -> DispatchOutcome:
    return dispatch_outcomes(inputs(one, **overrides), now=now)[one.pk]


def chosen(one: Ticket, now: dt.datetime = NOW, **overrides: Any) -> int | None:
    decision = outcome(one, now, **overrides).decision
    return decision.staff_id if decision else None


# --- who may be chosen -------------------------------------------------------------------


def test_it_never_proposes_a_technician_who_does_not_serve_the_client(desk: World) -> None:
    outsider = tech("olly", [desk.other_client])  # idle, but serves Globex only
    dana = tech("dana", [desk.client])
    give_open(dana, desk.client, 5)
    work = ticket(desk.client)
    assert chosen(work) == dana.id
    assert ("Olly", "does not serve Acme Dental") in outcome(work).excluded
    assert outsider.id not in {r.staff_id for r in outcome(work).ranking}


def test_all_client_staff_serve_every_client_and_tickets_without_one(desk: World) -> None:
    rover = tech("rover", all_clients=True)
    tech("dana", [desk.client])
    assert chosen(ticket(None)) == rover.id


def test_inactive_accounts_and_staff_who_take_no_tickets_are_left_out(desk: World) -> None:
    gone = tech("gone", [desk.client])
    gone.user.is_active = False
    gone.user.save()
    desk_only = tech("desk", [desk.client])
    desk_only.takes_tickets = False
    desk_only.save()
    work = ticket(desk.client)
    result = outcome(work)
    assert result.decision is None
    assert result.explanation == (
        "No one can be proposed: no technician who takes tickets serves Acme Dental."
    )
    assert dispatch_decide_many(inputs(work), now=NOW) == {work.pk: None}


def test_an_assigned_or_finished_ticket_is_left_alone_with_the_reason(desk: World) -> None:
    dana = tech("dana", [desk.client])
    assigned = ticket(desk.client, assignee=dana)
    done = ticket(desk.client, status=Ticket.Status.RESOLVED, resolved_at=NOW)
    assert outcome(assigned).explanation == (
        f"Not dispatched: ticket #{assigned.pk} is already assigned to Dana."
    )
    assert outcome(done).explanation == f"Not dispatched: ticket #{done.pk} is Resolved."
    assert outcome(done).decision is None


def test_only_members_of_the_decided_queue_are_considered(desk: World) -> None:
    network = Queue.objects.create(name="Network", slug="network")
    member = tech("nina", [desk.client], queues=[network])
    tech("dana", [desk.client])  # idle, but not in the network queue
    give_open(member, desk.client, 4)
    work = ticket(desk.client, queue=desk.queue)
    assert chosen(work, queue_id=network.id) == member.id
    # The world's L1 queue has no members: anyone serving the client may take it.
    assert chosen(work) != member.id


def test_a_queue_whose_members_do_not_serve_the_client_explains_itself(desk: World) -> None:
    network = Queue.objects.create(name="Network", slug="network")
    tech("nina", [desk.other_client], queues=[network])
    tech("dana", [desk.client])
    result = outcome(ticket(desk.client), queue_id=network.id)
    assert result.decision is None
    assert result.explanation == (
        "No one can be proposed: no member of the Network queue serves Acme Dental. "
        "Add technicians to the queue in the admin."
    )


def test_a_manual_queue_proposes_nobody(desk: World) -> None:
    tech("dana", [desk.client])
    policy(desk.queue, strategy="manual")
    result = outcome(ticket(desk.client, queue=desk.queue))
    assert result.decision is None and "dispatched by hand" in result.explanation


# --- load and capacity -------------------------------------------------------------------


def test_load_picks_the_least_loaded_for_their_capacity(desk: World) -> None:
    dana = tech("dana", [desk.client], capacity=10)
    sam = tech("sam", [desk.client], capacity=4)
    give_open(dana, desk.client, 3)  # 30 %
    give_open(sam, desk.client, 2)  # 50 %
    decision = outcome(ticket(desk.client)).decision
    assert decision is not None and decision.staff_id == dana.id
    assert decision.strategy == "load"
    assert decision.reason == "Assigned to Dana: 3 open tickets (capacity 10), no shifts recorded."
    assert decision.evidence[1] == {
        "kind": "dispatch",
        "label": "Runner-up: Sam",
        "detail": "2 open tickets (capacity 4), no shifts recorded — "
        "more open work for their capacity",
    }
    assert decision.confidence == round(0.5 + 0.5 * (0.5 - 0.3) / 0.5, 2)


def test_technicians_at_capacity_are_left_out_unless_everyone_is(desk: World) -> None:
    policy(strategy="round_robin")
    full = tech("fay", [desk.client], capacity=2)  # never assigned: first in the rotation
    sam = tech("sam", [desk.client], capacity=12)
    give_open(full, desk.client, 2)
    give_open(sam, desk.client, 6)
    work = ticket(desk.client)
    assert chosen(work) == sam.id
    assert ("Fay", "at capacity (2 of 2 open)") in outcome(work).excluded
    give_open(sam, desk.client, 6)  # now everyone is full: the rotation decides again
    assert chosen(work) == full.id


def test_a_batch_counts_its_own_decisions_as_open_work(desk: World) -> None:
    dana = tech("dana", [desk.client])
    sam = tech("sam", [desk.client])
    give_open(sam, desk.client, 1)
    batch = [ticket(desk.client) for _ in range(3)]
    decided = dispatch_decide_many(inputs(*batch), now=NOW)
    # Dana takes the first (0 vs 1 open), wins the tie at 1–1 by name, then Sam is lighter.
    assert [decided[t.pk].staff_id for t in batch] == [dana.id, dana.id, sam.id]  # type: ignore[union-attr]


# --- round robin -------------------------------------------------------------------------


def assigned_at(staff: StaffMember, when: dt.datetime, client: Client) -> None:
    """An assignment fact on the timeline, as ticket_change records one."""
    old = ticket(client, opened_at=when - dt.timedelta(minutes=5))
    ticket_event_record(
        ticket=old,
        kind=TicketEvent.Kind.ASSIGNMENT_CHANGED,
        actor_kind=TicketEvent.ActorKind.SYSTEM,
        new_value=str(staff.id),
        occurred_at=when,
    )


def test_round_robin_picks_whoever_was_assigned_least_recently(desk: World) -> None:
    policy(strategy="round_robin")
    dana, sam, lee = (tech(name, [desk.client]) for name in ("dana", "sam", "lee"))
    assigned_at(dana, NOW - dt.timedelta(hours=1), desk.client)
    assigned_at(sam, NOW - dt.timedelta(hours=5), desk.client)
    assigned_at(lee, NOW - dt.timedelta(hours=3), desk.client)
    work = ticket(desk.client)
    decision = outcome(work).decision
    assert decision is not None and decision.staff_id == sam.id
    assert decision.reason == (
        "Assigned to Sam: longest without a new ticket (last 5.0 h ago), 0 open tickets "
        "(capacity 12)."
    )
    assert decision.confidence == round(0.5 + 0.5 * 2 / 5, 2)
    # Idempotent: the same facts give the same answer (no cursor kept anywhere).
    assert chosen(work) == sam.id
    batch = [ticket(desk.client) for _ in range(4)]
    decided = dispatch_decide_many(inputs(*batch), now=NOW)
    assert [decided[t.pk].staff_id for t in batch] == [sam.id, lee.id, dana.id, sam.id]  # type: ignore[union-attr]


def test_round_robin_counts_executed_assignments_through_the_gate(desk: World) -> None:
    policy(strategy="round_robin")
    dana, sam = tech("dana", [desk.client]), tech("sam", [desk.client])
    first = ticket(desk.client)
    assert chosen(first) == dana.id  # neither assigned yet: the name decides
    ticket_change(
        ticket_id=first.pk,
        actor=Actor(kind=TicketEvent.ActorKind.HUMAN, staff=desk.manager),
        changes={"assignee": dana.id},
    )
    assert chosen(ticket(desk.client), now=dt.datetime.now(UTC)) == sam.id


# --- skills ------------------------------------------------------------------------------


@pytest.fixture
def exchange_type(desk: World) -> TicketType:
    kind = TicketType.objects.create(name="Mailbox", slug="mailbox")
    kind.skills.set([Skill.objects.create(name="Exchange"), Skill.objects.create(name="DNS")])
    return kind


def test_skills_prefers_who_has_more_of_the_types_skills(
    desk: World, exchange_type: TicketType
) -> None:
    policy(strategy="skills")
    both = tech("dana", [desk.client], skills=["Exchange", "DNS"])
    one = tech("sam", [desk.client], skills=["Exchange"])
    tech("lee", [desk.client])
    give_open(both, desk.client, 3)
    work = ticket(desk.client, type=exchange_type)
    decision = outcome(work).decision
    assert decision is not None and decision.staff_id == both.id
    assert decision.reason == (
        "Assigned to Dana: has the DNS and Exchange skills, 3 open tickets (capacity 12), "
        "no shifts recorded."
    )
    assert "has fewer of the needed skills" in decision.evidence[1]["detail"]
    both.skills.clear()
    assert chosen(work) == one.id


def test_required_skills_leave_nobody_rather_than_guess(
    desk: World, exchange_type: TicketType
) -> None:
    policy(strategy="load", require_skills=True)
    tech("sam", [desk.client], skills=["Exchange"])
    result = outcome(ticket(desk.client, type=exchange_type))
    assert result.decision is None
    assert result.explanation == (
        "No one can be proposed: nobody eligible has the DNS and Exchange skills this type needs."
    )
    assert ("Sam", "lacks the DNS skill") in result.excluded


def test_skills_on_a_type_without_skills_falls_back_and_says_so(desk: World) -> None:
    policy(strategy="skills", fallback="load")
    dana = tech("dana", [desk.client])
    decision = outcome(ticket(desk.client, type=desk.ticket_type)).decision
    assert decision is not None and decision.staff_id == dana.id
    assert decision.strategy == "load"
    assert decision.reason.endswith(
        "(Password reset needs no particular skills, so least loaded decided)."
    )


# --- availability, time zones, on call ---------------------------------------------------


@pytest.fixture
def new_york(desk: World) -> Client:
    client = desk.client
    client.timezone = "America/New_York"
    client.save()
    return client


def test_availability_reads_shifts_in_each_technicians_own_time_zone(
    desk: World, new_york: Client
) -> None:
    policy(strategy="availability")
    # 20:00 UTC on Wednesday is 15:00 in New York and 20:00 in London.
    evening = dt.datetime(2026, 3, 4, 20, 0, tzinfo=UTC)
    nyc = tech("nick", [new_york], zone="America/New_York", shifts=[(3, "09:00", "17:00")])
    ldn = tech("lina", [new_york], zone="Europe/London", shifts=[(3, "09:00", "17:00")])
    give_open(nyc, new_york, 5)
    work = ticket(new_york)
    decision = outcome(work, evening).decision
    assert decision is not None and decision.staff_id == nyc.id
    assert decision.reason == "Assigned to Nick: on shift, 5 open tickets (capacity 12)."
    # At 14:00 UTC both are on shift (09:00 and 14:00 local): the lighter load wins.
    assert chosen(work, NOW) == ldn.id


def test_after_the_clients_hours_only_on_call_technicians_are_available(
    desk: World, new_york: Client
) -> None:
    policy(strategy="load", require_available=True)
    # 03:00 UTC Thursday = 22:00 Wednesday in New York: Acme is closed.
    night = dt.datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
    # Sydney: 14:00 Thursday local, on shift — but the client is closed, so only on call counts.
    syd = tech("sid", [new_york], zone="Australia/Sydney", shifts=[(4, "09:00", "17:00")])
    pager = tech("paige", [new_york])
    give_open(pager, new_york, 7)
    OnCallPeriod.objects.create(
        staff=pager, starts_at=night - dt.timedelta(hours=6), ends_at=night + dt.timedelta(hours=6)
    )
    work = ticket(new_york)
    decision = outcome(work, night).decision
    assert decision is not None and decision.staff_id == pager.id
    assert "on call" in decision.reason
    assert ("Sid", "after the client's hours and not on call") in outcome(work, night).excluded
    OnCallPeriod.objects.all().delete()
    result = outcome(work, night)
    assert result.decision is None
    assert result.explanation == (
        "No one can be proposed: nobody eligible is on call now. "
        "The policy requires technicians at work."
    )
    assert syd.id not in {r.staff_id for r in result.ranking}


# --- affinity ----------------------------------------------------------------------------


def test_affinity_prefers_who_worked_the_clients_tickets_recently(desk: World) -> None:
    policy(strategy="affinity")
    dana, sam = tech("dana", [desk.client]), tech("sam", [desk.client])
    for _ in range(3):
        ticket(desk.client, assignee=sam, status="closed", opened_at=NOW - dt.timedelta(days=20))
    ticket(desk.client, assignee=dana, status="closed", opened_at=NOW - dt.timedelta(days=10))
    for _ in range(5):  # old history does not count
        ticket(desk.client, assignee=dana, status="closed", opened_at=NOW - dt.timedelta(days=120))
    decision = outcome(ticket(desk.client)).decision
    assert decision is not None and decision.staff_id == sam.id
    assert decision.reason.startswith("Assigned to Sam: worked 3 Acme Dental tickets in 90 days")
    assert decision.confidence == round(0.5 + 0.5 * 2 / 3, 2)


def test_affinity_with_no_history_falls_back(desk: World) -> None:
    policy(strategy="affinity", fallback="round_robin")
    tech("dana", [desk.client])
    decision = outcome(ticket(desk.client)).decision
    assert decision is not None and decision.strategy == "round_robin"
    assert "no one eligible worked Acme Dental tickets in the last 90 days" in decision.reason


# --- SLA-aware ---------------------------------------------------------------------------


def test_urgent_work_goes_to_the_least_loaded_qualified_technician(
    desk: World, exchange_type: TicketType
) -> None:
    policy(strategy="sla", fallback="round_robin")
    expert = tech("dana", [desk.client], skills=["Exchange", "DNS"])
    novice = tech("sam", [desk.client])  # lighter, but lacks the skills
    give_open(expert, desk.client, 4)
    assigned_at(novice, NOW - dt.timedelta(days=2), desk.client)
    assigned_at(expert, NOW - dt.timedelta(minutes=5), desk.client)
    work = ticket(desk.client, type=exchange_type, priority=Priority.CRITICAL)
    decision = outcome(work).decision
    assert decision is not None and decision.staff_id == expert.id
    assert decision.strategy == "sla"
    assert decision.reason.startswith(
        "Assigned to Dana: urgent (P1 Critical), so the least loaded qualified technician, "
        "4 open tickets (capacity 12), has the DNS and Exchange skills"
    )
    # Not urgent: the rotation (fallback) decides, and the sentence says why.
    calm = outcome(work, priority=Priority.LOW).decision
    assert calm is not None and calm.staff_id == novice.id and calm.strategy == "round_robin"
    assert calm.reason.endswith("(not urgent, so round robin decided).")


def test_an_sla_due_soon_makes_a_medium_ticket_urgent(desk: World) -> None:
    policy(strategy="sla", fallback="round_robin")
    tech("dana", [desk.client])
    work = ticket(desk.client, sla_resolution_due_at=NOW + dt.timedelta(minutes=40))
    decision = outcome(work, priority=Priority.MEDIUM).decision
    assert decision is not None and decision.strategy == "sla"
    assert "urgent (SLA due in 40 min)" in decision.reason


# --- learned -----------------------------------------------------------------------------


def resolved(staff: StaffMember, kind: TicketType, hours: float, *, reopened: bool = False) -> None:
    opened = NOW - dt.timedelta(days=10)
    done = ticket(
        desk_client(),
        type=kind,
        assignee=staff,
        status=Ticket.Status.CLOSED,
        opened_at=opened,
        resolved_at=opened + dt.timedelta(hours=hours),
    )
    ticket_event_record(  # closing a resolved ticket is not a reopen
        ticket=done,
        kind=TicketEvent.Kind.STATUS_CHANGED,
        actor_kind=TicketEvent.ActorKind.SYSTEM,
        old_value="resolved",
        new_value="closed",
        occurred_at=opened + dt.timedelta(hours=hours + 0.5),
    )
    if reopened:
        ticket_event_record(
            ticket=done,
            kind=TicketEvent.Kind.STATUS_CHANGED,
            actor_kind=TicketEvent.ActorKind.REQUESTER,
            old_value="resolved",
            new_value="in_progress",
            occurred_at=opened + dt.timedelta(hours=hours + 1),
        )


def desk_client() -> Client:
    return Client.objects.get(identifier="acme-dental")


def test_learned_prefers_who_resolved_similar_tickets_fast_and_for_good(desk: World) -> None:
    policy(strategy="learned")
    dana, sam, newcomer = (tech(n, [desk.client]) for n in ("dana", "sam", "nat"))
    for hours in (1, 1.5, 2, 2.5, 3, 3.5):
        resolved(dana, desk.ticket_type, hours)
    for hours in (6, 8, 9, 10):
        resolved(sam, desk.ticket_type, hours, reopened=hours > 8)
    give_open(dana, desk.client, 3)  # busier, but the history decides
    decision = outcome(ticket(desk.client, type=desk.ticket_type)).decision
    assert decision is not None and decision.staff_id == dana.id
    assert decision.strategy == "learned"
    assert decision.reason.startswith(
        "Assigned to Dana: resolved 6 similar tickets, median 2.2 h, none reopened (learned score"
    )
    runner_up = decision.evidence[1]
    assert runner_up["label"] == "Runner-up: Nat"  # no history: the desk average beats Sam
    assert "no similar tickets resolved yet" in runner_up["detail"]
    assert "Sam" in decision.evidence[2]["label"] and "2 reopened" in decision.evidence[2]["detail"]
    assert newcomer.id != sam.id


def test_learned_with_no_similar_history_falls_back_and_says_so(desk: World) -> None:
    policy(strategy="learned", fallback="load")
    dana = tech("dana", [desk.client])
    other_type = TicketType.objects.create(name="Printer", slug="printer")
    resolved(dana, other_type, 2)
    decision = outcome(ticket(desk.client, type=desk.ticket_type)).decision
    assert decision is not None and decision.strategy == "load"
    assert "no one eligible has resolved similar tickets in the last 180 days" in decision.reason


# --- batching, proposals, the timeline ---------------------------------------------------


def _busy_desk(world: World) -> None:
    network = Queue.objects.create(name="Network", slug="network")
    policy(strategy="learned", fallback="round_robin")
    policy(world.queue, strategy="affinity", require_skills=True, require_available=True)
    policy(network, strategy="sla")
    world.ticket_type.skills.set([Skill.objects.create(name="AD")])
    for number in range(6):
        staff = tech(
            f"tech{number}",
            [world.client],
            skills=["AD"],
            queues=[world.queue, network],
            shifts=[(3, "08:00", "18:00")],
        )
        give_open(staff, world.client, number)
        assigned_at(staff, NOW - dt.timedelta(hours=number + 1), world.client)
        resolved(staff, world.ticket_type, number + 1)
        OnCallPeriod.objects.create(staff=staff, starts_at=NOW, ends_at=NOW + dt.timedelta(days=1))


def _batch(world: World, count: int) -> list[DispatchInput]:
    queues = [world.queue.id, Queue.objects.get(slug="network").id, None]
    made = inputs(*[ticket(world.client, type=world.ticket_type) for _ in range(count)])
    return [
        DispatchInput(item.ticket, queue_id=queues[i % 3], type_id=item.type_id, priority=1 + i % 4)
        for i, item in enumerate(made)
    ]


def test_a_batch_costs_the_same_queries_for_one_ticket_or_fifty(desk: World) -> None:
    _busy_desk(desk)
    one, fifty = _batch(desk, 1), _batch(desk, 50)
    with CaptureQueriesContext(connection) as single:
        first = dispatch_decide_many(one, now=NOW)
    with CaptureQueriesContext(connection) as many:
        decided = dispatch_decide_many(fifty, now=NOW)
    assert len(many) == len(single) <= 16
    assert all(decision is not None for decision in [*first.values(), *decided.values()])
    assert {d.strategy for d in decided.values() if d} >= {"affinity", "sla", "learned"}


def test_a_decision_becomes_an_assign_proposal_with_its_reason(desk: World) -> None:
    dana = tech("dana", [desk.client])
    work = ticket(desk.client)
    decision = dispatch_decide_many(inputs(work), now=NOW)[work.pk]
    assert decision is not None
    action = action_propose(ticket=work, proposal=dispatch_proposal(decision))
    assert action.kind == "assign" and action.params == {"assignee": dana.id}
    assert action.rationale == decision.reason
    assert action.evidence[0]["label"] == "Dispatch policy"
    again = action_propose(ticket=work, proposal=dispatch_proposal(decision))
    assert again.pk == action.pk  # the same answer proposes nothing new


def test_a_reassignment_through_the_gate_shows_old_and_new_technician(desk: World) -> None:
    dana, sam = tech("dana", [desk.client]), tech("sam", [desk.client])
    work = ticket(desk.client, assignee=dana)
    action = action_perform(
        ticket=work, staff=desk.manager, kind="assign", params={"assignee": sam.id}
    )
    assert action.status in (Action.Status.SUCCEEDED, Action.Status.VERIFIED)
    event = TicketEvent.objects.get(ticket=work, kind=TicketEvent.Kind.ASSIGNMENT_CHANGED)
    assert (event.old_value, event.new_value) == (str(dana.id), str(sam.id))
    assert (event.data["old_label"], event.data["new_label"]) == ("Dana", "Sam")
    page = desk.login(desk.manager).get(reverse("ticket_detail", args=[work.pk]))
    assert "Assignment changed: Dana → Sam" in page.content.decode()


def test_the_gate_refuses_to_assign_a_technician_outside_the_client(desk: World) -> None:
    from django.core.exceptions import ValidationError

    outsider = tech("olly", [desk.other_client])
    with pytest.raises(ValidationError, match="does not serve"):
        action_perform(
            ticket=ticket(desk.client),
            staff=desk.manager,
            kind="assign",
            params={"assignee": outsider.id},
        )


@pytest.mark.django_db
def test_try_it_ranks_an_assigned_ticket_without_counting_it_against_its_assignee(
    desk: World,
) -> None:
    dana = tech("dana", [desk.client], capacity=1)
    sam = tech("sam", [desk.client], capacity=1)
    give_open(sam, desk.client, 0)
    Ticket.objects.filter(pk=desk.ticket.pk).update(assignee=dana)
    [ranked] = dispatch_outcomes(inputs(desk.ticket), now=NOW, preview=True).values()
    # Dana's only open ticket is this one: as if unassigned, she is not at capacity.
    assert ranked.decision is not None
    assert {dana.id, sam.id} <= {r.staff_id for r in ranked.ranking}
