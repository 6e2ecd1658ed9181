"""The weekly rollup always equals the facts it sums, as facts change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from metrics.definitions import CATALOGUE
from metrics.facts import facts_refresh_all
from metrics.models import FactWeek, RollupDirty
from metrics.selectors import FactFilter, _aggregates, _figure, facts_in, figures, uses_rollup
from tests.fixtures import World, make_ticket
from tickets.models import Ticket, TicketEvent, TimeEntry

MONDAY = dt.date(2026, 10, 5)
SUMMED = [m for m in CATALOGUE if m.kind != "median"]


def _resolved(world: World, n: int, *, day: int, human: bool, client: Any = None) -> Ticket:
    opened = timezone.make_aware(dt.datetime.combine(MONDAY, dt.time(9)) + dt.timedelta(days=day))
    ticket = make_ticket(
        client or world.client,
        summary=f"r{n}",
        external_id=f"R-{n}",
        opened_at=opened,
        type=world.ticket_type,
        contract=world.contract if client is None else None,
        sla_resolution_due_at=opened + dt.timedelta(hours=4),
    )
    if human:
        TicketEvent.objects.create(
            ticket=ticket,
            kind="reply",
            actor_kind="human",
            actor_staff=world.tech_in,
            occurred_at=opened + dt.timedelta(minutes=20),
        )
        TimeEntry.objects.create(ticket=ticket, staff=world.tech_in, started_at=opened, minutes=25)
    TicketEvent.objects.create(
        ticket=ticket,
        kind="status_changed",
        actor_kind="human" if human else "agent",
        actor_staff=world.tech_in if human else None,
        old_value="new",
        new_value="resolved",
        occurred_at=opened + dt.timedelta(hours=1 + n % 5),
    )
    return ticket


def _from_facts(filters: FactFilter) -> dict[str, Any]:
    row = facts_in(filters, user=None).aggregate(**_aggregates(SUMMED))
    return {m.key: _figure(m, row).sample for m in SUMMED}


def _from_rollup(filters: FactFilter) -> dict[str, Any]:
    assert uses_rollup(filters)
    found = figures(filters, user=None, metrics=SUMMED)
    return {key: figure.sample for key, figure in found.items()}


@pytest.fixture
def history(world: World) -> World:
    for n in range(12):
        _resolved(world, n, day=n % 10, human=n % 3 != 0)
    for n in range(12, 16):
        _resolved(world, n, day=n % 10, human=True, client=world.other_client)
    facts_refresh_all()
    return world


@pytest.mark.parametrize("weeks", [1, 2])
@pytest.mark.parametrize("by", ["all", "client", "type", "path"])
def test_the_rollup_sums_exactly_what_the_facts_hold(history: World, weeks: int, by: str) -> None:
    extra: Any = {
        "all": {},
        "client": {"client_id": history.client.id},
        "type": {"type_id": history.ticket_type.id},
        "path": {"path": "human"},
    }[by]
    filters = FactFilter(start=MONDAY, end=MONDAY + dt.timedelta(weeks=weeks), **extra)
    assert _from_rollup(filters) == _from_facts(filters)
    assert FactWeek.objects.exists() and not RollupDirty.objects.exists()


def test_a_ticket_moved_to_another_client_leaves_its_old_slice(history: World) -> None:
    week = FactFilter(start=MONDAY, end=MONDAY + dt.timedelta(weeks=1))
    acme = FactFilter(start=MONDAY, end=MONDAY + dt.timedelta(weeks=1), client_id=history.client.id)
    before = _from_rollup(acme)["ftr_rate"].count
    moved = Ticket.objects.filter(external_id="R-1").first()  # resolved on the first Tuesday
    assert moved is not None
    Ticket.objects.filter(pk=moved.pk).update(client=history.other_client)
    facts_refresh_all()
    assert _from_rollup(acme)["ftr_rate"].count == before - 1
    assert _from_rollup(acme) == _from_facts(acme)
    assert _from_rollup(week) == _from_facts(week)


def test_time_logged_later_reaches_the_rollup(history: World) -> None:
    week = FactFilter(start=MONDAY, end=MONDAY + dt.timedelta(weeks=2))
    ticket = Ticket.objects.filter(external_id="R-0").first()
    assert ticket is not None
    TimeEntry.objects.create(
        ticket=ticket, staff=history.tech_in, started_at=timezone.now(), minutes=40
    )
    facts_refresh_all()
    assert _from_rollup(week) == _from_facts(week)


def test_a_partial_week_is_read_from_the_facts(history: World) -> None:
    filters = FactFilter(start=MONDAY + dt.timedelta(days=1), end=MONDAY + dt.timedelta(days=4))
    assert not uses_rollup(filters)
    assert figures(filters, user=None)["ftr_rate"].count == _from_facts(filters)["ftr_rate"].count
