"""Derive each ticket's measurable facts from its timeline — the one place that reads history.

`fact_derive` is a pure function of a ticket's row, its events (in order), its time entries,
CSAT answers, LLM spend and holdout draw; `facts_compute` loads those for a batch of tickets
and writes `TicketFact` rows; `facts_refresh` does that for tickets the database triggers
marked stale. How each fact is read from the timeline:

- resolution: the first `status_changed` into resolved or closed (for a ticket mirrored
  already done, with no such event, the ticket's own `resolved_at`/`closed_at`);
- a reopen: a `status_changed` out of resolved or closed into an open status;
- first response: the first `reply` by a technician or the agent;
- a reassignment: an `assignment_changed` that had a previous assignee (`old_value`);
- a human touch: any event by a technician — except approving the agent's proposal — any
  technician time logged, or a resolution made at the PSA (someone worked it there);
- the path: *human* with a human touch; *agent + approval* when a technician's only part was
  approving; *agent alone* when no technician took part at all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.fields.json import KT
from django.utils import timezone

from automation.models import LlmCall
from governance.models import HoldoutTicket
from metrics.calendar import BusinessCalendar, business_seconds, is_business_time
from metrics.histogram import bucket_of
from metrics.models import FactDirty, Holiday, Path, TicketFact
from metrics.rollup import rollup_mark, rollup_rebuild, rollup_refresh_all
from tickets.models import Client, CsatResponse, Ticket, TicketEvent, TimeEntry

DONE = frozenset(Ticket.DONE_STATUSES)
APPROVAL_STEPS = frozenset({"approved", "edited"})
REOPEN_WINDOW = dt.timedelta(days=7)
RESPONDERS = frozenset({TicketEvent.ActorKind.HUMAN, TicketEvent.ActorKind.AGENT})
AGENT_WORK = frozenset({TicketEvent.Kind.REPLY, TicketEvent.Kind.PLAYBOOK})
EVENT_FIELDS = (
    "ticket_id",
    "kind",
    "occurred_at",
    "actor_kind",
    "actor_staff_id",
    "old_value",
    "new_value",
)
# Only two keys of an event's data matter here; reading them in SQL saves decoding the JSON.
EVENT_KEYS = {
    "step": KT("data__step"),
    "from_source": KT("data__from_source"),
    "deleted": KT("data__deleted_at_source"),
}
TICKET_FIELDS = (
    "id",
    "status",
    "priority",
    "type_id",
    "client_id",
    "queue_id",
    "assignee_id",
    "contract_id",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "sla_response_due_at",
    "sla_resolution_due_at",
    "client__timezone",
    "client__business_days",
    "client__business_start",
    "client__business_end",
)
TRUE_TEXT = frozenset({"true", "1"})
FACT_FIELDS = [f.name for f in TicketFact._meta.concrete_fields if not f.primary_key]
FACT_COLUMNS = [str(f.column) for f in TicketFact._meta.concrete_fields if not f.primary_key]


@dataclass(frozen=True)
class Extras:
    """What a ticket's facts need besides its row and events."""

    minutes: int = 0
    billable_minutes: int = 0
    labour_cost: Decimal = Decimal("0")
    llm_cost: Decimal = Decimal("0")
    csat_score: int | None = None
    nps: int | None = None
    holdout_arm: str = ""
    time_staff: frozenset[int] = frozenset()


@dataclass
class _Walk:
    """What one pass over the events found."""

    resolved_at: dt.datetime | None = None
    resolved_at_source: bool = False
    first_response_at: dt.datetime | None = None
    reassignments: int = 0
    reopens: list[dt.datetime] = field(default_factory=list)
    touchers: set[int] = field(default_factory=set)
    human_touch: bool = False
    approved: bool = False
    agent_worked: bool = False
    assignee: str | None = None  # None: no assignment recorded yet
    resolved_assignee: str | None = None
    resolver_kind: str = ""
    deleted: bool = False


def _walk(events: Sequence[dict[str, Any]]) -> _Walk:
    walk = _Walk()
    for event in events:
        _step(walk, event)
    return walk


def _step(walk: _Walk, event: dict[str, Any]) -> None:
    kind, at, actor = event["kind"], event["occurred_at"], event["actor_kind"]
    if kind == TicketEvent.Kind.STATUS_CHANGED:
        _status_step(walk, event)
    elif kind == TicketEvent.Kind.REPLY and actor in RESPONDERS and walk.first_response_at is None:
        walk.first_response_at = at
    elif kind == TicketEvent.Kind.ASSIGNMENT_CHANGED:
        walk.reassignments += 1 if event["old_value"] else 0
        walk.assignee = event["new_value"]
    if actor == TicketEvent.ActorKind.AGENT and kind in AGENT_WORK:
        walk.agent_worked = True
    if actor != TicketEvent.ActorKind.HUMAN:
        return
    if kind == TicketEvent.Kind.ACTION and event["step"] in APPROVAL_STEPS:
        walk.approved = True
        return
    walk.human_touch = True
    if event["actor_staff_id"] is not None:
        walk.touchers.add(event["actor_staff_id"])


def _status_step(walk: _Walk, event: dict[str, Any]) -> None:
    into_done = event["new_value"] in DONE
    out_of_done = event["old_value"] in DONE
    if into_done and not out_of_done and walk.resolved_at is None:
        if str(event["deleted"]).lower() in TRUE_TEXT:
            walk.deleted = True  # deleted at the PSA: not a resolution anyone made
            return
        walk.resolved_at = event["occurred_at"]
        walk.resolver_kind = event["actor_kind"]
        walk.resolved_assignee = walk.assignee
        from_source = str(event["from_source"]).lower() in TRUE_TEXT
        walk.resolved_at_source = from_source and event["actor_kind"] == "system"
    elif out_of_done and not into_done and walk.resolved_at is not None:
        walk.reopens.append(event["occurred_at"])


def _path(walk: _Walk, extras: Extras) -> str:
    if walk.human_touch or extras.minutes > 0 or walk.resolved_at_source:
        return Path.HUMAN
    if walk.approved:
        return Path.AGENT_APPROVAL
    if walk.resolver_kind == TicketEvent.ActorKind.SYSTEM and not walk.agent_worked:
        return Path.SOURCE  # an alert that cleared itself: nobody's work, nobody's saving
    return Path.AGENT


def _technician(walk: _Walk, ticket: Ticket) -> int | None:
    """Who was assigned at the first resolution; the current assignee while open, or when
    the timeline recorded no assignment before it (a ticket mirrored already assigned)."""
    if walk.resolved_at is None or walk.resolved_assignee is None:
        return ticket.assignee_id
    return int(walk.resolved_assignee) if walk.resolved_assignee.isdigit() else None


def week_of(moment: dt.datetime) -> dt.date:
    """Monday of the moment's week, in the desk's time zone (TIME_ZONE)."""
    day = timezone.localtime(moment).date()
    return day - dt.timedelta(days=day.weekday())


def _seconds(start: dt.datetime, end: dt.datetime | None) -> int | None:
    return None if end is None else max(0, int((end - start).total_seconds()))


def _sla_met(due: dt.datetime | None, done_at: dt.datetime | None, now: dt.datetime) -> bool | None:
    """Met, missed, or None: no SLA, or not due yet and not done yet."""
    if due is None:
        return None
    if done_at is not None:
        return done_at <= due
    return False if now > due else None


def fact_derive(
    ticket: Ticket,
    events: Sequence[dict[str, Any]],
    extras: Extras,
    calendar: BusinessCalendar,
    now: dt.datetime,
) -> TicketFact:
    """The ticket's facts (unsaved). Pure: same inputs, same facts."""
    walk = _walk(events)
    resolved_at = walk.resolved_at
    if resolved_at is None and ticket.status in DONE and not walk.deleted:
        resolved_at = ticket.resolved_at or ticket.closed_at
    first_response_at = walk.first_response_at or (None if events else ticket.first_response_at)
    resolved = resolved_at is not None
    touchers = walk.touchers | extras.time_staff
    response_seconds = _seconds(ticket.opened_at, first_response_at)
    resolution_seconds = _seconds(ticket.opened_at, resolved_at)
    business = business_seconds(calendar, ticket.opened_at, resolved_at) if resolved_at else None
    return TicketFact(
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        ticket_type_id=ticket.type_id,
        queue_id=ticket.queue_id,
        technician_id=_technician(walk, ticket),
        contract_id=ticket.contract_id,
        priority=ticket.priority,
        opened_at=ticket.opened_at,
        first_response_at=first_response_at,
        first_response_seconds=response_seconds,
        first_response_seconds_bucket=bucket_of(response_seconds),
        resolved_at=resolved_at,
        resolved_week=week_of(resolved_at) if resolved_at else None,
        resolved_on=timezone.localtime(resolved_at).date() if resolved_at else None,
        resolution_seconds=resolution_seconds,
        resolution_seconds_bucket=bucket_of(resolution_seconds),
        resolution_business_seconds=business,
        resolution_business_seconds_bucket=bucket_of(business),
        path=_path(walk, extras) if resolved else "",
        reassignments=walk.reassignments,
        human_touchers=len(touchers),
        first_touch=(
            (walk.reassignments == 0 and not walk.reopens and len(touchers) <= 1)
            if resolved
            else None
        ),
        reopens=len(walk.reopens),
        reopened_7d=(
            any(at - resolved_at <= REOPEN_WINDOW for at in walk.reopens) if resolved_at else None
        ),
        after_hours=(not is_business_time(calendar, resolved_at)) if resolved_at else None,
        # Resolving a ticket before anyone replied answers it too.
        sla_response_met=_sla_met(
            ticket.sla_response_due_at, first_response_at or resolved_at, now
        ),
        sla_resolution_met=_sla_met(ticket.sla_resolution_due_at, resolved_at, now),
        technician_minutes=extras.minutes,
        billable_minutes=extras.billable_minutes,
        labour_cost=extras.labour_cost.quantize(Decimal("0.01")),
        llm_cost=extras.llm_cost.quantize(Decimal("0.0001")),
        csat_score=extras.csat_score,
        nps=extras.nps,
        holdout_arm=extras.holdout_arm,
        computed_at=now,
    )


class Calendars:
    """Business calendars per client, with the global and the client's own holidays."""

    DEFAULT = Client(timezone="UTC", business_days="12345")

    def __init__(self) -> None:
        self._global: set[dt.date] = set()
        self._by_client: dict[int, set[dt.date]] = defaultdict(set)
        for client_id, date in Holiday.objects.values_list("client_id", "date"):
            (self._global if client_id is None else self._by_client[client_id]).add(date)
        self._cache: dict[int | None, BusinessCalendar] = {}

    def for_client(self, client: Client | None) -> BusinessCalendar:
        key = client.id if client is not None else None
        if key not in self._cache:
            self._cache[key] = self._build(client or self.DEFAULT, key)
        return self._cache[key]

    def _build(self, client: Client, key: int | None) -> BusinessCalendar:
        holidays = self._global | (self._by_client[key] if key is not None else set())
        return BusinessCalendar.from_days_string(
            timezone=client.timezone,
            business_days=client.business_days,
            start=client.business_start,
            end=client.business_end,
            holidays=holidays,
        )


def _extras(ticket_ids: Sequence[int]) -> dict[int, Extras]:
    cost = ExpressionWrapper(
        F("minutes") * F("staff__hourly_cost") / 60,
        output_field=DecimalField(max_digits=14, decimal_places=4),
    )
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    labour = (
        TimeEntry.objects.filter(ticket_id__in=ticket_ids)
        .values("ticket_id")
        .annotate(
            total_minutes=Sum("minutes"),
            total_billable=Sum("minutes", filter=Q(billable=True)),
            total_cost=Sum(cost),
        )
    )
    for row in labour:
        found[row["ticket_id"]].update(
            minutes=row["total_minutes"],
            billable_minutes=row["total_billable"] or 0,
            labour_cost=Decimal(row["total_cost"] or 0),
        )
    spend = (
        LlmCall.objects.filter(ticket_id__in=ticket_ids)
        .values("ticket_id")
        .annotate(cost=Sum("cost"))
    )
    for spent in spend:
        found[spent["ticket_id"]]["llm_cost"] = Decimal(spent["cost"] or 0)
    answers = CsatResponse.objects.filter(ticket_id__in=ticket_ids).order_by("responded_at", "id")
    for ticket_id, score, nps in answers.values_list("ticket_id", "score", "nps"):
        found[ticket_id]["csat_score"] = score  # the latest answer wins
        if nps is not None:  # an answer without the question keeps the earlier one
            found[ticket_id]["nps"] = nps
    staff = TimeEntry.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", "staff_id")
    time_staff: dict[int, set[int]] = defaultdict(set)
    for ticket_id, staff_id in staff.distinct():
        time_staff[ticket_id].add(staff_id)
    for ticket_id, ids in time_staff.items():
        found[ticket_id]["time_staff"] = frozenset(ids)
    arms = HoldoutTicket.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", "arm")
    for ticket_id, arm in arms:
        found[ticket_id]["holdout_arm"] = arm
    return {ticket_id: Extras(**values) for ticket_id, values in found.items()}


def _events(ticket_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    by_ticket: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        TicketEvent.objects.filter(ticket_id__in=ticket_ids)
        .order_by("ticket_id", "occurred_at", "id")
        .values(*EVENT_FIELDS, **EVENT_KEYS)
    )
    for row in rows:
        by_ticket[row["ticket_id"]].append(row)
    return by_ticket


def facts_compute(
    ticket_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
    calendars: Calendars | None = None,
) -> int:
    """Recompute and store the facts of these tickets; returns how many were written."""
    now = now or timezone.now()
    calendars = calendars or Calendars()
    tickets = Ticket.objects.filter(id__in=ticket_ids).select_related("client").only(*TICKET_FIELDS)
    events, extras = _events(ticket_ids), _extras(ticket_ids)
    facts = [
        fact_derive(
            ticket,
            events.get(ticket.id, []),
            extras.get(ticket.id, Extras()),
            calendars.for_client(ticket.client),
            now,
        )
        for ticket in tickets
    ]
    slices = _slices(ticket_ids) | {
        (f.resolved_week, f.client_id) for f in facts if f.resolved_week
    }
    _store(facts)
    rollup_mark(slices)
    return len(facts)


def _slices(ticket_ids: Sequence[int]) -> set[tuple[dt.date, int | None]]:
    """The rollup slices (week, client) the tickets' current facts count in."""
    rows = TicketFact.objects.filter(ticket_id__in=ticket_ids, resolved_week__isnull=False)
    return {
        (week, client) for week, client in rows.values_list("resolved_week", "client_id") if week
    }


def _store(facts: list[TicketFact]) -> None:
    """Upsert the facts (inside the caller's transaction). On PostgreSQL: COPY into a temporary
    table, then one INSERT … ON CONFLICT — several times faster than bulk_create's per-value
    preparation when a million tickets are rebuilt; elsewhere bulk_create."""
    if connection.vendor != "postgresql":
        TicketFact.objects.bulk_create(
            facts, update_conflicts=True, unique_fields=["ticket"], update_fields=FACT_FIELDS
        )
        return
    columns = ", ".join(["ticket_id", *FACT_COLUMNS])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in FACT_COLUMNS)
    table = TicketFact._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS fact_load (LIKE {table}) ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy(f"COPY fact_load ({columns}) FROM STDIN") as copy:
            for fact in facts:
                copy.write_row([fact.ticket_id, *(getattr(fact, c) for c in FACT_COLUMNS)])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM fact_load "  # noqa: S608
            f"ON CONFLICT (ticket_id) DO UPDATE SET {updates}"
        )
        cursor.execute("TRUNCATE fact_load")


def facts_refresh(*, limit: int = 200, calendars: Calendars | None = None) -> int:
    """Recompute the facts of up to `limit` tickets marked stale; returns how many.

    The stale marks are claimed (skip-locked) and deleted in the same transaction that writes
    the facts: an event recorded meanwhile for one of these tickets waits for the commit and
    then marks it stale again, so no change is ever missed and none is computed twice at once.
    """
    with transaction.atomic():
        claimed = FactDirty.objects.select_for_update(skip_locked=True).order_by("ticket_id")
        ticket_ids = list(claimed.values_list("ticket_id", flat=True)[:limit])
        if not ticket_ids:
            return 0
        FactDirty.objects.filter(ticket_id__in=ticket_ids).delete()
        facts_compute(ticket_ids, calendars=calendars)
    return len(ticket_ids)


def facts_refresh_all(*, batch: int = 500) -> int:
    """Refresh until nothing is stale (the scheduled task); returns how many tickets."""
    calendars, total = Calendars(), 0
    while done := facts_refresh(limit=batch, calendars=calendars):
        total += done
    rollup_refresh_all()
    return total


def facts_rebuild(*, batch: int = 2000, on_batch: Callable[[int, int], None] | None = None) -> int:
    """Recompute every ticket's facts from scratch (after a definition changes, or to check
    nothing drifted). Calls `on_batch(done, total)` after each batch when given."""
    calendars = Calendars()
    ids = list(Ticket.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            facts_compute(ids[start : start + batch], calendars=calendars)
        if on_batch is not None:
            on_batch(min(start + batch, len(ids)), len(ids))
    rollup_rebuild()
    return len(ids)
