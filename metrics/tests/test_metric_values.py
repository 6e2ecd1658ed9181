"""Every metric in the catalogue over one hand-built week whose right answers are known, and the
same numbers on the owner page, in the CSV and in the weekly report (real PostgreSQL).

The week is Monday 12 – Sunday 18 October 2026 (UTC). Ten tickets are resolved in it; the
table below is what each one's timeline says, and every expected figure in this module is
worked out from it by hand.

    ticket client type     queue tech     open→first resolution    wall  bus  1st reply  path
    t1     Acme   password l1    tech_in  Mon 09:00 → Mon 10:00     1    1    10 min    agent
    t2     Acme   password l1    tech_in  Mon 10:00 → Mon 11:00     1    1     5 min    approval
    t3     Acme   password l1    tech_in  Tue 08:00 → Tue 12:00     4    4    20 min    human
    t4     Acme   printer  l2    tech_in  Tue 09:00 → Wed 09:00    24   10    40 min    human
    t5     Acme   printer  l2    tech_in  Wed 14:00 → Wed 17:00     3    3     —        agent
    t6     Acme   password l1    tech_in  Fri 16:00 → Sat 10:00    18    2    15 min    human
    t7     Globex password l1    tech_out Mon 13:00 → Mon 15:00     2    2    30 min    human
    t8     Globex printer  l2    tech_out Thu 10:00 → Thu 11:00     1    1     2 min    agent
    t9     Globex password l2    manager  Thu 17:00 → Fri 19:00    26   11    30 min    human
    t10    Globex printer  l2    tech_out Sat 09:00 → Sat 09:15  0.25    0     —        agent

    ticket reassign reopen7d after-hrs SLA res  SLA resp minutes       labour  LLM   CSAT NPS
    t1     0        no       no        met      met      —              0      0.05  5    10
    t2     0        no       no        met      —        —              0      0.03  4    9
    t3     0        no       no        missed   met      30 tech_in    30.00   —     3    6
    t4     1        no       no        —        —        60 tech_in    60.00   —     —    —
    t5     0        no       no        —        —        —              0      0.02  5    —
    t6     0        yes      yes (Sat) —        —        —              0      0.05  —    —
    t7     0        no       no        missed   missed   45 tech_out   67.50   —     2    3
    t8     0        no       no        met      —        —              0      0.10  4    9
    t9     2        no       yes 19:00 —        —        90 out+30 mgr 195.00   —     —    —
    t10    0        no       yes (Sat) —        —        —              0      0.01  —    —

Hourly costs: tech_in $60, tech_out $90, manager $120. t6 was resolved by the agent on
Saturday, reopened by its requester on Monday 19th and re-resolved by tech_in (a human touch).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client as HttpClient

from automation.models import LlmCall
from metrics.definitions import CATALOGUE, METRICS
from metrics.facts import facts_rebuild, facts_refresh_all
from metrics.models import Baseline, Path, TicketFact
from metrics.reports import figure_row, weekly_report_generate
from metrics.selectors import (
    FactFilter,
    Figure,
    drilldown,
    figures,
    figures_by,
    hours_reclaimed,
    margin_by_contract,
    trend,
)
from metrics.services import baseline_freeze
from metrics.tests.timeline import event
from tests.fixtures import World
from tickets.models import (
    Client,
    Contract,
    CsatResponse,
    Queue,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
    TimeEntry,
)

Kind = TicketEvent.Kind
Actor = TicketEvent.ActorKind
UTC = dt.UTC

MONDAY = dt.date(2026, 10, 12)
NEXT_MONDAY = dt.date(2026, 10, 19)
WEEK = FactFilter(start=MONDAY, end=NEXT_MONDAY)
QUERY = {"period": "custom", "start": "2026-10-12", "end": "2026-10-18"}

_numbers = itertools.count(1)


def day(offset: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """`offset` days after Monday 12 October 2026, in UTC."""
    return dt.datetime(2026, 10, 12, hour, minute, second, tzinfo=UTC) + dt.timedelta(days=offset)


def on(date: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, hour, minute, second, tzinfo=UTC)


MON, TUE, WED, THU, FRI, SAT = range(6)


# --- Building timelines -----------------------------------------------------------------------


def ticket_make(
    client: Client,
    opened_at: dt.datetime,
    *,
    ticket_type: TicketType,
    queue: Queue,
    assignee: StaffMember | None,
    contract: Contract | None = None,
    **fields: Any,
) -> Ticket:
    ticket = Ticket.objects.create(
        source=Ticket.Source.API,
        external_id=f"M-{next(_numbers)}",
        summary="Hand-built timeline",
        client=client,
        type=ticket_type,
        queue=queue,
        assignee=assignee,
        contract=contract,
        opened_at=opened_at,
        **fields,
    )
    event(ticket, Kind.CREATED, opened_at)
    return ticket


def reply(ticket: Ticket, at: dt.datetime, staff: StaffMember | None = None) -> None:
    """A reply to the requester: by `staff`, else by the agent."""
    actor = Actor.HUMAN if staff else Actor.AGENT
    event(ticket, Kind.REPLY, at, actor=actor, staff=staff)


def resolve(
    ticket: Ticket,
    at: dt.datetime,
    staff: StaffMember | None = None,
    *,
    old: str = Ticket.Status.IN_PROGRESS,
) -> None:
    """Resolved by `staff`, else by the agent."""
    actor = Actor.HUMAN if staff else Actor.AGENT
    event(ticket, Kind.STATUS_CHANGED, at, actor=actor, staff=staff, old=old, new="resolved")
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED, resolved_at=at)


def log_time(
    ticket: Ticket, staff: StaffMember, at: dt.datetime, minutes: int, *, billable: bool = True
) -> None:
    TimeEntry.objects.create(
        ticket=ticket, staff=staff, started_at=at, minutes=minutes, billable=billable
    )


def llm_spend(ticket: Ticket, at: dt.datetime, cost: str) -> None:
    LlmCall.objects.create(
        ticket=ticket,
        purpose="triage",
        model="test-model",
        cost=Decimal(cost),
        latency_ms=100,
        outcome=LlmCall.Outcome.OK,
        created_at=at,
    )


def answer(ticket: Ticket, at: dt.datetime, score: int, nps: int | None = None) -> None:
    CsatResponse.objects.create(ticket=ticket, score=score, nps=nps, responded_at=at)


def assign(ticket: Ticket, at: dt.datetime, old: StaffMember | None, new: StaffMember) -> None:
    event(ticket, Kind.ASSIGNMENT_CHANGED, at, old=str(old.pk) if old else "", new=str(new.pk))


# --- The week ---------------------------------------------------------------------------------


@dataclass
class Desk:
    world: World
    password: TicketType
    printer: TicketType
    l1: Queue
    l2: Queue
    t: dict[str, Ticket]
    contracts: dict[str, Contract]

    @property
    def acme(self) -> Client:
        return self.world.client

    @property
    def globex(self) -> Client:
        return self.world.other_client


@pytest.fixture(autouse=True)
def _utc(settings: Any) -> None:
    """Periods are local dates in the MSP's time zone; these tests fix it to UTC."""
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def desk(world: World) -> Desk:
    w = world
    for staff, cost in ((w.tech_in, "60"), (w.tech_out, "90"), (w.manager, "120")):
        staff.hourly_cost = Decimal(cost)
        staff.save(update_fields=["hourly_cost"])
    password, printer = w.ticket_type, TicketType.objects.create(name="Printer", slug="printer")
    l1, l2 = w.queue, Queue.objects.create(name="Service Desk L2", slug="l2")

    # Contracts: $3,043.75 a month is $100 a day at 30.4375 days a month; $608.75 is $20.
    managed = w.contract
    managed.monthly_revenue = Decimal("3043.75")
    managed.save(update_fields=["monthly_revenue"])
    project = Contract.objects.create(
        client=w.client,
        name="Project",
        kind=Contract.Kind.MANAGED,
        monthly_revenue=Decimal("1000"),
        starts_on=dt.date(2026, 10, 15),  # Thursday: in force 4 of the 7 days
    )
    time_and_materials = Contract.objects.create(
        client=w.other_client,
        name="T&M",
        kind=Contract.Kind.TIME_AND_MATERIALS,
        monthly_revenue=Decimal("608.75"),
        hourly_rate=Decimal("150"),
        starts_on=dt.date(2026, 9, 1),
    )
    old_block = Contract.objects.create(
        client=w.other_client,
        name="Old block",
        kind=Contract.Kind.BLOCK_HOURS,
        monthly_revenue=Decimal("608.75"),
        block_hours=Decimal("10"),
        starts_on=dt.date(2026, 6, 1),
        ends_on=dt.date(2026, 10, 13),  # Tuesday: in force 2 of the 7 days
    )
    Contract.objects.create(
        client=w.other_client,
        name="Expired",
        kind=Contract.Kind.MANAGED,
        monthly_revenue=Decimal("9999"),
        starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2026, 10, 11),  # ended the day before the week
    )

    acme: dict[str, Any] = {
        "ticket_type": password,
        "queue": l1,
        "assignee": w.tech_in,
        "contract": managed,
    }
    t: dict[str, Ticket] = {}

    t["t1"] = ticket_make(
        w.client,
        day(MON, 9),
        **acme,
        sla_response_due_at=day(MON, 9, 30),
        sla_resolution_due_at=day(MON, 13),
    )
    reply(t["t1"], day(MON, 9, 10))
    resolve(t["t1"], day(MON, 10))
    llm_spend(t["t1"], day(MON, 9, 5), "0.05")
    answer(t["t1"], day(MON, 12), 5, 10)

    t["t2"] = ticket_make(w.client, day(MON, 10), **acme, sla_resolution_due_at=day(MON, 12))
    reply(t["t2"], day(MON, 10, 5))
    event(t["t2"], Kind.ACTION, day(MON, 10, 20), actor=Actor.AGENT, data={"step": "proposed"})
    event(
        t["t2"],
        Kind.ACTION,
        day(MON, 10, 30),
        actor=Actor.HUMAN,
        staff=w.tech_in,
        data={"step": "approved"},
    )
    resolve(t["t2"], day(MON, 11))
    llm_spend(t["t2"], day(MON, 10, 1), "0.03")
    answer(t["t2"], day(MON, 13), 4, 9)

    t["t3"] = ticket_make(
        w.client,
        day(TUE, 8),
        **acme,
        sla_response_due_at=day(TUE, 8, 30),
        sla_resolution_due_at=day(TUE, 10),
    )
    reply(t["t3"], day(TUE, 8, 20), w.tech_in)
    log_time(t["t3"], w.tech_in, day(TUE, 8, 10), 30)
    resolve(t["t3"], day(TUE, 12), w.tech_in)
    answer(t["t3"], day(TUE, 14), 3, 6)

    t["t4"] = ticket_make(w.client, day(TUE, 9), **{**acme, "ticket_type": printer, "queue": l2})
    assign(t["t4"], day(TUE, 9, 1), None, w.manager)
    assign(t["t4"], day(TUE, 9, 30), w.manager, w.tech_in)
    reply(t["t4"], day(TUE, 9, 40), w.tech_in)
    log_time(t["t4"], w.tech_in, day(TUE, 10), 60)
    resolve(t["t4"], day(WED, 9), w.tech_in)

    t["t5"] = ticket_make(w.client, day(WED, 14), **{**acme, "ticket_type": printer, "queue": l2})
    resolve(t["t5"], day(WED, 17))
    llm_spend(t["t5"], day(WED, 14, 1), "0.02")
    answer(t["t5"], day(WED, 18), 5)

    t["t6"] = ticket_make(w.client, day(FRI, 16), **acme)
    reply(t["t6"], day(FRI, 16, 15))
    resolve(t["t6"], day(SAT, 10))
    llm_spend(t["t6"], day(FRI, 16, 5), "0.05")
    event(t["t6"], Kind.REQUESTER_REPLY, on(NEXT_MONDAY, 10), actor=Actor.REQUESTER)
    event(
        t["t6"],
        Kind.STATUS_CHANGED,
        on(NEXT_MONDAY, 10),
        actor=Actor.REQUESTER,
        old="resolved",
        new="in_progress",
    )
    resolve(t["t6"], on(NEXT_MONDAY, 12), w.tech_in)

    globex: dict[str, Any] = {
        "ticket_type": password,
        "queue": l1,
        "assignee": w.tech_out,
        "contract": time_and_materials,
    }
    t["t7"] = ticket_make(
        w.other_client,
        day(MON, 13),
        **globex,
        sla_response_due_at=day(MON, 13, 15),
        sla_resolution_due_at=day(MON, 14),
    )
    reply(t["t7"], day(MON, 13, 30), w.tech_out)
    log_time(t["t7"], w.tech_out, day(MON, 13, 10), 45)
    resolve(t["t7"], day(MON, 15), w.tech_out)
    answer(t["t7"], day(MON, 16), 2, 3)

    t["t8"] = ticket_make(
        w.other_client,
        day(THU, 10),
        **{**globex, "ticket_type": printer, "queue": l2},
        sla_resolution_due_at=day(THU, 18),
    )
    reply(t["t8"], day(THU, 10, 2))
    resolve(t["t8"], day(THU, 11))
    llm_spend(t["t8"], day(THU, 10, 1), "0.10")
    answer(t["t8"], day(THU, 12), 4, 9)

    t["t9"] = ticket_make(
        w.other_client, day(THU, 17), **{**globex, "queue": l2, "assignee": w.manager}
    )
    assign(t["t9"], day(THU, 17, 1), None, w.tech_out)
    assign(t["t9"], day(THU, 17, 10), w.tech_out, w.owner)
    assign(t["t9"], day(FRI, 9), w.owner, w.manager)
    reply(t["t9"], day(THU, 17, 30), w.tech_out)
    log_time(t["t9"], w.tech_out, day(THU, 17, 15), 90)
    event(t["t9"], Kind.NOTE, day(FRI, 10), actor=Actor.HUMAN, staff=w.manager)
    log_time(t["t9"], w.manager, day(FRI, 10), 30, billable=False)
    resolve(t["t9"], day(FRI, 19), w.manager)

    t["t10"] = ticket_make(
        w.other_client, day(SAT, 9), **{**globex, "ticket_type": printer, "queue": l2}
    )
    resolve(t["t10"], day(SAT, 9, 15))
    llm_spend(t["t10"], day(SAT, 9, 1), "0.01")

    # Outside the week: resolved a second before it starts and the moment it ends (the agent
    # alone, so they do not move the handling-time history either), and one still open.
    t["before"] = ticket_make(w.client, on(dt.date(2026, 10, 11), 22, 59, 59), **acme)
    resolve(t["before"], on(dt.date(2026, 10, 11), 23, 59, 59))
    answer(t["before"], day(MON, 9), 1, 0)
    t["after"] = ticket_make(w.client, on(dt.date(2026, 10, 18), 23), **acme)
    resolve(t["after"], on(NEXT_MONDAY, 0))
    t["open"] = ticket_make(w.client, day(WED, 9), **acme)
    reply(t["open"], day(WED, 9, 1), w.tech_in)

    # The 13 weeks before the week (13 July – 11 October): human-handled tickets whose
    # technician minutes make each type's handling time — password (40 + 20) / 2 = 30 min,
    # printer 90 / 1 = 90 min. The 600-minute ticket resolved on 12 July is out of the window,
    # and the agent's password ticket is not human-handled.
    history = (
        (password, dt.date(2026, 9, 1), 2, 40, Path.HUMAN),
        (password, dt.date(2026, 9, 15), 4, 20, Path.HUMAN),
        (printer, dt.date(2026, 10, 1), 10, 90, Path.HUMAN),
        (printer, dt.date(2026, 7, 12), 1, 600, Path.HUMAN),
        (password, dt.date(2026, 9, 20), 1, 0, Path.AGENT),
    )
    for n, (kind, resolved_on, hours, minutes, path) in enumerate(history):
        client = w.other_client if kind == printer else w.client
        done = on(resolved_on, 22)
        past = ticket_make(
            client, done - dt.timedelta(hours=hours), ticket_type=kind, queue=l1, assignee=None
        )
        if path == Path.HUMAN:
            log_time(past, w.tech_in, done - dt.timedelta(hours=1), minutes)
        resolve(past, done)
        t[f"history{n}"] = past

    facts_refresh_all()
    return Desk(
        world=w,
        password=password,
        printer=printer,
        l1=l1,
        l2=l2,
        t=t,
        contracts={
            "managed": managed,
            "project": project,
            "tm": time_and_materials,
            "old_block": old_block,
        },
    )


def test_the_facts_match_the_table(desk: Desk) -> None:
    """The per-ticket facts in the module docstring's table (the ground truth below)."""
    facts = {
        name: TicketFact.objects.get(ticket=ticket)
        for name, ticket in desk.t.items()
        if name.startswith("t")
    }
    hours = {name: (f.resolution_seconds or 0) / 3600 for name, f in facts.items()}
    assert hours == {
        "t1": 1, "t2": 1, "t3": 4, "t4": 24, "t5": 3,
        "t6": 18, "t7": 2, "t8": 1, "t9": 26, "t10": 0.25,
    }  # fmt: skip
    business = {name: (f.resolution_business_seconds or 0) / 3600 for name, f in facts.items()}
    assert business == {
        "t1": 1, "t2": 1, "t3": 4, "t4": 10, "t5": 3,
        "t6": 2, "t7": 2, "t8": 1, "t9": 11, "t10": 0,
    }  # fmt: skip
    paths = {name: f.path for name, f in facts.items()}
    assert paths == {
        "t1": "agent", "t2": "agent_approval", "t3": "human", "t4": "human", "t5": "agent",
        "t6": "human", "t7": "human", "t8": "agent", "t9": "human", "t10": "agent",
    }  # fmt: skip
    assert {n: f.reassignments for n, f in facts.items() if f.reassignments} == {"t4": 1, "t9": 2}
    assert {n for n, f in facts.items() if f.first_touch is False} == {"t4", "t6", "t9"}
    assert {n for n, f in facts.items() if f.after_hours} == {"t6", "t9", "t10"}
    assert {n for n, f in facts.items() if f.reopened_7d} == {"t6"}
    assert facts["t9"].human_touchers == 2
    assert facts["t9"].labour_cost == Decimal("195.00")  # 90 × $90/60 + 30 × $120/60
    assert facts["t7"].labour_cost == Decimal("67.50")  # 45 × $90/60


# --- Every metric -----------------------------------------------------------------------------

# key: (tickets in the population, value in the display unit), from the table above.
EXPECTED: dict[str, tuple[int, float]] = {
    # 1 + 1 + 4 + 24 + 3 + 18 + 2 + 1 + 26 + 0.25 = 80.25 h over 10 tickets
    "mttr_mean": (10, 80.25 / 10),
    # 0.25, 1, 1, 1, 2, | 3, 4, 18, 24, 26 → even count: (2 + 3) / 2
    "mttr_median": (10, (2 + 3) / 2),
    # 1 + 1 + 4 + 10 + 3 + 2 + 2 + 1 + 11 + 0 = 35 h
    "mttr_business_mean": (10, 35 / 10),
    # 0, 1, 1, 1, 2, | 2, 3, 4, 10, 11
    "mttr_business_median": (10, (2 + 2) / 2),
    # only the 8 that had a reply: 10 + 5 + 20 + 40 + 15 + 30 + 2 + 30 = 152 min
    "first_response_mean": (8, 152 / 8),
    # 2, 5, 10, 15, | 20, 30, 30, 40
    "first_response_median": (8, (15 + 20) / 2),
    # all but t4 (reassigned), t6 (reopened), t9 (reassigned, two technicians)
    "ftr_rate": (10, 7 / 10 * 100),
    # t1, t5, t8, t10 (t2 had an approval)
    "deflection_rate": (10, 4 / 10 * 100),
    # t4, t9
    "reassignment_rate": (10, 2 / 10 * 100),
    # (1 + 2) / 10
    "handoffs_per_ticket": (10, 3 / 10),
    # t6 (Saturday), t9 (Friday 19:00), t10 (Saturday)
    "after_hours_rate": (10, 3 / 10 * 100),
    # t6
    "reopen_rate": (10, 1 / 10 * 100),
    # with a resolution SLA: t1 ✓, t2 ✓, t3 ✗, t7 ✗, t8 ✓
    "sla_resolution_rate": (5, 3 / 5 * 100),
    # with a response SLA: t1 ✓, t3 ✓, t7 ✗
    "sla_response_rate": (3, 2 / 3 * 100),
    # human path only: t3 30, t4 60, t6 0, t7 45, t9 120
    "handling_minutes": (5, (30 + 60 + 0 + 45 + 120) / 5),
    # labour 30 + 60 + 67.50 + 195 = 352.50; LLM 0.05 + 0.03 + 0.02 + 0.05 + 0.10 + 0.01 = 0.26
    "cost_per_ticket": (10, (352.50 + 0.26) / 10),
    # answered: t1 5, t2 4, t3 3, t5 5, t7 2, t8 4
    "csat_average": (6, (5 + 4 + 3 + 5 + 2 + 4) / 6),
    # t1 10 → +100, t2 9 → +100, t3 6 → −100, t7 3 → −100, t8 9 → +100
    "nps": (5, (100 + 100 - 100 - 100 + 100) / 5),
}


def test_every_metric_in_the_catalogue_has_an_expected_value() -> None:
    assert {metric.key for metric in CATALOGUE} == set(EXPECTED)


@pytest.mark.parametrize("key", list(EXPECTED))
def test_each_metric_over_the_week_is_exactly_the_hand_computed_figure(
    desk: Desk, key: str
) -> None:
    found = figures(WEEK, user=None)

    count, value = EXPECTED[key]
    assert found[key].count == count
    assert found[key].value == pytest.approx(value, abs=1e-9)


def test_a_median_over_an_odd_count_is_the_middle_ticket(desk: Desk) -> None:
    human = figures(FactFilter(MONDAY, NEXT_MONDAY, path=Path.HUMAN), user=None)

    # human path: t3 4, t4 24, t6 18, t7 2, t9 26 → 2, 4, [18], 24, 26
    assert human["mttr_median"].count == 5
    assert human["mttr_median"].value == pytest.approx(18)
    assert human["mttr_mean"].value == pytest.approx((4 + 24 + 18 + 2 + 26) / 5)
    # business hours: 4, 10, 2, 2, 11 → 2, 2, [4], 10, 11
    assert human["mttr_business_median"].value == pytest.approx(4)
    assert human["deflection_rate"].value == 0
    assert human["handling_minutes"].value == pytest.approx(255 / 5)


def test_an_empty_population_has_no_value(desk: Desk) -> None:
    # the agent-with-approval path has one ticket, t2: no first-response SLA, no time logged
    approval = figures(FactFilter(MONDAY, NEXT_MONDAY, path=Path.AGENT_APPROVAL), user=None)

    assert approval["deflection_rate"].count == 1
    assert approval["deflection_rate"].value == 0
    assert approval["sla_response_rate"].count == 0
    assert approval["sla_response_rate"].value is None
    assert approval["handling_minutes"].value is None
    assert approval["csat_average"].value == 4
    empty = figures(FactFilter(dt.date(2026, 8, 3), dt.date(2026, 8, 10)), user=None)
    assert all(f.count == 0 and f.value is None for f in empty.values())


def test_filters_narrow_every_figure_to_their_tickets(desk: Desk) -> None:
    def week(**narrow: Any) -> dict[str, Figure]:
        return figures(FactFilter(MONDAY, NEXT_MONDAY, **narrow), user=None)

    acme = week(client_id=desk.acme.pk)  # t1–t6
    assert acme["mttr_mean"].count == 6
    assert acme["mttr_mean"].value == pytest.approx((1 + 1 + 4 + 24 + 3 + 18) / 6)
    assert acme["deflection_rate"].value == pytest.approx(2 / 6 * 100)  # t1, t5
    assert acme["csat_average"].value == pytest.approx((5 + 4 + 3 + 5) / 4)

    globex = week(client_id=desk.globex.pk)  # t7–t10
    assert globex["mttr_mean"].value == pytest.approx((2 + 1 + 26 + 0.25) / 4)
    assert globex["deflection_rate"].value == pytest.approx(50)  # t8, t10
    assert globex["cost_per_ticket"].value == pytest.approx((67.50 + 0.10 + 195 + 0.01) / 4)

    printer = week(type_id=desk.printer.pk)  # t4, t5, t8, t10
    assert printer["mttr_mean"].value == pytest.approx((24 + 3 + 1 + 0.25) / 4)
    assert printer["mttr_median"].value == pytest.approx((1 + 3) / 2)

    l2 = week(queue_id=desk.l2.pk)  # t4, t5, t8, t9, t10
    assert l2["mttr_mean"].count == 5
    assert l2["mttr_mean"].value == pytest.approx((24 + 3 + 1 + 26 + 0.25) / 5)
    assert l2["mttr_median"].value == pytest.approx(3)  # 0.25, 1, [3], 24, 26

    tech_out = week(technician_id=desk.world.tech_out.pk)  # t7, t8, t10 (t9 ended with manager)
    assert tech_out["mttr_mean"].count == 3
    assert tech_out["mttr_mean"].value == pytest.approx((2 + 1 + 0.25) / 3)
    assert tech_out["mttr_median"].value == pytest.approx(1)

    agent = week(path=Path.AGENT)  # t1, t5, t8, t10
    assert agent["deflection_rate"].value == pytest.approx(100)
    assert agent["csat_average"].value == pytest.approx((5 + 5 + 4) / 3)

    both = week(client_id=desk.acme.pk, type_id=desk.printer.pk)  # t4, t5
    assert both["mttr_mean"].value == pytest.approx((24 + 3) / 2)


def test_a_technician_gets_only_the_clients_they_serve(desk: Desk) -> None:
    w = desk.world
    mine = figures(WEEK, user=w.tech_in.user)  # serves Acme only
    acme = figures(FactFilter(MONDAY, NEXT_MONDAY, client_id=desk.acme.pk), user=None)

    assert mine["mttr_mean"].count == 6
    assert mine["mttr_mean"].value == pytest.approx(51 / 6)
    for key in EXPECTED:
        assert (mine[key].count, mine[key].value) == (acme[key].count, acme[key].value), key

    theirs = figures(WEEK, user=w.tech_out.user)  # serves Globex only
    assert theirs["mttr_mean"].count == 4
    # and asking for the other client gives nothing rather than its numbers
    peek = figures(FactFilter(MONDAY, NEXT_MONDAY, client_id=desk.acme.pk), user=w.tech_out.user)
    assert peek["mttr_mean"].count == 0

    margins = margin_by_contract(WEEK, user=w.tech_in.user)
    assert [m.contract.name for m in margins] == ["Managed", "Project"]


def test_figures_by_path_split_the_experience_metrics(desk: Desk) -> None:
    experience = [METRICS["csat_average"], METRICS["nps"], METRICS["deflection_rate"]]

    groups = figures_by(WEEK, user=None, dimension="path", metrics=experience)

    # busiest first: human 5 (t3 t4 t6 t7 t9), agent 4 (t1 t5 t8 t10), approval 1 (t2)
    assert [(g.key, g.figures["deflection_rate"].count) for g in groups] == [
        (Path.HUMAN, 5),
        (Path.AGENT, 4),
        (Path.AGENT_APPROVAL, 1),
    ]
    by = {g.key: g.figures for g in groups}
    assert by[Path.HUMAN]["csat_average"].value == pytest.approx((3 + 2) / 2)
    assert by[Path.HUMAN]["nps"].value == pytest.approx(-100)  # 6 and 3: detractors
    assert by[Path.AGENT]["csat_average"].value == pytest.approx((5 + 5 + 4) / 3)
    assert by[Path.AGENT]["csat_average"].count == 3
    assert by[Path.AGENT]["nps"].value == pytest.approx(100)  # 10 and 9 (t5 gave no score)
    assert by[Path.AGENT]["nps"].count == 2
    assert by[Path.AGENT_APPROVAL]["csat_average"].value == pytest.approx(4)
    assert by[Path.AGENT]["deflection_rate"].value == pytest.approx(100)
    assert by[Path.HUMAN]["deflection_rate"].value == 0


def test_figures_by_type_take_each_types_median(desk: Desk) -> None:
    groups = figures_by(
        WEEK,
        user=None,
        dimension="ticket_type_id",
        metrics=[METRICS["mttr_median"], METRICS["sla_resolution_rate"]],
        labels={desk.password.pk: "Password reset", desk.printer.pk: "Printer"},
    )

    assert [(g.label, g.figures["mttr_median"].count) for g in groups] == [
        ("Password reset", 6),  # t1 t2 t3 t6 t7 t9
        ("Printer", 4),  # t4 t5 t8 t10
    ]
    password, printer = (g.figures for g in groups)
    assert password["mttr_median"].value == pytest.approx((2 + 4) / 2)  # 1, 1, 2, 4, 18, 26
    assert printer["mttr_median"].value == pytest.approx((1 + 3) / 2)  # 0.25, 1, 3, 24
    assert password["sla_resolution_rate"].value == pytest.approx(2 / 4 * 100)  # t1 t2 ✓, t3 t7 ✗
    assert printer["sla_resolution_rate"].value == pytest.approx(100)  # t8 ✓


def test_the_trend_puts_each_ticket_in_the_week_it_was_resolved(desk: Desk) -> None:
    points = trend(WEEK, user=None, metrics=[METRICS["mttr_mean"]], weeks=3)

    assert [p.week for p in points] == [dt.date(2026, 9, 28), dt.date(2026, 10, 5), MONDAY]
    # 1 Oct: the printer ticket of the history (10 h); 11 Oct 23:59:59: the "before" ticket
    # (1 h); the week itself: 80.25 h over 10 tickets.
    assert [p.counts["mttr_mean"] for p in points] == [1, 1, 10]
    assert points[0].values["mttr_mean"] == pytest.approx(10)
    assert points[1].values["mttr_mean"] == pytest.approx(1)
    assert points[2].values["mttr_mean"] == pytest.approx(80.25 / 10)


def test_drill_down_lists_a_rates_population_hits_first(desk: Desk) -> None:
    facts = list(drilldown(WEEK, user=None, metric_key="sla_resolution_rate"))

    # met (latest first): t8 Thu, t2 Mon 11:00, t1 Mon 10:00; then missed: t3 Tue, t7 Mon
    t = desk.t
    assert [f.ticket_id for f in facts] == [t[n].pk for n in ("t8", "t2", "t1", "t3", "t7")]


# --- Hours reclaimed and margin ---------------------------------------------------------------


def test_hours_reclaimed_credit_each_automated_ticket_its_types_handling_time(desk: Desk) -> None:
    saved = hours_reclaimed(WEEK, user=None, baseline=None)

    # password: (40 + 20) / 2 = 30 min; printer: 90 min (the 13 July ticket is out of the window)
    assert saved.handling_minutes == {desk.password.pk: 30.0, desk.printer.pk: 90.0}
    # automated: t1 and t2 (password, 0 min logged), t5, t8, t10 (printer, 0 min logged)
    assert saved.tickets == 5
    assert saved.hours == pytest.approx((30 + 30 + 90 + 90 + 90) / 60)
    assert saved.hours_per_week == pytest.approx(5.5)

    fortnight = hours_reclaimed(FactFilter(MONDAY, dt.date(2026, 10, 26)), user=None, baseline=None)
    # adds the password ticket resolved at midnight on the 19th; two weeks
    assert fortnight.tickets == 6
    assert fortnight.hours == pytest.approx((330 + 30) / 60)
    assert fortnight.hours_per_week == pytest.approx(6 / 2)

    mine = hours_reclaimed(WEEK, user=desk.world.tech_in.user, baseline=None)
    assert mine.tickets == 3  # t1, t2, t5
    assert mine.hours == pytest.approx((30 + 30 + 90) / 60)


def test_margin_prorates_monthly_revenue_and_bills_time_and_materials(desk: Desk) -> None:
    rows = {m.contract.name: m for m in margin_by_contract(WEEK, user=None)}

    # Ordered by client, then name; the contract that ended on the 11th is not in force.
    assert list(rows) == ["Managed", "Project", "Old block", "T&M"]

    managed = rows["Managed"]
    # $3,043.75 × 7 days / 30.4375 = $700.00
    assert managed.revenue == Decimal("700.00")
    # t3 30 min + t4 60 min at $60/h; LLM t1 .05 + t2 .03 + t5 .02 + t6 .05
    assert managed.labour_cost == Decimal("90.00")
    assert managed.llm_cost == Decimal("0.15")
    assert managed.margin == Decimal("609.85")
    assert managed.hours == pytest.approx(1.5)
    assert managed.margin_share == pytest.approx(609.85 / 700)

    # $1,000 × 4 days (15th–18th) / 30.4375 = 131.4168… → $131.42
    assert rows["Project"].revenue == Decimal("131.42")
    assert rows["Project"].margin == Decimal("131.42")

    # $608.75 × 2 days (12th–13th) / 30.4375 = $40.00
    assert rows["Old block"].revenue == Decimal("40.00")

    tm = rows["T&M"]
    # $608.75 × 7 / 30.4375 = $140.00, plus billable 45 + 90 = 135 min = 2.25 h × $150 = $337.50
    assert tm.revenue == Decimal("477.50")
    # 45 × $90/60 + 90 × $90/60 + 30 (not billable) × $120/60 = 67.50 + 135 + 60
    assert tm.labour_cost == Decimal("262.50")
    assert tm.llm_cost == Decimal("0.11")  # t8 .10 + t10 .01
    assert tm.margin == Decimal("214.89")
    assert tm.hours == pytest.approx((45 + 90 + 30) / 60)


# --- The page, the CSV and the weekly report agree --------------------------------------------


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _flag(text: str) -> bool | None:
    return {"": None, "True": True, "False": False}[text]


COMPARED = ("value", "count", "baseline", "change", "ci_low", "ci_high", "significant")


def _three_ways(desk: Desk) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The owner page's, the CSV export's and the weekly report's figures for the week, each
    as {"metrics": {key: {...}}, "reclaimed": …, "paths": …, "contracts": …}."""
    http: HttpClient = desk.world.login(desk.world.owner)
    page = http.get("/metrics/", QUERY)
    assert page.status_code == 200
    view = page.context["overview"]
    operations = http.get("/metrics/operations/", QUERY)
    assert operations.status_code == 200
    shown = [*view.metrics, *(figure_row(f) for f in operations.context["tiles"])]
    on_page = {
        "metrics": {m["key"]: {k: m[k] for k in COMPARED} for m in shown},
        "reclaimed": view.reclaimed["hours_per_week"],
        "paths": {(p["path"], "csat"): p["csat"] for p in view.paths}
        | {(p["path"], "nps"): p["nps"] for p in view.paths},
        "contracts": {c["contract"]: c["margin"] for c in view.contracts},
    }

    export = http.get("/metrics/export.csv", QUERY)
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    header, body = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert header[:4] == ["section", "key", "label", "value"]
    in_csv: dict[str, Any] = {"metrics": {}, "paths": {}, "contracts": {}}
    for row in body:
        if row["section"] == "metric":
            in_csv["metrics"][row["key"]] = {
                "value": _number(row["value"]),
                "count": int(row["tickets"]),
                "baseline": _number(row["baseline"]),
                "change": _number(row["change"]),
                "ci_low": _number(row["ci95_low"]),
                "ci_high": _number(row["ci95_high"]),
                "significant": _flag(row["significant"]),
            }
        elif row["section"] == "reclaimed":
            in_csv["reclaimed"] = _number(row["value"])
        elif row["section"] == "path":
            measure = "csat" if row["label"].startswith("CSAT") else "nps"
            in_csv["paths"][(row["key"], measure)] = _number(row["value"])
        elif row["section"] == "contract":
            in_csv["contracts"][row["label"]] = _number(row["value"])

    report = weekly_report_generate(week_starts_on=MONDAY).figures
    assert report["period"] == {"start": "2026-10-12", "end": "2026-10-19"}
    in_report = {
        "metrics": {m["key"]: {k: m[k] for k in COMPARED} for m in report["metrics"]},
        "reclaimed": report["reclaimed"]["hours_per_week"],
        "paths": {(p["path"], "csat"): p["csat"] for p in report["paths"]}
        | {(p["path"], "nps"): p["nps"] for p in report["paths"]},
        "contracts": {c["contract"]: c["margin"] for c in report["contracts"]},
    }
    return on_page, in_csv, in_report


def test_the_page_the_csv_and_the_weekly_report_show_the_same_numbers(desk: Desk) -> None:
    on_page, in_csv, in_report = _three_ways(desk)

    assert set(in_csv["metrics"]) == set(in_report["metrics"]) == {m.key for m in CATALOGUE}
    assert len(on_page["metrics"]) >= 15  # the two pages' tiles
    for key in EXPECTED:
        assert in_csv["metrics"][key] == in_report["metrics"][key], key
        if key in on_page["metrics"]:
            assert on_page["metrics"][key] == in_csv["metrics"][key], key
    assert on_page["reclaimed"] == in_csv["reclaimed"] == in_report["reclaimed"] == 5.5
    assert on_page["paths"] == in_csv["paths"] == in_report["paths"]
    assert on_page["contracts"] == in_csv["contracts"] == in_report["contracts"]

    # …and they are the hand-computed figures, rounded as the page shows them.
    for metric in CATALOGUE:
        count, value = EXPECTED[metric.key]
        shown = in_csv["metrics"][metric.key]  # every metric; the pages show most of them
        assert shown["count"] == count, metric.key
        assert shown["value"] == round(value, metric.digits), metric.key
        assert shown["baseline"] is None  # no baseline frozen
    assert on_page["paths"] == {
        (Path.HUMAN, "csat"): 2.5,
        (Path.HUMAN, "nps"): -100,
        (Path.AGENT, "csat"): round(14 / 3, 2),
        (Path.AGENT, "nps"): 100,
        (Path.AGENT_APPROVAL, "csat"): 4.0,
        (Path.AGENT_APPROVAL, "nps"): 100,
    }
    assert on_page["contracts"] == {
        "Managed": 609.85,
        "Project": 131.42,
        "Old block": 40.0,
        "T&M": 214.89,
    }


def test_the_period_follows_the_msps_time_zone(desk: Desk, settings: Any) -> None:
    # In London (BST, UTC+1) the week starts at 23:00 UTC on Sunday 11th: the ticket resolved
    # at 23:59:59 UTC that Sunday is in it, and the one resolved at 00:00 UTC on the 19th
    # (01:00 on Monday in London) is not.
    settings.TIME_ZONE = "Europe/London"
    facts_rebuild()  # resolution weeks follow the desk's zone: changing it needs a rebuild

    found = figures(WEEK, user=None)

    assert found["mttr_mean"].count == 11
    in_week = set(
        TicketFact.objects.filter(
            resolved_at__gte=WEEK.start_at, resolved_at__lt=WEEK.end_at
        ).values_list("ticket_id", flat=True)
    )
    assert desk.t["before"].pk in in_week
    assert desk.t["after"].pk not in in_week
    # The "before" ticket answered CSAT 1: now counted, 6 answers become 7.
    assert found["csat_average"].count == 7
    assert found["csat_average"].value == pytest.approx((23 + 1) / 7)


# --- Baselines --------------------------------------------------------------------------------

BASELINE_MONDAY = dt.date(2026, 9, 21)


def _baseline_week(desk: Desk) -> Baseline:
    """Four Acme password tickets in the week of 21 September, resolved after 20, 22, 24 and
    26 hours; the first by the agent alone, the others by tech_in with 40, 50 and 60 minutes."""
    w = desk.world
    for n, (hours, minutes) in enumerate(((20, 0), (22, 40), (24, 50), (26, 60))):
        opened = on(BASELINE_MONDAY + dt.timedelta(days=n), 8)
        ticket = ticket_make(
            w.client, opened, ticket_type=desk.password, queue=desk.l1, assignee=w.tech_in
        )
        done = opened + dt.timedelta(hours=hours)
        if minutes:
            log_time(ticket, w.tech_in, opened, minutes)
            resolve(ticket, done, w.tech_in)
        else:
            resolve(ticket, done)
    facts_refresh_all()
    return baseline_freeze(
        name="Before automation",
        starts_on=BASELINE_MONDAY,
        ends_on=BASELINE_MONDAY + dt.timedelta(days=6),
        staff=w.manager,
    )


def test_the_baseline_comparison_has_a_hand_computed_95_percent_interval(desk: Desk) -> None:
    baseline = _baseline_week(desk)

    found = figures(WEEK, user=None, baseline=baseline)

    # Mean time to resolution, Welch. Now (h): 1, 1, 4, 24, 3, 18, 2, 1, 26, 0.25.
    now = [1, 1, 4, 24, 3, 18, 2, 1, 26, 0.25]
    then = [20, 22, 24, 26]
    mean_now, mean_then = sum(now) / 10, sum(then) / 4  # 8.025, 23
    # sample variances: Σ(x − x̄)² / (n − 1)
    var_now = sum((x - mean_now) ** 2 for x in now) / 9  # 964.05625 / 9
    var_then = sum((x - mean_then) ** 2 for x in then) / 3  # 20 / 3
    margin = 1.959964 * math.sqrt(var_now / 10 + var_then / 4)  # ≈ 6.8957 h
    mttr = found["mttr_mean"]
    assert mttr.baseline_value == pytest.approx(23)
    assert mean_now - mean_then == pytest.approx(8.025 - 23)
    assert mttr.delta == pytest.approx(8.025 - 23)
    assert mttr.change is not None
    assert mttr.change.low == pytest.approx(-14.975 - margin)
    assert mttr.change.high == pytest.approx(-14.975 + margin)
    assert -14.975 + margin < 0  # ≈ −8.08 h: the whole interval is an improvement
    assert mttr.change.significant is True
    assert "statistically significant" in mttr.change.sentence
    assert mttr.improved is True

    # Deflection, Wald. Now 4 of 10 (0.4); then 1 of 4 (0.25).
    p_now, p_then = 4 / 10, 1 / 4
    wald = 1.959964 * math.sqrt(p_now * (1 - p_now) / 10 + p_then * (1 - p_then) / 4)
    deflection = found["deflection_rate"]
    assert deflection.baseline_value == pytest.approx(25)
    assert deflection.delta == pytest.approx(15)  # percentage points
    assert deflection.change is not None
    assert deflection.change.low == pytest.approx((0.15 - wald) * 100)  # ≈ −37.2 pts
    assert deflection.change.high == pytest.approx((0.15 + wald) * 100)  # ≈ +67.2 pts
    assert deflection.change.significant is False
    assert "Not significant" in deflection.change.sentence

    # A median keeps its frozen value but has no interval: (22 + 24) / 2.
    median = found["mttr_median"]
    assert median.baseline_value == pytest.approx(23)
    assert median.delta == pytest.approx(2.5 - 23)
    assert median.change is None

    # The frozen handling time per type replaces the 90-day history where it has one:
    # password (40 + 50 + 60) / 3 = 50 min; printer still 90 min from history.
    saved = hours_reclaimed(WEEK, user=None, baseline=baseline)
    assert saved.handling_minutes == {desk.password.pk: 50.0, desk.printer.pk: 90.0}
    assert saved.hours == pytest.approx((50 + 50 + 90 + 90 + 90) / 60)


def test_the_page_the_csv_and_the_report_agree_on_the_baseline_comparison(desk: Desk) -> None:
    _baseline_week(desk)  # frozen and active

    on_page, in_csv, in_report = _three_ways(desk)

    for key in EXPECTED:
        assert in_csv["metrics"][key] == in_report["metrics"][key], key
        if key in on_page["metrics"]:
            assert on_page["metrics"][key] == in_csv["metrics"][key], key
    mttr = on_page["metrics"]["mttr_mean"]
    assert (mttr["baseline"], mttr["significant"]) == (23.0, True)
    deflection = on_page["metrics"]["deflection_rate"]
    assert (deflection["baseline"], deflection["change"], deflection["significant"]) == (
        25.0,
        15.0,
        False,
    )
    # with the baseline's password handling time: 50 + 50 + 90 + 90 + 90 = 370 min a week
    assert on_page["reclaimed"] == round(370 / 60, 1)
    assert on_page["reclaimed"] == in_csv["reclaimed"] == in_report["reclaimed"]


def test_a_technician_of_one_client_is_not_compared_with_every_clients_baseline(
    desk: Desk,
) -> None:
    # 1 Sep – 11 Oct: Acme resolved tickets after 2, 4, 1 and 1 h (mean 2 h); Globex one after
    # 10 h, so every client's mean is (2 + 4 + 1 + 1 + 10) / 5 = 3.6 h.
    baseline = baseline_freeze(
        name="Autumn",
        starts_on=dt.date(2026, 9, 1),
        ends_on=dt.date(2026, 10, 11),
        staff=desk.world.manager,
    )
    assert figures(WEEK, user=None, baseline=baseline)["mttr_mean"].baseline_value == (
        pytest.approx(3.6)
    )

    mine = figures(WEEK, user=desk.world.tech_in.user, baseline=baseline)["mttr_mean"]

    # Either no comparison, or Acme's own frozen figure — never the one that includes Globex.
    assert mine.baseline_value is None or mine.baseline_value == pytest.approx(2.0)
