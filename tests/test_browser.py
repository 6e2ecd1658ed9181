"""The HTMX pages in a real browser: Debian's Chromium driven by Playwright against a live
server, so partial swaps, pushed URLs and keyboard shortcuts are proven, not assumed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import sign_in
from tests.fixtures import World, make_ticket
from tickets.models import TicketEvent


@pytest.fixture
def browser_world(transactional_db: None, world: World) -> World:
    for number in range(3):
        make_ticket(
            world.client, summary=f"VPN drops every hour {number}", external_id=f"V-{number}"
        )
    return world


def test_typing_a_search_swaps_the_results_without_reloading(page: Page, browser_world: World):
    sign_in(page, "insider")
    page.goto("/tickets/")
    expect(page.locator("#results")).to_contain_text("Dana cannot sign in")
    page.evaluate("window.__stillHere = true")
    page.keyboard.press("/")
    expect(page.locator("#id_q")).to_be_focused()
    page.keyboard.type("VPN drops")
    expect(page.locator("#results")).not_to_contain_text("Dana cannot sign in")
    expect(page.locator("#results")).to_contain_text("3 tickets")
    assert page.evaluate("window.__stillHere") is True
    assert "q=VPN%20drops" in page.url


def test_a_note_appears_on_the_timeline_without_reloading(page: Page, browser_world: World):
    sign_in(page, "insider")
    page.goto(f"/tickets/{browser_world.ticket.id}/")
    page.evaluate("window.__stillHere = true")
    page.fill("#id_body", "Called Dana, resetting now")
    page.check("#id_public")
    page.click("text=Save note")
    expect(page.locator("#timeline")).to_contain_text("Called Dana, resetting now")
    expect(page.locator("#id_body")).to_have_value("")
    assert page.evaluate("window.__stillHere") is True
    event = TicketEvent.objects.get(ticket=browser_world.ticket, kind=TicketEvent.Kind.REPLY)
    assert event.actor_staff == browser_world.tech_in


def test_a_technician_cannot_open_a_foreign_ticket(page: Page, browser_world: World):
    sign_in(page, "outsider")
    response = page.goto(f"/tickets/{browser_world.ticket.id}/")
    assert response is not None and response.status == 404


def test_a_rejected_note_shows_its_error_in_place(page: Page, browser_world: World):
    sign_in(page, "insider")
    page.goto(f"/tickets/{browser_world.ticket.id}/")
    page.evaluate("window.__stillHere = true")
    # Whitespace passes the browser's `required` check but not ours: a 400 with the error.
    page.fill("#id_body", "   ")
    page.click("text=Save note")
    expect(page.locator("#timeline .error")).to_contain_text("This field is required")
    assert page.evaluate("window.__stillHere") is True
    assert not TicketEvent.objects.filter(ticket=browser_world.ticket, kind="note").exists()


def test_going_back_restores_the_whole_page(page: Page, browser_world: World):
    sign_in(page, "insider")
    page.goto("/tickets/")
    page.fill("#id_q", "VPN drops")
    expect(page.locator("#results")).to_contain_text("3 tickets")
    page.click("text=VPN drops every hour 0")
    expect(page.locator("h1")).to_contain_text("VPN drops every hour 0")
    page.go_back()
    expect(page.locator("form.filters")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_expired_session_goes_to_sign_in_instead_of_swapping_it_in(
    page: Page, browser_world: World
):
    sign_in(page, "insider")
    page.goto("/tickets/")
    page.context.clear_cookies()
    page.click("#id_q")
    page.keyboard.type("VPN drops")
    page.wait_for_url("**/login/**")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#results")).to_have_count(0)
