"""Writes the demo plan to the database, one atomic step at a time.

A step whose data is already there is skipped, so a second run is a no-op and a run that died
part-way finishes the missing steps. Skipped steps still load the ids of what they would have
written, by natural key, and refuse to go on if that data came from another seed.

Tickets stream from the generator in batches: each batch is written with `bulk_create`
(tickets first, for their ids, then events, time entries, surveys and asset links), so memory
and query count stay flat however many tickets are asked for.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from django.contrib.auth.models import Permission, User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, reset_queries, transaction
from django.db.models import JSONField, Model, Q
from psycopg.types.json import Jsonb
from tqdm import tqdm

from tickets.demo import DEMO_PASSWORD
from tickets.demo import catalogue as cat
from tickets.demo import generate as gen
from tickets.demo.generate import DemoPlan, EventRow, TicketRow
from tickets.models import (
    Asset,
    Client,
    ClientEmailDomain,
    Contact,
    Contract,
    CsatResponse,
    KnowledgeArticle,
    OnCallPeriod,
    Queue,
    Shift,
    Site,
    Skill,
    SlaTarget,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketItem,
    TicketSubtype,
    TicketType,
    TimeEntry,
)
from tickets.psa.models import PsaConnection, PsaMapping

BATCH_SIZE = 2000

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=Model)


class DemoDataMismatch(RuntimeError):
    """The database holds demo data that this seed and catalogue did not write."""


@dataclass
class SeedReport:
    """What one run wrote (rows per model), which steps it skipped, and the ticket speed."""

    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    tickets_seconds: float = 0.0

    @property
    def tickets_per_second(self) -> float:
        if not self.tickets_seconds:
            return 0.0
        return self.counts.get("Ticket", 0) / self.tickets_seconds

    def summary(self) -> str:
        if not any(self.counts.values()):
            return f"Demo MSP (seed {self.seed}) already present: every step skipped."
        parts = ", ".join(
            f"{self.counts[model]:,} {label}"
            for model, label in SUMMARY_LABELS
            if self.counts.get(model)
        )
        speed = ""
        if self.counts.get("Ticket"):
            speed = (
                f"; tickets in {self.tickets_seconds:.1f} s "
                f"({self.tickets_per_second:,.0f} tickets/s)"
            )
        return f"Demo MSP (seed {self.seed}) written: {parts}{speed}."


SUMMARY_LABELS = (
    ("Client", "clients"),
    ("Contact", "contacts"),
    ("Asset", "assets"),
    ("StaffMember", "staff"),
    ("KnowledgeArticle", "articles"),
    ("Contract", "contracts"),
    ("Ticket", "tickets"),
    ("TicketEvent", "events"),
    ("TimeEntry", "time entries"),
    ("CsatResponse", "surveys"),
)


class _Bar(Protocol):
    def update(self, n: int) -> object: ...


@dataclass
class _Ids:
    """Database ids for the plan's rows, in plan order (or by slug/name)."""

    types: dict[str, int] = field(default_factory=dict)
    subtypes: list[int] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    skills: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    clients: list[int] = field(default_factory=list)
    sites: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    assets: list[int] = field(default_factory=list)
    staff: list[int] = field(default_factory=list)
    articles: list[int] = field(default_factory=list)
    contracts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Step:
    name: str
    unit: str
    size: Callable[[DemoPlan], int]
    present: Callable[[DemoPlan, _Ids], bool]
    write: Callable[[DemoPlan, _Ids, _Bar], Counter[str]]
    load: Callable[[DemoPlan, _Ids], None]


def real_data_present() -> bool:
    """Whether the database holds anything but the demo: a client whose mail domains are not
    all `.example` (the demo's reserved domain), or a ticket from a real source."""
    real_clients = Client.objects.exclude(email_domains__domain__endswith=".example")
    return real_clients.exists() or Ticket.objects.exclude(source=Ticket.Source.DEMO).exists()


def seed_demo(
    *, seed: int, tickets: int, months: int, now: dt.datetime, progress: bool
) -> SeedReport:
    """Build the demo MSP for `seed`, with `tickets` tickets over `months` ending at `now`."""
    if not connection.features.can_return_rows_from_bulk_insert:
        # Events, surveys and links need the ids of the tickets just inserted.
        raise ImproperlyConfigured(
            "seed_demo needs a database that returns ids from bulk inserts: "
            "PostgreSQL, or SQLite 3.35 or later."
        )
    plan = gen.build_plan(seed=seed, now=now, months=months, tickets=tickets)
    report = SeedReport(seed=seed)
    ids = _Ids()
    for step in STEPS:
        started = time.perf_counter()
        wrote = _run(step, plan, ids, report, progress)
        if wrote and step is TICKETS_STEP:
            report.tickets_seconds = time.perf_counter() - started
    return report


def _run(step: _Step, plan: DemoPlan, ids: _Ids, report: SeedReport, progress: bool) -> bool:
    """One step in one transaction; False when its data was already there."""
    with transaction.atomic():
        present = step.present(plan, ids)
        if present:
            report.skipped.append(step.name)
        else:
            bar = tqdm(
                total=step.size(plan),
                desc=step.name,
                unit=step.unit,
                file=sys.stderr,
                disable=not progress,
            )
            with bar:
                for model, count in step.write(plan, ids, bar).items():
                    report.counts[model] = report.counts.get(model, 0) + count
        step.load(plan, ids)
    return not present


def _batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _ordered(found: dict[K, int], keys: Sequence[K], what: str) -> list[int]:
    """The ids for `keys` in order, or a clear error when demo data from elsewhere is there."""
    missing = [key for key in keys if key not in found]
    if missing:
        raise DemoDataMismatch(
            f"{len(missing)} demo {what} missing (first: {missing[0]!r}): the database holds "
            "demo data from another seed or version. Re-run with the seed it was built with, "
            "or seed a fresh database."
        )
    return [found[key] for key in keys]


def _present_all(found: int, expected: int) -> bool:
    return expected > 0 and found >= expected


def _insert_new(model: type[M], rows: list[M]) -> int:
    """Inserts the rows whose unique keys are not taken yet: the taxonomy, skills and queues
    may already exist in part, created by hand. Returns how many were new."""
    before = model._default_manager.count()
    model._default_manager.bulk_create(rows, ignore_conflicts=True)
    return model._default_manager.count() - before


def _taxonomy_present(plan: DemoPlan, ids: _Ids) -> bool:
    slugs = [spec.slug for spec in plan.types]
    return _present_all(TicketType.objects.filter(slug__in=slugs).count(), len(slugs))


def _write_taxonomy(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    # Types are unique by name and slug: someone may have created a few by hand already.
    types = [
        TicketType(
            name=spec.name,
            slug=spec.slug,
            description=spec.description,
            is_quick_win=spec.quick_win,
        )
        for spec in plan.types
    ]
    counts = Counter(TicketType=_insert_new(TicketType, types))
    _load_types(plan, ids)
    subtypes = [TicketSubtype(type_id=ids.types[row.type], name=row.name) for row in plan.subtypes]
    counts["TicketSubtype"] = _insert_new(TicketSubtype, subtypes)
    _load_subtypes(plan, ids)
    items = [TicketItem(subtype_id=ids.subtypes[row.subtype], name=row.name) for row in plan.items]
    counts["TicketItem"] = _insert_new(TicketItem, items)
    bar.update(len(types) + len(subtypes) + len(items))
    return counts


def _load_types(plan: DemoPlan, ids: _Ids) -> None:
    slugs = [spec.slug for spec in plan.types]
    found = dict(TicketType.objects.filter(slug__in=slugs).values_list("slug", "id"))
    ids.types = dict(zip(slugs, _ordered(found, slugs, "ticket types"), strict=True))


def _load_subtypes(plan: DemoPlan, ids: _Ids) -> None:
    rows = TicketSubtype.objects.filter(type_id__in=ids.types.values())
    found = {(type_id, name): pk for pk, type_id, name in rows.values_list("id", "type_id", "name")}
    keys = [(ids.types[row.type], row.name) for row in plan.subtypes]
    ids.subtypes = _ordered(found, keys, "ticket subtypes")


def _load_taxonomy(plan: DemoPlan, ids: _Ids) -> None:
    _load_types(plan, ids)
    _load_subtypes(plan, ids)
    rows = TicketItem.objects.filter(subtype_id__in=ids.subtypes)
    found = {(st, name): pk for pk, st, name in rows.values_list("id", "subtype_id", "name")}
    keys = [(ids.subtypes[row.subtype], row.name) for row in plan.items]
    ids.items = _ordered(found, keys, "ticket items")


def _teams_present(plan: DemoPlan, ids: _Ids) -> bool:
    skills = Skill.objects.filter(name__in=plan.skills).count()
    queues = Queue.objects.filter(slug__in=[queue.slug for queue in plan.queues]).count()
    return _present_all(skills + queues, len(plan.skills) + len(plan.queues))


def _write_teams(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    skills = [Skill(name=name) for name in plan.skills]
    queues = [Queue(name=q.name, slug=q.slug, description=q.description) for q in plan.queues]
    bar.update(len(skills) + len(queues))
    return Counter(Skill=_insert_new(Skill, skills), Queue=_insert_new(Queue, queues))


def _load_teams(plan: DemoPlan, ids: _Ids) -> None:
    skills = dict(Skill.objects.filter(name__in=plan.skills).values_list("name", "id"))
    ids.skills = dict(zip(plan.skills, _ordered(skills, plan.skills, "skills"), strict=True))
    slugs = [queue.slug for queue in plan.queues]
    queues = dict(Queue.objects.filter(slug__in=slugs).values_list("slug", "id"))
    ids.queues = dict(zip(slugs, _ordered(queues, slugs, "queues"), strict=True))


def _identifiers(plan: DemoPlan) -> list[str]:
    return [client.identifier for client in plan.clients]


def _clients_present(plan: DemoPlan, ids: _Ids) -> bool:
    return Client.objects.filter(identifier__in=_identifiers(plan)).exists()


def _write_clients(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    clients = [
        Client(
            name=row.name,
            identifier=row.identifier,
            timezone=row.timezone,
            business_days=row.business_days,
            business_start=row.business_start,
            business_end=row.business_end,
            notes=cat.DEMO_NOTE,
        )
        for row in plan.clients
    ]
    Client.objects.bulk_create(clients)
    _load_clients(plan, ids)
    domains = [
        ClientEmailDomain(client_id=ids.clients[index], domain=domain)
        for index, row in enumerate(plan.clients)
        for domain in row.domains
    ]
    ClientEmailDomain.objects.bulk_create(domains)
    sites = [
        Site(client_id=ids.clients[row.client], name=row.name, address=row.address)
        for row in plan.sites
    ]
    Site.objects.bulk_create(sites)
    bar.update(len(clients) + len(domains) + len(sites))
    return Counter(Client=len(clients), ClientEmailDomain=len(domains), Site=len(sites))


def _load_clients(plan: DemoPlan, ids: _Ids) -> None:
    keys = _identifiers(plan)
    found = dict(Client.objects.filter(identifier__in=keys).values_list("identifier", "id"))
    ids.clients = _ordered(found, keys, "clients")


def _load_clients_and_sites(plan: DemoPlan, ids: _Ids) -> None:
    _load_clients(plan, ids)
    rows = Site.objects.filter(client_id__in=ids.clients).values_list("id", "client_id", "name")
    found = {(client, name): pk for pk, client, name in rows}
    keys = [(ids.clients[row.client], row.name) for row in plan.sites]
    ids.sites = _ordered(found, keys, "sites")


def _optional(ids: Sequence[int], index: int | None) -> int | None:
    return None if index is None else ids[index]


def _contacts_present(plan: DemoPlan, ids: _Ids) -> bool:
    return Contact.objects.filter(client_id__in=ids.clients).exists()


def _write_contacts(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    contacts = [
        Contact(
            client_id=ids.clients[row.client],
            site_id=_optional(ids.sites, row.site),
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            job_title=row.job_title,
            directory_username=row.directory_username,
            is_vip=row.is_vip,
            is_privileged=row.is_privileged,
        )
        for row in plan.contacts
    ]
    Contact.objects.bulk_create(contacts, batch_size=BATCH_SIZE)
    bar.update(len(contacts))
    return Counter(Contact=len(contacts))


def _load_contacts(plan: DemoPlan, ids: _Ids) -> None:
    rows = Contact.objects.filter(client_id__in=ids.clients)
    found = {
        (client, username): pk
        for pk, client, username in rows.values_list("id", "client_id", "directory_username")
    }
    keys = [(ids.clients[row.client], row.directory_username) for row in plan.contacts]
    ids.contacts = _ordered(found, keys, "contacts")


def _orphan_hostnames(plan: DemoPlan) -> list[str]:
    return [row.hostname for row in plan.assets if row.client is None]


def _asset_rows(plan: DemoPlan, ids: _Ids) -> Q:
    orphans = Q(client__isnull=True, hostname__in=_orphan_hostnames(plan))
    return Q(client_id__in=ids.clients) | orphans


def _assets_present(plan: DemoPlan, ids: _Ids) -> bool:
    return Asset.objects.filter(_asset_rows(plan, ids)).exists()


def _write_assets(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    assets = [
        Asset(
            client_id=_optional(ids.clients, row.client),
            site_id=_optional(ids.sites, row.site),
            primary_contact_id=_optional(ids.contacts, row.primary_contact),
            hostname=row.hostname,
            serial_number=row.serial_number,
            kind=row.kind,
            operating_system=row.operating_system,
            rmm_device_id=row.rmm_device_id,
        )
        for row in plan.assets
    ]
    Asset.objects.bulk_create(assets, batch_size=BATCH_SIZE)
    bar.update(len(assets))
    return Counter(Asset=len(assets))


def _load_assets(plan: DemoPlan, ids: _Ids) -> None:
    rows = Asset.objects.filter(_asset_rows(plan, ids))
    found: dict[tuple[int | None, str], int] = {
        (client, hostname): pk
        for pk, client, hostname in rows.values_list("id", "client_id", "hostname")
    }
    keys = [(_optional(ids.clients, row.client), row.hostname) for row in plan.assets]
    ids.assets = _ordered(found, keys, "assets")


def _usernames(plan: DemoPlan) -> list[str]:
    return [row.username for row in plan.staff]


def _staff_present(plan: DemoPlan, ids: _Ids) -> bool:
    return User.objects.filter(username__in=_usernames(plan)).exists()


def _password_hash() -> str:
    # A PBKDF2 hash costs about half a second: the demo logins share one rather than spend 7 s.
    template = User()
    template.set_password(DEMO_PASSWORD)
    return template.password


def _write_staff(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    password = _password_hash()
    users = [
        User(
            username=row.username,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            password=password,
            is_staff=row.role == gen.MANAGER,
        )
        for row in plan.staff
    ]
    User.objects.bulk_create(users)
    found = dict(User.objects.filter(username__in=_usernames(plan)).values_list("username", "id"))
    members = [
        StaffMember(
            user_id=found[row.username],
            role=row.role,
            all_clients=row.all_clients,
            hourly_cost=row.hourly_cost,
            timezone=row.timezone,
            takes_tickets=row.takes_tickets,
        )
        for row in plan.staff
    ]
    StaffMember.objects.bulk_create(members)
    _load_staff(plan, ids)
    _link_staff(plan, ids)
    _grant_desk_admin(found[cat.MANAGER.username])
    shifts = [
        Shift(staff_id=ids.staff[row.staff], weekday=row.weekday, starts=row.starts, ends=row.ends)
        for row in plan.shifts
    ]
    Shift.objects.bulk_create(shifts)
    rota = [
        OnCallPeriod(staff_id=ids.staff[row.staff], starts_at=row.starts_at, ends_at=row.ends_at)
        for row in plan.on_call
    ]
    OnCallPeriod.objects.bulk_create(rota)
    bar.update(len(users))
    return Counter(
        User=len(users), StaffMember=len(members), Shift=len(shifts), OnCallPeriod=len(rota)
    )


def _link_staff(plan: DemoPlan, ids: _Ids) -> None:
    clients = StaffMember.clients.through
    skills = StaffMember.skills.through
    queues = StaffMember.queues.through
    clients.objects.bulk_create(
        clients(staffmember_id=ids.staff[i], client_id=ids.clients[c])
        for i, row in enumerate(plan.staff)
        for c in row.clients
    )
    skills.objects.bulk_create(
        skills(staffmember_id=ids.staff[i], skill_id=ids.skills[s])
        for i, row in enumerate(plan.staff)
        for s in row.skills
    )
    queues.objects.bulk_create(
        queues(staffmember_id=ids.staff[i], queue_id=ids.queues[q])
        for i, row in enumerate(plan.staff)
        for q in row.queues
    )


def _grant_desk_admin(user_id: int) -> None:
    """The manager configures the desk in the admin: every permission on the tickets app."""
    permissions = Permission.objects.filter(content_type__app_label="tickets")
    through = User.user_permissions.through
    through.objects.bulk_create(
        through(user_id=user_id, permission_id=pk)
        for pk in permissions.values_list("id", flat=True)
    )


def _load_staff(plan: DemoPlan, ids: _Ids) -> None:
    rows = StaffMember.objects.filter(user__username__in=_usernames(plan))
    found = dict(rows.values_list("user__username", "id"))
    ids.staff = _ordered(found, _usernames(plan), "staff members")


def _articles_present(plan: DemoPlan, ids: _Ids) -> bool:
    titles = [row.title for row in plan.articles]
    return KnowledgeArticle.objects.filter(title__in=titles).exists()


def _write_articles(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    articles = [
        KnowledgeArticle(
            title=row.title,
            body=row.body,
            client_id=_optional(ids.clients, row.client),
            is_published=row.is_published,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in plan.articles
    ]
    KnowledgeArticle.objects.bulk_create(articles)
    through = KnowledgeArticle.ticket_types.through
    through.objects.bulk_create(
        through(knowledgearticle_id=article.pk, tickettype_id=ids.types[slug])
        for article, row in zip(articles, plan.articles, strict=True)
        for slug in row.types
    )
    bar.update(len(articles))
    return Counter(KnowledgeArticle=len(articles))


def _load_articles(plan: DemoPlan, ids: _Ids) -> None:
    titles = [row.title for row in plan.articles]
    found = dict(KnowledgeArticle.objects.filter(title__in=titles).values_list("title", "id"))
    ids.articles = _ordered(found, titles, "knowledge articles")


def _contracts_present(plan: DemoPlan, ids: _Ids) -> bool:
    return Contract.objects.filter(client_id__in=ids.clients).exists()


def _write_contracts(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    contracts = [
        Contract(
            client_id=ids.clients[row.client],
            name=row.name,
            kind=row.kind,
            monthly_revenue=row.monthly_revenue,
            hourly_rate=row.hourly_rate,
            block_hours=row.block_hours,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
        )
        for row in plan.contracts
    ]
    Contract.objects.bulk_create(contracts)
    _load_contracts(plan, ids)
    through = Contract.covered_types.through
    through.objects.bulk_create(
        through(contract_id=ids.contracts[index], tickettype_id=ids.types[slug])
        for index, row in enumerate(plan.contracts)
        for slug in row.covered_types
    )
    targets = [
        SlaTarget(
            contract_id=ids.contracts[index],
            priority=target.priority,
            response_minutes=target.response_minutes,
            resolution_minutes=target.resolution_minutes,
            # Due times are wall-clock minutes from opening, so the targets say so.
            business_hours_only=False,
        )
        for index, row in enumerate(plan.contracts)
        for target in row.sla
    ]
    SlaTarget.objects.bulk_create(targets)
    bar.update(len(contracts))
    return Counter(Contract=len(contracts), SlaTarget=len(targets))


def _load_contracts(plan: DemoPlan, ids: _Ids) -> None:
    rows = Contract.objects.filter(client_id__in=ids.clients)
    found = {(client, name): pk for pk, client, name in rows.values_list("id", "client_id", "name")}
    keys = [(ids.clients[row.client], row.name) for row in plan.contracts]
    ids.contracts = _ordered(found, keys, "contracts")


def _psa_present(plan: DemoPlan, ids: _Ids) -> bool:
    return PsaConnection.objects.filter(name=cat.PSA_DEMO_NAME).exists()


def _write_psa(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    """A ConnectWise connection for its mapping page: inactive and without credentials, so
    nothing syncs with it or calls it; some of its statuses and types are not mapped yet."""
    connection = PsaConnection.objects.create(
        name=cat.PSA_DEMO_NAME, kind=cat.PSA_DEMO_KIND, base_url=cat.PSA_DEMO_URL, is_active=False
    )
    # A type maps to its id here; statuses and priorities map to their codes.
    types = {"": "", **{slug: str(pk) for slug, pk in ids.types.items()}}
    mappings = [
        PsaMapping(
            connection=connection,
            field=row.field,
            external_id=row.external_id,
            label=row.label,
            value=types[row.value] if row.field == PsaMapping.Field.TYPE else row.value,
            first_seen_at=plan.start,
        )
        for row in plan.psa_mappings
    ]
    PsaMapping.objects.bulk_create(mappings)
    bar.update(len(mappings))
    return Counter(PsaConnection=1, PsaMapping=len(mappings))


def _tickets_present(plan: DemoPlan, ids: _Ids) -> bool:
    return Ticket.objects.filter(source=Ticket.Source.DEMO).exists()


def _write_tickets(plan: DemoPlan, ids: _Ids, bar: _Bar) -> Counter[str]:
    writer = _TicketWriter(ids)
    counts: Counter[str] = Counter()
    for batch in _batched(gen.generate_tickets(plan), BATCH_SIZE):
        counts.update(writer.write(batch))
        bar.update(len(batch))
        # With DEBUG on, Django keeps the SQL of recent queries: megabytes per batch here.
        reset_queries()
    return counts


class _TicketWriter:
    """Turns generated tickets into model rows, mapping plan positions to database ids."""

    def __init__(self, ids: _Ids) -> None:
        self.ids = ids
        # Event values that name a row are its database id as a string.
        self.values = {
            gen.ASSIGNMENT_CHANGED: {str(i): str(pk) for i, pk in enumerate(ids.staff)},
            gen.QUEUE_CHANGED: {slug: str(pk) for slug, pk in ids.queues.items()},
            gen.TYPE_CHANGED: {slug: str(pk) for slug, pk in ids.types.items()},
        }
        self.asset_link = Ticket.assets.through

    def write(self, batch: Sequence[TicketRow]) -> Counter[str]:
        tickets = [self._ticket(row) for row in batch]
        Ticket.objects.bulk_create(tickets, batch_size=BATCH_SIZE)
        events: list[TicketEvent] = []
        entries: list[TimeEntry] = []
        surveys: list[CsatResponse] = []
        links: list[tuple[int, int]] = []
        runs: list[tuple[int, gen.RunRow]] = []
        for ticket, row in zip(tickets, batch, strict=True):
            events.extend(self._event(ticket.pk, event) for event in row.events)
            entries.extend(self._time_entries(ticket.pk, row))
            if row.csat is not None:
                surveys.append(self._survey(ticket.pk, row.csat))
            links.extend((ticket.pk, self.ids.assets[asset]) for asset in row.assets)
            if row.run is not None:
                runs.append((ticket.pk, row.run))
        _insert_rows(TicketEvent, events)
        _insert_rows(TimeEntry, entries)
        _insert_rows(CsatResponse, surveys)
        self.asset_link.objects.bulk_create(
            [self.asset_link(ticket_id=ticket, asset_id=asset) for ticket, asset in links],
            batch_size=BATCH_SIZE,
        )
        counts = Counter(
            Ticket=len(tickets),
            TicketEvent=len(events),
            TimeEntry=len(entries),
            CsatResponse=len(surveys),
        )
        if runs:
            counts["PlaybookRun"] = self._runs(runs)
        return counts

    def _ticket(self, row: TicketRow) -> Ticket:
        ids = self.ids
        return Ticket(
            source=Ticket.Source.DEMO,
            external_id=row.external_id,
            summary=row.summary[:255],
            description=row.description,
            status=row.status,
            priority=row.priority,
            type_id=ids.types[row.type],
            subtype_id=_optional(ids.subtypes, row.subtype),
            item_id=_optional(ids.items, row.item),
            client_id=_optional(ids.clients, row.client),
            contact_id=_optional(ids.contacts, row.contact),
            site_id=_optional(ids.sites, row.site),
            contract_id=_optional(ids.contracts, row.contract),
            queue_id=ids.queues[row.queue],
            assignee_id=_optional(ids.staff, row.assignee),
            opened_at=row.opened_at,
            first_response_at=row.first_response_at,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
            sla_response_due_at=row.sla_response_due_at,
            sla_resolution_due_at=row.sla_resolution_due_at,
            source_updated_at=row.source_updated_at,
        )

    def _event(self, ticket: int, row: EventRow) -> TicketEvent:
        values = self.values.get(row.kind)
        old, new = row.old_value, row.new_value
        if values is not None:
            old, new = values[old] if old else "", values[new] if new else ""
        data = self._matched(row.data) if row.kind == gen.ENRICHED else row.data
        return TicketEvent(
            ticket_id=ticket,
            kind=row.kind,
            occurred_at=row.at,
            actor_kind=row.actor_kind,
            actor_staff_id=_optional(self.ids.staff, row.actor_staff),
            actor_contact_id=_optional(self.ids.contacts, row.actor_contact),
            actor_name=row.actor_name,
            old_value=old,
            new_value=new,
            body=row.body,
            data=data,
            dedupe_key=None,
        )

    def _matched(self, data: dict[str, object]) -> dict[str, object]:
        """What intake matched, with the plan positions turned into database ids."""
        ids = self.ids
        assets = data.get("assets")
        return {
            **data,
            "client": _optional(ids.clients, _position(data.get("client"))),
            "contact": _optional(ids.contacts, _position(data.get("contact"))),
            "contract": _optional(ids.contracts, _position(data.get("contract"))),
            "assets": [ids.assets[a] for a in assets if isinstance(a, int)]
            if isinstance(assets, list)
            else [],
        }

    def _runs(self, rows: Sequence[tuple[int, gen.RunRow]]) -> int:
        """The playbook runs behind planted tickets, with the moments they ran."""
        # Imported here: the demo's tickets app otherwise does not reach into automation.
        from automation.models import PlaybookRun

        runs = [
            PlaybookRun(
                ticket_id=ticket,
                playbook=row.playbook,
                status=row.status,
                step=row.step,
                state={
                    "answer": row.answer,
                    "articles": [self.ids.articles[a] for a in row.articles],
                    "owner_how": row.owner_how,
                },
            )
            for ticket, row in rows
        ]
        PlaybookRun.objects.bulk_create(runs)
        for run, (_, row) in zip(runs, rows, strict=True):
            PlaybookRun.objects.filter(pk=run.pk).update(
                started_at=row.started_at, updated_at=row.updated_at
            )
        return len(runs)

    def _time_entries(self, ticket: int, row: TicketRow) -> Iterator[TimeEntry]:
        for entry in row.time_entries:
            yield TimeEntry(
                ticket_id=ticket,
                staff_id=self.ids.staff[entry.staff],
                started_at=entry.started_at,
                minutes=entry.minutes,
                billable=entry.billable,
                notes=entry.notes,
            )

    def _survey(self, ticket: int, row: gen.CsatRow) -> CsatResponse:
        return CsatResponse(
            ticket_id=ticket,
            contact_id=self.ids.contacts[row.contact],
            score=row.score,
            nps=row.nps,
            comment=row.comment,
            responded_at=row.responded_at,
        )


def _position(value: object) -> int | None:
    """A plan position held in an event's data (None when nothing was matched)."""
    if value is None or isinstance(value, int):
        return value
    raise TypeError(f"not a plan position: {value!r}")


def _insert_rows(model: type[M], rows: list[M]) -> None:
    """Insert rows whose ids nobody needs back: COPY on PostgreSQL, `bulk_create` elsewhere.

    The timeline is most of what the demo writes; through `bulk_create` each event row cost
    ~120 µs of SQL compilation and parameter adaptation, through COPY a fraction of that.
    """
    if connection.vendor != "postgresql" or not rows:
        model._default_manager.bulk_create(rows, batch_size=BATCH_SIZE)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    json_columns = {field.attname for field in fields if isinstance(field, JSONField)}
    stamped = [field for field in fields if getattr(field, "auto_now_add", False)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            for field in stamped:
                field.pre_save(row, add=True)
            copy.write_row(
                [
                    Jsonb(getattr(row, name)) if name in json_columns else getattr(row, name)
                    for name in (field.attname for field in fields)
                ]
            )


def _nothing_to_load(plan: DemoPlan, ids: _Ids) -> None:
    """Nothing later steps need from this one."""


TICKETS_STEP = _Step(
    "tickets",
    "ticket",
    lambda plan: plan.ticket_count,
    _tickets_present,
    _write_tickets,
    _nothing_to_load,
)
STEPS: tuple[_Step, ...] = (
    _Step(
        "taxonomy",
        "row",
        lambda plan: len(plan.types) + len(plan.subtypes) + len(plan.items),
        _taxonomy_present,
        _write_taxonomy,
        _load_taxonomy,
    ),
    _Step(
        "skills and queues",
        "row",
        lambda plan: len(plan.skills) + len(plan.queues),
        _teams_present,
        _write_teams,
        _load_teams,
    ),
    _Step(
        "clients",
        "row",
        lambda plan: (
            len(plan.clients) + sum(len(c.domains) for c in plan.clients) + len(plan.sites)
        ),
        _clients_present,
        _write_clients,
        _load_clients_and_sites,
    ),
    _Step(
        "contacts",
        "contact",
        lambda plan: len(plan.contacts),
        _contacts_present,
        _write_contacts,
        _load_contacts,
    ),
    _Step(
        "assets",
        "asset",
        lambda plan: len(plan.assets),
        _assets_present,
        _write_assets,
        _load_assets,
    ),
    _Step(
        "staff",
        "person",
        lambda plan: len(plan.staff),
        _staff_present,
        _write_staff,
        _load_staff,
    ),
    _Step(
        "knowledge base",
        "article",
        lambda plan: len(plan.articles),
        _articles_present,
        _write_articles,
        _load_articles,
    ),
    _Step(
        "contracts",
        "contract",
        lambda plan: len(plan.contracts),
        _contracts_present,
        _write_contracts,
        _load_contracts,
    ),
    _Step(
        "PSA mapping example",
        "value",
        lambda plan: len(plan.psa_mappings),
        _psa_present,
        _write_psa,
        _nothing_to_load,
    ),
    TICKETS_STEP,
)
