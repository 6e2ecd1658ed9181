"""The dispatch page in a real browser (Debian's Chromium via Playwright): a manager changes a
queue's strategy inline and tries dispatch on a ticket by keyboard, without a page reload.
Screenshots land in var/test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from automation.models import DispatchPolicy
from automation.tests.test_dispatch import give_open, tech
from governance.models import Action
from tests.browser import screenshot, sign_in
from tests.fixtures import World
from tickets.models import StaffMember


@pytest.fixture
def dispatch_world(transactional_db: None, world: World) -> World:
    StaffMember.objects.filter(pk__in=[world.manager.pk, world.owner.pk]).update(
        takes_tickets=False
    )
    dana = tech("dana", [world.client], queues=[world.queue], skills=["Exchange"])
    sam = tech("sam", [world.client], queues=[world.queue])
    give_open(dana, world.client, 1)
    give_open(sam, world.client, 4)
    return world


def test_a_manager_sets_a_strategy_and_tries_it_on_a_ticket(
    page: Page, dispatch_world: World
) -> None:
    world = dispatch_world
    sign_in(page, "manager")
    page.get_by_role("link", name="Dispatch").click()
    expect(page.get_by_role("heading", name="Dispatch", exact=True)).to_be_visible()
    page.evaluate("window.__stillHere = true")

    card = page.locator(f"#policy-{world.queue.id}")
    expect(card).to_contain_text("Follows the default")
    card.get_by_label("Service Desk L1: Strategy").select_option("round_robin")
    card.get_by_role("button", name="Save Service Desk L1").click()
    expect(card).to_contain_text("Saved: Service Desk L1 uses Round robin.")
    expect(card).to_contain_text("Round robin: whoever was assigned a ticket least recently")
    assert DispatchPolicy.objects.get(queue=world.queue).strategy == "round_robin"

    # "t" focuses the ticket picker; choosing a ticket ranks technicians in place.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("t")
    expect(page.get_by_label("Ticket to try")).to_be_focused()
    page.get_by_label("Ticket to try").select_option(str(world.ticket.id))
    result = page.locator("#try")
    expect(result).to_contain_text("Assigned to Dana: no ticket assigned in 30 days")
    expect(result).to_contain_text("Round robin (the Service Desk L1 policy)")
    expect(result.locator("tbody tr")).to_have_count(2)
    expect(result.locator("tbody tr").nth(1)).to_contain_text("More open work for their capacity")
    assert f"ticket={world.ticket.id}" in page.url
    assert page.evaluate("window.__stillHere") is True
    assert not Action.objects.exists()
    screenshot(page, "dispatch-board")
