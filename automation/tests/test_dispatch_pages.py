"""The dispatch page: who may read and change policies, the technicians table, empty states,
and the "try it" panel (scoped, and never assigning anything)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.models import DispatchPolicy
from automation.tests.test_dispatch import give_open, tech
from governance.models import Action
from tests.fixtures import World
from tickets.models import OnCallPeriod, Queue, StaffMember, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
BOARD = "/dispatch/"


def save(world: World, staff: StaffMember, key: str, **fields: str) -> tuple[int, str]:
    data = {"queue": key, f"{key}-fallback": "load", f"{key}-respect_capacity": "on"}
    data.update({f"{key}-{name}": value for name, value in fields.items()})
    response = world.login(staff).post(reverse("dispatch_policy_save"), data, headers=HX)
    return response.status_code, response.content.decode()


def test_the_board_route_is_where_the_nav_link_points(world: World) -> None:
    assert reverse("dispatch_board") == BOARD
    manager = world.login(world.manager).get(reverse("home")).content.decode()
    assert f'href="{BOARD}"' in manager
    technician = world.login(world.tech_in).get(reverse("home")).content.decode()
    assert f'href="{BOARD}"' not in technician


def test_technicians_read_the_policies_without_edit_controls(world: World) -> None:
    DispatchPolicy.objects.create(queue=world.queue, strategy="skills")
    body = world.login(world.tech_in).get(BOARD).content.decode()
    assert "read-only view" in body and "Service Desk L1" in body
    select = rf'<select name="{world.queue.id}-strategy"[^>]*\bdisabled\b'
    assert re.search(select, body)
    assert 'aria-label="Save' not in body
    assert "Skills: whoever has most of the skills the ticket type needs" in body


def test_a_manager_sets_a_queues_strategy_inline(world: World) -> None:
    key = str(world.queue.id)
    status, body = save(world, world.manager, key, strategy="round_robin", require_skills="on")
    assert status == 200
    assert "Saved: Service Desk L1 uses Round robin." in body
    assert body.lstrip().startswith(f'<form class="card dispatch-policy" id="policy-{key}"')
    policy = DispatchPolicy.objects.get(queue=world.queue)
    assert (policy.strategy, policy.require_skills, policy.require_available) == (
        "round_robin",
        True,
        False,
    )
    assert policy.updated_by == world.manager
    assert LogEntry.objects.get_for_object(policy).count() == 1
    assert "Last changed by Manager" in body


def test_the_default_is_saved_and_queues_can_go_back_to_following_it(world: World) -> None:
    status, _ = save(world, world.manager, "default", strategy="availability")
    assert status == 200
    assert DispatchPolicy.objects.get(queue=None).strategy == "availability"
    key = str(world.queue.id)
    save(world, world.manager, key, strategy="learned")
    status, body = save(world, world.manager, key, strategy="")
    assert status == 200 and "Service Desk L1 now follows the default." in body
    assert "Follows the default" in body and "Availability:" in body
    assert not DispatchPolicy.objects.filter(queue=world.queue).exists()


def test_bad_values_are_refused_in_place_and_nothing_is_saved(world: World) -> None:
    status, body = save(world, world.manager, "default", strategy="")
    assert status == 400 and "Strategy: Choose the default strategy." in body
    status, body = save(world, world.manager, "default", strategy="coin_toss")
    assert status == 400 and "Select a valid choice" in body
    status, body = save(world, world.manager, "default", strategy="sla", fallback="learned")
    assert status == 400 and "Fallback: Select a valid choice" in body
    assert not DispatchPolicy.objects.exists()


def test_a_write_by_anyone_but_a_manager_is_a_403_that_changes_nothing(world: World) -> None:
    for staff in (world.tech_in, world.owner):
        status, body = save(world, staff, "default", strategy="round_robin")
        assert status == 403
        assert "Only service desk managers change how tickets are dispatched." in body
    assert not DispatchPolicy.objects.exists()
    assert not LogEntry.objects.filter(content_type__model="dispatchpolicy").exists()


def test_an_unknown_or_inactive_queue_is_a_404(world: World) -> None:
    hidden = Queue.objects.create(name="Old", slug="old", is_active=False)
    status, _ = save(world, world.manager, str(hidden.id), strategy="load")
    assert status == 404
    assert not DispatchPolicy.objects.exists()


def test_the_board_lists_technicians_with_load_and_whether_they_are_at_work(
    world: World,
) -> None:
    dana = tech("dana", [world.client], skills=["Exchange"], queues=[world.queue], capacity=2)
    give_open(dana, world.client, 2)
    now = dt.datetime.now(dt.UTC)
    OnCallPeriod.objects.create(
        staff=dana, starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=1)
    )
    body = world.login(world.manager).get(BOARD).content.decode()
    row = re.search(r"<th scope=\"row\">Dana</th>(.*?)</tr>", body, re.S)
    assert row is not None
    cells = row.group(1)
    assert "2 / 2" in cells and "Full" in cells and "On call" in cells
    assert "Exchange" in cells and "Service Desk L1" in cells and "1 client" in cells
    assert "Members: Dana (2/2)" in body


def test_empty_states_say_what_to_do(world: World) -> None:
    StaffMember.objects.update(takes_tickets=False)
    Ticket.objects.update(status=Ticket.Status.CLOSED)
    body = world.login(world.manager).get(BOARD).content.decode()
    assert "Nobody takes tickets" in body
    assert "No technician serves this queue: add technicians to the queue in the admin." in body
    assert "No open, unassigned tickets in your clients to try dispatch on." in body


def test_the_board_costs_the_same_queries_for_two_or_twelve_technicians(world: World) -> None:
    network = Queue.objects.create(name="Network", slug="network")
    DispatchPolicy.objects.create(queue=network, strategy="sla", updated_by=world.manager)
    http = world.login(world.manager)
    tech("t0", [world.client], queues=[network], skills=["DNS"], shifts=[(1, "09:00", "17:00")])
    with CaptureQueriesContext(connection) as few:
        http.get(BOARD)
    for number in range(1, 12):
        tech(f"t{number}", [world.client], queues=[network, world.queue], skills=["DNS", "AD"])
    with CaptureQueriesContext(connection) as many:
        http.get(BOARD)
    assert len(many) == len(few)


# --- try it ------------------------------------------------------------------------------


def test_try_it_ranks_technicians_with_reasons_and_assigns_nothing(world: World) -> None:
    dana = tech("dana", [world.client])
    sam = tech("sam", [world.client])
    give_open(sam, world.client, 3)
    StaffMember.objects.filter(pk__in=[world.manager.pk, world.owner.pk]).update(
        takes_tickets=False
    )
    events, actions = TicketEvent.objects.count(), Action.objects.count()
    url = f"{BOARD}?ticket={world.ticket.id}"
    body = world.login(world.manager).get(url, headers=HX).content.decode()
    assert body.lstrip().startswith('<section id="try"')
    assert "Assigned to Dana: 0 open tickets (capacity 12)" in body
    ranking = re.findall(r'<th scope="row">(\w+)</th>', body)
    assert ranking.index("Dana") < ranking.index("Sam")
    assert "More open work for their capacity" in body
    assert "Outsider: does not serve Acme Dental" in body
    assert (TicketEvent.objects.count(), Action.objects.count()) == (events, actions)
    Ticket.objects.filter(pk=world.ticket.pk).update(assignee=dana)
    page = world.login(world.manager).get(url).content.decode()
    assert "currently assigned to Dana (ranked as if unassigned)" in page
    assert f'<option value="{world.ticket.id}" selected>' in page
    assert dana.id != sam.id


def test_try_it_explains_when_nobody_qualifies(world: World) -> None:
    StaffMember.objects.update(takes_tickets=False)
    body = world.login(world.tech_in).get(f"{BOARD}?ticket={world.ticket.id}").content.decode()
    assert "No one can be proposed: no technician who takes tickets serves Acme Dental." in body


def test_try_it_is_a_404_for_a_ticket_outside_the_users_clients(world: World) -> None:
    url = f"{BOARD}?ticket={world.ticket.id}"
    assert world.login(world.tech_out).get(url).status_code == 404
    assert world.login(world.tech_out).get(url, headers=HX).status_code == 404
    assert world.login(world.tech_in).get(url).status_code == 200
    assert world.login(world.tech_in).get(f"{BOARD}?ticket=abc").status_code == 404


def test_try_it_offers_only_open_unassigned_tickets_the_user_may_see(world: World) -> None:
    outsider = world.login(world.tech_out).get(BOARD).content.decode()
    assert "Globex printer jam" in outsider and "Dana cannot sign in" not in outsider
    insider = world.login(world.tech_in).get(BOARD).content.decode()
    assert "Dana cannot sign in" in insider and "Globex printer jam" not in insider


@pytest.mark.django_db
def test_an_unassigned_ticket_links_to_its_dispatch_ranking(world: World) -> None:
    http = world.login(world.tech_in)
    page = http.get(reverse("ticket_detail", args=[world.ticket.id])).content.decode()
    link = f"{reverse('dispatch_board')}?ticket={world.ticket.id}#try"
    assert "Who would dispatch pick?" in page and link in page
    ranking = http.get(link.split("#")[0]).content.decode()
    assert f"#{world.ticket.id}" in ranking and "Assigned to" in ranking
