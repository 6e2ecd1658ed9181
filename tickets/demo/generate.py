"""Pure, deterministic generation of the demo MSP as plain rows: no database access.

`build_plan` turns a seed and an anchor time into the reference data (clients, people, devices,
staff, contracts, articles) and the moment automation was rolled out; `generate_tickets`
streams tickets with their full timelines, so that 200,000 of them never sit in memory at once.
Rows point at each other by position in the plan's tuples (or by slug for types and queues);
`seed.py` maps those to database ids.

Before the rollout every ticket is worked by technicians. From it on, a growing share of the
quick-win tickets a playbook covers is resolved by the AI agent within minutes: no technician
event and no time logged, or (for about a third) a technician's approval as their only part.
The rest stay with the technicians, so the metrics pages have a before and an after to show.

Each part draws from its own generator seeded with "<seed>/<part>", so asking for more tickets
does not change the clients, and the same seed and `now` always give the same rows.

The demo also plants a known set of data problems for the data-hygiene report (listed by
`tickets.demo.hygiene`): outsiders on file at two clients, a client without a contract, a
PSA connection with unmapped values and, in a history of `PLANTED_TICKETS_FROM` tickets or
more, recent arrivals intake could not match and a reopened ticket a playbook had answered.
Nothing else in it trips a hygiene check.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import heapq
import itertools
import random
import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import TypeVar

from tickets.demo import catalogue as cat

T = TypeVar("T")

UTC = dt.UTC
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

CLIENT_COUNT = 25
CONTACT_TARGET = 600
MIN_CONTACTS = 5
NO_EMAIL_SHARE = 0.02
ORPHAN_ASSET_SHARE = 0.01
STALE_ARTICLES = 5
DRAFT_ARTICLES = 2
EXPIRED_CONTRACTS = 2
# One client has no contract at all; another renewed onto a new contract during the history
# (so there are still as many contracts as clients).
UNCONTRACTED_CLIENTS = 1
RENEWED_CONTRACTS = 1
# A history of at least this many tickets carries the planted ones (`tickets.demo.hygiene`):
# recent arrivals intake could not fully match, and a reopened ticket a playbook had answered.
PLANTED_TICKETS_FROM = 100
BLOCK_HOUR_CONTRACTS = 4
TIME_AND_MATERIALS_CONTRACTS = 3

# Values of the model's choices, repeated here so this module never imports Django.
TECHNICIAN, MANAGER, OWNER = "technician", "manager", "owner"
MANAGED, BLOCK_HOURS, TIME_AND_MATERIALS = "managed", "block_hours", "time_materials"
NEW, IN_PROGRESS, WAITING_CUSTOMER = "new", "in_progress", "waiting_customer"
WAITING_THIRD_PARTY, SCHEDULED = "waiting_third_party", "scheduled"
RESOLVED, CLOSED = "resolved", "closed"
DONE = (RESOLVED, CLOSED)
CREATED, NOTE, REPLY, REQUESTER_REPLY = "created", "note", "reply", "requester_reply"
ENRICHED = "enriched"
ACTION, PLAYBOOK = "action", "playbook"
STATUS_CHANGED, PRIORITY_CHANGED = "status_changed", "priority_changed"
TYPE_CHANGED, QUEUE_CHANGED = "type_changed", "queue_changed"
ASSIGNMENT_CHANGED, CSAT_RECEIVED = "assignment_changed", "csat_received"
HUMAN, REQUESTER, RULE, SYSTEM, AGENT = "human", "requester", "rule", "system", "agent"
# Whose reply to the requester is the ticket's first response (as `ticket_message_add` has it).
RESPONDERS = (HUMAN, AGENT)

ROUTE_RULES = {
    cat.NOC: "Rule: route alerts to NOC",
    cat.ONBOARDING: "Rule: route starters and leavers to Onboarding",
}
VIP_RULE = "Rule: VIP priority uplift"
CLASSIFY_RULE = "Rule: classify by keywords"
RESUME_RULE = "Rule: resume on requester reply"
REOPEN_RULE = "Rule: reopen on requester reply"
ALERT_REOPEN_RULE = "Rule: reopen when the alert fires again"
MONITORING = "RMM monitoring"
AUTO_CLOSE = "Auto-close 3 days after resolution"

CHANNELS = ("email", "portal", "phone")
CHANNEL_WEIGHTS = (55, 30, 15)
MISFILED_SHARE = 0.07
RULE_ROUTED_SHARE = 0.92
SELF_ASSIGNED_SHARE = 0.65
PRIORITY_REVIEW_SHARE = 0.05
NOTE_SHARE = 0.45
ESCALATE_ON_HANDOVER = 0.4
CSAT_RESPONSE_RATE = 0.3
SILENT_SHARE = 0.3
DRIFT_SHARE = 0.3
NPS_SHARE = 0.4
COMMENT_SHARE = 0.35
AUTO_CLOSE_AFTER = dt.timedelta(days=3)
# Median minutes to first response once the desk is open, by priority 1-4.
RESPONSE_MINUTES = (8.0, 20.0, 45.0, 120.0)
# Elapsed time to resolve scales with urgency: P1 work is dropped everything.
URGENCY_FACTOR = (0.35, 0.6, 1.0, 2.0)
HAPPY = (2, 3, 7, 25, 63)
UNHAPPY = (7, 10, 20, 33, 30)

# Relative ticket volume by local hour: peaks mid-morning and early afternoon.
OFFICE_HOURS = (
    0.04, 0.02, 0.02, 0.02, 0.03, 0.05, 0.15, 0.55, 1.5, 2.3, 2.4, 2.1,
    1.4, 1.8, 2.0, 1.8, 1.4, 0.8, 0.4, 0.28, 0.22, 0.15, 0.1, 0.06,
)  # fmt: skip
# People mostly raise tickets while the client is open; the rest is evenings and early starts.
OUTSIDE_HOURS_FACTOR = 0.35
# Monitoring follows usage more than the clock, but machines also fail at night and weekends.
ALERT_FLOOR = 0.3
MONITORING_DAY_OFF = 0.45
# Backup jobs run overnight, so that is when they fail.
BACKUP_HOURS = (
    1.0, 2.0, 3.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.3, 0.2, 0.2,
    0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8,
)  # fmt: skip
# Relative volume by ISO weekday on the client's working days, and on its days off.
WORKDAY_WEIGHTS = {1: 1.15, 2: 1.05, 3: 1.0, 4: 0.97, 5: 0.85, 6: 0.7, 7: 0.55}
DAY_OFF_WEIGHTS = {6: 0.06, 7: 0.04}

# Each technician plays a part, by position in a seeded shuffle of the team.
EVENINGS, WEEKENDS, NEW_STARTER = 0, 1, 2
SENIOR_PARTS = (EVENINGS, WEEKENDS, 3, 4)
QUEUES_BY_PART: dict[int, tuple[str, ...]] = {
    EVENINGS: (cat.L1, cat.L2, cat.NOC),
    WEEKENDS: (cat.L1, cat.L2, cat.ONBOARDING),
    3: (cat.L1, cat.L2),
    4: (cat.L2, cat.PROJECTS),
    5: (cat.L1, cat.PROJECTS),
    6: (cat.L1, cat.NOC),
    7: (cat.L1, cat.NOC),
    8: (cat.L1, cat.ONBOARDING),
    9: (cat.L1, cat.ONBOARDING),
}

SCHEDULED_TYPES = ("new-user-onboarding", "user-offboarding", "software-install")
# Touches closer together than this are one sitting, logged as one time entry.
SESSION_GAP = dt.timedelta(minutes=45)

# The agent goes live on the Monday at 09:00 (MSP time) this many weeks before `now`, when the
# history is long enough to hold at least as many weeks before it; else there is no rollout.
ROLLOUT_WEEKS = 6
ROLLOUT_TIME = dt.time(9, 0)
# Share of the covered quick-win tickets the agent resolves: it grows from the first to the
# second over the first weeks, as the MSP gains confidence.
AGENT_SHARE_START, AGENT_SHARE_FULL, AGENT_RAMP_WEEKS = 0.45, 0.7, 4
# The agent's playbook picks a new ticket up in the next pipeline batch.
AGENT_PICKUP_MINUTES = (0.5, 3.0)
# Median minutes until a technician approves a proposal, once the desk is open.
APPROVAL_MINUTES = 12.0
# How the governance gate words each step of an action on the timeline.
ACTION_STEP_WORDS = {
    "proposed": "proposed (awaiting approval)",
    "approved": "approved",
    "queued": "queued to execute",
    "verified": "succeeded and verified",
}

STANDARD_SLA = ((1, 30, 240), (2, 60, 960), (3, 240, 2880), (4, 480, 7200))
RELAXED_SLA = ((1, 60, 480), (2, 120, 1440), (3, 480, 4320), (4, 960, 10080))
NOT_IN_ESSENTIALS = ("hardware-fault", "software-install", "licence-request")

ASSET_KINDS = (
    ("laptop", 40),
    ("workstation", 33),
    ("mobile", 10),
    ("network", 6),
    ("printer", 5),
    ("server", 5),
    ("other", 1),
)
HOST_CODES = {
    "laptop": "LT",
    "workstation": "WS",
    "mobile": "MOB",
    "network": "FW",
    "printer": "PRN",
    "server": "SRV",
    "other": "DEV",
}
OPERATING_SYSTEMS: dict[str, tuple[tuple[str, int], ...]] = {
    "laptop": (
        ("Windows 11 Pro", 70),
        ("Windows 10 Pro", 15),
        ("macOS 14 Sonoma", 10),
        ("macOS 15 Sequoia", 5),
    ),
    "workstation": (("Windows 11 Pro", 60), ("Windows 10 Pro", 40)),
    "server": (
        ("Windows Server 2022", 50),
        ("Windows Server 2019", 35),
        ("Ubuntu 22.04 LTS", 15),
    ),
    "network": (("FortiOS 7.2", 60), ("Meraki MX 18", 40)),
    "mobile": (("iOS 17", 55), ("Android 14", 45)),
}
# Serial number shapes (prefix, random characters) of the vendors an MSP usually meets.
SERIALS: dict[str, tuple[tuple[str, int], ...]] = {
    "laptop": (("", 7), ("PF", 6), ("5CG", 7), ("C02", 9)),
    "workstation": (("", 7), ("MJ", 6), ("CZC", 7)),
    "server": (("", 7), ("CZJ", 7)),
    "network": (("FGT60F", 10), ("Q2KN", 8)),
    "printer": (("VNB", 7), ("X3", 8)),
    "mobile": (("F", 11), ("R5", 9)),
    "other": (("", 10),),
}
RMM_KINDS = ("laptop", "workstation", "server", "network")
USER_DEVICE_KINDS = ("laptop", "workstation", "mobile")
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class SubtypeRow:
    type: str
    name: str


@dataclass(frozen=True, slots=True)
class ItemRow:
    subtype: int
    name: str


@dataclass(frozen=True, slots=True)
class ClientRow:
    name: str
    identifier: str
    prefix: str
    timezone: str
    business_days: str
    business_start: dt.time
    business_end: dt.time
    domains: tuple[str, ...]
    size: int


@dataclass(frozen=True, slots=True)
class SiteRow:
    client: int
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class ContactRow:
    client: int
    site: int | None
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str
    directory_username: str
    is_vip: bool
    is_privileged: bool


@dataclass(frozen=True, slots=True)
class AssetRow:
    client: int | None
    site: int | None
    primary_contact: int | None
    hostname: str
    serial_number: str
    kind: str
    operating_system: str
    rmm_device_id: str


@dataclass(frozen=True, slots=True)
class StaffRow:
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    all_clients: bool
    clients: tuple[int, ...]
    skills: tuple[str, ...]
    queues: tuple[str, ...]
    hourly_cost: Decimal
    takes_tickets: bool
    timezone: str = cat.MSP_TIMEZONE


@dataclass(frozen=True, slots=True)
class ShiftRow:
    staff: int
    weekday: int
    starts: dt.time
    ends: dt.time


@dataclass(frozen=True, slots=True)
class OnCallRow:
    staff: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ArticleRow:
    title: str
    body: str
    types: tuple[str, ...]
    client: int | None
    is_published: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SlaRow:
    priority: int
    response_minutes: int
    resolution_minutes: int


@dataclass(frozen=True, slots=True)
class ContractRow:
    client: int
    name: str
    kind: str
    monthly_revenue: Decimal
    hourly_rate: Decimal | None
    block_hours: Decimal | None
    starts_on: dt.date
    ends_on: dt.date | None
    covered_types: tuple[str, ...]
    sla: tuple[SlaRow, ...]

    def in_force(self, on: dt.date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


# The per-ticket rows are not frozen: at 200,000 tickets the cheaper __init__ adds up.
@dataclass(slots=True)
class EventRow:
    """One timeline event. For assignment changes the values are staff positions in the plan,
    for queue and type changes slugs, and in an `enriched` event's data the client, contact,
    contract and assets are plan positions; `seed.py` turns those into database ids."""

    kind: str
    at: dt.datetime
    actor_kind: str
    actor_staff: int | None
    actor_contact: int | None
    actor_name: str
    old_value: str
    new_value: str
    body: str
    data: dict[str, object]


@dataclass(slots=True)
class TimeRow:
    staff: int
    started_at: dt.datetime
    minutes: int
    billable: bool
    notes: str


@dataclass(slots=True)
class CsatRow:
    contact: int
    score: int
    nps: int | None
    comment: str
    responded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RunRow:
    """A playbook's run on a ticket (`automation.PlaybookRun`): the articles it quoted are
    positions in the plan's articles."""

    playbook: str
    status: str
    step: int
    answer: str
    articles: tuple[int, ...]
    owner_how: str
    started_at: dt.datetime
    updated_at: dt.datetime


@dataclass(slots=True)
class TicketRow:
    external_id: str
    summary: str
    description: str
    status: str
    priority: int
    type: str
    subtype: int | None
    item: int | None
    client: int | None
    contact: int | None
    site: int | None
    assets: tuple[int, ...]
    contract: int | None
    queue: str
    assignee: int | None
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    sla_response_due_at: dt.datetime | None
    sla_resolution_due_at: dt.datetime | None
    source_updated_at: dt.datetime
    events: list[EventRow]
    time_entries: list[TimeRow]
    csat: CsatRow | None
    run: RunRow | None = None


@dataclass(frozen=True, slots=True)
class IntakeGapRow:
    """A recent arrival planted for the data-hygiene report: what the source named, and what
    intake matched of it (`client` and `contact` are plan positions, None when unmatched)."""

    external_id: str
    seed: cat.IntakeGapSeed
    opened_at: dt.datetime
    client: int | None
    contact: int | None
    requester: str
    first_name: str
    hostnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GuidanceRow:
    """The reopened ticket the guidance playbook had answered, quoting `articles`."""

    external_id: str
    opened_at: dt.datetime
    client: int
    contact: int
    articles: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MappingRow:
    """A value of the demo PSA connection: `value` is a status code, a priority number or a
    type slug, "" for a value nobody has mapped."""

    field: str
    external_id: str
    label: str
    value: str


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    now: dt.datetime
    start: dt.datetime
    ticket_count: int
    types: tuple[cat.TypeSpec, ...]
    subtypes: tuple[SubtypeRow, ...]
    items: tuple[ItemRow, ...]
    skills: tuple[str, ...]
    queues: tuple[cat.QueueSeed, ...]
    clients: tuple[ClientRow, ...]
    sites: tuple[SiteRow, ...]
    contacts: tuple[ContactRow, ...]
    assets: tuple[AssetRow, ...]
    staff: tuple[StaffRow, ...]
    shifts: tuple[ShiftRow, ...]
    on_call: tuple[OnCallRow, ...]
    articles: tuple[ArticleRow, ...]
    contracts: tuple[ContractRow, ...]
    # When the AI agent went live (None: the history is too short to have a before).
    rollout: dt.datetime | None = None
    # Planted for the data-hygiene report (see `tickets.demo.hygiene`); the planted tickets
    # are part of `ticket_count`, numbered after the generated ones.
    intake_gaps: tuple[IntakeGapRow, ...] = ()
    guidance: GuidanceRow | None = None
    psa_mappings: tuple[MappingRow, ...] = ()

    def staff_index(self, role: str) -> int:
        return next(i for i, person in enumerate(self.staff) if person.role == role)


def build_plan(*, seed: int, now: dt.datetime, months: int, tickets: int) -> DemoPlan:
    """The reference data for a seed, anchored at `now` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    start = now - dt.timedelta(days=round(months * 30.44))
    subtypes, items = _taxonomy()
    clients, sites = _clients(_rng(seed, "clients"))
    contacts = _contacts(_rng(seed, "contacts"), clients, sites)
    assets = _assets(_rng(seed, "assets"), clients, sites, contacts)
    # The planted problems draw from their own generator, so the rest stays as it was.
    planting = _rng(seed, "hygiene")
    contacts += _shared_contacts(planting, clients, sites)
    staff, shifts, rota = _staff(_rng(seed, "staff"), len(clients))
    plan = DemoPlan(
        seed=seed,
        now=now,
        start=start,
        ticket_count=tickets,
        types=cat.TYPES,
        subtypes=subtypes,
        items=items,
        skills=cat.SKILLS,
        queues=cat.QUEUES,
        clients=clients,
        sites=sites,
        contacts=contacts,
        assets=assets,
        staff=staff,
        shifts=shifts,
        on_call=_on_call(rota, start, now),
        articles=_articles(_rng(seed, "articles"), clients, now),
        contracts=_contracts(_rng(seed, "contracts"), clients, start, now),
        rollout=rollout_at(start, now),
        psa_mappings=tuple(
            MappingRow(m.field, m.external_id, m.label, m.value) for m in cat.PSA_MAPPINGS
        ),
    )
    if tickets < PLANTED_TICKETS_FROM:
        return plan
    first = tickets - len(cat.INTAKE_GAPS)  # the guidance ticket's number, then the gaps'
    return dataclasses.replace(
        plan,
        guidance=_guidance(planting, plan, f"DEMO-{first:07d}"),
        intake_gaps=tuple(
            _intake_gap(planting, plan, gap, f"DEMO-{first + n:07d}")
            for n, gap in enumerate(cat.INTAKE_GAPS, start=1)
        ),
    )


def planted_ticket_count(plan: DemoPlan) -> int:
    """How many of the plan's tickets are planted rather than generated."""
    return len(plan.intake_gaps) + (plan.guidance is not None)


def rollout_at(start: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The Monday 09:00 (MSP time) `ROLLOUT_WEEKS` weeks before `now`'s week, or None when
    the history does not reach as far before it."""
    zone = zoneinfo.ZoneInfo(cat.MSP_TIMEZONE)
    day = (now - dt.timedelta(weeks=ROLLOUT_WEEKS)).astimezone(zone).date()
    monday = day - dt.timedelta(days=day.weekday())
    rollout = dt.datetime.combine(monday, ROLLOUT_TIME, tzinfo=zone).astimezone(UTC)
    return None if rollout - start < dt.timedelta(weeks=ROLLOUT_WEEKS) else rollout


def generate_tickets(plan: DemoPlan) -> Iterator[TicketRow]:
    """Tickets in the order they were opened, each with its timeline, time and survey: the
    generated history, with the planted tickets (numbered after it) in their place."""
    arrivals = _Arrivals(plan, _rng(plan.seed, "arrivals")).all(
        plan.ticket_count - planted_ticket_count(plan)
    )
    factory = _TicketFactory(plan, _rng(plan.seed, "tickets"))
    generated = (factory.build(number, arrival) for number, arrival in enumerate(arrivals, 1))
    planted = _Planter(plan).all() if planted_ticket_count(plan) else []
    yield from heapq.merge(generated, planted, key=attrgetter("opened_at"))


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}/{part}")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([value for value, _ in options], [weight for _, weight in options])[0]


def _minutes(value: float) -> dt.timedelta:
    return dt.timedelta(minutes=value)


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * rng.lognormvariate(0.0, sigma)


def _taxonomy() -> tuple[tuple[SubtypeRow, ...], tuple[ItemRow, ...]]:
    subtypes: list[SubtypeRow] = []
    items: list[ItemRow] = []
    for spec in cat.TYPES:
        for name, item_names in spec.subtypes:
            subtypes.append(SubtypeRow(spec.slug, name))
            items.extend(ItemRow(len(subtypes) - 1, item) for item in item_names)
    return tuple(subtypes), tuple(items)


def _clients(rng: random.Random) -> tuple[tuple[ClientRow, ...], tuple[SiteRow, ...]]:
    seeds = sorted(rng.sample(cat.CLIENTS, CLIENT_COUNT), key=attrgetter("name"))
    shares = [rng.lognormvariate(0.0, 0.7) for _ in seeds]
    scale = CONTACT_TARGET / sum(shares)
    clients: list[ClientRow] = []
    sites: list[SiteRow] = []
    for index, (seed, share) in enumerate(zip(seeds, shares, strict=True)):
        zone, _weight, cities, _phone = _weighted(rng, [(z, z[1]) for z in cat.TIMEZONES])
        clients.append(_client(rng, seed, zone, max(MIN_CONTACTS, round(share * scale))))
        sites.extend(_sites(rng, index, clients[-1].size, cities))
    return tuple(clients), tuple(sites)


def _client(rng: random.Random, seed: cat.ClientSeed, zone: str, size: int) -> ClientRow:
    if seed.industry in cat.INDUSTRY_HOURS:
        days, start_h, start_m, end_h, end_m = cat.INDUSTRY_HOURS[seed.industry]
    else:
        days, (start_h, start_m, end_h, end_m) = "12345", rng.choice(cat.OFFICE_HOURS)
    extra = [f"{seed.stem}-group.example", f"mail.{seed.stem}.example"]
    return ClientRow(
        name=seed.name,
        identifier=_slug(seed.name),
        prefix=seed.prefix,
        timezone=zone,
        business_days=days,
        business_start=dt.time(start_h, start_m),
        business_end=dt.time(end_h, end_m),
        domains=(f"{seed.stem}.example", *extra[: rng.choice((0, 0, 1, 2))]),
        size=size,
    )


def _sites(rng: random.Random, client: int, size: int, cities: Sequence[str]) -> list[SiteRow]:
    count = 1 if size < 15 else rng.choice((1, 2, 2, 3))
    towns = rng.sample(list(cities), count)
    names = ["Head Office", *(f"{town} Office" for town in towns[1:])]
    if count > 1 and rng.random() < 0.4:
        names[-1] = rng.choice(cat.EXTRA_SITE_NAMES)
    return [
        SiteRow(client, name, f"{rng.randint(1, 240)} {rng.choice(cat.STREETS)}, {town}")
        for name, town in zip(names, towns, strict=True)
    ]


def _username(style: int, first: str, last: str) -> str:
    first, last = _letters(first), _letters(last)
    return (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}")[style]


def _contacts(
    rng: random.Random, clients: Sequence[ClientRow], sites: Sequence[SiteRow]
) -> tuple[ContactRow, ...]:
    rows: list[ContactRow] = []
    for index, client in enumerate(clients):
        places = [i for i, site in enumerate(sites) if site.client == index]
        rows.extend(_client_contacts(rng, index, client, places))
    return tuple(rows)


def _client_contacts(
    rng: random.Random, index: int, client: ClientRow, places: Sequence[int]
) -> list[ContactRow]:
    """A client's people. Each client names accounts its own way (jsmith, john.smith...)."""
    phone_format = next(phone for zone, _w, _c, phone in cat.TIMEZONES if zone == client.timezone)
    place_weights = [3.0] + [1.0] * (len(places) - 1)
    style = rng.randrange(3)
    taken: set[str] = set()
    rows: list[ContactRow] = []
    for position in range(client.size):
        first, last = rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)
        base = _username(style, first, last)
        suffix = next(s for s in ("", *map(str, range(2, 99))) if base + s not in taken)
        taken.add(base + suffix)
        title, vip, privileged = _role(rng, position)
        email = f"{_letters(first)}.{_letters(last)}{suffix}@{client.domains[0]}"
        no_email = not vip and rng.random() < NO_EMAIL_SHARE
        phone = phone_format.format(n=f"{rng.randrange(1000):03d}")
        rows.append(
            ContactRow(
                client=index,
                site=rng.choices(places, place_weights)[0],
                first_name=first,
                last_name=last,
                email="" if no_email else email,
                phone=phone if rng.random() < 0.8 else "",
                job_title=title,
                directory_username=base + suffix,
                is_vip=vip,
                is_privileged=privileged,
            )
        )
    return rows


def _shared_contacts(
    rng: random.Random, clients: Sequence[ClientRow], sites: Sequence[SiteRow]
) -> tuple[ContactRow, ...]:
    """The outsiders on file at several clients under one address (a data-hygiene finding):
    a bookkeeper, an HR adviser. They have no account in the clients' directories."""
    head_office: dict[int, int] = {}
    for index, site in enumerate(sites):
        head_office.setdefault(site.client, index)
    per_person = cat.SHARED_CONTACT_CLIENTS
    chosen = rng.sample(range(len(clients)), per_person * len(cat.SHARED_CONTACTS))
    return tuple(
        ContactRow(
            client=client,
            site=head_office.get(client),
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            phone="",
            job_title=person.job_title,
            directory_username="",
            is_vip=False,
            is_privileged=False,
        )
        for n, person in enumerate(cat.SHARED_CONTACTS)
        for client in sorted(chosen[n * per_person : (n + 1) * per_person])
    )


def _role(rng: random.Random, position: int) -> tuple[str, bool, bool]:
    """The first contact runs the company, the second looks after its IT; both carry flags."""
    if position == 0:
        return rng.choice(cat.LEAD_TITLES), rng.random() < 0.75, False
    if position == 1:
        return rng.choice(cat.ADMIN_TITLES), False, rng.random() < 0.5
    return _weighted(rng, cat.JOB_TITLES), False, False


def _assets(
    rng: random.Random,
    clients: Sequence[ClientRow],
    sites: Sequence[SiteRow],
    contacts: Sequence[ContactRow],
) -> tuple[AssetRow, ...]:
    rows: list[AssetRow] = []
    for index, client in enumerate(clients):
        people = [i for i, contact in enumerate(contacts) if contact.client == index]
        places = [i for i, site in enumerate(sites) if site.client == index]
        rows.extend(_client_assets(rng, index, client, people, places, contacts))
    orphans = round(len(rows) * ORPHAN_ASSET_SHARE)
    rows.extend(_orphan_asset(rng) for _ in range(orphans))
    return tuple(rows)


def _client_assets(
    rng: random.Random,
    index: int,
    client: ClientRow,
    people: Sequence[int],
    places: Sequence[int],
    contacts: Sequence[ContactRow],
) -> list[AssetRow]:
    count = round(client.size * rng.uniform(2.2, 2.8))
    kinds = ["server", "network", "printer"]
    kinds += [_weighted(rng, ASSET_KINDS) for _ in range(count - len(kinds))]
    numbers: dict[str, int] = {}
    rows: list[AssetRow] = []
    for kind in kinds:
        numbers[kind] = numbers.get(kind, 0) + rng.choice((1, 1, 1, 2, 3))
        owner = rng.choice(people) if kind in USER_DEVICE_KINDS and rng.random() < 0.85 else None
        site = contacts[owner].site if owner is not None else rng.choice(places)
        rows.append(
            AssetRow(
                client=index,
                site=site,
                primary_contact=owner,
                hostname=f"{client.prefix}-{HOST_CODES[kind]}-{numbers[kind]:04d}",
                serial_number=_serial(rng, kind),
                kind=kind,
                operating_system=_operating_system(rng, kind),
                rmm_device_id=_rmm_id(rng) if kind in RMM_KINDS else "",
            )
        )
    return rows


def _orphan_asset(rng: random.Random) -> AssetRow:
    """A device the RMM knows but nobody filed under a client: a data-hygiene finding."""
    kind = rng.choice(("workstation", "laptop"))
    return AssetRow(
        client=None,
        site=None,
        primary_contact=None,
        hostname="DESKTOP-" + "".join(rng.choices(SERIAL_ALPHABET, k=7)),
        serial_number=_serial(rng, kind),
        kind=kind,
        operating_system=_operating_system(rng, kind),
        rmm_device_id=_rmm_id(rng),
    )


def _serial(rng: random.Random, kind: str) -> str:
    prefix, length = rng.choice(SERIALS[kind])
    return prefix + "".join(rng.choices(SERIAL_ALPHABET, k=length))


def _operating_system(rng: random.Random, kind: str) -> str:
    options = OPERATING_SYSTEMS.get(kind)
    return _weighted(rng, options) if options else ""


def _rmm_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _staff(
    rng: random.Random, client_count: int
) -> tuple[tuple[StaffRow, ...], tuple[ShiftRow, ...], tuple[int, ...]]:
    """Twelve technicians, a manager and an owner, with shifts and the on-call rota.

    Positions in a shuffled order give each technician a part: the first two see every client
    and cover evenings and weekends, the third is a new starter with no skills recorded yet.
    """
    order = rng.sample(range(len(cat.TECHNICIANS)), len(cat.TECHNICIANS))
    parts = {tech: position for position, tech in enumerate(order)}
    scopes = _scopes(rng, order, client_count)
    skills = _skills(rng, order)
    rows = [
        _technician(rng, person, parts[i], scopes[i], skills[i])
        for i, person in enumerate(cat.TECHNICIANS)
    ]
    rows.append(_office(cat.MANAGER, MANAGER, Decimal("65.00")))
    rows.append(_office(cat.OWNER, OWNER, Decimal("95.00")))
    shifts = [shift for i in range(len(cat.TECHNICIANS)) for shift in _shifts(rng, i, parts[i])]
    rota = tuple(order[part] for part in SENIOR_PARTS)
    return tuple(rows), tuple(shifts), rota


def _technician(
    rng: random.Random, person: cat.PersonSeed, part: int, scope: list[int], skills: list[str]
) -> StaffRow:
    if part in SENIOR_PARTS:
        cost = rng.randint(58, 75)
    else:
        cost = rng.randint(35, 40) if part == NEW_STARTER else rng.randint(40, 56)
    return StaffRow(
        username=person.username,
        first_name=person.first_name,
        last_name=person.last_name,
        email=f"{person.username}@{cat.MSP_DOMAIN}",
        role=TECHNICIAN,
        all_clients=part in (EVENINGS, WEEKENDS),
        clients=tuple(sorted(scope)),
        skills=tuple(sorted(skills)),
        queues=QUEUES_BY_PART.get(part, (cat.L1,)),
        hourly_cost=Decimal(cost).quantize(Decimal("0.01")),
        takes_tickets=True,
    )


def _office(person: cat.PersonSeed, role: str, cost: Decimal) -> StaffRow:
    return StaffRow(
        username=person.username,
        first_name=person.first_name,
        last_name=person.last_name,
        email=f"{person.username}@{cat.MSP_DOMAIN}",
        role=role,
        all_clients=True,
        clients=(),
        skills=(),
        queues=tuple(queue.slug for queue in cat.QUEUES) if role == MANAGER else (),
        hourly_cost=cost,
        takes_tickets=False,
    )


def _scopes(rng: random.Random, order: Sequence[int], client_count: int) -> list[list[int]]:
    """Client lists for the scoped technicians; every client gets at least two of them."""
    scopes: list[list[int]] = [[] for _ in order]
    scoped = [tech for part, tech in enumerate(order) if part not in (EVENINGS, WEEKENDS)]
    for tech in scoped:
        scopes[tech] = rng.sample(range(client_count), rng.randint(7, 12))
    for client in range(client_count):
        serving = [tech for tech in scoped if client in scopes[tech]]
        for tech in rng.sample([t for t in scoped if t not in serving], max(0, 2 - len(serving))):
            scopes[tech].append(client)
    return scopes


def _skills(rng: random.Random, order: Sequence[int]) -> list[list[str]]:
    """Two to five skills each, every skill held by someone, none for the new starter."""
    skills: list[list[str]] = [rng.sample(cat.SKILLS, rng.randint(2, 5)) for _ in order]
    skills[order[NEW_STARTER]] = []
    holders = [tech for tech in order if tech != order[NEW_STARTER]]
    for skill in cat.SKILLS:
        if not any(skill in held for held in skills):
            skills[rng.choice(holders)].append(skill)
    return skills


def _shifts(rng: random.Random, staff: int, part: int) -> list[ShiftRow]:
    if part == EVENINGS:
        return [ShiftRow(staff, day, dt.time(13, 30), dt.time(22, 0)) for day in range(1, 6)]
    if part == WEEKENDS:
        weekdays = [ShiftRow(staff, day, dt.time(9, 0), dt.time(17, 30)) for day in (3, 4, 5)]
        weekend = [ShiftRow(staff, day, dt.time(8, 0), dt.time(18, 0)) for day in (6, 7)]
        return weekdays + weekend
    start = dt.datetime(2000, 1, 1, 7) + dt.timedelta(minutes=30 * rng.randrange(7))
    end = start + dt.timedelta(hours=8, minutes=30)
    return [ShiftRow(staff, day, start.time(), end.time()) for day in range(1, 6)]


def _on_call(rota: Sequence[int], start: dt.datetime, now: dt.datetime) -> tuple[OnCallRow, ...]:
    """Weekly on-call, Monday 09:00 to Monday 09:00 local time, over the whole history."""
    zone = zoneinfo.ZoneInfo(cat.MSP_TIMEZONE)
    local = start.astimezone(zone).date()
    monday = local - dt.timedelta(days=local.weekday())
    begins = dt.datetime.combine(monday, dt.time(9), tzinfo=zone)
    rows: list[OnCallRow] = []
    while begins <= now:
        ends = dt.datetime.combine(begins.date() + dt.timedelta(days=7), dt.time(9), tzinfo=zone)
        staff = rota[len(rows) % len(rota)]
        rows.append(OnCallRow(staff, begins.astimezone(UTC), ends.astimezone(UTC)))
        begins = ends
    return tuple(rows)


def _articles(
    rng: random.Random, clients: Sequence[ClientRow], now: dt.datetime
) -> tuple[ArticleRow, ...]:
    general = range(len(cat.ARTICLES))
    stale = set(rng.sample(general, STALE_ARTICLES))
    drafts: set[int] = set()
    for _ in range(DRAFT_ARTICLES):
        # A draft never leaves a type without a published article: those are planted.
        spare = [i for i in general if i not in stale | drafts and _spare(i, drafts)]
        drafts.add(rng.choice(spare))
    rows = [
        _article(rng, seed.title, seed, None, now, stale=i in stale, published=i not in drafts)
        for i, seed in enumerate(cat.ARTICLES)
    ]
    owners = rng.sample(range(len(clients)), len(cat.CLIENT_ARTICLES))
    for seed, client in zip(cat.CLIENT_ARTICLES, owners, strict=True):
        title = seed.title.format(client=clients[client].name)
        rows.append(_article(rng, title, seed, client, now, stale=False, published=True))
    return tuple(rows)


def _spare(article: int, drafts: set[int]) -> bool:
    """Whether every type of the article keeps a published article should it be a draft."""
    published = [
        seed for i, seed in enumerate(cat.ARTICLES) if i != article and i not in drafts
    ] + list(cat.CLIENT_ARTICLES)
    return all(
        any(slug in seed.types for seed in published) for slug in cat.ARTICLES[article].types
    )


def _article(
    rng: random.Random,
    title: str,
    seed: cat.ArticleSeed,
    client: int | None,
    now: dt.datetime,
    *,
    stale: bool,
    published: bool,
) -> ArticleRow:
    age = rng.randint(400, 900) if stale else rng.randint(3, 300)
    updated = now - dt.timedelta(days=age, minutes=rng.randrange(MINUTES_PER_DAY))
    created = updated - dt.timedelta(days=rng.randint(0, 400))
    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(seed.steps, start=1))
    return ArticleRow(title, steps, seed.types, client, published, created, updated)


def _contracts(
    rng: random.Random, clients: Sequence[ClientRow], start: dt.datetime, now: dt.datetime
) -> tuple[ContractRow, ...]:
    """A contract per client: mostly managed, a few block-hours or T&M, two lapsed. One
    client (managed in all but paper) has none, and one renewed from Essentials to Complete
    during the history, so there are still as many contracts as clients."""
    order = rng.sample(range(len(clients)), len(clients))
    kinds = [MANAGED] * len(clients)
    block_end = EXPIRED_CONTRACTS + BLOCK_HOUR_CONTRACTS
    for position in order[EXPIRED_CONTRACTS:block_end]:
        kinds[position] = BLOCK_HOURS
    for position in order[block_end : block_end + TIME_AND_MATERIALS_CONTRACTS]:
        kinds[position] = TIME_AND_MATERIALS
    # The last positions of the shuffle are managed clients.
    uncontracted = set(order[len(order) - UNCONTRACTED_CLIENTS :])
    renewed = set(order[len(order) - UNCONTRACTED_CLIENTS - RENEWED_CONTRACTS :]) - uncontracted
    smallest, largest = min(c.size for c in clients), max(c.size for c in clients)
    rows: list[ContractRow] = []
    for index, client in enumerate(clients):
        starts_on = start.date() - dt.timedelta(days=rng.randint(30, 1200))
        ends_on = None
        if index in order[:EXPIRED_CONTRACTS]:
            ends_on = max(starts_on, now.date() - dt.timedelta(days=rng.randint(20, 75)))
        scale = (client.size - smallest) / max(1, largest - smallest)
        if index in uncontracted:
            continue
        if index in renewed:
            renewal = now.date() - dt.timedelta(days=rng.randint(60, 150))
            renewal = max(renewal, starts_on + dt.timedelta(days=1))
            ended = renewal - dt.timedelta(days=1)
            rows.append(_contract(rng, index, MANAGED, scale, starts_on, ended, essentials=True))
            starts_on = renewal
            rows.append(_contract(rng, index, MANAGED, scale, starts_on, None, essentials=False))
            continue
        rows.append(_contract(rng, index, kinds[index], scale, starts_on, ends_on))
    return tuple(rows)


def _contract(
    rng: random.Random,
    client: int,
    kind: str,
    scale: float,
    starts_on: dt.date,
    ends_on: dt.date | None,
    *,
    essentials: bool | None = None,
) -> ContractRow:
    every_type = tuple(spec.slug for spec in cat.TYPES)
    if kind == BLOCK_HOURS:
        hours, rate = rng.choice((10, 20, 40)), rng.choice((85, 90, 95))
        name, revenue, block = f"Block hours - {hours} h per month", hours * rate, _money(hours)
        covered, sla = every_type, RELAXED_SLA
    elif kind == TIME_AND_MATERIALS:
        name, revenue, rate, block = "Time and materials", 0, rng.choice((95, 110, 125)), None
        covered, sla = (), RELAXED_SLA
    else:
        drawn = rng.random() < 0.3
        essentials = drawn if essentials is None else essentials
        excluded = ("new-user-onboarding", *(NOT_IN_ESSENTIALS if essentials else ()))
        name = "Managed services - " + ("Essentials" if essentials else "Complete")
        revenue = round((1500 + 23500 * scale * rng.uniform(0.85, 1.0)) / 50) * 50
        rate, block, sla = 0, None, STANDARD_SLA
        covered = tuple(slug for slug in every_type if slug not in excluded)
    return ContractRow(
        client=client,
        name=name,
        kind=kind,
        monthly_revenue=_money(revenue),
        hourly_rate=_money(rate) if rate else None,
        block_hours=block,
        starts_on=starts_on,
        ends_on=ends_on,
        covered_types=covered,
        sla=tuple(SlaRow(*target) for target in sla),
    )


def _money(amount: float) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class _Arrival:
    at: dt.datetime
    client: int
    spec: cat.TypeSpec


class _Arrivals:
    """When tickets are opened: clients by size, types by mix, shaped by local hour and day."""

    def __init__(self, plan: DemoPlan, rng: random.Random) -> None:
        self.plan, self.rng = plan, rng
        self.zones = [zoneinfo.ZoneInfo(client.timezone) for client in plan.clients]
        first = plan.start.date() - dt.timedelta(days=1)
        span = (plan.now.date() - first).days + 2
        self.days = [first + dt.timedelta(days=n) for n in range(span)]
        self.type_weights = _cumulative(spec.weight for spec in plan.types)
        self.client_weights = _cumulative(client.size for client in plan.clients)
        self.day_weights: dict[tuple[str, bool], list[float]] = {}
        self.hour_weights: dict[tuple[int, str], list[float]] = {}

    def all(self, count: int) -> list[_Arrival]:
        arrivals = [self._one() for _ in range(count)]
        arrivals.sort(key=attrgetter("at"))
        return arrivals

    def _one(self) -> _Arrival:
        rng = self.rng
        spec = rng.choices(self.plan.types, cum_weights=self.type_weights)[0]
        client = rng.choices(range(len(self.plan.clients)), cum_weights=self.client_weights)[0]
        return _Arrival(self._moment(client, spec), client, spec)

    def _moment(self, client: int, spec: cat.TypeSpec) -> dt.datetime:
        rng, zone = self.rng, self.zones[client]
        days = self._days(self.plan.clients[client].business_days, spec.from_monitoring)
        profile = "office" if not spec.from_monitoring else spec.slug
        hours = self._hours(client, profile)
        while True:
            day = rng.choices(self.days, cum_weights=days)[0]
            hour = rng.choices(range(24), cum_weights=hours)[0]
            local = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)))
            moment = local.replace(tzinfo=zone).astimezone(UTC)
            if self.plan.start <= moment < self.plan.now:
                return moment

    def _days(self, business_days: str, monitoring: bool) -> list[float]:
        key = (business_days, monitoring)
        if key not in self.day_weights:
            self.day_weights[key] = _cumulative(
                _day_weight(day.isoweekday(), business_days, monitoring) for day in self.days
            )
        return self.day_weights[key]

    def _hours(self, client: int, profile: str) -> list[float]:
        key = (client, profile)
        if key not in self.hour_weights:
            row = self.plan.clients[client]
            self.hour_weights[key] = _cumulative(_hour_weight(h, row, profile) for h in range(24))
        return self.hour_weights[key]


def _day_weight(weekday: int, business_days: str, monitoring: bool) -> float:
    working = str(weekday) in business_days
    if monitoring:
        return 1.0 if working else MONITORING_DAY_OFF
    return WORKDAY_WEIGHTS[weekday] if working else DAY_OFF_WEIGHTS.get(weekday, 0.1)


def _hour_weight(hour: int, client: ClientRow, profile: str) -> float:
    if profile == "backup-failure":
        return BACKUP_HOURS[hour]
    inside = client.business_start.hour <= hour < client.business_end.hour
    weight = OFFICE_HOURS[hour] * (1.0 if inside else OUTSIDE_HOURS_FACTOR)
    return weight + (ALERT_FLOOR if profile == "monitoring-alert" else 0.0)


def _minute_of_day(moment: dt.time) -> int:
    return moment.hour * 60 + moment.minute


class _WeeklyHours:
    """Opening hours as a week of minutes, so "when does it next open?" is one lookup."""

    def __init__(self, timezone: str, windows: Iterable[tuple[int, dt.time, dt.time]]) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.is_open = [False] * MINUTES_PER_WEEK
        for weekday, starts, ends in windows:
            base = (weekday - 1) * MINUTES_PER_DAY
            for minute in range(base + _minute_of_day(starts), base + _minute_of_day(ends)):
                self.is_open[minute] = True
        self.wait = _waits(self.is_open)

    def minute_of_week(self, moment: dt.datetime) -> int:
        local = moment.astimezone(self.zone)
        return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        wait = self.wait[self.minute_of_week(moment)]
        return moment + dt.timedelta(minutes=wait) if wait else moment


def _waits(is_open: Sequence[bool]) -> list[int]:
    """Minutes from each minute of the week to the next open one (0 when open)."""
    if not any(is_open):
        return [0] * MINUTES_PER_WEEK
    waits = [0] * MINUTES_PER_WEEK
    following = 0
    for minute in range(2 * MINUTES_PER_WEEK - 1, -1, -1):
        if is_open[minute % MINUTES_PER_WEEK]:
            following = minute
        if minute < MINUTES_PER_WEEK:
            waits[minute] = following - minute
    return waits


class _Desk(_WeeklyHours):
    """The service desk's hours: the union of the technicians' shifts, and who is on."""

    def __init__(self, plan: DemoPlan) -> None:
        windows = [(shift.weekday, shift.starts, shift.ends) for shift in plan.shifts]
        super().__init__(cat.MSP_TIMEZONE, windows)
        working: list[set[int]] = [set() for _ in range(MINUTES_PER_WEEK)]
        for shift in plan.shifts:
            base = (shift.weekday - 1) * MINUTES_PER_DAY
            for minute in range(
                base + _minute_of_day(shift.starts), base + _minute_of_day(shift.ends)
            ):
                working[minute].add(shift.staff)
        shared: dict[frozenset[int], frozenset[int]] = {}
        self.working = [shared.setdefault(frozenset(s), frozenset(s)) for s in working]

    def on_shift(self, moment: dt.datetime) -> frozenset[int]:
        return self.working[self.minute_of_week(moment)]


class _Dispatcher:
    """Who takes a ticket: a technician serving the client, in the queue, on shift if anyone
    is, and three times likelier when they hold the skill."""

    def __init__(self, plan: DemoPlan) -> None:
        self.staff = plan.staff
        techs = [i for i, person in enumerate(plan.staff) if person.role == TECHNICIAN]
        self.serving = [
            frozenset(t for t in techs if plan.staff[t].all_clients or c in plan.staff[t].clients)
            for c in range(len(plan.clients))
        ]
        self.members = {
            queue.slug: frozenset(t for t in techs if queue.slug in plan.staff[t].queues)
            for queue in plan.queues
        }

    def serves(self, tech: int, client: int) -> bool:
        return tech in self.serving[client]

    def choose(
        self,
        rng: random.Random,
        *,
        client: int,
        queue: str,
        skill: str,
        on_shift: frozenset[int],
        exclude: int | None = None,
    ) -> int | None:
        serving = self.serving[client] - {exclude}
        pool = (serving & self.members[queue]) or serving
        pool = (pool & on_shift) or pool
        if not pool:
            return None
        candidates = sorted(pool)
        return rng.choices(candidates, [self._weight(tech, skill) for tech in candidates])[0]

    def _weight(self, tech: int, skill: str) -> float:
        # The all-client seniors cover gaps and out-of-hours rather than the routine queue.
        person = self.staff[tech]
        return (3.0 if skill in person.skills else 1.0) * (0.4 if person.all_clients else 1.0)


@dataclass(frozen=True, slots=True)
class _Actor:
    kind: str
    staff: int | None = None
    contact: int | None = None
    name: str = ""


def _human(staff: int) -> _Actor:
    return _Actor(HUMAN, staff=staff)


def _requester(contact: int) -> _Actor:
    return _Actor(REQUESTER, contact=contact)


def _rule(name: str) -> _Actor:
    return _Actor(RULE, name=name)


def _system(name: str) -> _Actor:
    return _Actor(SYSTEM, name=name)


def _agent(playbook: cat.AgentPlaybookSeed) -> _Actor:
    return _Actor(AGENT, name=f"Playbook “{playbook.title}”")


class _Timeline:
    """A ticket's events and the state they lead to; each change names the value it replaces."""

    def __init__(self, queue: str, type_slug: str, priority: int) -> None:
        self.initial = (queue, type_slug, priority)
        self.queue, self.type, self.priority = queue, type_slug, priority
        self.status = NEW
        self.assignee: int | None = None
        self.events: list[EventRow] = []
        self.touches: list[tuple[dt.datetime, int]] = []

    @property
    def tech(self) -> int:
        if self.assignee is None:
            raise RuntimeError("work on an unassigned ticket")
        return self.assignee

    def add(
        self,
        kind: str,
        at: dt.datetime,
        actor: _Actor,
        *,
        old: str = "",
        new: str = "",
        body: str = "",
        data: dict[str, object] | None = None,
    ) -> dt.datetime:
        event = EventRow(
            kind, at, actor.kind, actor.staff, actor.contact, actor.name, old, new, body, data or {}
        )
        self.events.append(event)
        return at

    def work(self, kind: str, at: dt.datetime, body: str) -> dt.datetime:
        """A reply or note by the assignee, which is also time they spend on the ticket."""
        self.touches.append((at, self.tech))
        return self.add(kind, at, _human(self.tech), body=body)

    def set_status(self, at: dt.datetime, status: str, actor: _Actor) -> dt.datetime:
        self.add(STATUS_CHANGED, at, actor, old=self.status, new=status)
        self.status = status
        return at

    def assign(self, at: dt.datetime, tech: int, actor: _Actor) -> dt.datetime:
        old = "" if self.assignee is None else str(self.assignee)
        self.add(ASSIGNMENT_CHANGED, at, actor, old=old, new=str(tech))
        self.assignee = tech
        return at

    def move(self, at: dt.datetime, queue: str, actor: _Actor) -> dt.datetime:
        self.add(QUEUE_CHANGED, at, actor, old=self.queue, new=queue)
        self.queue = queue
        return at

    def retype(self, at: dt.datetime, type_slug: str, actor: _Actor) -> dt.datetime:
        self.add(TYPE_CHANGED, at, actor, old=self.type, new=type_slug)
        self.type = type_slug
        return at

    def reprioritise(self, at: dt.datetime, priority: int, actor: _Actor) -> dt.datetime:
        self.add(PRIORITY_CHANGED, at, actor, old=str(self.priority), new=str(priority))
        self.priority = priority
        return at


@dataclass(slots=True)
class _Outcome:
    """Where a (possibly cut-off) timeline ends: the values the Ticket's columns must hold."""

    queue: str
    type: str
    priority: int
    status: str = NEW
    assignee: int | None = None
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None

    def apply(self, event: EventRow) -> None:
        kind, new = event.kind, event.new_value
        if kind == STATUS_CHANGED:
            self.status = new
            if new == RESOLVED:
                self.resolved_at = event.at
            elif new == CLOSED:
                self.closed_at = event.at
        elif kind == ASSIGNMENT_CHANGED:
            self.assignee = int(new) if new else None
        elif kind == QUEUE_CHANGED:
            self.queue = new
        elif kind == TYPE_CHANGED:
            self.type = new
        elif kind == PRIORITY_CHANGED:
            self.priority = int(new)
        elif kind == REPLY and event.actor_kind in RESPONDERS and self.first_response_at is None:
            self.first_response_at = event.at


def _outcome(events: Iterable[EventRow], initial: tuple[str, str, int]) -> _Outcome:
    outcome = _Outcome(*initial)
    for event in events:
        outcome.apply(event)
    if outcome.status not in DONE:
        outcome.resolved_at = None
    if outcome.status != CLOSED:
        outcome.closed_at = None
    return outcome


class _People:
    """Who raises tickets at each client, the devices they are about, and the contract."""

    def __init__(self, plan: DemoPlan, rng: random.Random) -> None:
        self.plan = plan
        self.requesters: list[tuple[list[int], list[float]]] = [([], []) for _ in plan.clients]
        for index, contact in enumerate(plan.contacts):
            people, weights = self.requesters[contact.client]
            people.append(index)
            # Some people raise far more tickets than others.
            weights.append((weights[-1] if weights else 0.0) + rng.lognormvariate(0.0, 0.8))
        self.devices: dict[int, list[int]] = {}
        self.by_kind: dict[tuple[int | None, str], list[int]] = {}
        for index, asset in enumerate(plan.assets):
            if asset.primary_contact is not None:
                self.devices.setdefault(asset.primary_contact, []).append(index)
            self.by_kind.setdefault((asset.client, asset.kind), []).append(index)
        self.pools: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        self.main_site: dict[int, int] = {}
        for index, site in enumerate(plan.sites):
            self.main_site.setdefault(site.client, index)
        self.contracts: dict[int, list[int]] = {}
        for index, contract in enumerate(plan.contracts):
            self.contracts.setdefault(contract.client, []).append(index)

    def contact(self, rng: random.Random, client: int) -> int:
        people, weights = self.requesters[client]
        return rng.choices(people, cum_weights=weights)[0]

    def asset(
        self, rng: random.Random, client: int, contact: int | None, kinds: tuple[str, ...]
    ) -> int | None:
        if not kinds:
            return None
        devices = self.devices.get(-1 if contact is None else contact, [])
        own = [a for a in devices if self.plan.assets[a].kind in kinds]
        if own:
            return rng.choice(own)
        pool = self.pools.setdefault(
            (client, kinds), [a for kind in kinds for a in self.by_kind.get((client, kind), ())]
        )
        return rng.choice(pool) if pool else None

    def hostname(self, client: int, contact: int | None, asset: int | None) -> str:
        if asset is None and contact is not None and contact in self.devices:
            asset = self.devices[contact][0]
        if asset is None:
            return f"{self.plan.clients[client].prefix}-WS-0001"
        return self.plan.assets[asset].hostname

    def site(self, client: int, contact: int | None, asset: int | None) -> int | None:
        if contact is not None:
            return self.plan.contacts[contact].site
        if asset is not None and self.plan.assets[asset].site is not None:
            return self.plan.assets[asset].site
        return self.main_site.get(client)

    def contract(self, client: int, on: dt.date) -> int | None:
        contracts = self.plan.contracts
        return next((i for i in self.contracts.get(client, ()) if contracts[i].in_force(on)), None)


@dataclass(slots=True)
class _Job:
    """One ticket being built."""

    spec: cat.TypeSpec
    client: int
    contact: int | None
    site: int | None
    assets: tuple[int, ...]
    words: dict[str, str]
    timeline: _Timeline
    on_call: bool = False
    silent: bool = False


class _TicketFactory:
    """Plays one ticket's life forward from its arrival, then cuts it off at `now`."""

    def __init__(self, plan: DemoPlan, rng: random.Random) -> None:
        self.plan, self.rng = plan, rng
        self.desk = _Desk(plan)
        self.client_hours = [
            _WeeklyHours(
                c.timezone, [(int(d), c.business_start, c.business_end) for d in c.business_days]
            )
            for c in plan.clients
        ]
        self.dispatch = _Dispatcher(plan)
        self.people = _People(plan, rng)
        self.manager = plan.staff_index(MANAGER)
        self.rota_starts = [period.starts_at for period in plan.on_call]
        self.priorities = {spec.slug: _cumulative(spec.priorities) for spec in plan.types}
        self.subtypes: dict[str, list[int]] = {}
        for index, subtype in enumerate(plan.subtypes):
            self.subtypes.setdefault(subtype.type, []).append(index)
        self.items: dict[int, list[int]] = {}
        for index, item in enumerate(plan.items):
            self.items.setdefault(item.subtype, []).append(index)
        self.playbooks = {playbook.type: playbook for playbook in cat.AGENT_PLAYBOOKS}

    def build(self, number: int, arrival: _Arrival) -> TicketRow:
        job = self._job(arrival)
        at = self._open(job, arrival.at)
        playbook = self._agent_takes(job, arrival.at)
        if playbook is not None:
            resolved = self._agent_resolves(job, playbook, at)
            self._close(job, resolved)
            survey = self._survey(job, arrival.at, resolved, reopened=False)
            return self._row(number, arrival, job, survey)
        at = self._pick_up(job, at)
        resolved = self._resolve(job, self._work(job, at))
        reopened = self.rng.random() < job.spec.reopen
        if reopened:
            resolved = self._reopen(job, resolved)
        self._close(job, resolved)
        survey = self._survey(job, arrival.at, resolved, reopened=reopened)
        return self._row(number, arrival, job, survey)

    def _job(self, arrival: _Arrival) -> _Job:
        rng, spec, client = self.rng, arrival.spec, arrival.client
        contact = None if spec.from_monitoring else self.people.contact(rng, client)
        asset = self.people.asset(rng, client, contact, spec.asset_kinds)
        misfiled = contact is not None and spec.slug != "other" and rng.random() < MISFILED_SHARE
        priority = rng.choices((1, 2, 3, 4), cum_weights=self.priorities[spec.slug])[0]
        site = self.people.site(client, contact, asset)
        return _Job(
            spec=spec,
            client=client,
            contact=contact,
            site=site,
            assets=() if asset is None else (asset,),
            words=self._words(client, contact, asset, site),
            timeline=_Timeline(cat.L1, "other" if misfiled else spec.slug, priority),
        )

    def _words(
        self, client: int, contact: int | None, asset: int | None, site: int | None
    ) -> dict[str, str]:
        rng = self.rng
        person = None if contact is None else self.plan.contacts[contact]
        return {
            "first": person.first_name if person else "",
            "last": person.last_name if person else "",
            "hostname": self.people.hostname(client, contact, asset),
            "site": self.plan.sites[site].name if site is not None else "the office",
            "app": rng.choice(cat.APPS),
            "group": rng.choice(cat.GROUPS),
            "service": rng.choice(cat.SERVICES),
            "job": rng.choice(cat.BACKUP_JOBS),
            "other_first": rng.choice(cat.FIRST_NAMES),
            "other_last": rng.choice(cat.LAST_NAMES),
        }

    def _open(self, job: _Job, opened: dt.datetime) -> dt.datetime:
        """The `created` event, then the rules that act within seconds of it."""
        rng, spec, timeline = self.rng, job.spec, job.timeline
        if job.contact is None:
            opener, channel = _system(MONITORING), "alert"
        else:
            opener, channel = _requester(job.contact), rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        body = rng.choice(spec.descriptions).format_map(job.words)
        timeline.add(CREATED, opened, opener, body=body, data={"channel": channel})
        at = opened + dt.timedelta(seconds=rng.randint(3, 40))
        if spec.rule_routed and rng.random() < RULE_ROUTED_SHARE:
            timeline.move(at, spec.queue, _rule(ROUTE_RULES[spec.queue]))
        vip = job.contact is not None and self.plan.contacts[job.contact].is_vip
        if vip and timeline.priority >= 3:
            timeline.reprioritise(at, 2, _rule(VIP_RULE))
        if timeline.type != spec.slug and rng.random() < 0.4:
            timeline.retype(at, spec.slug, _rule(CLASSIFY_RULE))
        return at

    def _agent_takes(self, job: _Job, opened: dt.datetime) -> cat.AgentPlaybookSeed | None:
        """After the rollout, the agent takes a growing share of the tickets a playbook covers
        (filed under their real type by now, from a requester)."""
        rollout = self.plan.rollout
        playbook = self.playbooks.get(job.spec.slug)
        if rollout is None or opened < rollout or playbook is None or job.contact is None:
            return None
        if job.timeline.type != job.spec.slug:
            return None
        weeks = (opened - rollout) / dt.timedelta(weeks=1)
        ramp = min(1.0, weeks / AGENT_RAMP_WEEKS)
        share = AGENT_SHARE_START + (AGENT_SHARE_FULL - AGENT_SHARE_START) * ramp
        return playbook if self.rng.random() < share else None

    def _agent_resolves(
        self, job: _Job, playbook: cat.AgentPlaybookSeed, at: dt.datetime
    ) -> dt.datetime:
        """The playbook's run: its action executes (after a technician's approval when the
        policy asks for one), the agent tells the requester and resolves. No time is logged."""
        rng, timeline, agent = self.rng, job.timeline, _agent(playbook)
        data: dict[str, object] = {"kind": playbook.action}
        at += _minutes(rng.uniform(*AGENT_PICKUP_MINUTES))
        started = playbook.started.format_map(job.words)
        run: dict[str, object] = {"playbook": playbook.type}
        timeline.add(PLAYBOOK, at, agent, body=f"Started: {started}.", data={**run, "step": 0})
        at += _seconds(rng.randint(5, 40))
        if rng.random() < playbook.approval_share:
            self._step(timeline, at, agent, playbook, "proposed", data)
            approver, at = self._approver(job, at)
            self._step(timeline, at, _human(approver), playbook, "approved", data)
        else:
            self._step(timeline, at, agent, playbook, "queued", data)
        at += _seconds(rng.randint(5, 40))
        self._step(timeline, at, agent, playbook, "verified", data)
        at += _seconds(rng.randint(5, 30))
        timeline.add(REPLY, at, agent, body=playbook.reply.format_map(job.words))
        resolved = timeline.set_status(at + _seconds(rng.randint(2, 10)), RESOLVED, agent)
        done = f"Done. {playbook.done}"
        timeline.add(PLAYBOOK, resolved + _seconds(1), agent, body=done, data={**run, "step": 1})
        return resolved

    @staticmethod
    def _step(
        timeline: _Timeline,
        at: dt.datetime,
        actor: _Actor,
        playbook: cat.AgentPlaybookSeed,
        step: str,
        data: dict[str, object],
    ) -> None:
        """One step of the playbook's action, as the governance gate records it."""
        body = f"{playbook.action_label}: {ACTION_STEP_WORDS[step]}."
        timeline.add(ACTION, at, actor, new=step, body=body, data={**data, "step": step})

    def _approver(self, job: _Job, at: dt.datetime) -> tuple[int, dt.datetime]:
        """A technician serving the client approves the proposal once the desk is open."""
        approved = self.desk.next_open(at + _minutes(_lognormal(self.rng, APPROVAL_MINUTES, 0.8)))
        tech = self.dispatch.choose(
            self.rng,
            client=job.client,
            queue=job.timeline.queue,
            skill=job.spec.skill,
            on_shift=self.desk.on_shift(approved),
        )
        return (self.manager if tech is None else tech), approved

    def _pick_up(self, job: _Job, at: dt.datetime) -> dt.datetime:
        rng, spec, timeline = self.rng, job.spec, job.timeline
        tech, at = self._responder(job, at)
        dispatcher = tech if job.on_call or rng.random() < SELF_ASSIGNED_SHARE else self.manager
        timeline.assign(at, tech, _human(dispatcher))
        if timeline.queue != spec.queue and spec.rule_routed:
            timeline.move(at, spec.queue, _human(tech))
        if timeline.type != spec.slug:
            timeline.retype(at, spec.slug, _human(tech))
        timeline.set_status(at, IN_PROGRESS, _human(tech))
        greetings = cat.ALERT_ACKS if job.contact is None else cat.FIRST_REPLIES
        at += _minutes(rng.uniform(0.5, 4.0))
        at = timeline.work(REPLY, at, rng.choice(greetings).format_map(job.words))
        if rng.random() < PRIORITY_REVIEW_SHARE:
            reviewed = self._reviewed_priority(spec, timeline.priority)
            if reviewed != timeline.priority:
                at = timeline.reprioritise(at + _minutes(1), reviewed, _human(tech))
        return at

    def _responder(self, job: _Job, at: dt.datetime) -> tuple[int, dt.datetime]:
        """Urgent work out of hours wakes the on-call engineer; the rest waits for the desk."""
        rng, priority = self.rng, job.timeline.priority
        opens = self.desk.next_open(at)
        if priority <= 2 and opens - at > _minutes(30):
            on_call = self._on_call(at)
            if on_call is not None and self.dispatch.serves(on_call, job.client):
                job.on_call = True
                return on_call, at + _minutes(_lognormal(rng, 20, 0.5))
        delay = _lognormal(rng, RESPONSE_MINUTES[priority - 1], 0.8)
        start = self.desk.next_open(opens + _minutes(delay))
        tech = self.dispatch.choose(
            rng,
            client=job.client,
            queue=job.timeline.queue,
            skill=job.spec.skill,
            on_shift=self.desk.on_shift(start),
        )
        if tech is None:
            raise RuntimeError(f"no technician serves client {job.client}")
        return tech, start

    def _on_call(self, at: dt.datetime) -> int | None:
        index = bisect.bisect_right(self.rota_starts, at) - 1
        if index < 0 or at >= self.plan.on_call[index].ends_at:
            return None
        return self.plan.on_call[index].staff

    def _reviewed_priority(self, spec: cat.TypeSpec, priority: int) -> int:
        if spec.priorities[0] and priority == 2:
            return 1
        return min(4, max(2, priority + self.rng.choice((-1, 1))))

    def _work(self, job: _Job, at: dt.datetime) -> dt.datetime:
        segments = self._segments(job)
        gap = self._elapsed(job) / (len(segments) + 1)
        for segment in segments:
            at = segment(job, self._later(job, at, gap))
        return self._later(job, at, gap)

    def _segments(self, job: _Job) -> list[Callable[[_Job, dt.datetime], dt.datetime]]:
        rng, spec = self.rng, job.spec
        segments: list[Callable[[_Job, dt.datetime], dt.datetime]] = []
        if job.contact is not None and rng.random() < spec.wait_customer:
            segments.append(self._wait_for_customer)
        if rng.random() < spec.stall:
            segments.append(self._wait_elsewhere)
        if rng.random() < NOTE_SHARE:
            segments.append(self._note)
        routine = job.contact is not None and not spec.quick_win and job.timeline.priority >= 3
        if routine and rng.random() < DRIFT_SHARE:
            segments.append(self._drift)
        rng.shuffle(segments)
        misplaced = job.timeline.queue != spec.queue
        if misplaced or rng.random() < spec.reassign:
            position = 0 if misplaced else rng.randint(0, len(segments))
            segments.insert(position, self._hand_over)
        return segments

    def _elapsed(self, job: _Job) -> float:
        urgency = URGENCY_FACTOR[job.timeline.priority - 1]
        return _lognormal(self.rng, job.spec.resolve_minutes * urgency, 1.0)

    def _later(self, job: _Job, at: dt.datetime, minutes: float) -> dt.datetime:
        moment = at + _minutes(minutes * self.rng.uniform(0.6, 1.4))
        return moment if job.on_call else self.desk.next_open(moment)

    def _hand_over(self, job: _Job, at: dt.datetime) -> dt.datetime:
        """An escalation or a handover: a note, maybe a queue move, then a new assignee."""
        rng, spec, timeline = self.rng, job.spec, job.timeline
        previous = timeline.tech
        target = spec.queue
        if timeline.queue == spec.queue:
            escalate = rng.random() < ESCALATE_ON_HANDOVER
            target = spec.escalation_queue if escalate else timeline.queue
        at = timeline.work(NOTE, at, rng.choice(cat.HANDOVER_NOTES))
        if target != timeline.queue:
            timeline.move(at, target, _human(previous))
        successor = self.dispatch.choose(
            rng,
            client=job.client,
            queue=target,
            skill=spec.skill,
            on_shift=self.desk.on_shift(at),
            exclude=previous,
        )
        if successor is None:
            return at
        actor = previous if rng.random() < 0.6 else self.manager
        return timeline.assign(at + _minutes(rng.uniform(1, 20)), successor, _human(actor))

    def _wait_for_customer(self, job: _Job, at: dt.datetime) -> dt.datetime:
        rng, timeline = self.rng, job.timeline
        if job.contact is None:
            return at
        at = timeline.work(REPLY, at, rng.choice(cat.QUESTIONS))
        timeline.set_status(at + dt.timedelta(seconds=30), WAITING_CUSTOMER, _human(timeline.tech))
        if rng.random() < SILENT_SHARE:
            return self._chase(job, at)
        answer = at + _minutes(max(5.0, _lognormal(rng, 240, 1.0)))
        answer = self.client_hours[job.client].next_open(answer)
        timeline.add(
            REQUESTER_REPLY, answer, _requester(job.contact), body=rng.choice(cat.REQUESTER_REPLIES)
        )
        resumed = answer + dt.timedelta(seconds=20)
        return timeline.set_status(resumed, IN_PROGRESS, _rule(RESUME_RULE))

    def _chase(self, job: _Job, at: dt.datetime) -> dt.datetime:
        """The requester goes quiet: three strikes two days apart, then it is resolved."""
        job.silent = True
        hours = self.client_hours[job.client]
        for _ in range(3):
            reminder = hours.next_open(at + _minutes(2 * MINUTES_PER_DAY))
            at = job.timeline.work(REPLY, reminder, self.rng.choice(cat.REMINDERS))
        return at

    def _wait_elsewhere(self, job: _Job, at: dt.datetime) -> dt.datetime:
        """A vendor, a carrier or a start date: the ticket parks, sometimes for weeks."""
        rng, timeline = self.rng, job.timeline
        if job.spec.slug in SCHEDULED_TYPES:
            status, notes = SCHEDULED, cat.SCHEDULED_NOTES
        else:
            status, notes = WAITING_THIRD_PARTY, cat.THIRD_PARTY_NOTES
        at = timeline.work(NOTE, at, rng.choice(notes))
        timeline.set_status(at + dt.timedelta(seconds=30), status, _human(timeline.tech))
        parked = max(60.0, _lognormal(rng, job.spec.stall_minutes, 1.2))
        back = self.desk.next_open(at + _minutes(parked))
        return timeline.set_status(back, IN_PROGRESS, _human(timeline.tech))

    def _drift(self, job: _Job, at: dt.datetime) -> dt.datetime:
        """Low-priority work that slips behind everything else for a week or two."""
        back = self.desk.next_open(at + _minutes(_lognormal(self.rng, 12 * MINUTES_PER_DAY, 0.9)))
        return job.timeline.work(NOTE, back, self.rng.choice(cat.PICKED_UP_AGAIN))

    def _note(self, job: _Job, at: dt.datetime) -> dt.datetime:
        return job.timeline.work(NOTE, at, self.rng.choice(cat.NOTES))

    def _resolve(self, job: _Job, at: dt.datetime) -> dt.datetime:
        timeline = job.timeline
        closing = cat.NO_RESPONSE if job.silent else job.spec.resolutions
        at = timeline.work(REPLY, at, self.rng.choice(closing).format_map(job.words))
        return timeline.set_status(at + dt.timedelta(seconds=30), RESOLVED, _human(timeline.tech))

    def _reopen(self, job: _Job, resolved: dt.datetime) -> dt.datetime:
        """Back within two days of resolution (before auto-close), then resolved again."""
        rng, timeline = self.rng, job.timeline
        back = resolved + _minutes(min(_lognormal(rng, 600, 0.8), 2400))
        if job.contact is None:
            back = timeline.set_status(back, IN_PROGRESS, _rule(ALERT_REOPEN_RULE))
        else:
            timeline.add(
                REQUESTER_REPLY, back, _requester(job.contact), body=rng.choice(cat.REOPEN_REPLIES)
            )
            back = timeline.set_status(
                back + dt.timedelta(seconds=20), IN_PROGRESS, _rule(REOPEN_RULE)
            )
        at = timeline.work(NOTE, self._later(job, back, 20), rng.choice(cat.NOTES))
        return self._resolve(job, self._later(job, at, self._elapsed(job) * 0.3))

    def _close(self, job: _Job, resolved: dt.datetime) -> None:
        job.timeline.set_status(_auto_close_at(resolved), CLOSED, _system(AUTO_CLOSE))

    def _survey(
        self, job: _Job, opened: dt.datetime, resolved: dt.datetime, *, reopened: bool
    ) -> CsatRow | None:
        rng = self.rng
        if job.contact is None or rng.random() >= CSAT_RESPONSE_RATE:
            return None
        at = resolved + _minutes(min(_lognormal(rng, 180, 1.0), 4 * MINUTES_PER_DAY))
        slow = resolved - opened > _minutes(job.spec.resolve_minutes * 4)
        score = rng.choices((1, 2, 3, 4, 5), UNHAPPY if slow or reopened else HAPPY)[0]
        nps = _nps(rng, score) if rng.random() < NPS_SHARE else None
        comment = rng.choice(cat.CSAT_COMMENTS[score]) if rng.random() < COMMENT_SHARE else ""
        data: dict[str, object] = {"score": score, "nps": nps}
        job.timeline.add(
            CSAT_RECEIVED, at, _requester(job.contact), new=str(score), body=comment, data=data
        )
        return CsatRow(job.contact, score, nps, comment, at)

    def _row(self, number: int, arrival: _Arrival, job: _Job, survey: CsatRow | None) -> TicketRow:
        now, timeline = self.plan.now, job.timeline
        # A survey can arrive after the auto-close, so the timeline is put back in order.
        timeline.events.sort(key=attrgetter("at"))
        events = timeline.events[: bisect.bisect_right(timeline.events, now, key=attrgetter("at"))]
        outcome = _outcome(events, timeline.initial)
        contract = self.people.contract(job.client, arrival.at.date())
        sla = None if contract is None else self.plan.contracts[contract].sla[outcome.priority - 1]
        subtype, item = self._classify(job.spec, outcome.type)
        return TicketRow(
            external_id=f"DEMO-{number:07d}",
            summary=self.rng.choice(job.spec.summaries).format_map(job.words),
            description=events[0].body,
            status=outcome.status,
            priority=outcome.priority,
            type=outcome.type,
            subtype=subtype,
            item=item,
            client=job.client,
            contact=job.contact,
            site=job.site,
            assets=job.assets,
            contract=contract,
            queue=outcome.queue,
            assignee=outcome.assignee,
            opened_at=arrival.at,
            first_response_at=outcome.first_response_at,
            resolved_at=outcome.resolved_at,
            closed_at=outcome.closed_at,
            sla_response_due_at=None
            if sla is None
            else arrival.at + _minutes(sla.response_minutes),
            sla_resolution_due_at=None
            if sla is None
            else arrival.at + _minutes(sla.resolution_minutes),
            source_updated_at=events[-1].at,
            events=events,
            time_entries=self._time_entries(job, contract),
            csat=survey if survey is not None and survey.responded_at <= now else None,
        )

    def _classify(self, spec: cat.TypeSpec, final_type: str) -> tuple[int | None, int | None]:
        """Subtype and item, once the ticket carries its real type."""
        if final_type != spec.slug:
            return None, None
        subtype = self.rng.choice(self.subtypes[spec.slug])
        items = self.items.get(subtype)
        item = self.rng.choice(items) if items and self.rng.random() < 0.8 else None
        return subtype, item

    def _time_entries(self, job: _Job, contract: int | None) -> list[TimeRow]:
        """The technician minutes, split over sittings: touches close together are one."""
        rng, spec = self.rng, job.spec
        sittings = _sittings(job.timeline.touches)
        if not sittings:  # the agent resolved it: nobody logged time
            return []
        total = min(
            max(2.0, _lognormal(rng, spec.handling_minutes, 0.45)), spec.handling_minutes * 6
        )
        weights = [rng.uniform(0.6, 1.4) for _ in sittings]
        scale = total / sum(weights)
        billable = self._billable(contract, spec.slug)
        rows: list[TimeRow] = []
        for position, ((at, tech), weight) in enumerate(zip(sittings, weights, strict=True)):
            if at > self.plan.now:
                break
            note = _sitting_note(position, len(sittings))
            rows.append(TimeRow(tech, at, max(1, round(weight * scale)), billable, note))
        return rows

    def _billable(self, contract: int | None, type_slug: str) -> bool:
        return _billable(self.plan, contract, type_slug)


def _billable(plan: DemoPlan, contract: int | None, type_slug: str) -> bool:
    """Managed contracts include their covered types; everything else is billed."""
    if contract is None:
        return True
    terms = plan.contracts[contract]
    return terms.kind != MANAGED or type_slug not in terms.covered_types


def _auto_close_at(resolved: dt.datetime) -> dt.datetime:
    """The auto-close job runs at five past each hour."""
    due = resolved + AUTO_CLOSE_AFTER
    run = due.replace(minute=5, second=0, microsecond=0)
    return run + dt.timedelta(hours=1) if run < due else run


def _sittings(touches: Sequence[tuple[dt.datetime, int]]) -> list[tuple[dt.datetime, int]]:
    sittings: list[tuple[dt.datetime, int]] = []
    last: tuple[dt.datetime, int] | None = None
    for at, tech in touches:
        if last is None or tech != last[1] or at - last[0] > SESSION_GAP:
            sittings.append((at, tech))
        last = (at, tech)
    return sittings


def _sitting_note(position: int, count: int) -> str:
    if count == 1:
        return "Triage and fix"
    if position == 0:
        return "Triage and first response"
    return "Resolution" if position == count - 1 else "Investigation"


def _nps(rng: random.Random, score: int) -> int:
    low, high = {1: (0, 4), 2: (2, 6), 3: (5, 8), 4: (7, 9), 5: (8, 10)}[score]
    return rng.randint(low, high)


# The planted tickets: what the data-hygiene report should find (see `tickets.demo.hygiene`).
INTAKE = "Intake"


def _office_moment(rng: random.Random, now: dt.datetime, days_ago: int, zone: str) -> dt.datetime:
    """A weekday office-hours moment (09:00-16:00 local) `days_ago` days before `now`, or the
    Friday before when that day is a weekend."""
    tz = zoneinfo.ZoneInfo(zone)
    day = (now - dt.timedelta(days=days_ago)).astimezone(tz).date()
    while day.isoweekday() > 5:
        day -= dt.timedelta(days=1)
    local = dt.datetime.combine(day, dt.time(9, 0), tzinfo=tz)
    return (local + dt.timedelta(minutes=rng.randrange(7 * 60))).astimezone(UTC)


def _own_people(plan: DemoPlan, client: int) -> list[int]:
    """The client's contacts with an address at its own domain (not the outsiders)."""
    domain = "@" + plan.clients[client].domains[0]
    return [
        i for i, c in enumerate(plan.contacts) if c.client == client and c.email.endswith(domain)
    ]


def _intake_gap(
    rng: random.Random, plan: DemoPlan, gap: cat.IntakeGapSeed, external_id: str
) -> IntakeGapRow:
    """Who and what a planted arrival named, and what intake could match of it."""
    if gap.unmatched == "client":
        opened = _office_moment(rng, plan.now, gap.days_ago, cat.MSP_TIMEZONE)
        return IntakeGapRow(external_id, gap, opened, None, None, gap.sender, "", ())
    client = rng.randrange(len(plan.clients))
    row = plan.clients[client]
    opened = _office_moment(rng, plan.now, gap.days_ago, row.timezone)
    if gap.unmatched == "requester":
        first, address = _stranger(rng, plan, gap.sender, row.domains[0])
        return IntakeGapRow(external_id, gap, opened, client, None, address, first, ())
    taken = {asset.hostname.lower() for asset in plan.assets}
    hostname = ""
    while not hostname or hostname.lower() in taken:
        hostname = f"{row.prefix}-{gap.sender}-{rng.randint(1000, 9999):04d}"
    spec = next(spec for spec in plan.types if spec.slug == gap.type)
    if spec.from_monitoring:  # an alert: the source names the client and the device only
        return IntakeGapRow(external_id, gap, opened, client, None, "", "", (hostname,))
    contact = rng.choice(_own_people(plan, client))
    person = plan.contacts[contact]
    return IntakeGapRow(
        external_id, gap, opened, client, contact, person.email, person.first_name, (hostname,)
    )


def _stranger(rng: random.Random, plan: DemoPlan, sender: str, domain: str) -> tuple[str, str]:
    """A first name and an address at the client's domain that no contact has."""
    known = {contact.email.lower() for contact in plan.contacts}
    if sender:
        address = f"{sender}@{domain}"
        if address in known:
            raise ValueError(f"the planted requester {address} is a contact")
        return "", address
    while True:
        first, last = rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)
        address = f"{_letters(first)}.{_letters(last)}@{domain}"
        if address not in known:
            return first, address


def _guidance(rng: random.Random, plan: DemoPlan, external_id: str) -> GuidanceRow:
    """The guidance playbook's reopened ticket: at the client with its own VPN article, which
    it quotes with one of the published general ones."""
    owned = next(
        i
        for i, article in enumerate(plan.articles)
        if article.client is not None and cat.GUIDANCE_TYPE in article.types
    )
    client = plan.articles[owned].client
    if client is None:
        raise RuntimeError("the client's own article has no client")
    general = [
        i
        for i, article in enumerate(plan.articles)
        if article.client is None and article.is_published and cat.GUIDANCE_TYPE in article.types
    ]
    opened = _office_moment(rng, plan.now, cat.GUIDANCE_DAYS_AGO, plan.clients[client].timezone)
    contact = rng.choice(_own_people(plan, client))
    return GuidanceRow(external_id, opened, client, contact, (owned, rng.choice(general)))


def _is_business_time(client: ClientRow, moment: dt.datetime) -> bool:
    """As `Client.is_business_time` has it."""
    local = moment.astimezone(zoneinfo.ZoneInfo(client.timezone))
    if str(local.isoweekday()) not in client.business_days:
        return False
    return client.business_start <= local.time() < client.business_end


class _Planter:
    """The planted tickets' rows, with the events intake and the playbook would have written."""

    def __init__(self, plan: DemoPlan) -> None:
        self.plan = plan
        self.rng = _rng(plan.seed, "planted")
        self.desk = _Desk(plan)
        self.dispatch = _Dispatcher(plan)
        self.people = _People(plan, self.rng)
        self.seniors = [
            i for i, s in enumerate(plan.staff) if s.role == TECHNICIAN and s.all_clients
        ]
        self.specs = {spec.slug: spec for spec in plan.types}

    def all(self) -> list[TicketRow]:
        rows = [self._gap(row) for row in self.plan.intake_gaps]
        if self.plan.guidance is not None:
            rows.append(self._guidance(self.plan.guidance))
        return sorted(rows, key=attrgetter("opened_at"))

    def _technician(self, client: int | None, queue: str, skill: str, at: dt.datetime) -> int:
        """A technician serving the client; a senior (they see every client) when intake
        could not tell whose it is."""
        tech = None
        if client is not None:
            on_shift = self.desk.on_shift(at)
            tech = self.dispatch.choose(
                self.rng, client=client, queue=queue, skill=skill, on_shift=on_shift
            )
        return self.rng.choice(self.seniors) if tech is None else tech

    def _gap(self, row: IntakeGapRow) -> TicketRow:
        plan, rng, gap = self.plan, self.rng, row.seed
        spec = self.specs[gap.type]
        client = None if row.client is None else plan.clients[row.client]
        words = {
            "first": row.first_name,
            "client": client.name if client else "",
            "hostname": row.hostnames[0] if row.hostnames else "",
        }
        opened = row.opened_at
        contract = None if row.client is None else self.people.contract(row.client, opened.date())
        timeline = _Timeline(cat.L1, gap.type, gap.priority)
        # As the demo's own tickets have it, a contact's arrival is theirs, the rest intake's.
        if row.contact is None:
            opener = _system(cat.CHANNEL_LABELS[gap.channel])
        else:
            opener = _requester(row.contact)
        body = gap.description.format_map(words)
        timeline.add(CREATED, opened, opener, body=body, data={"channel": gap.channel})
        reasons, matched = self._matched(row, contract)
        timeline.add(ENRICHED, opened, _system(INTAKE), body=reasons, data=matched)
        at = opened + _seconds(rng.randint(3, 40))
        if spec.rule_routed:
            timeline.move(at, spec.queue, _rule(ROUTE_RULES[spec.queue]))
        at = self.desk.next_open(at + _minutes(_lognormal(rng, 25, 0.6)))
        tech = self._technician(row.client, timeline.queue, spec.skill, at)
        timeline.assign(at, tech, _human(tech))
        timeline.set_status(at, IN_PROGRESS, _human(tech))
        at = timeline.work(REPLY, at + _minutes(rng.uniform(1, 4)), gap.reply.format_map(words))
        if gap.resolve_hours:
            fixed = at + _minutes(gap.resolve_hours * 60 * rng.uniform(0.8, 1.2))
            at = timeline.work(REPLY, self.desk.next_open(fixed), gap.resolution.format_map(words))
            resolved = timeline.set_status(at + _seconds(30), RESOLVED, _human(tech))
            timeline.set_status(_auto_close_at(resolved), CLOSED, _system(AUTO_CLOSE))
        else:
            timeline.set_status(at + _seconds(30), WAITING_CUSTOMER, _human(tech))
        site = None if row.client is None else self.people.site(row.client, row.contact, None)
        summary = gap.summary.format_map(words)
        return self._row(row.external_id, summary, timeline, row.client, row.contact, site)

    def _matched(self, row: IntakeGapRow, contract: int | None) -> tuple[str, dict[str, object]]:
        """What intake says it matched and how (the `enriched` event's body and data); the
        data names rows by plan position, which `seed.py` turns into database ids."""
        plan = self.plan
        data: dict[str, object] = {
            "client": row.client,
            "contact": row.contact,
            "assets": [],
            "contract": None,
            "after_hours": None,
            "vip": False,
            "privileged": False,
        }
        domain = row.requester.rpartition("@")[2]
        if row.client is None:  # intake stops there: nothing else can be matched
            return f"Client not matched: no client has the mail domain {domain}.", data
        client = plan.clients[row.client]
        if not row.requester:
            reasons = [f"Client {client.name}: named by the source."]
        else:
            reasons = [f"Client {client.name}: the requester's domain {domain}."]
        if row.contact is not None:
            person = plan.contacts[row.contact]
            pairs = (("VIP", person.is_vip), ("privileged", person.is_privileged))
            flags = [name for name, on in pairs if on]
            extra = f" ({' and '.join(flags)})" if flags else ""
            reasons.append(
                f"Requester {person.first_name} {person.last_name}{extra}: by e-mail address."
            )
            data.update(vip=person.is_vip, privileged=person.is_privileged)
        elif row.requester:
            reasons.append(f"Requester {row.requester} is not a contact of {client.name}.")
        if contract is None:
            reasons.append(f"No contract of {client.name} is in force.")
        else:
            terms = plan.contracts[contract]
            reasons.append(f"Contract {terms.name}: in force on {row.opened_at:%d %b %Y}.")
            data["contract"] = contract
        after_hours = not _is_business_time(client, row.opened_at)
        local = row.opened_at.astimezone(zoneinfo.ZoneInfo(client.timezone))
        when = "after" if after_hours else "within"
        reasons.append(
            f"Arrived {when} {client.name}'s business hours ({local:%a %H:%M} {client.timezone})."
        )
        data["after_hours"] = after_hours
        unmatched: dict[str, object] = {}
        if row.requester and row.contact is None:
            unmatched["requester"] = row.requester
        if row.hostnames:
            unmatched["hostnames"] = sorted({h.lower() for h in row.hostnames})
        if unmatched:
            data["unmatched"] = unmatched
        return " ".join(reasons), data

    def _guidance(self, row: GuidanceRow) -> TicketRow:
        """The playbook answers from the knowledge base and waits; the requester says it
        worked, a technician resolves it, and the next day it is back."""
        plan, rng = self.plan, self.rng
        person = plan.contacts[row.contact]
        words = {"first": person.first_name}
        client = plan.clients[row.client]
        client_hours = _WeeklyHours(
            client.timezone,
            [(int(d), client.business_start, client.business_end) for d in client.business_days],
        )
        timeline = _Timeline(cat.L1, cat.GUIDANCE_TYPE, 3)
        opened, requester = row.opened_at, _requester(row.contact)
        timeline.add(
            CREATED, opened, requester, body=cat.GUIDANCE_DESCRIPTION, data={"channel": "portal"}
        )
        agent = _Actor(AGENT, name=f"Playbook “{cat.GUIDANCE_PLAYBOOK_TITLE}”")
        run = {"playbook": cat.GUIDANCE_PLAYBOOK}
        started = opened + _minutes(rng.uniform(*AGENT_PICKUP_MINUTES))
        titles = [plan.articles[a].title for a in row.articles]
        owner_how = f"the knowledge base answers it ({titles[0]})"
        timeline.add(
            PLAYBOOK, started, agent, body=f"Started: {owner_how}.", data={**run, "step": 0}
        )
        answer = "\n".join(
            f"{plan.articles[a].body.splitlines()[0].partition('. ')[2]} [{n}]"
            for n, a in enumerate(row.articles, start=1)
        )
        at = started + _seconds(rng.randint(10, 40))
        timeline.add(REPLY, at, agent, body=cat.GUIDANCE_REPLY.format(answer=answer, **words))
        waiting = timeline.set_status(at + _seconds(rng.randint(2, 10)), WAITING_CUSTOMER, agent)
        done = f"Done. {cat.GUIDANCE_DONE}"
        timeline.add(PLAYBOOK, waiting + _seconds(1), agent, body=done, data={**run, "step": 1})
        thanks = client_hours.next_open(waiting + _minutes(_lognormal(rng, 90, 0.5)))
        timeline.add(REQUESTER_REPLY, thanks, requester, body=cat.GUIDANCE_THANKS)
        at = timeline.set_status(thanks + _seconds(20), IN_PROGRESS, _rule(RESUME_RULE))
        at = self.desk.next_open(at + _minutes(_lognormal(rng, 30, 0.5)))
        spec = self.specs[cat.GUIDANCE_TYPE]
        tech = self._technician(row.client, timeline.queue, spec.skill, at)
        timeline.assign(at, tech, _human(tech))
        closing = cat.GUIDANCE_CLOSING.format_map(words)
        at = timeline.work(REPLY, at + _minutes(rng.uniform(1, 3)), closing)
        resolved = timeline.set_status(at + _seconds(30), RESOLVED, _human(tech))
        back = client_hours.next_open(resolved + _minutes(rng.uniform(14, 30) * 60))
        timeline.add(REQUESTER_REPLY, back, requester, body=cat.GUIDANCE_BACK)
        at = timeline.set_status(back + _seconds(20), IN_PROGRESS, _rule(REOPEN_RULE))
        at = self.desk.next_open(at + _minutes(_lognormal(rng, 40, 0.5)))
        at = timeline.work(NOTE, at, rng.choice(cat.NOTES))
        at = timeline.work(
            REPLY, self.desk.next_open(at + _minutes(rng.uniform(60, 180))), cat.GUIDANCE_FIX
        )
        resolved = timeline.set_status(at + _seconds(30), RESOLVED, _human(tech))
        timeline.set_status(_auto_close_at(resolved), CLOSED, _system(AUTO_CLOSE))
        site = self.people.site(row.client, row.contact, None)
        ticket = self._row(
            row.external_id, cat.GUIDANCE_SUMMARY, timeline, row.client, row.contact, site
        )
        ticket.run = RunRow(
            playbook=cat.GUIDANCE_PLAYBOOK,
            status="done",
            step=2,
            answer=answer,
            articles=row.articles,
            owner_how=owner_how,
            started_at=started,
            updated_at=waiting,
        )
        return ticket

    def _row(
        self,
        external_id: str,
        summary: str,
        timeline: _Timeline,
        client: int | None,
        contact: int | None,
        site: int | None,
    ) -> TicketRow:
        plan, rng = self.plan, self.rng
        # Stable: events at the same moment keep their order (created before enriched).
        timeline.events.sort(key=attrgetter("at"))
        events = timeline.events[
            : bisect.bisect_right(timeline.events, plan.now, key=attrgetter("at"))
        ]
        outcome = _outcome(events, timeline.initial)
        opened = events[0].at
        contract = None if client is None else self.people.contract(client, opened.date())
        sla = None if contract is None else plan.contracts[contract].sla[outcome.priority - 1]
        billable = _billable(plan, contract, outcome.type)
        sittings = [(at, tech) for at, tech in _sittings(timeline.touches) if at <= plan.now]
        return TicketRow(
            external_id=external_id,
            summary=summary,
            description=events[0].body,
            status=outcome.status,
            priority=outcome.priority,
            type=outcome.type,
            subtype=None,
            item=None,
            client=client,
            contact=contact,
            site=site,
            assets=(),
            contract=contract,
            queue=outcome.queue,
            assignee=outcome.assignee,
            opened_at=opened,
            first_response_at=outcome.first_response_at,
            resolved_at=outcome.resolved_at,
            closed_at=outcome.closed_at,
            sla_response_due_at=None if sla is None else opened + _minutes(sla.response_minutes),
            sla_resolution_due_at=(
                None if sla is None else opened + _minutes(sla.resolution_minutes)
            ),
            source_updated_at=events[-1].at,
            events=events,
            time_entries=[
                TimeRow(tech, at, rng.randint(5, 25), billable, _sitting_note(n, len(sittings)))
                for n, (at, tech) in enumerate(sittings)
            ],
            csat=None,
        )
