"""Dashboards at a million tickets (issue 7): page p95, fact computation, reports, refresh.

    python -m bench.dashboards                        # 1,000,000 tickets, about 10M events
    python -m bench.dashboards --tickets 50000        # a quicker run
    python -m bench.dashboards --facts refresh --workers 2   # parallel refreshers instead
    python -m bench.dashboards --tickets 50000 --reuse       # measure again, same data

Needs PostgreSQL (DATABASE_URL=postgres://…; `make bench` starts one): the history is bulk
loaded with COPY, facts are kept by statement-level triggers and medians are percentile_cont.
There is no SQLite variant: on SQLite it says so and exits with status 2. BENCH_DASHBOARDS_
TICKETS sets the default size (for `make bench`).

In a fresh database (`bench_dashboards`), in a child process:

1. Seed: 60 clients (time zones, business hours, holidays, contracts with SLA targets),
   30 technicians with hourly costs, 15 ticket types, 8 queues, a holdout running for the
   last 8 weeks, then `--tickets` tickets over the last two years (weekday and office-hour
   peaks, growing volume, automation ramping up) with their timelines (~10 events each:
   created, enrichment, assignment and reassignments, replies by technicians or the agent,
   approvals, notes, waits on the requester, status changes into resolved, reopens,
   auto-close, CSAT), time entries, CSAT answers and LLM calls. Generated in Python (the
   next batch in a thread while the last is copied) and written with COPY, 10,000 tickets
   a transaction; the metrics triggers fire as for any bulk load. The plain indexes and
   foreign keys of the loaded tables are dropped for the load and re-created from their
   own definitions afterwards (which validates every row), then VACUUM ANALYZE, as
   autovacuum would have by the time anyone looks. Timed on its own (`seed_seconds`).
2. Facts: `facts_rebuild()` (default, the faster on this machine), or `facts_refresh_all()`
   in `--workers` parallel processes (each claims batches with skip-locked) with
   `--facts refresh`; `facts_per_second`; the weekly rollup (FactWeek) rebuilt from the
   facts on its own (`rollup_rebuild_seconds`), and a cProfile of one 5,000-ticket
   `facts_compute` batch (`facts_profile`).
3. A baseline frozen over the first full quarter, as a manager would.
4. Pages through Django's full stack (test client, an owner logged in; without the test
   environment's template instrumentation, which production does not have), after one warm-up
   request each: 30 owner pages and 30 operations pages over six periods (last week to a
   year) with client, type, queue, technician and path filters (p50/p95/max, by period,
   every request), the CSV export, and `weekly_report_generate` for four weeks. Every
   request is then replayed with its queries captured to show where the time goes (SQL by
   kind of query, and the Python rest); when a page misses the 300 ms target, the two
   costliest queries of its slowest request are EXPLAIN ANALYZEd (`problem_plans`).
5. Staying correct: 1,000 new events for existing tickets (open tickets replied to and
   resolved, recently resolved tickets reopened, notes), `facts_refresh_all()`'s two steps
   timed (the stale tickets' facts, then the rollup slices and weeks they marked), and the
   affected facts, the page's figures and the rollup's sums for the weeks they count in
   checked against the events and facts.

Progress goes to stderr; the last line of stdout is one JSON object. Other work on the
machine shows in the timings: `load_average_*` records the 1-minute load around the pages.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import math
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from bench.child import run_in_fresh_database
from bench.ticket_list import _database_url_for, _percentile

if TYPE_CHECKING:
    from tickets.models import Client, StaffMember

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "bench_dashboards"
WATCHED_CODE = ("metrics", "tickets/models.py", "tickets/selectors.py", "governance", "config")
DEFAULT_TICKETS = int(os.environ.get("BENCH_DASHBOARDS_TICKETS", "1000000"))
TARGET_MS = 300.0
DAYS = 730
CHUNK = 10_000
SEED = 7
PROFILE_TICKETS = 5_000
HOLDOUT_DAYS = 56
HOLDOUT_SHARE = 0.05
REOPEN_SHARE = 0.05
CSAT_SHARE = 0.10
STUCK_SHARE = 0.004
AGENT_SCALE = 0.85
NULL = "\\N"

# How many seconds after opening, median and spread (lognormal sigma), by priority 1–4.
FIRST_RESPONSE = {1: 8 * 60, 2: 20 * 60, 3: 40 * 60, 4: 90 * 60}
RESOLUTION = {1: 3 * 3600, 2: 8 * 3600, 3: 20 * 3600, 4: 48 * 3600}
PRIORITIES = ([1, 2, 3, 4], [0.03, 0.17, 0.60, 0.20])
# ISO weekday (1–7) → share of a weekday's tickets; hour of day (local) → relative volume.
WEEKDAY_LOAD = {1: 1.25, 2: 1.1, 3: 1.05, 4: 1.0, 5: 0.9, 6: 0.2, 7: 0.15}
HOUR_LOAD = [0.15] * 6 + [0.5, 1.2, 2.2, 2.4, 2.2, 1.9, 1.5, 1.9, 2.0, 1.8, 1.5, 1.0] + [0.3] * 6
ZONES = [
    ("America/New_York", 18),
    ("America/Chicago", 10),
    ("America/Denver", 4),
    ("America/Los_Angeles", 10),
    ("America/Toronto", 4),
    ("Europe/London", 7),
    ("Europe/Berlin", 3),
    ("Australia/Sydney", 4),
]
QUEUES = [
    ("Service desk", "service-desk"),
    ("Network", "network"),
    ("Field services", "field"),
    ("Onboarding", "onboarding"),
    ("Security", "security"),
    ("Monitoring alerts", "alerts"),
    ("Escalations", "escalations"),
    ("Projects", "projects"),
]
# name, weight, agent-alone share, agent + approval share, queue slug, quick win
TYPES = [
    ("Password reset", 12, 0.65, 0.15, "service-desk", True),
    ("MFA reset", 5, 0.50, 0.25, "service-desk", True),
    ("Account unlock", 6, 0.70, 0.10, "service-desk", True),
    ("Mailbox access", 4, 0.35, 0.35, "service-desk", True),
    ("Software install", 7, 0.25, 0.25, "service-desk", True),
    ("Printer issue", 6, 0.05, 0.05, "service-desk", False),
    ("Email delivery", 6, 0.05, 0.05, "service-desk", False),
    ("Network outage", 4, 0.00, 0.00, "network", False),
    ("VPN connectivity", 5, 0.10, 0.05, "network", False),
    ("Hardware failure", 6, 0.00, 0.00, "field", False),
    ("New user onboarding", 4, 0.05, 0.20, "onboarding", False),
    ("User offboarding", 2, 0.05, 0.25, "onboarding", False),
    ("Security alert", 5, 0.10, 0.10, "security", False),
    ("Backup failure", 4, 0.15, 0.05, "alerts", False),
    ("Server performance", 4, 0.02, 0.03, "escalations", False),
]
# Technicians per queue (by position in the team) and their hourly cost range.
TEAM = [
    *[("service-desk", 35, 60)] * 14,
    *[("network", 55, 80)] * 4,
    *[("field", 45, 65)] * 3,
    *[("onboarding", 40, 60)] * 2,
    *[("security", 70, 95)] * 2,
    *[("alerts", 50, 75)] * 2,
    *[("escalations", 85, 110)] * 3,
]
SUBJECTS = [
    "cannot sign in since this morning",
    "urgent — whole office affected",
    "please help before the board meeting",
    "intermittent, started after the update",
    "new starter on Monday",
    "error message attached",
    "only on the laptop, desktop fine",
    "raised by the monitoring system",
]
BODIES = [
    "Thanks, looking into this now.",
    "I have reset it; please try again and let me know if it still fails.",
    "Could you send a screenshot of the error and the time it happened? That helps us "
    "find it in the logs quickly.",
    "Checked the device in the RMM: disk and memory are fine, the service was stopped. "
    "Restarted it and set it to start automatically; monitoring for a day before closing.",
    "Escalating to the network team: the switch in the comms room reports port flapping "
    "on the uplink. They will contact you to arrange a visit if it needs hands on site.",
    "Done. The change is in place for the whole team; it can take up to fifteen minutes "
    "to reach every mailbox. Reply to this message if anything still looks wrong.",
    "Following up: we have not heard back, so we will close this in three days unless "
    "you tell us the problem is still there.",
    "Hi, the printer on the second floor shows offline again, same as last week. Can "
    "someone take a look? Thanks.",
    "Please reset my password, I'm locked out after the holiday.",
    "Our backup job failed last night with a timeout talking to the storage target; "
    "the previous three nights were fine.",
]
APPROVED, PROPOSED, EXECUTED = (
    '{"step": "approved"}',
    '{"step": "proposed"}',
    '{"step": "executed"}',
)
RULE = '{"rule": "quick-wins"}'
HUMAN, AGENT, APPROVAL = 0, 1, 2
# Priority → (response, resolution) minutes of a standard contract.
SLA_MINUTES = {1: (15, 240), 2: (30, 480), 3: (60, 1440), 4: (240, 4320)}
TICKET_COLUMNS = (
    "id",
    "source",
    "external_id",
    "summary",
    "description",
    "status",
    "priority",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "sla_response_due_at",
    "sla_resolution_due_at",
    "source_updated_at",
    "raw_payload",
    "created_at",
    "updated_at",
    "assignee_id",
    "client_id",
    "contact_id",
    "contract_id",
    "queue_id",
    "type_id",
)
EVENT_COLUMNS = (
    "ticket_id",
    "kind",
    "occurred_at",
    "actor_kind",
    "actor_staff_id",
    "actor_contact_id",
    "actor_name",
    "old_value",
    "new_value",
    "body",
    "data",
    "dedupe_key",
    "recorded_at",
)
ENTRY_COLUMNS = ("ticket_id", "staff_id", "started_at", "minutes", "billable", "notes")
CSAT_COLUMNS = ("ticket_id", "contact_id", "score", "nps", "comment", "responded_at")
LLM_COLUMNS = (
    "ticket_id",
    "purpose",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_ms",
    "outcome",
    "reason",
    "created_at",
)
HOLDOUT_COLUMNS = ("ticket_id", "holdout_id", "arm", "drawn_at")
SOURCES = ("email", "email", "portal", "alert", "api")
DONE = ("resolved", "closed")

# One timeline entry while generating: time, kind, actor kind, staff, contact, actor name,
# old value, new value, body, data.
Event = tuple[int, str, str, int | None, int | None, str, str, str, str, str]


def _say(message: str) -> None:
    print(f"bench.dashboards: {message}", file=sys.stderr, flush=True)


# --- The MSP: reference rows through the ORM (small), history through COPY (large) --------


@dataclass(frozen=True)
class ContractInfo:
    id: int
    starts: int  # epoch seconds
    ends: int | None
    sla: dict[int, tuple[int, int]]  # priority → (response, resolution) minutes


@dataclass(frozen=True)
class ClientInfo:
    id: int
    offset: int  # seconds east of UTC (now; DST ignored for opening hours)
    weight: float
    contacts: list[int]
    contracts: list[ContractInfo]

    def contract_at(self, moment: int) -> ContractInfo | None:
        for contract in self.contracts:
            if contract.starts <= moment and (contract.ends is None or moment < contract.ends):
                return contract
        return None


@dataclass(frozen=True)
class TypeInfo:
    id: int
    name: str
    weight: float
    agent: float
    approval: float
    queue: int


@dataclass
class World:
    now: int
    start: int
    clients: list[ClientInfo]
    types: list[TypeInfo]
    queue_techs: dict[int, list[int]]
    desk: list[int]
    queues: list[int]
    holdout_id: int
    holdout_start: int


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _utc_offset(zone: str, now: dt.datetime) -> int:
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _world(now: dt.datetime, rng: random.Random) -> World:
    """Queues, types, staff, clients with contacts, contracts and SLAs, holidays, a holdout."""
    from governance.models import Holdout

    start = now - dt.timedelta(days=DAYS)
    queues, types = _taxonomy()
    queue_techs, manager = _team(rng, queues)
    clients = _clients(rng, now, start)
    _holidays(start, now, [client.id for client in clients[:12]])
    holdout_start = now - dt.timedelta(days=HOLDOUT_DAYS)
    holdout = Holdout.objects.create(
        share=Decimal(str(HOLDOUT_SHARE)),
        starts_at=holdout_start,
        salt="bench",
        created_by=manager,
        note="Bench holdout",
    )
    return World(
        now=_epoch(now),
        start=_epoch(start),
        clients=clients,
        types=types,
        queue_techs=queue_techs,
        desk=queue_techs[queues["service-desk"]],
        queues=list(queues.values()),
        holdout_id=holdout.id,
        holdout_start=_epoch(holdout_start),
    )


def _taxonomy() -> tuple[dict[str, int], list[TypeInfo]]:
    from tickets.models import Queue, TicketType

    saved = Queue.objects.bulk_create([Queue(name=name, slug=slug) for name, slug in QUEUES])
    queues = {queue.slug: queue.id for queue in saved}
    rows = TicketType.objects.bulk_create(
        [
            TicketType(name=name, slug=name.lower().replace(" ", "-"), is_quick_win=quick)
            for name, _weight, _agent, _approval, _queue, quick in TYPES
        ]
    )
    types = [
        TypeInfo(
            id=row.id,
            name=name,
            weight=weight,
            agent=agent * AGENT_SCALE,
            approval=approval,
            queue=queues[queue],
        )
        for row, (name, weight, agent, approval, queue, _quick) in zip(rows, TYPES, strict=True)
    ]
    return queues, types


def _team(rng: random.Random, queues: dict[str, int]) -> tuple[dict[int, list[int]], StaffMember]:
    """The technicians by queue they take tickets from, an owner and a manager (returned)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    from tickets.models import StaffMember

    users = User.objects.bulk_create(
        User(
            username=username,
            first_name=username.title(),
            email=f"{username}@msp.example",
            password=make_password(None),  # unusable: nobody logs in with a password here
        )
        for username in [f"tech{n:02d}" for n in range(len(TEAM))] + ["owner", "manager"]
    )
    technicians = StaffMember.objects.bulk_create(
        StaffMember(
            user=user,
            role=StaffMember.Role.TECHNICIAN,
            all_clients=True,
            hourly_cost=Decimal(rng.randint(low, high)),
            takes_tickets=True,
        )
        for user, (_queue, low, high) in zip(users, TEAM, strict=False)
    )
    owner, manager = users[-2:]
    StaffMember.objects.create(
        user=owner, role=StaffMember.Role.OWNER, all_clients=True, takes_tickets=False
    )
    boss = StaffMember.objects.create(
        user=manager,
        role=StaffMember.Role.MANAGER,
        all_clients=True,
        takes_tickets=False,
        hourly_cost=Decimal("95"),
    )
    by_queue: dict[int, list[int]] = {queue: [] for queue in queues.values()}
    for member, (slug, _low, _high) in zip(technicians, TEAM, strict=True):
        by_queue[queues[slug]].append(member.id)
        member.queues.add(queues[slug])
    by_queue[queues["projects"]] = by_queue[queues["escalations"]]
    by_queue[queues["service-desk"]] += by_queue[queues["onboarding"]]
    return by_queue, boss


def _clients(rng: random.Random, now: dt.datetime, start: dt.datetime) -> list[ClientInfo]:
    """60 clients of Zipf-like sizes across time zones and opening hours, their contacts,
    contracts (some renewed a year or so ago, a few clients without one) and SLA targets."""
    from tickets.models import Client, Contact

    zones = [zone for zone, weight in ZONES for _ in range(weight)]
    ranks = list(range(60))
    rng.shuffle(ranks)
    weights = [1 / (rank + 1) ** 0.7 for rank in ranks]
    clients = Client.objects.bulk_create(
        Client(
            name=f"Client {number:02d} Ltd",
            identifier=f"client-{number:02d}",
            timezone=zones[number % len(zones)],
            business_days=rng.choices(["12345", "123456", "1234567"], [80, 15, 5])[0],
            business_start=dt.time(rng.choice([7, 8, 8, 9])),
            business_end=dt.time(rng.choice([17, 18, 18, 19])),
        )
        for number in range(60)
    )
    contacts: dict[int, list[int]] = {}
    people = (
        Contact(
            client=client,
            first_name=f"Person{number}",
            last_name=client.identifier,
            email=f"person{number}@{client.identifier}.example",
        )
        for client, weight in zip(clients, weights, strict=True)
        for number in range(8 + int(60 * weight))
    )
    for contact in Contact.objects.bulk_create(people, batch_size=2000):
        contacts.setdefault(contact.client_id, []).append(contact.id)
    return [
        ClientInfo(
            id=client.id,
            offset=_utc_offset(client.timezone, now),
            weight=weight,
            contacts=contacts[client.id],
            contracts=_contracts(rng, client, weight, now, start) if index < 56 else [],
        )
        for index, (client, weight) in enumerate(zip(clients, weights, strict=True))
    ]


def _contracts(
    rng: random.Random, client: Client, weight: float, now: dt.datetime, start: dt.datetime
) -> list[ContractInfo]:
    from tickets.models import Contract, SlaTarget

    kind = rng.choices(list(Contract.Kind), [70, 15, 15])[0]
    terms = {
        "client": client,
        "kind": kind,
        "monthly_revenue": Decimal(int(2000 + 25000 * weight)),
        "hourly_rate": None,
        "block_hours": Decimal(40) if kind == Contract.Kind.BLOCK_HOURS else None,
    }
    if kind == Contract.Kind.TIME_AND_MATERIALS:
        terms.update(monthly_revenue=Decimal(0), hourly_rate=Decimal(rng.randint(120, 160)))
    first = (start - dt.timedelta(days=rng.randint(100, 600))).date()
    if rng.random() < 0.25:  # renewed: the old agreement ended the day before
        renewed = (now - dt.timedelta(days=rng.randint(200, 500))).date()
        rows = [
            Contract(
                name="Agreement 1", starts_on=first, ends_on=renewed - dt.timedelta(days=1), **terms
            ),
            Contract(name="Agreement 2", starts_on=renewed, **terms),
        ]
    else:
        rows = [Contract(name="Agreement", starts_on=first, **terms)]
    found = []
    for contract in Contract.objects.bulk_create(rows):
        factor = rng.choice([0.5, 1.0, 1.0, 2.0])
        sla = {p: (int(r * factor), int(s * factor)) for p, (r, s) in SLA_MINUTES.items()}
        SlaTarget.objects.bulk_create(
            SlaTarget(
                contract=contract,
                priority=priority,
                response_minutes=response,
                resolution_minutes=resolution,
                business_hours_only=False,  # due times below are wall clock
            )
            for priority, (response, resolution) in sla.items()
        )
        ends = None if contract.ends_on is None else _epoch(_midnight(contract.ends_on)) + 86400
        found.append(
            ContractInfo(
                id=contract.id, starts=_epoch(_midnight(contract.starts_on)), ends=ends, sla=sla
            )
        )
    return found


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _holidays(start: dt.datetime, now: dt.datetime, local: list[int]) -> None:
    """Holidays for every client each year, and a few local ones for some clients."""
    from metrics.models import Holiday

    rows = []
    for year in range(start.year, now.year + 1):
        for month, date, name in (
            (1, 1, "New Year"),
            (12, 25, "Christmas"),
            (12, 26, "Boxing Day"),
        ):
            rows.append(Holiday(date=dt.date(year, month, date), name=name))
        for client in local:
            for month, date in ((4, 18), (7, 4), (11, 27)):
                rows.append(
                    Holiday(date=dt.date(year, month, date), name="Local", client_id=client)
                )
    Holiday.objects.bulk_create(rows, ignore_conflicts=True)


class _Clock:
    """Epoch seconds → PostgreSQL timestamptz text, from tables (a datetime per value is
    most of the generation time otherwise)."""

    def __init__(self, first: int, last: int) -> None:
        self.first_day = first // 86400 - 2
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.days = [
            (epoch + dt.timedelta(days=day)).strftime("%Y-%m-%d ")
            for day in range(self.first_day, last // 86400 + 60)
        ]
        self.seconds = [
            f"{h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)
        ]

    def __call__(self, moment: int) -> str:
        day = moment // 86400 - self.first_day
        if 0 <= day < len(self.days):
            return self.days[day] + self.seconds[moment % 86400]
        return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def _opened(world: World, tickets: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Opening times (sorted, so ids follow arrival) and each ticket's client index:
    weekday and office-hour peaks in the client's time zone, 50% growth over two years."""
    first_day = world.start // 86400
    days = np.arange(DAYS)
    weekday = (first_day + days + 3) % 7 + 1  # ISO weekday: 1970-01-01 was a Thursday
    weekdays = [WEEKDAY_LOAD[int(number)] for number in weekday]
    load = (0.8 + 0.4 * days / DAYS) * np.array(weekdays)
    day = rng.choice(DAYS, size=tickets, p=load / load.sum())
    weights = np.array([client.weight for client in world.clients])
    client = rng.choice(len(world.clients), size=tickets, p=weights / weights.sum())
    hours = np.array(HOUR_LOAD)
    hour = rng.choice(24, size=tickets, p=hours / hours.sum())
    offsets = np.array([c.offset for c in world.clients])
    opened = (
        (first_day + day) * 86400
        + hour * 3600
        + rng.integers(0, 3600, size=tickets)
        - offsets[client]
    )
    opened = np.clip(opened, world.start, world.now - 120)
    order = np.argsort(opened, kind="stable")
    return opened[order].tolist(), client[order].tolist()


@dataclass
class Batch:
    tickets: list[str] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    csat: list[str] = field(default_factory=list)
    llm: list[str] = field(default_factory=list)
    holdout: list[str] = field(default_factory=list)


def _lognormal(median: float, sigma: float, z: float) -> int:
    return int(median * math.exp(sigma * z))


class _Generator:
    """A batch of tickets with their timelines, as COPY text lines."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self.world = world
        self.rng = rng
        self.clock = _Clock(world.start, world.now)
        weights = np.array([t.weight for t in world.types], dtype=float)
        self.type_p = weights / weights.sum()

    def batch(self, first_id: int, opened: Sequence[int], clients: Sequence[int]) -> Batch:
        rng, count = self.rng, len(opened)
        uniform: list[list[float]] = rng.random((count, 26)).tolist()
        normal: list[list[float]] = rng.standard_normal((count, 8)).tolist()
        types: list[int] = rng.choice(len(self.world.types), size=count, p=self.type_p).tolist()
        priorities: list[int] = rng.choice(PRIORITIES[0], size=count, p=PRIORITIES[1]).tolist()
        out = Batch()
        for index in range(count):
            self._ticket(
                out,
                first_id + index,
                opened[index],
                self.world.clients[clients[index]],
                self.world.types[types[index]],
                priorities[index],
                uniform[index],
                normal[index],
            )
        return out

    def _ticket(
        self,
        out: Batch,
        ticket: int,
        opened: int,
        client: ClientInfo,
        kind: TypeInfo,
        priority: int,
        u: list[float],
        z: list[float],
    ) -> None:
        """One ticket's planned timeline, cut at now. `u` holds 26 uniform draws and `z` 8
        standard normal ones, one column per decision (a path, a delay, a reopen…)."""
        world, ts, now = self.world, self.clock, self.world.now
        ramp = 0.4 + 1.2 * (opened - world.start) / (world.now - world.start)
        arm = ""
        if opened >= world.holdout_start:
            arm = "control" if u[19] < HOLDOUT_SHARE else "treated"
        agent, approval = kind.agent * ramp, kind.approval * ramp
        if arm == "control" or u[0] >= agent + approval:
            path = HUMAN
        else:
            path = AGENT if u[0] < agent else APPROVAL
        contact = client.contacts[int(u[1] * len(client.contacts))]
        contract = client.contract_at(opened)
        queue = kind.queue
        if u[20] < 0.03:  # misfiled now and then
            queue = world.queues[int(u[20] / 0.03 * len(world.queues))]
        techs = world.queue_techs[queue]
        first_tech = techs[int(u[2] * len(techs))]
        body = BODIES[int(u[23] * len(BODIES))]
        events: list[Event] = [
            _ev(opened, "created", "requester", contact=contact, body=body),
            _ev(opened + 5 + int(u[16] * 20), "enriched", "system", name="Intake"),
        ]
        add = events.append
        resolved: int | None
        final: int | None = None
        if u[17] < 0.2:
            add(_ev(opened + 8, "tagged", "rule", name="Auto-tag", new="vip-site"))
        if contract is not None:
            add(_ev(opened + 6, "sla_changed", "system", name="SLA", new=f"P{priority}"))
        if path == HUMAN:
            first = opened + 60 + _lognormal(FIRST_RESPONSE[priority], 0.9, z[0])
            resolved = first + 120 + _lognormal(RESOLUTION[priority], 1.2, z[1])
            span = resolved - first
            assigned = opened + 30 + int(u[24] * 300)
            add(_ev(assigned, "assignment_changed", "rule", name="Dispatch", new=str(first_tech)))
            final = first_tech
            if u[4] < (0.25 if priority <= 2 else 0.13):
                others = [t for t in techs if t != first_tech] or world.desk
                final = others[int(u[3] * len(others))]
                add(
                    _ev(
                        first + span // 3,
                        "assignment_changed",
                        "human",
                        first_tech,
                        old=str(first_tech),
                        new=str(final),
                    )
                )
            add(_move(first - 20, "human", first_tech, "new", "in_progress"))
            add(_ev(first, "reply", "human", first_tech, body=BODIES[0]))
            if u[21] < 0.05:
                was, lower = str(priority), str(min(4, priority + 1))
                add(_ev(first + 5, "priority_changed", "human", first_tech, old=was, new=lower))
            if u[5] < 0.6:
                add(_ev(first + span // 2, "note", "human", final, body=BODIES[3]))
            if u[6] < 0.3:  # waiting on the requester for a while
                paused, back = first + span // 5, first + span // 4
                add(_move(paused, "human", first_tech, "in_progress", "waiting_customer"))
                add(_ev(back, "requester_reply", "requester", contact=contact, body=BODIES[7]))
                add(_move(back + 2, "system", None, "waiting_customer", "in_progress"))
            elif u[6] < 0.6:
                add(_ev(first + span // 4, "requester_reply", "requester", contact=contact))
            if u[7] < 0.5:
                add(_ev(first + span * 2 // 3, "reply", "human", final, body=BODIES[5]))
            if u[15] < STUCK_SHARE:  # waiting on the customer for ever: never resolved
                add(_move(first + 600, "human", first_tech, "in_progress", "waiting_customer"))
                resolved = None
            else:
                add(_move(resolved, "human", final, "in_progress", "resolved"))
        else:
            first = opened + 20 + int(u[16] * 160)
            if u[21] < 0.4:
                add(_ev(opened + 15, "rule_matched", "rule", name="Quick wins", data=RULE))
            add(_ev(opened + 18, "action", "agent", name="Agent", data=PROPOSED))
            add(_ev(first, "reply", "agent", name="Agent", body=BODIES[1]))
            if path == APPROVAL:
                approver = world.desk[int(u[18] * len(world.desk))]
                approved = first + 60 + _lognormal(3600, 1.0, z[6])
                add(_ev(approved, "action", "human", approver, data=APPROVED))
                resolved = approved + 30 + _lognormal(300, 0.8, z[1])
            else:
                resolved = first + 60 + _lognormal(600, 0.8, z[1])
            add(_ev(resolved - 10, "action", "agent", name="Agent", data=EXECUTED))
            if u[7] < 0.3:
                add(_ev(resolved + 300, "requester_reply", "requester", contact=contact))
            add(_move(resolved, "agent", None, "new", "resolved", name="Agent"))
        last_resolution = resolved
        minutes: list[tuple[int, int, int]] = []  # staff, started, minutes
        if resolved is not None and u[8] < REOPEN_SHARE:
            reopened = resolved + _lognormal(2 * 86400, 1.0, z[2])
            fixer = final if final is not None else world.desk[int(u[18] * len(world.desk))]
            again = reopened + 600 + _lognormal(6 * 3600, 1.0, z[3])
            add(_move(reopened, "requester", None, "resolved", "in_progress"))
            if final is None:
                dispatch = str(fixer)
                add(_ev(reopened + 60, "assignment_changed", "rule", name="Dispatch", new=dispatch))
            add(_ev((reopened + again) // 2, "reply", "human", fixer, body=BODIES[2]))
            add(_move(again, "human", fixer, "in_progress", "resolved"))
            minutes.append((fixer, again - 900, 15))
            final, last_resolution = fixer, again
        if last_resolution is not None:
            closing = last_resolution + 3 * 86400
            add(_move(closing, "system", None, "resolved", "closed", name="Auto-close"))
        if path == HUMAN and u[13] < 0.95 and final is not None:
            spent = max(1, min(480, _lognormal(20, 0.8, z[4])))
            end = resolved if resolved is not None else first + spent * 60
            minutes.append((final, max(opened, end - spent * 60), spent))
            if final != first_tech:
                minutes.append((first_tech, first, 10))
        if resolved is not None and u[9] < CSAT_SHARE:
            answered = resolved + 600 + _lognormal(5 * 3600, 1.2, z[5])
            if answered <= now:
                score = 1 + sum(u[10] > edge for edge in (0.03, 0.07, 0.17, 0.45))
                nps = str(min(10, int(u[12] * 6) + 5 + (score >= 4))) if u[11] < 0.7 else NULL
                out.csat.append(f"{ticket}\t{contact}\t{score}\t{nps}\t\t{ts(answered)}\n")
                data, value = f'{{"score": {score}}}', str(score)
                add(
                    _ev(
                        answered,
                        "csat_received",
                        "requester",
                        contact=contact,
                        new=value,
                        data=data,
                    )
                )
        self._write(
            out, ticket, opened, client, contact, kind, priority, contract, queue, body, u, events
        )
        for staff_id, started, spent in minutes:
            if started <= now:
                billable = "t" if u[14] < 0.85 else "f"
                out.entries.append(f"{ticket}\t{staff_id}\t{ts(started)}\t{spent}\t{billable}\t\n")
        if path != HUMAN or u[14] < 0.2:
            tokens = 900 + int(u[24] * 2500)
            cost = tokens * 0.15 / 1e6 + 250 * 0.6 / 1e6
            purpose = "triage" if path == HUMAN else "resolution"
            out.llm.append(
                f"{ticket}\t{purpose}\tgpt-4o-mini\t{tokens}\t250\t{cost:.8f}\t"
                f"{800 + u[24] * 2000:.1f}\tok\t\t{ts(opened + 10)}\n"
            )
        if arm:
            out.holdout.append(f"{ticket}\t{world.holdout_id}\t{arm}\t{ts(opened + 1)}\n")

    def _write(
        self,
        out: Batch,
        ticket: int,
        opened: int,
        client: ClientInfo,
        contact: int,
        kind: TypeInfo,
        priority: int,
        contract: ContractInfo | None,
        queue: int,
        body: str,
        u: list[float],
        planned: list[Event],
    ) -> None:
        """The timeline up to now as event lines, and the ticket row as it stands now."""
        ts = self.clock
        events = sorted((e for e in planned if e[0] <= self.world.now), key=itemgetter(0))
        status, resolved_at, closed_at, first_response = "new", 0, 0, 0
        assignee: int | None = None
        lines = out.events
        for at, what, actor, staff, who, name, old, new, text, data in events:
            stamp = ts(at)
            lines.append(
                (
                    at,
                    f"{ticket}\t{what}\t{stamp}\t{actor}\t{NULL if staff is None else staff}\t"
                    f"{NULL if who is None else who}\t{name}\t{old}\t{new}\t{text}\t{data}\t"
                    f"{NULL}\t{stamp}\n",
                )
            )
            if what == "status_changed":
                status = new
                if new == "resolved":
                    resolved_at = at
                elif new == "closed":
                    closed_at = at
            elif what == "assignment_changed":
                assignee = int(new)
            elif what == "reply" and not first_response:
                first_response = at
        if status not in DONE:
            resolved_at = closed_at = 0
        elif status == "resolved":
            closed_at = 0
        last = ts(events[-1][0])
        response_due = resolution_due = NULL
        if contract is not None:
            response, resolution = contract.sla[priority]
            response_due, resolution_due = ts(opened + response * 60), ts(opened + resolution * 60)
        opened_text = ts(opened)
        row = (
            str(ticket),
            SOURCES[int(u[22] * len(SOURCES))],
            f"B{ticket:08d}",
            f"{kind.name}: {SUBJECTS[int(u[25] * len(SUBJECTS))]}",
            body,
            status,
            str(priority),
            opened_text,
            ts(first_response) if first_response else NULL,
            ts(resolved_at) if resolved_at else NULL,
            ts(closed_at) if closed_at else NULL,
            response_due,
            resolution_due,
            last,
            "{}",
            opened_text,
            last,
            NULL if assignee is None else str(assignee),
            str(client.id),
            str(contact),
            NULL if contract is None else str(contract.id),
            str(queue),
            str(kind.id),
        )
        out.tickets.append("\t".join(row) + "\n")


def _move(at: int, actor: str, staff: int | None, old: str, new: str, name: str = "") -> Event:
    """A status change."""
    return (at, "status_changed", actor, staff, None, name, old, new, "", "{}")


def _ev(
    at: int,
    kind: str,
    actor: str,
    staff: int | None = None,
    *,
    contact: int | None = None,
    name: str = "",
    old: str = "",
    new: str = "",
    body: str = "",
    data: str = "{}",
) -> Event:
    return (at, kind, actor, staff, contact, name, old, new, body, data)


def _copy(
    cursor: Any, table: str, columns: Sequence[str], lines: Iterator[str] | list[str]
) -> None:
    """COPY text lines (already escaped: nothing generated holds a tab, newline or backslash)."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(statement) as copy:
        buffer: list[str] = []
        size = 0
        for line in lines:
            buffer.append(line)
            size += len(line)
            if size > 4_000_000:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))


BULK_TABLES = (
    "tickets_ticket",
    "tickets_ticketevent",
    "tickets_timeentry",
    "tickets_csatresponse",
    "automation_llmcall",
    "governance_holdoutticket",
)


@dataclass(frozen=True)
class Dropped:
    """The plain indexes and foreign keys of the bulk-loaded tables, as PostgreSQL defines
    them (pg_get_indexdef / pg_get_constraintdef), to re-create exactly after the load."""

    indexes: list[tuple[str, str]]
    foreign_keys: list[tuple[str, str, str]]


def _drop_for_load(tables: Sequence[str]) -> Dropped:
    """Drop what a bulk load re-creates afterwards: per-row index maintenance and deferred
    foreign-key checks (one lookup per row at commit) cost ~6x the COPY itself. Primary
    keys, unique and check constraints and the metrics triggers stay."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)""",
            [list(tables)],
        )
        foreign_keys = [(table, name, definition) for table, name, definition in cursor.fetchall()]
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [list(tables)],
        )
        indexes = [(name, definition) for name, definition in cursor.fetchall()]
        for table, name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    return Dropped(indexes=indexes, foreign_keys=foreign_keys)


def _restore(dropped: Dropped) -> None:
    """Re-create the indexes (parallel sorts) and foreign keys (validated over every row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for _name, definition in dropped.indexes:
            cursor.execute(definition)
        for table, name, definition in dropped.foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("RESET maintenance_work_mem")


def seed(tickets: int, now: dt.datetime) -> dict[str, Any]:
    """Reference rows, then the history in batches of CHUNK tickets, one transaction each,
    the next batch generated (in a thread) while the last one is copied."""
    from django.db import connection, transaction

    started = time.perf_counter()
    world = _world(now, random.Random(SEED))
    rng = np.random.default_rng(SEED)
    opened, clients = _opened(world, tickets, rng)
    generator = _Generator(world, rng)
    dropped = _drop_for_load(BULK_TABLES)
    counts = {"events": 0, "time_entries": 0, "csat_responses": 0, "llm_calls": 0}

    def make(first: int) -> Batch:
        batch = generator.batch(
            first + 1, opened[first : first + CHUNK], clients[first : first + CHUNK]
        )
        batch.events.sort(key=itemgetter(0))  # the heap in arrival order, as in production
        return batch

    last_report = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(make, 0)
        for first in range(0, tickets, CHUNK):
            batch = pending.result()
            if first + CHUNK < tickets:
                pending = pool.submit(make, first + CHUNK)
            with transaction.atomic(), connection.cursor() as wrapper:
                cursor = wrapper.cursor
                _copy(cursor, "tickets_ticket", TICKET_COLUMNS, batch.tickets)
                events = (line for _at, line in batch.events)
                _copy(cursor, "tickets_ticketevent", EVENT_COLUMNS, events)
                _copy(cursor, "tickets_timeentry", ENTRY_COLUMNS, batch.entries)
                _copy(cursor, "tickets_csatresponse", CSAT_COLUMNS, batch.csat)
                _copy(cursor, "automation_llmcall", LLM_COLUMNS, batch.llm)
                _copy(cursor, "governance_holdoutticket", HOLDOUT_COLUMNS, batch.holdout)
            counts["events"] += len(batch.events)
            counts["time_entries"] += len(batch.entries)
            counts["csat_responses"] += len(batch.csat)
            counts["llm_calls"] += len(batch.llm)
            done = min(first + CHUNK, tickets)
            if time.perf_counter() - last_report > 15 or done == tickets:
                last_report = time.perf_counter()
                elapsed = last_report - started
                _say(
                    f"seed {done:,}/{tickets:,} tickets, {counts['events']:,} events, "
                    f"{elapsed:.0f} s ({done / elapsed:,.0f} tickets/s)"
                )
    copied = time.perf_counter()
    _say("seed: re-creating indexes and foreign keys…")
    _restore(dropped)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s)", [tickets]
        )
    restored = time.perf_counter()
    _vacuum([*BULK_TABLES, "metrics_factdirty"])
    finished = time.perf_counter()
    return {
        **counts,
        "seed_seconds": round(finished - started, 1),
        "seed_copy_seconds": round(copied - started, 1),
        "seed_index_fk_seconds": round(restored - copied, 1),
        "seed_vacuum_analyze_seconds": round(finished - restored, 1),
        "seed_tickets_per_second": round(tickets / (finished - started)),
        "seed_events_per_second": round(counts["events"] / (finished - started)),
    }


def _vacuum(tables: Sequence[str]) -> None:
    """What autovacuum would have done by the time anyone looks: visibility map, statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- Facts ------------------------------------------------------------------------------------


def refresh_worker() -> dict[str, Any]:
    """One of the parallel refreshers (its own process): drain FactDirty."""
    import django

    django.setup()
    from django.conf import settings

    from metrics.facts import facts_refresh_all

    settings.DEBUG = False
    started = time.perf_counter()
    done = facts_refresh_all()
    return {"tickets": done, "seconds": round(time.perf_counter() - started, 1)}


def facts_parallel(workers: int, total: int) -> dict[str, Any]:
    from metrics.models import FactDirty

    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.dashboards", "--refresh-worker"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    last = started
    while any(child.poll() is None for child in children):
        time.sleep(0.5)
        if time.perf_counter() - last > 15:
            last = time.perf_counter()
            left = FactDirty.objects.count()
            elapsed = last - started
            _say(
                f"facts {total - left:,}/{total:,} tickets, {elapsed:.0f} s "
                f"({(total - left) / elapsed:,.0f} tickets/s)"
            )
    seconds = time.perf_counter() - started
    outputs = []
    for child in children:
        stdout, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"a refresher failed with status {child.returncode}")
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    return {
        "facts_mode": "refresh",
        "facts_workers": workers,
        "facts_seconds": round(seconds, 1),
        "facts_per_worker": outputs,
    }


def facts_rebuild_timed(total: int) -> dict[str, Any]:
    from metrics.facts import facts_rebuild
    from metrics.models import FactDirty

    started = time.perf_counter()
    last = [started]

    def progress(done: int, of: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 15 or done == of:
            last[0] = now
            rate = done / (now - started)
            _say(f"facts {done:,}/{of:,} tickets, {now - started:.0f} s ({rate:,.0f} tickets/s)")

    facts_rebuild(on_batch=progress)
    seconds = time.perf_counter() - started
    # The rebuild recomputed every ticket after the marks were made: they are all served.
    FactDirty.objects.all().delete()
    return {"facts_mode": "rebuild", "facts_workers": 1, "facts_seconds": round(seconds, 1)}


def facts_profile(tickets: int) -> dict[str, Any]:
    """cProfile of one facts_compute batch of PROFILE_TICKETS tickets (mid-history): the
    cumulative time of each function in metrics.facts and metrics.calendar, and the
    functions with the most time of their own."""
    from metrics.facts import facts_compute
    from tickets.models import Ticket

    first = max(0, tickets // 2 - PROFILE_TICKETS // 2)
    ids = list(
        Ticket.objects.order_by("id").values_list("id", flat=True)[first : first + PROFILE_TICKETS]
    )
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    facts_compute(ids)
    profiler.disable()
    seconds = time.perf_counter() - started
    entries: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows, ours = [], {}
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in entries.items():
        name = f"{_short(filename)}:{line}({function})"
        rows.append({"function": name, "calls": calls, "tottime_s": round(tottime, 3)})
        if filename.endswith(("metrics/facts.py", "metrics/calendar.py")):
            ours[name] = round(cumtime, 3)
    rows.sort(key=itemgetter("tottime_s"), reverse=True)
    _say(f"profile: {len(ids)} tickets in {seconds:.2f} s under cProfile")
    return {
        "tickets": len(ids),
        "seconds_under_profile": round(seconds, 2),
        "cumulative_s": dict(sorted(ours.items(), key=itemgetter(1), reverse=True)[:12]),
        "top_own_time": rows[:15],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- Pages ------------------------------------------------------------------------------------


def _periods(today: dt.date) -> list[str]:
    yesterday = today - dt.timedelta(days=1)
    return [
        "period=last_week",
        "period=this_week",
        "period=last_4_weeks",
        "period=last_12_weeks",
        f"period=custom&start={yesterday - dt.timedelta(days=181)}&end={yesterday}",
        f"period=custom&start={yesterday - dt.timedelta(days=364)}&end={yesterday}",
    ]


def page_urls(today: dt.date) -> dict[str, list[str]]:
    """30 owner and 30 operations URLs: every period with several dimension filters."""
    from django.db.models import Count

    from tickets.models import Client, Queue, StaffMember, TicketType

    clients = list(
        Client.objects.annotate(n=Count("tickets")).order_by("-n").values_list("id", flat=True)
    )
    big, mid, small = clients[0], clients[len(clients) // 3], clients[-5]
    types = dict(TicketType.objects.values_list("slug", "id"))
    queues = list(Queue.objects.order_by("id").values_list("id", flat=True))
    techs = list(
        StaffMember.objects.filter(takes_tickets=True).order_by("id").values_list("id", flat=True)
    )
    owner: list[str] = []
    operations: list[str] = []
    export: list[str] = []
    for number, period in enumerate(_periods(today)):
        owner.extend(
            f"/metrics/?{period}{extra}"
            for extra in (
                "",
                f"&client={big}",
                f"&ticket_type={types['password-reset']}",
                f"&client={mid}&ticket_type={types['hardware-failure']}",
                f"&client={small}",
            )
        )
        operations.extend(
            f"/metrics/operations/?{period}{extra}"
            for extra in (
                "",
                f"&queue={queues[number % 7]}",
                f"&technician={techs[(number * 5) % len(techs)]}",
                f"&path={('agent', 'human', 'agent_approval')[number % 3]}",
                f"&client={big}&ticket_type={types['network-outage']}",
            )
        )
        export.extend(f"/metrics/export.csv?{period}{extra}" for extra in ("", f"&client={mid}"))
    return {"owner": owner, "operations": operations, "export": export}


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


def time_pages(http: Any, urls: list[str]) -> dict[str, float]:
    """Each URL once, in order, after one warm-up request; milliseconds by URL."""
    http.get(urls[0])  # warm-up: templates, form querysets, the connection
    by_url = {}
    for url in urls:
        started = time.perf_counter()
        response = http.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        by_url[url] = round(elapsed, 1)
    return by_url


def by_period(by_url: dict[str, float]) -> dict[str, float]:
    """The slowest request of each period, so the expensive ranges stand out."""
    worst: dict[str, float] = {}
    for url, ms in by_url.items():
        query = url.split("?", 1)[1]
        period = query.split("&")[0].removeprefix("period=")
        if period == "custom":
            start = dt.date.fromisoformat(query.split("start=")[1][:10])
            end = dt.date.fromisoformat(query.split("end=")[1][:10])
            period = f"custom_{(end - start).days + 1}d"
        worst[period] = max(worst.get(period, 0.0), ms)
    return worst


def query_shape(sql: str) -> str:
    """A name for what a query computes, from its table, the metrics or columns it selects,
    what it groups by and whether it filters on the holdout arm, so that time can be summed
    per kind of query across requests."""
    table = re.search(r'\bFROM "(\w+)"', sql)
    name = table.group(1) if table else sql.split()[0]
    cut = sql.find(" FROM ")
    head, rest = (sql[:cut], sql[cut:]) if cut >= 0 else (sql, "")
    if head.startswith("SELECT 1 AS"):
        return f"{name}: exists"
    aliases = re.findall(r' AS "(\w+)"', head)
    metrics = sorted({alias.split("__")[0] for alias in aliases if "__" in alias})
    columns = [alias for alias in aliases if "__" not in alias]
    if metrics:
        listed = ", ".join(metrics[:3]) + (", …" if len(metrics) > 3 else "")
        what = f"{len(metrics)} metrics ({listed})"
    else:
        what = ", ".join(columns[:4]) or "rows"
    grouped = re.search(r"GROUP BY (\S+)", rest)
    if grouped:
        key = grouped.group(1).rstrip(",")
        what += f" by {columns[0] if key == '1' and columns else key}"
    if '"holdout_arm" = ' in rest:
        what += " [holdout arm]"
    return f"{name}: {what}"


def query_shapes(http: Any, urls: list[str]) -> dict[str, Any]:
    """Replay every URL with its queries captured: SQL time by kind of query, and the share
    of the request spent in SQL (the rest is Python: ORM, forms, templates)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    shapes: dict[str, dict[str, float]] = {}
    total = sql = 0.0
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            http.get(url)
            total += (time.perf_counter() - started) * 1000
        for query in captured.captured_queries:
            ms = float(query["time"]) * 1000
            sql += ms
            shape = shapes.setdefault(query_shape(query["sql"]), {"ms": 0.0, "n": 0, "max_ms": 0.0})
            shape["ms"] += ms
            shape["n"] += 1
            shape["max_ms"] = max(shape["max_ms"], ms)
    ranked = sorted(shapes.items(), key=lambda item: item[1]["ms"], reverse=True)
    return {
        "sql_share": round(sql / total, 2) if total else None,
        "sql_ms_per_request": round(sql / len(urls), 1),
        "python_ms_per_request": round((total - sql) / len(urls), 1),
        "by_query": {
            shape: {
                "total_ms": round(v["ms"], 1),
                "per_request_ms": round(v["ms"] / len(urls), 1),
                "queries": int(v["n"]),
                "max_ms": round(v["max_ms"], 1),
            }
            for shape, v in ranked[:10]
        },
    }


def diagnose(http: Any, url: str, *, explain: int) -> dict[str, Any]:
    """Replay one request with its queries captured; EXPLAIN ANALYZE the `explain` costliest
    (of different kinds)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        http.get(url)
        total = (time.perf_counter() - started) * 1000
    queries = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)
    found: dict[str, Any] = {
        "url": url,
        "ms": round(total, 1),
        "queries": len(queries),
        "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
        "top": [
            {"ms": round(float(q["time"]) * 1000, 1), "kind": query_shape(q["sql"])}
            for q in queries[:6]
        ],
        "plans": [],
    }
    seen: set[str] = set()
    for query in queries:
        if len(found["plans"]) >= explain:
            break
        kind = query_shape(query["sql"])
        if kind in seen:
            continue
        seen.add(kind)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
        found["plans"].append({"kind": kind, "sql": query["sql"][:1500], "plan": plan[:40]})
    return found


def measure_pages(today: dt.date) -> dict[str, Any]:
    from django.test import Client as HttpClient

    from tickets.models import StaffMember

    owner = StaffMember.objects.get(role=StaffMember.Role.OWNER)
    http = HttpClient()
    http.force_login(owner.user)
    urls = page_urls(today)
    result: dict[str, Any] = {"load_average_before_pages": os.getloadavg()[0]}
    slowest: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for page in ("owner", "operations", "export"):
        _say(f"timing {len(urls[page])} {page} requests")
        by_url = time_pages(http, urls[page])
        samples = list(by_url.values())
        summary = _summary(samples)
        result.update({f"{page}_{key}": value for key, value in summary.items()})
        result[f"{page}_by_period_max_ms"] = by_period(by_url)
        result[f"{page}_requests_ms"] = {url.split("?", 1)[1]: ms for url, ms in by_url.items()}
        _say(f"{page}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
        result[f"{page}_where_time_goes"] = query_shapes(http, urls[page])
        over = summary["p95_ms"] > TARGET_MS
        worst = max(by_url, key=lambda url: by_url[url])
        slowest[page] = diagnose(http, worst, explain=2 if over else 0)
        problems.extend({"page": page, "url": worst, **plan} for plan in slowest[page]["plans"])
    result["load_average_after_pages"] = os.getloadavg()[0]
    result["owner_under_target"] = result["owner_p95_ms"] < TARGET_MS
    result["operations_under_target"] = result["operations_p95_ms"] < TARGET_MS
    result["slowest"] = slowest
    result["problem_plans"] = problems
    return result


def measure_reports(today: dt.date) -> dict[str, Any]:
    from metrics.models import WeeklyReport
    from metrics.reports import last_full_week, weekly_report_generate

    samples, stored = [], []
    for weeks_back in range(4):
        week = last_full_week(today) - dt.timedelta(weeks=weeks_back)
        WeeklyReport.objects.filter(week_starts_on=week).delete()
        started = time.perf_counter()
        report = weekly_report_generate(week_starts_on=week)
        samples.append((time.perf_counter() - started) * 1000)
        stored.append(round(report.generation_ms, 1))
    _say(f"weekly report: {', '.join(f'{s:.0f} ms' for s in samples)}")
    return {
        "report_ms": round(statistics.median(samples), 1),
        "report_max_ms": round(max(samples), 1),
        "report_generation_ms_stored": stored,
    }


def freeze_baseline(now: dt.datetime) -> dict[str, Any]:
    from metrics.services import baseline_freeze
    from tickets.models import StaffMember

    first = (now - dt.timedelta(days=DAYS - 7)).date()
    monday = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    started = time.perf_counter()
    baseline = baseline_freeze(
        name="Before automation",
        starts_on=monday,
        ends_on=monday + dt.timedelta(days=90),
        staff=StaffMember.objects.get(role=StaffMember.Role.MANAGER),
    )
    seconds = time.perf_counter() - started
    _say(f"baseline frozen in {seconds:.1f} s ({baseline.values.count()} cells)")
    return {"baseline_freeze_seconds": round(seconds, 2), "baseline_cells": baseline.values.count()}


# --- Staying correct as events arrive -------------------------------------------------------


def measure_refresh(events: int = 1000) -> dict[str, Any]:
    """New events for existing tickets, then the scheduled refresh: timed and checked.

    Open tickets get a technician's reply and a status change into resolved (two events
    each), recently resolved ones are reopened by the requester, and the rest of the events
    are technicians' notes on last month's tickets."""
    from django.db import transaction
    from django.utils import timezone

    from metrics.definitions import METRICS
    from metrics.facts import Calendars, facts_refresh
    from metrics.forms import period_bounds
    from metrics.models import FactDirty, RollupDirty, TicketFact
    from metrics.rollup import WEEK_MARK, rollup_refresh_all
    from metrics.selectors import FactFilter, figures
    from tickets.models import Ticket, TicketEvent

    now = timezone.now()
    start, end = period_bounds("this_week", timezone.localdate(now))
    this_week = FactFilter(start=start, end=end)
    count = [METRICS["deflection_rate"]]
    before_week = figures(this_week, user=None, metrics=count)["deflection_rate"].count
    open_facts = list(
        TicketFact.objects.filter(resolved_at__isnull=True, ticket__status__in=Ticket.OPEN_STATUSES)
        .exclude(technician__isnull=True)
        .order_by("ticket_id")
        .values_list("ticket_id", "technician_id", "ticket__status")[: events * 2 // 5 // 2]
    )
    reopen = list(
        TicketFact.objects.filter(
            resolved_at__gte=now - dt.timedelta(days=6), ticket__status="resolved", reopens=0
        )
        .order_by("ticket_id")
        .values_list("ticket_id", flat=True)[: events // 5]
    )
    notes = events - 2 * len(open_facts) - len(reopen)
    noted = list(
        TicketFact.objects.filter(resolved_at__gte=now - dt.timedelta(days=30))
        .exclude(ticket_id__in=reopen)
        .exclude(technician__isnull=True)
        .order_by("-ticket_id")
        .values_list("ticket_id", "technician_id")[:notes]
    )
    rows = []
    for offset, (ticket, tech, status) in enumerate(open_facts):
        at = now - dt.timedelta(seconds=60 - offset % 50)
        common = {"ticket_id": ticket, "actor_kind": "human", "actor_staff_id": tech}
        rows.append(TicketEvent(kind="reply", occurred_at=at, body=BODIES[5], **common))
        rows.append(
            TicketEvent(
                kind="status_changed",
                occurred_at=at + dt.timedelta(seconds=5),
                old_value=status,
                new_value="resolved",
                **common,
            )
        )
    rows.extend(
        TicketEvent(
            ticket_id=ticket,
            kind="status_changed",
            occurred_at=now - dt.timedelta(seconds=30),
            actor_kind="requester",
            old_value="resolved",
            new_value="in_progress",
        )
        for ticket in reopen
    )
    rows.extend(
        TicketEvent(
            ticket_id=ticket,
            kind="note",
            occurred_at=now - dt.timedelta(seconds=20),
            actor_kind="human",
            actor_staff_id=tech,
            body=BODIES[3],
        )
        for ticket, tech in noted
    )
    resolved_ids = [ticket for ticket, _tech, _status in open_facts]
    touched = {*resolved_ids, *reopen, *(ticket for ticket, _tech in noted)}
    started = time.perf_counter()
    with transaction.atomic():
        TicketEvent.objects.bulk_create(rows, batch_size=1000)
        Ticket.objects.filter(id__in=resolved_ids).update(status="resolved", resolved_at=now)
        Ticket.objects.filter(id__in=reopen).update(status="in_progress", resolved_at=None)
    insert_ms = (time.perf_counter() - started) * 1000
    dirty = FactDirty.objects.count()
    refresh_started = timezone.now()
    # facts_refresh_all()'s two steps, timed apart: the facts of the stale tickets, then the
    # rollup slices and weeks they marked.
    started = time.perf_counter()
    calendars, refreshed = Calendars(), 0
    while done := facts_refresh(limit=500, calendars=calendars):
        refreshed += done
    facts_ms = (time.perf_counter() - started) * 1000
    weeks_marked = RollupDirty.objects.filter(client_key=WEEK_MARK).count()
    slices_marked = RollupDirty.objects.count() - weeks_marked
    rollup_refresh_all()
    refresh_ms = (time.perf_counter() - started) * 1000
    after_week = figures(this_week, user=None, metrics=count)["deflection_rate"].count
    rollup = rollup_against_facts(touched)
    medians = medians_against_facts()
    checks = {
        "tickets_touched": len(touched),
        "dirty_marked": dirty,
        "tickets_refreshed": refreshed,
        "facts_recomputed": TicketFact.objects.filter(
            ticket_id__in=touched, computed_at__gte=refresh_started
        ).count(),
        "open_tickets_resolved": len(resolved_ids),
        "facts_resolved_now": TicketFact.objects.filter(
            ticket_id__in=resolved_ids, resolved_at__gte=now - dt.timedelta(minutes=2)
        ).count(),
        "tickets_reopened": len(reopen),
        "facts_reopened_7d": TicketFact.objects.filter(
            ticket_id__in=reopen, reopens=1, reopened_7d=True
        ).count(),
        "notes_added": len(noted),
        "this_week_resolved_before": before_week,
        "this_week_resolved_after": after_week,
        "dirty_left": FactDirty.objects.count(),
        **rollup,
        **medians,
    }
    correct = (
        rollup.get("rollup_matches_facts", True)
        and rollup.get("histograms_match_facts", True)
        and medians["medians_match_facts"]
        and checks["facts_recomputed"] == len(touched)
        and checks["facts_resolved_now"] == len(resolved_ids)
        and checks["facts_reopened_7d"] == len(reopen)
        and after_week - before_week == len(resolved_ids)
        and checks["dirty_left"] == 0
    )
    _say(f"refresh after {len(rows)} events: {refresh_ms:.0f} ms, correct={correct}")
    return {
        "refresh_events": len(rows),
        "refresh_insert_ms": round(insert_ms, 1),
        "refresh_1000_events_ms": round(refresh_ms, 1),
        "refresh_facts_ms": round(facts_ms, 1),
        "refresh_rollup_ms": round(refresh_ms - facts_ms, 1),
        "refresh_rollup_weeks": weeks_marked,
        "refresh_rollup_slices": slices_marked,
        "refresh_correct": correct,
        "refresh_checks": checks,
    }


def _rollup_model() -> Any:
    """The weekly rollup model when this version of the metrics app has one."""
    from django.apps import apps

    try:
        return apps.get_model("metrics", "FactWeek")
    except LookupError:
        return None


def rollup_against_facts(tickets: set[int]) -> dict[str, Any]:
    """Every week the touched tickets now count in, summed from the rollup and from the
    facts directly: tickets, reopened within 7 days, agent-alone — they must agree."""
    from django.db.models import Count, Q, Sum

    from metrics.models import TicketFact

    model = _rollup_model()
    if model is None:
        return {}
    weeks = set(
        TicketFact.objects.filter(ticket_id__in=tickets, resolved_week__isnull=False)
        .values_list("resolved_week", flat=True)
        .distinct()
    )
    from_facts = TicketFact.objects.filter(resolved_week__in=weeks).aggregate(
        tickets=Count("pk"),
        reopened=Count("pk", filter=Q(reopened_7d=True)),
        agent=Count("pk", filter=Q(path="agent")),
    )
    rows = model.objects.filter(week__in=weeks)
    grains = sorted(set(rows.values_list("grain", flat=True))) if _has_grains(model) else [None]
    days = {week + dt.timedelta(days=n) for week in weeks if week for n in range(7)}
    by_grain: dict[str, dict[str, int]] = {}
    for grain in grains:
        # Rows of a grain's days (code 100 and up) are dated by day, not by week.
        daily = grain is not None and grain >= 100
        chosen = model.objects.filter(week__in=days) if daily else rows
        rolled = (chosen if grain is None else chosen.filter(grain=grain)).aggregate(
            tickets=Sum("tickets"),
            reopened=Sum("reopen_rate_total"),
            agent=Sum("deflection_rate_total"),
        )
        by_grain[str(grain)] = {key: int(value or 0) for key, value in rolled.items()}
    return {
        "rollup_weeks_checked": len(weeks),
        "rollup_sums_by_grain": by_grain,
        "facts_sums": from_facts,
        "rollup_matches_facts": all(sums == from_facts for sums in by_grain.values()),
        **histograms_against_facts(weeks),
    }


def medians_against_facts() -> dict[str, Any]:
    """The operations page's medians over the last 365 days, against percentile_cont over
    every fact of the period."""
    from django.utils import timezone

    from metrics.definitions import CATALOGUE
    from metrics.selectors import FactFilter, Median, facts_in, figures

    today = timezone.localdate()
    filters = FactFilter(start=today - dt.timedelta(days=364), end=today + dt.timedelta(days=1))
    medians = [m for m in CATALOGUE if m.kind == "median"]
    shown = figures(filters, user=None, metrics=medians)
    found = {}
    for metric in medians:
        exact = facts_in(filters, user=None).filter(metric.population)
        value = exact.aggregate(m=Median(metric.field))["m"]
        found[metric.key] = {"page": shown[metric.key].median, "percentile_cont": value}
    return {
        "medians_year": found,
        "medians_match_facts": all(row["page"] == row["percentile_cont"] for row in found.values()),
    }


def _has_grains(model: Any) -> bool:
    return any(field.name == "grain" for field in model._meta.fields)


def histograms_against_facts(weeks: set[Any]) -> dict[str, Any]:
    """Every median metric's histogram counts at every grain, over the same weeks, against
    the facts that have a value."""
    from django.apps import apps
    from django.db.models import Sum

    from metrics.definitions import CATALOGUE
    from metrics.models import TicketFact

    try:
        model = apps.get_model("metrics", "FactHistogram")
    except LookupError:
        return {}
    found: dict[str, Any] = {}
    for metric in (m for m in CATALOGUE if m.kind == "median"):
        facts = TicketFact.objects.filter(metric.population, resolved_week__in=weeks)
        expected = facts.filter(**{f"{metric.field}__isnull": False}).count()
        rows = model.objects.filter(metric=metric.key, week__in=weeks)
        counted = {
            grain: rows.filter(grain=grain).aggregate(n=Sum("count"))["n"] or 0
            for grain in (0, 1, 2)
        }
        found[metric.key] = {"facts": expected, "histograms": counted}
    return {
        "histogram_counts": found,
        "histograms_match_facts": all(
            all(n == row["facts"] for n in row["histograms"].values()) for row in found.values()
        ),
    }


def rollup_rebuild_timed() -> dict[str, Any]:
    """The rollup rebuilt from the facts on its own (facts_rebuild ends with it too)."""
    model = _rollup_model()
    if model is None:
        return {}
    from metrics.rollup import rollup_rebuild

    started = time.perf_counter()
    rows = rollup_rebuild()
    seconds = time.perf_counter() - started
    _say(f"rollup rebuilt: {rows:,} rows in {seconds:.1f} s")
    return {"rollup_rows": rows, "rollup_rebuild_seconds": round(seconds, 1)}


# --- The run ----------------------------------------------------------------------------------


FACT_TABLES = (
    "metrics_ticketfact",
    "metrics_factdirty",
    "metrics_factweek",
    "metrics_facthistogram",
    "metrics_rollupdirty",
)


def _table_exists(table: str) -> bool:
    from django.db import connection

    return table in connection.introspection.table_names()


def _sizes() -> dict[str, Any]:
    from django.db import connection

    tables = [
        t for t in ("tickets_ticket", "tickets_ticketevent", *FACT_TABLES) if _table_exists(t)
    ]
    with connection.cursor() as cursor:
        sizes = {}
        for table in tables:
            cursor.execute("SELECT pg_total_relation_size(%s) / 1048576", [table])
            sizes[table] = int(cursor.fetchone()[0])
    return sizes


def _shape() -> dict[str, Any]:
    from django.db.models import Count

    from metrics.models import TicketFact
    from tickets.models import Client, Queue, StaffMember, Ticket, TicketEvent, TicketType

    facts = TicketFact.objects.count()
    paths = dict(
        TicketFact.objects.exclude(path="").values_list("path").annotate(n=Count("pk")).order_by()
    )
    resolved = sum(paths.values()) or 1
    return {
        "tickets": Ticket.objects.count(),
        "events": TicketEvent.objects.count(),
        "facts": facts,
        "open_tickets": Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES).count(),
        "path_shares": {path: round(n / resolved, 3) for path, n in paths.items()},
        "clients": Client.objects.count(),
        "technicians": StaffMember.objects.filter(takes_tickets=True).count(),
        "ticket_types": TicketType.objects.count(),
        "queues": Queue.objects.count(),
    }


def measure(tickets: int) -> dict[str, Any]:
    """Runs in the child process, against its own database."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from metrics.models import Baseline, FactDirty, RollupDirty, TicketFact
    from tickets.models import Ticket

    # Not setup_test_environment(): it instruments every template render to copy its
    # context for test assertions, a cost production never pays. The test client only needs
    # its host allowed, and nothing may send real mail.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEBUG = False
    if connection.vendor != "postgresql":
        sys.exit("bench.dashboards needs PostgreSQL.")
    mode = os.environ.get("BENCH_DASHBOARDS_FACTS", "rebuild")
    workers = int(os.environ.get("BENCH_DASHBOARDS_WORKERS", "2"))
    reuse = os.environ.get("BENCH_DASHBOARDS_REUSE") == "1"
    now = timezone.now().replace(second=0, microsecond=0)
    result: dict[str, Any] = {"bench": "dashboards", "target_ms": TARGET_MS}
    if reuse and Ticket.objects.exists():
        tickets = Ticket.objects.count()
        _say(f"reusing {tickets:,} tickets; migrating to the code measured…")
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        result["reuse_migrate_seconds"] = round(time.perf_counter() - started, 1)
    else:
        call_command("migrate", verbosity=0)
        _say(f"seeding {tickets:,} tickets over {DAYS} days…")
        result.update(seed(tickets, now))
    if TicketFact.objects.count() < tickets or FactDirty.objects.exists():
        total = FactDirty.objects.count() if mode == "refresh" else tickets
        _say(f"computing facts ({mode}, {workers if mode == 'refresh' else 1} process(es))…")
        timing = facts_parallel(workers, total) if mode == "refresh" else facts_rebuild_timed(total)
        timing["facts_per_second"] = round(total / timing["facts_seconds"], 1)
        result.update(timing)
        result.update(rollup_rebuild_timed())
        _vacuum([table for table in FACT_TABLES if _table_exists(table)])
        result.update(freeze_baseline(now))
    elif RollupDirty.objects.exists():
        # A reused database whose rollup a migration marked (new grains): rebuild it whole.
        result.update(rollup_rebuild_timed())
        _vacuum([table for table in FACT_TABLES if _table_exists(table)])
    if not Baseline.objects.exists():
        result.update(freeze_baseline(now))
    if reuse:
        # The last run's refresh check left dead rows behind; autovacuum would have cleared
        # them by the time anyone looks, as after a fresh load.
        _vacuum([table for table in FACT_TABLES if _table_exists(table)])
    result["facts_profile"] = facts_profile(tickets)
    result.update(_shape())
    today = timezone.localdate()
    result.update(measure_pages(today))
    result.update(measure_reports(today))
    result.update(measure_refresh())
    result["table_sizes_mb"] = _sizes()
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboards", description=__doc__)
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument(
        "--facts",
        choices=("refresh", "rebuild"),
        default="rebuild",
        help="rebuild: facts_rebuild() (the faster here); refresh: facts_refresh_all() in "
        "--workers parallel processes",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on the existing bench database (no new seed when it has tickets)",
    )
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print(
            "bench.dashboards needs PostgreSQL: set DATABASE_URL=postgres://… (`make bench` "
            "starts one). It does not run on SQLite: the history is loaded with COPY and "
            "medians use percentile_cont.",
            file=sys.stderr,
        )
        sys.exit(2)
    os.environ.setdefault("DEBUG", "true")
    commit = _commit()
    env = {
        "BENCH_DASHBOARDS_FACTS": arguments.facts,
        "BENCH_DASHBOARDS_WORKERS": str(arguments.workers),
    }
    if arguments.reuse:
        child_env = {
            **os.environ,
            **env,
            "BENCH_DASHBOARDS_REUSE": "1",
            "DATABASE_URL": _database_url_for(base_url, DATABASE),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        child = subprocess.run(
            [sys.executable, "-m", "bench.dashboards", "--child", str(arguments.tickets)],
            env=child_env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    else:
        result = run_in_fresh_database("bench.dashboards", DATABASE, arguments.tickets, env=env)
    # The code measured: the tree can move during a long run (facts, then pages, import
    # the modules as they stand when first used).
    result["commit_at_start"], result["commit_at_end"] = commit, _commit()
    print(json.dumps(result))


def _commit() -> str:
    """HEAD, with "+changes" when the tracked code the bench exercises differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", *WATCHED_CODE],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}+changes" if changed else head


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    elif len(sys.argv) == 2 and sys.argv[1] == "--refresh-worker":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(refresh_worker()))
    else:
        main()
