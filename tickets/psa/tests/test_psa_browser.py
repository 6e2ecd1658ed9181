"""Connecting a PSA in a real browser (Debian's Chromium via Playwright), against the HaloPSA
simulator: a manager adds the connection, tests it, loads and maps the PSA's values, and
syncs — seeing the tickets arrive. Screenshots land in var/test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_q.conf import Conf
from playwright.sync_api import Page, expect

from tests.browser import screenshot, sign_in
from tests.fixtures import World
from tickets.models import PsaConnection, PsaMapping, Ticket
from tickets.psa.simulators.halopsa import HaloSimulator


@pytest.fixture
def halo(transactional_db: None, world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # No worker runs beside the live server: queued tasks run where they are queued.
    monkeypatch.setattr(Conf, "SYNC", True)
    with HaloSimulator() as sim:
        sim.add_company("acme-dental", "Acme Dental")
        sim.create_ticket(summary="Scanner offline", company="acme-dental", status="New")
        sim.create_ticket(summary="New starter laptop", company="acme-dental", status="Closed")
        yield sim


def test_a_manager_connects_maps_and_syncs_a_psa(page: Page, halo: Any, world: World) -> None:
    sign_in(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="PSA").click()
    expect(page.get_by_role("heading", name="PSA connections")).to_be_visible()
    expect(page.get_by_text("No PSA is connected yet.")).to_be_visible()
    page.get_by_role("link", name="HaloPSA").click()

    page.get_by_label("Name").fill("Halo production")
    page.get_by_label("PSA address").fill(halo.base_url)
    page.get_by_label("Tenant").fill(halo.credentials["tenant"])
    page.get_by_label("Client id", exact=True).fill(halo.credentials["client_id"])
    page.get_by_label("Client secret").fill(halo.credentials["client_secret"])
    page.get_by_label("Webhook secret").fill(halo.webhook_secret)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved Halo production.")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(halo.credentials["client_secret"])

    page.get_by_role("button", name="Test the connection").click()
    expect(page.locator("#check .ok")).to_be_visible()
    screenshot(page, "psa-connection")

    page.get_by_role("link", name="Map statuses").click()
    page.get_by_role("button", name="Load every value from the PSA").click()
    expect(page.get_by_text("new values from the PSA")).to_be_visible()
    connection = PsaConnection.objects.get(name="Halo production")
    waiting = PsaMapping.objects.get(
        connection=connection, field="status", label="Waiting Customer"
    )
    row = page.locator(f"#mapping-{waiting.id}")
    row.get_by_role("combobox").select_option("waiting_third_party")
    expect(page.locator(f"#mapping-{waiting.id}")).to_contain_text("Saved")
    screenshot(page, "psa-mapping")

    page.get_by_role("link", name="Halo production").click()
    page.get_by_role("button", name="Sync now (s)").click()
    expect(page.locator("#runs")).to_contain_text("Done")
    expect(page.locator("#runs")).to_contain_text("2 of 2 read, 2 new")
    screenshot(page, "psa-synced")

    waiting.refresh_from_db()
    assert (waiting.value, waiting.suggested) == ("waiting_third_party", False)
    mirrored = Ticket.objects.filter(source="halopsa").order_by("summary")
    assert [(t.summary, t.status, t.client_id) for t in mirrored] == [
        ("New starter laptop", "closed", world.client.id),
        ("Scanner offline", "new", world.client.id),
    ]
