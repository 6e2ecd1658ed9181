"""The technician pages: approval queue, action card, decisions, take-over and the log."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from governance import gate, services
from governance.models import Action, AgentHold, Correction
from governance.tests.helpers import policy_with, propose
from tests.fixtures import World, make_ticket
from tickets.models import Contact, Queue, Ticket

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def test_the_queue_lists_proposals_in_scope_only(world: World) -> None:
    policy_with(world, set_priority="approval")
    mine = propose(world.ticket)
    other = make_ticket(world.other_client, summary="x", external_id="O-1", type=world.ticket_type)
    theirs = propose(other)
    inside = world.login(world.tech_in).get(reverse("approval_queue")).content.decode()
    assert f'id="action-{mine.id}"' in inside and f'id="action-{theirs.id}"' not in inside
    outside = world.login(world.tech_out).get(reverse("approval_queue")).content.decode()
    assert f'id="action-{mine.id}"' not in outside and f'id="action-{theirs.id}"' in outside


def test_the_queue_sorts_by_sla_risk(world: World) -> None:
    from django.utils import timezone

    policy_with(world, set_priority="approval")
    soon = make_ticket(
        world.client,
        summary="soon",
        external_id="S-1",
        type=world.ticket_type,
        sla_resolution_due_at=timezone.now(),
    )
    later = propose(world.ticket)
    urgent = propose(soon)
    page = world.login(world.tech_in).get(reverse("approval_queue") + "?sort=sla")
    ids = [action.id for action in page.context["page"]]
    assert ids == [urgent.id, later.id]


def test_the_queue_page_has_a_useful_empty_state(world: World) -> None:
    body = world.login(world.tech_in).get(reverse("approval_queue")).content.decode()
    assert "Nothing is waiting for your approval" in body


def test_a_bad_filter_is_a_400_naming_it(world: World) -> None:
    response = world.login(world.tech_in).get(reverse("approval_queue") + "?sort=random")
    assert response.status_code == 400
    assert "sort" in response.content.decode()


def test_approving_from_the_card_queues_it_and_the_gate_runs_it(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    response = world.login(world.tech_in).post(
        reverse("action_approve", args=[action.id]), headers=HX
    )
    assert response.status_code == 200
    assert "Queued to execute" in response.content.decode()
    gate.action_execute(action_id=action.id)
    world.ticket.refresh_from_db()
    assert world.ticket.priority == 1


def test_approving_twice_says_it_is_already_decided(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    http = world.login(world.tech_in)
    http.post(reverse("action_approve", args=[action.id]), headers=HX)
    again = http.post(reverse("action_approve", args=[action.id]), headers=HX)
    assert again.status_code == 409
    assert "already" in again.content.decode()


def test_owners_get_no_buttons_and_cannot_approve(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    http = world.login(world.owner)
    page = http.get(reverse("action_detail", args=[action.id])).content.decode()
    assert "Approve</button>" not in page
    assert http.post(reverse("action_approve", args=[action.id])).status_code == 403
    action.refresh_from_db()
    assert action.status == Action.Status.PROPOSED


def test_edit_then_approve_changes_the_parameters(world: World) -> None:
    policy_with(world, set_queue="approval")
    right = Queue.objects.create(name="Network", slug="network")
    action = propose(world.ticket, "set_queue", {"queue": world.queue.id})
    http = world.login(world.tech_in)
    form = http.get(reverse("action_edit", args=[action.id]), headers=HX)
    assert 'name="queue"' in form.content.decode()
    response = http.post(reverse("action_edit", args=[action.id]), {"queue": right.id}, headers=HX)
    assert response.status_code == 200
    action.refresh_from_db()
    assert action.params == {"queue": right.id}
    assert action.original_params == {"queue": world.queue.id}
    assert Correction.objects.filter(field="queue", human_value=str(right.id)).exists()


def test_an_invalid_edit_is_a_400_with_the_field_error(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    response = world.login(world.tech_in).post(
        reverse("action_edit", args=[action.id]), {"priority": "9"}, headers=HX
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    action.refresh_from_db()
    assert action.status == Action.Status.PROPOSED


def test_rejecting_needs_a_reason_and_records_it(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    http = world.login(world.tech_in)
    empty = http.post(reverse("action_reject", args=[action.id]), {"reason": ""}, headers=HX)
    assert empty.status_code == 400
    assert "Say why" in empty.content.decode()
    done = http.post(
        reverse("action_reject", args=[action.id]), {"reason": "Not urgent"}, headers=HX
    )
    assert done.status_code == 200
    action.refresh_from_db()
    assert (action.status, action.rejection_reason) == (Action.Status.REJECTED, "Not urgent")


def test_take_over_from_a_card_cancels_it_and_holds_the_ticket(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    response = world.login(world.tech_in).post(
        reverse("ticket_take_over", args=[world.ticket.id]), {"card": action.id}, headers=HX
    )
    assert response.status_code == 200
    assert "Cancelled" in response.content.decode()
    assert AgentHold.objects.filter(ticket=world.ticket, held_by=world.tech_in).exists()


def test_the_ticket_panel_offers_take_over_and_hand_back(world: World) -> None:
    http = world.login(world.tech_in)
    panel = http.get(reverse("ticket_actions", args=[world.ticket.id])).content.decode()
    assert "Take over" in panel
    http.post(reverse("ticket_take_over", args=[world.ticket.id]), headers=HX)
    panel = http.get(reverse("ticket_actions", args=[world.ticket.id])).content.decode()
    assert "Taken over" in panel and "Hand back" in panel
    http.post(reverse("ticket_hand_back", args=[world.ticket.id]), headers=HX)
    assert not AgentHold.objects.filter(ticket=world.ticket).exists()


def test_bulk_approve_takes_identical_low_risk_actions(world: World) -> None:
    policy_with(world, set_priority="approval")
    tickets = [world.ticket] + [
        make_ticket(world.client, summary=f"t{n}", external_id=f"B-{n}", type=world.ticket_type)
        for n in range(2)
    ]
    actions = [propose(ticket) for ticket in tickets]
    http = world.login(world.tech_in)
    page = http.get(reverse("approval_queue")).content.decode()
    assert "Approve all 3" in page
    response = http.post(
        reverse("actions_bulk_approve"), {"action": [a.id for a in actions]}, headers=HX
    )
    assert response.status_code == 204
    assert Action.objects.filter(status=Action.Status.QUEUED).count() == 3


def test_bulk_approve_refuses_different_actions(world: World) -> None:
    policy_with(world, set_priority="approval")
    other = make_ticket(world.client, summary="x", external_id="D-1", type=world.ticket_type)
    first = propose(world.ticket, params={"priority": 1})
    second = propose(other, params={"priority": 2})
    response = world.login(world.tech_in).post(
        reverse("actions_bulk_approve"), {"action": [first.id, second.id]}
    )
    assert response.status_code == 400
    assert not Action.objects.filter(status=Action.Status.QUEUED).exists()


def test_bulk_approve_of_a_foreign_action_is_a_404(world: World) -> None:
    policy_with(world, set_priority="approval")
    other = make_ticket(world.other_client, summary="x", external_id="F-1", type=world.ticket_type)
    mine, theirs = propose(world.ticket), propose(other)
    response = world.login(world.tech_in).post(
        reverse("actions_bulk_approve"), {"action": [mine.id, theirs.id]}
    )
    assert response.status_code == 404
    assert not Action.objects.filter(status=Action.Status.QUEUED).exists()


def test_undo_and_correct_from_the_card(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    action = gate.action_execute(action_id=propose(world.ticket).id)
    http = world.login(world.tech_in)
    card = http.get(reverse("action_detail", args=[action.id])).content.decode()
    assert "Undo</button>" in card and "Correct…" in card
    response = http.post(reverse("action_correct", args=[action.id]), {"priority": "3"}, headers=HX)
    assert response.status_code == 200
    world.ticket.refresh_from_db()
    assert world.ticket.priority == 3
    assert Correction.objects.filter(action=action, human_value="3").exists()


def test_the_action_log_says_what_happened_in_plain_english(world: World) -> None:
    policy_with(world, set_priority="approval")
    world.contact.email = "dana@acme.example"
    world.contact.save()
    action = propose(world.ticket, confidence=0.97)
    services.action_approve(action=action, staff=world.tech_in)
    gate.action_execute(action_id=action.id)
    body = world.login(world.manager).get(reverse("action_log")).content.decode()
    expected = (
        f"Model “triage” v1 set the priority of ticket {world.ticket.id} to P1 Critical, "
        "approved by Insider, confidence 0.97."
    )
    assert expected in body


def test_the_action_log_csv_has_a_row_per_action_and_defuses_formulas(world: World) -> None:
    policy_with(world, reply="approval")
    propose(world.ticket, "reply", {"body": "hello"}, proposer_name="=HYPERLINK(1)")
    response = world.login(world.manager).get(reverse("action_log_csv"))
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    assert rows[0][0] == "action_id" and len(rows) == 2
    assert rows[1][8].startswith("'=")


def test_the_log_hides_foreign_actions(world: World) -> None:
    other = make_ticket(world.other_client, summary="x", external_id="G-1", type=world.ticket_type)
    theirs = propose(other)
    body = world.login(world.tech_in).get(reverse("action_log")).content.decode()
    assert reverse("action_detail", args=[theirs.id]) not in body
    export = world.login(world.tech_in).get(reverse("action_log_csv"))
    assert len(export.getvalue().decode().strip().splitlines()) == 1


def test_the_queue_costs_the_same_queries_for_many_cards(
    world: World, django_assert_max_num_queries
) -> None:
    policy_with(world, set_priority="approval", set_queue="approval", set_type="approval")
    vip = Contact.objects.create(client=world.client, first_name="Vic", is_vip=True)
    queues = [Queue.objects.create(name=f"Q{n}", slug=f"q{n}") for n in range(7)]
    for number in range(21):
        ticket = make_ticket(
            world.client,
            summary=f"n{number}",
            external_id=f"N-{number}",
            contact=vip,
            type=world.ticket_type,
            queue=queues[(number + 1) % 7],
        )
        if number % 3 == 0:
            propose(ticket, params={"priority": 1 + number % 4})
        elif number % 3 == 1:
            propose(ticket, "set_queue", {"queue": queues[number % 7].id})
        else:
            propose(ticket, "set_type", {"ticket_type": world.ticket_type.id})
    http = world.login(world.tech_in)
    with django_assert_max_num_queries(16):
        response = http.get(reverse("approval_queue"))
    assert len(response.context["page"]) == 21


def test_a_ticket_with_no_client_is_only_for_all_client_staff(world: World) -> None:
    orphan = Ticket.objects.create(
        source=Ticket.Source.API,
        external_id="X-1",
        summary="who?",
        opened_at=world.ticket.opened_at,
    )
    action = propose(orphan)
    assert (
        world.login(world.tech_in).get(reverse("action_detail", args=[action.id])).status_code
        == 404
    )
    assert (
        world.login(world.manager).get(reverse("action_detail", args=[action.id])).status_code
        == 200
    )


def test_the_card_builds_its_links_from_the_detail_url(world: World) -> None:
    """The card template appends suffixes to the action's URL instead of reversing each."""
    detail = reverse("action_detail", args=[7])
    for name, suffix in {
        "action_approve": "approve/",
        "action_edit": "edit/",
        "action_reject": "reject/",
        "action_undo": "undo/",
        "action_correct": "correct/",
    }.items():
        assert reverse(name, args=[7]) == detail + suffix
    assert (
        reverse("ticket_take_over", args=[7]) == reverse("ticket_detail", args=[7]) + "take-over/"
    )
