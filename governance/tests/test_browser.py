"""Governance pages in a real browser (Debian's Chromium via Playwright): a technician
approves, edits and rejects from the queue, which updates itself; a manager changes a policy
and sees it take effect. Screenshots land in var/test-artifacts/."""

from __future__ import annotations

import pytest
from django_q.conf import Conf
from playwright.sync_api import Locator, Page, expect

from governance.models import Action
from governance.tests.helpers import policy_with, propose
from tests.browser import screenshot, sign_in
from tests.fixtures import World, make_ticket
from tickets.models import Priority, Queue, Ticket


@pytest.fixture
def queue_world(transactional_db: None, world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    # No worker runs beside the live server: let django-q2 run each task in the process that
    # queues it, so an approval executes through the real task and gate code paths.
    monkeypatch.setattr(Conf, "SYNC", True)
    policy_with(world, set_priority="approval", set_queue="approval", reply="approval")
    return world


def _card(page: Page, action: Action) -> Locator:
    return page.locator(f"#action-{action.id}")


def test_a_technician_approves_edits_and_rejects_from_the_queue(
    page: Page, queue_world: World
) -> None:
    world = queue_world
    second = make_ticket(
        world.client, summary="Outlook keeps crashing", external_id="B-2", type=world.ticket_type
    )
    third = make_ticket(
        world.client, summary="Printer offline", external_id="B-3", type=world.ticket_type
    )
    network = Queue.objects.create(name="Network team", slug="network")
    approve = propose(world.ticket, params={"priority": Priority.HIGH})
    edit = propose(second, "set_queue", {"queue": world.queue.id})
    reject = propose(third, "reply", {"body": "Have you tried turning it off and on?"})

    sign_in(page, "insider")
    page.goto("/approvals/")
    for action in (approve, edit, reject):
        expect(_card(page, action)).to_be_visible()
    screenshot(page, "approval-queue")

    # Approve by keyboard: focus the card, press "a".
    _card(page, approve).focus()
    page.keyboard.press("a")
    expect(_card(page, approve)).to_contain_text("Verified")
    assert Ticket.objects.get(pk=world.ticket.pk).priority == Priority.HIGH

    # Edit the parameters, then approve.
    _card(page, edit).get_by_role("link", name="Edit…").click()
    _card(page, edit).get_by_label("Queue").select_option(label="Network team")
    _card(page, edit).get_by_role("button", name="Approve with these changes").click()
    expect(_card(page, edit)).to_contain_text("Edited before approval")
    assert Ticket.objects.get(pk=second.pk).queue_id == network.id

    # Reject with a reason; an empty reason is refused in place first.
    _card(page, reject).locator("summary", has_text="Reject").click()
    _card(page, reject).get_by_label("Reason").fill("We never send that reply.")
    _card(page, reject).get_by_role("button", name="Reject").click()
    expect(_card(page, reject)).to_contain_text("Rejected by Insider")
    reject.refresh_from_db()
    assert reject.status == Action.Status.REJECTED
    screenshot(page, "approval-queue-decided")


def test_the_queue_shows_new_proposals_without_a_reload(page: Page, queue_world: World) -> None:
    world = queue_world
    sign_in(page, "insider")
    page.goto("/approvals/")
    expect(page.locator("#queue")).to_contain_text("Nothing is waiting for your approval")
    page.evaluate("window.__stillHere = true")
    arriving = propose(world.ticket, params={"priority": Priority.LOW})
    expect(_card(page, arriving)).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__stillHere") is True


def test_take_over_from_the_queue_stops_the_agent(page: Page, queue_world: World) -> None:
    world = queue_world
    action = propose(world.ticket)
    sign_in(page, "insider")
    page.goto("/approvals/")
    _card(page, action).focus()
    page.keyboard.press("t")
    expect(_card(page, action)).to_contain_text("Cancelled")
    assert Ticket.objects.get(pk=world.ticket.pk).assignee_id == world.tech_in.id


def test_a_manager_changes_a_policy_and_sees_it_take_effect(page: Page, queue_world: World) -> None:
    from governance.models import AgentPolicy

    world = queue_world
    policy = AgentPolicy.objects.get(ticket_type=world.ticket_type, client=None)
    before = propose(world.ticket)
    assert before.status == Action.Status.PROPOSED  # needs approval today

    sign_in(page, "manager")
    page.goto(f"/governance/policies/{policy.id}/")
    page.get_by_label("Set priority: Mode").select_option("autonomous")
    page.get_by_label("Set priority: Minimum confidence").fill("0.80")
    screenshot(page, "policy-editor")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("s")  # the editor's save shortcut
    expect(page.locator("#editor")).to_contain_text("Saved as version")
    expect(page.locator("#editor")).to_contain_text("Autonomous when confidence ≥ 0.80")

    after = propose(
        make_ticket(world.client, summary="Slow VPN", external_id="P-9", type=world.ticket_type),
        confidence=0.85,
    )
    assert after.status == Action.Status.VERIFIED or after.status == Action.Status.QUEUED
    after.refresh_from_db()
    assert after.status == Action.Status.VERIFIED  # executed on its own, through the gate
