"""The rules editor in a real browser (Debian's Chromium via Playwright): a manager builds a
rule with conditions whose value widgets follow the chosen field, sees a bad pattern refused
in place, previews it against recent tickets, saves it, and reorders it. Screenshots land in
var/test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from automation.models import TriageRule
from tests.browser import screenshot, sign_in
from tests.fixtures import World, make_ticket
from tickets.models import Queue


@pytest.fixture
def rules_world(transactional_db: None, world: World) -> World:
    Queue.objects.create(name="Servers", slug="servers")
    for number in range(3):
        make_ticket(world.client, summary=f"Disk full on FS0{number}", external_id=f"D{number}")
    make_ticket(world.client, summary="Printer jam", external_id="P1")
    return world


def _settled(page: Page) -> None:
    """Wait until htmx has finished re-drawing (a row re-draws when its field or test changes)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def test_a_manager_builds_previews_and_saves_a_rule(page: Page, rules_world: World) -> None:
    sign_in(page, "manager")
    page.goto("/rules/")
    expect(page.get_by_text("No triage rules yet")).to_be_visible()
    page.keyboard.press("n")
    expect(page).to_have_url("/rules/new/")
    page.get_by_label("Name").fill("Disk alerts to servers")

    page.get_by_role("button", name="Add condition (c)").click()
    _settled(page)
    page.get_by_label("Condition 1: what it tests").select_option(label="Summary")
    _settled(page)
    page.get_by_label("Condition 1: test").select_option(label="matches the pattern")
    _settled(page)
    page.get_by_label("Condition 1: value").fill("disk (full")
    # Second condition: a choice field draws a multi-select of its values.
    page.get_by_role("button", name="Add condition (c)").click()
    _settled(page)
    page.get_by_label("Condition 2: what it tests").select_option(label="Priority")
    _settled(page)
    expect(page.get_by_label("Condition 2: values (choose one or more)")).to_be_visible()
    page.get_by_role("button", name="Remove condition 2").click()
    expect(page.get_by_label("Condition 2: what it tests")).to_have_count(0)

    page.get_by_label("Action 1: what it does").select_option(label="Route to queue")
    _settled(page)
    page.get_by_label("Queue").select_option(label="Servers")

    page.get_by_role("button", name="Preview (p)").click()
    expect(page.locator("#preview")).to_contain_text("Not a valid regular expression")
    page.get_by_label("Condition 1: value").fill("disk (full|space)")
    page.get_by_role("button", name="Preview (p)").click()
    expect(page.locator("#preview")).to_contain_text("3 matched, 3 would change")
    expect(page.locator("#preview")).to_contain_text("Queue: (none) → Servers")
    screenshot(page, "rule-preview")
    assert not TriageRule.objects.exists()

    page.get_by_role("button", name="Save rule (s)").click()
    expect(page).to_have_url("/rules/")
    expect(page.locator("table.rules")).to_contain_text(
        "Summary matches the pattern “disk (full|space)”"
    )
    expect(page.locator("#conflicts")).to_contain_text("No conflicts")
    rule = TriageRule.objects.get()
    assert rule.conditions == [{"field": "summary", "op": "regex", "value": "disk (full|space)"}]
    screenshot(page, "rule-list")
