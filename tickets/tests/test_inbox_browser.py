"""The inbox in a real browser (Debian's Chromium via Playwright): a manager finds an arrival
that could not be processed, corrects its body, replays it and follows it to the ticket.
Screenshots land in var/test-artifacts/."""

from __future__ import annotations

import json

import pytest
from django_q.conf import Conf
from playwright.sync_api import Page, expect

from tests.browser import screenshot, sign_in
from tests.fixtures import World
from tickets.intake.inbox import inbox_store
from tickets.models import InboxEvent, Ticket


@pytest.fixture
def inbox_world(transactional_db: None, world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    # No worker runs beside the live server: the replay's task runs where it is queued.
    monkeypatch.setattr(Conf, "SYNC", True)
    return world


def test_a_manager_corrects_and_replays_an_arrival(page: Page, inbox_world: World) -> None:
    event, _ = inbox_store(
        channel=InboxEvent.Channel.API,
        body='{"external_id": "mon-77", "summary": "Backup failed on ACME-FS01",}',
        delivery_key="req-77",
        content_type="application/json",
        headers={"User-Agent": "backup-monitor/2.1"},
        error="The body is not valid JSON: Expecting property name at line 1.",
    )

    sign_in(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.get_by_text("1 arrival could not be processed.")).to_be_visible()
    page.get_by_label("Status").select_option("invalid")
    row = page.locator(f"#event-{event.id}")
    expect(row).to_contain_text("req-77")
    expect(row).to_contain_text("Could not be processed")
    screenshot(page, "inbox-list")

    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=f"Intake API arrival #{event.id}")).to_be_visible()
    expect(page.locator("#outcome")).to_contain_text("Expecting property name")
    expect(page.get_by_label("Body as received")).to_contain_text('"mon-77"')

    body = page.get_by_label("Body to replay")
    fixed = json.dumps({"external_id": "mon-77", "summary": "Backup failed on ACME-FS01"})
    body.fill(fixed)
    screenshot(page, "inbox-detail-correcting")
    page.get_by_role("button", name="Replay").click()

    expect(page.get_by_text("Replayed: the arrival was processed.")).to_be_visible()
    ticket = Ticket.objects.get(external_id="mon-77")
    link = page.locator("#outcome").get_by_role("link", name=f"Ticket #{ticket.id}")
    expect(link).to_be_visible()
    expect(page.get_by_label("Corrected body")).to_contain_text('"mon-77"')
    screenshot(page, "inbox-detail-replayed")

    link.click()
    expect(page.get_by_role("heading", name="Backup failed on ACME-FS01")).to_be_visible()
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.PROCESSED
    assert event.corrected_by_id == inbox_world.manager.id
