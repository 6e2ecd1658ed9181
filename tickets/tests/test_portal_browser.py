"""The portal in a real browser (Debian's Chromium via Playwright): an end user without an
account finds it from the sign-in page, fixes a mistake shown in place, and gets a reference."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import screenshot
from tests.fixtures import World
from tickets.models import InboxEvent


@pytest.fixture
def portal_world(transactional_db: None, world: World) -> World:
    from django.core.cache import cache

    cache.clear()
    return world


def test_an_end_user_reports_a_problem(page: Page, portal_world: World) -> None:
    page.goto("/login/")
    page.get_by_role("link", name="Report a problem").click()
    page.get_by_label("Your name").fill("Dana")
    page.get_by_label("Your work e-mail").fill("dana@")
    page.get_by_label("What is the problem?").fill("Printer offline")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#portal")).to_contain_text("Please correct the fields marked below.")
    expect(page.get_by_label("Your name")).to_have_value("Dana")
    page.get_by_label("Your work e-mail").fill("dana@acme.test")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#portal")).to_contain_text("Thank you — we have your request.")
    reference = InboxEvent.objects.get().delivery_key
    expect(page.locator("#portal code")).to_have_text(reference)
    screenshot(page, "portal-received")
