"""The owner's ROI page in a real browser (Debian's Chromium via Playwright): an owner changes
the period and the client, drills into L1 deflection and exports the CSV, and every number
agrees with the one worked out by hand below. Screenshots (and the CSV) land in
var/test-artifacts/."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Response, expect

from metrics.facts import facts_refresh_all
from tests.browser import ARTIFACTS, screenshot, sign_in
from tests.fixtures import make_staff, make_ticket
from tickets.models import (
    Client,
    Contract,
    CsatResponse,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
    TimeEntry,
)
from tickets.services import ticket_event_record

HOURLY_COST = Decimal("60.00")
MINUTES_PER_HUMAN_TICKET = 30  # $30 of technician time on each ticket a person handled
MONTHLY_REVENUE = Decimal("3000.00")


def _this_monday() -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday())


def _resolved_at(weeks_ago: int) -> dt.datetime:
    """Tuesday 11:00 of the complete week `weeks_ago` weeks before this one."""
    tuesday = _this_monday() - dt.timedelta(weeks=weeks_ago) + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(tuesday, dt.time(11, 0)))


@dataclass(frozen=True)
class RoiWorld:
    acme: Client
    globex: Client
    contract: Contract
    # Acme's tickets resolved in the last 12 weeks: id -> resolved by the agent alone.
    acme_recent: dict[int, bool]


class _Builder:
    def __init__(self, ticket_type: TicketType, technician: StaffMember) -> None:
        self.ticket_type = ticket_type
        self.technician = technician
        self.made = 0

    def resolved(
        self,
        client: Client,
        *,
        weeks_ago: int,
        agent: bool,
        contract: Contract | None = None,
        csat: int | None = None,
    ) -> Ticket:
        """A ticket opened three hours before it was resolved: by the agent alone (its reply
        and the resolution, no person involved) or by the technician (reply, 30 minutes
        logged, resolution)."""
        self.made += 1
        resolved = _resolved_at(weeks_ago)
        opened = resolved - dt.timedelta(hours=3)
        replied = opened + dt.timedelta(minutes=10)
        who = "agent" if agent else "technician"
        ticket = make_ticket(
            client,
            summary=f"{client.name} request {self.made} ({who}, week -{weeks_ago})",
            external_id=f"ROI-{self.made}",
            opened_at=opened,
            type=self.ticket_type,
            contract=contract,
        )
        kind = TicketEvent.ActorKind.AGENT if agent else TicketEvent.ActorKind.HUMAN
        staff = None if agent else self.technician
        name = "Service desk agent" if agent else ""
        if staff is not None:
            TimeEntry.objects.create(
                ticket=ticket,
                staff=staff,
                started_at=opened + dt.timedelta(minutes=5),
                minutes=MINUTES_PER_HUMAN_TICKET,
            )
        ticket_event_record(
            ticket=ticket,
            kind=TicketEvent.Kind.REPLY,
            actor_kind=kind,
            actor_staff=staff,
            actor_name=name,
            body="This is fixed now; please check.",
            occurred_at=replied,
        )
        ticket_event_record(
            ticket=ticket,
            kind=TicketEvent.Kind.STATUS_CHANGED,
            actor_kind=kind,
            actor_staff=staff,
            actor_name=name,
            old_value=Ticket.Status.IN_PROGRESS,
            new_value=Ticket.Status.RESOLVED,
            occurred_at=resolved,
        )
        ticket.status = Ticket.Status.RESOLVED
        ticket.first_response_at, ticket.resolved_at = replied, resolved
        ticket.save(update_fields=["status", "first_response_at", "resolved_at"])
        if csat is not None:
            CsatResponse.objects.create(
                ticket=ticket, score=csat, nps=10, responded_at=resolved + dt.timedelta(hours=1)
            )
        return ticket


@pytest.fixture
def roi_world(transactional_db: None) -> RoiWorld:
    """Ten tickets resolved in known weeks (plus one too old and one still open):

    ============  ==========  =====================  =========================
    client        weeks ago   resolved by            extras
    ============  ==========  =====================  =========================
    Acme          1           agent                  CSAT 5
    Acme          1           technician
    Acme          3           agent
    Acme          5           technician             CSAT 4
    Acme          8           agent
    Acme          11          technician
    Acme          16          agent                  outside 12 weeks
    Globex        1           technician
    Globex        2           agent
    Globex        6, 9        technician
    ============  ==========  =====================  =========================

    Last week, every client: 3 resolved, 1 by the agent (33.3 %), $60 / 3 = $20.00 a ticket,
    CSAT 5.00. Last 12 weeks, Acme: 6 resolved, 3 by the agent (50.0 %), $90 / 6 = $15.00,
    CSAT (5 + 4) / 2 = 4.50, margin 3000 × 84 / 30.4375 − 90 = 8189.26.
    """
    acme = Client.objects.create(name="Acme Dental", identifier="acme-dental")
    globex = Client.objects.create(name="Globex Legal", identifier="globex-legal")
    ticket_type = TicketType.objects.create(name="Password reset", slug="password-reset")
    contract = Contract.objects.create(
        client=acme,
        name="Managed desktops",
        kind=Contract.Kind.MANAGED,
        monthly_revenue=MONTHLY_REVENUE,
        starts_on=_this_monday() - dt.timedelta(weeks=52),
    )
    make_staff("owner", StaffMember.Role.OWNER, all_clients=True)
    technician = make_staff("tech", StaffMember.Role.TECHNICIAN, clients=[acme, globex])
    technician.hourly_cost = HOURLY_COST
    technician.save(update_fields=["hourly_cost"])

    build = _Builder(ticket_type, technician)
    acme_recent = {}
    for weeks_ago, agent, csat in (
        (1, True, 5),
        (1, False, None),
        (3, True, None),
        (5, False, 4),
        (8, True, None),
        (11, False, None),
    ):
        ticket = build.resolved(
            acme, weeks_ago=weeks_ago, agent=agent, contract=contract, csat=csat
        )
        acme_recent[ticket.id] = agent
    build.resolved(acme, weeks_ago=16, agent=True, contract=contract)
    make_ticket(acme, summary="Acme still open", external_id="ROI-open", type=ticket_type)
    for weeks_ago, agent in ((1, False), (2, True), (6, False), (9, False)):
        build.resolved(globex, weeks_ago=weeks_ago, agent=agent)

    assert facts_refresh_all() == 12
    return RoiWorld(acme=acme, globex=globex, contract=contract, acme_recent=acme_recent)


@pytest.fixture
def js_errors(page: Page) -> Iterator[list[str]]:
    """Uncaught exceptions and console errors on any page the test opens."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Error) -> None:
        found.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield found


def _tile(page: Page, metric: str) -> Locator:
    return page.locator(f"#report a.metric-tile[data-metric={metric}]")


def _tile_number(page: Page, metric: str) -> str:
    """The figure a tile shows, without its unit: "50.0" for "50.0 %"."""
    shown = _tile(page, metric).locator("strong").inner_text()
    number = re.match(r"\s*(-?[\d.]+)", shown)
    assert number is not None, shown
    return number.group(1)


def _assert_chart_drawn(page: Page) -> None:
    canvas = page.locator("#report canvas[data-chart]")
    expect(canvas).to_be_visible()
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector('#report canvas[data-chart]');
            return !!canvas && typeof Chart !== 'undefined' && !!Chart.getChart(canvas);
        }"""
    )
    drawn = page.evaluate(
        """() => {
            const canvas = document.querySelector('#report canvas[data-chart]');
            const chart = Chart.getChart(canvas);
            return {width: canvas.width, height: canvas.height,
                    datasets: chart.data.datasets.length, weeks: chart.data.labels.length};
        }"""
    )
    assert drawn["width"] > 0 and drawn["height"] > 0, drawn
    assert drawn["datasets"] == 3 and drawn["weeks"] == 12, drawn


def _is_swap(response: Response) -> bool:
    return "/metrics/?" in response.url and response.request.headers.get("hx-request") == "true"


def _choose(page: Page, label: str, value: str, *, status: int = 200) -> None:
    """Pick an option in one of the filter selects and wait for HTMX to swap the report."""
    with page.expect_response(_is_swap) as swapped:
        # The label wraps its select, so its accessible name also holds the chosen option.
        page.locator("form.filters").get_by_label(re.compile(f"^{label} ")).select_option(value)
    assert swapped.value.status == status


def _type_date(page: Page, field: str, day: dt.date, *, status: int = 200) -> None:
    with page.expect_response(_is_swap) as swapped:
        page.fill(field, day.isoformat())
    assert swapped.value.status == status


def _export(page: Page, name: str) -> tuple[str, dict[tuple[str, str], list[str]]]:
    """Click Export CSV; the file's suggested name and its rows by (section, key)."""
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export CSV").click()
    download = downloading.value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = ARTIFACTS / f"{name}.csv"
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8-sig") as handle:  # with or without a BOM
        rows = {(row[0], row[1]): row for row in csv.reader(handle) if row[0] != "path"}
    return download.suggested_filename, rows


def _value(rows: dict[tuple[str, str], list[str]], key: tuple[str, str], column: str) -> str:
    return rows[key][rows[("section", "key")].index(column)]


def test_an_owner_filters_drills_down_and_exports_the_roi_page(
    page: Page, roi_world: RoiWorld, js_errors: list[str]
) -> None:
    world = roi_world
    sign_in(page, "owner")
    page.goto("/metrics/")
    report = page.locator("#report")

    # Last week, every client.
    expect(report.locator("p.period")).to_contain_text("3 resolved")
    expect(_tile(page, "deflection_rate").locator("strong")).to_have_text("33.3 %")
    expect(_tile(page, "cost_per_ticket").locator("strong")).to_have_text("20.00")
    expect(_tile(page, "csat_average").locator("strong")).to_have_text("5.00 /5")
    _assert_chart_drawn(page)
    screenshot(page, "metrics-roi-last-week")

    # Last 12 weeks, Acme only: the report swaps in place, the page stays.
    page.evaluate("window.__stillHere = true")
    _choose(page, "Period", "last_12_weeks")
    expect(report.locator("p.period")).to_contain_text("10 resolved")
    expect(_tile(page, "deflection_rate").locator("strong")).to_have_text("40.0 %")
    _choose(page, "Client", str(world.acme.id))
    expect(report.locator("p.period")).to_contain_text("one client")
    expect(report.locator("p.period strong")).to_have_text("6")
    expect(_tile(page, "deflection_rate").locator("strong")).to_have_text("50.0 %")
    expect(_tile(page, "deflection_rate")).to_contain_text("n = 6")
    expect(_tile(page, "cost_per_ticket").locator("strong")).to_have_text("15.00")
    expect(_tile(page, "csat_average").locator("strong")).to_have_text("4.50 /5")
    expect(report.get_by_role("row", name=re.compile("Managed desktops"))).to_contain_text(
        "8189.26"
    )
    expect(report).not_to_contain_text("Globex Legal")
    assert page.evaluate("window.__stillHere") is True
    assert "period=last_12_weeks" in page.url and f"client={world.acme.id}" in page.url
    _assert_chart_drawn(page)
    deflection = _tile_number(page, "deflection_rate")
    assert deflection == "50.0"
    screenshot(page, "metrics-roi-acme-12-weeks")

    # The export link follows the filters the report shows.
    export = page.get_by_role("link", name="Export CSV")
    href = export.get_attribute("href") or ""
    assert "period=last_12_weeks" in href and f"client={world.acme.id}" in href, (
        f"Export CSV still exports the first page load's filters after the swap: {href}"
    )

    # Drill into L1 deflection: Acme's six tickets, the agent's three first.
    _tile(page, "deflection_rate").click()
    expect(page).to_have_url(re.compile(r"/metrics/tickets/\?metric=deflection_rate&"))
    expect(page.locator("h1")).to_have_text("L1 deflection: the tickets behind the number")
    expect(page.locator("p.period strong")).to_have_text("6")
    listing = page.locator("table tbody tr")
    expect(listing).to_have_count(6)
    listed: list[tuple[int, bool]] = []
    for row in listing.all():
        cells = row.locator("td")
        number = re.match(r"#(\d+) ", cells.nth(0).inner_text())
        assert number is not None
        expect(cells.nth(1)).to_have_text("Acme Dental")
        listed.append((int(number.group(1)), cells.nth(7).inner_text().strip() == "Yes"))
    assert dict(listed) == world.acme_recent
    assert [hit for _, hit in listed] == [True, True, True, False, False, False]
    screenshot(page, "metrics-roi-deflection-drilldown")

    # Back to the ROI page, still filtered, and export what it shows.
    page.go_back()
    expect(page.locator("#id_period")).to_have_value("last_12_weeks")
    expect(page.locator("#id_client")).to_have_value(str(world.acme.id))
    expect(_tile(page, "deflection_rate").locator("strong")).to_have_text("50.0 %")
    _assert_chart_drawn(page)
    filename, rows = _export(page, "metrics-roi-acme-12-weeks")
    monday = _this_monday()
    first, last = monday - dt.timedelta(weeks=12), monday - dt.timedelta(days=1)
    assert filename == f"metrics-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    assert _value(rows, ("metric", "deflection_rate"), "value") == deflection
    assert _value(rows, ("metric", "deflection_rate"), "tickets") == "6"
    for metric in ("deflection_rate", "cost_per_ticket", "csat_average", "nps", "ftr_rate"):
        exported = Decimal(_value(rows, ("metric", metric), "value"))
        assert exported == Decimal(_tile_number(page, metric)), metric
    assert Decimal(_value(rows, ("metric", "cost_per_ticket"), "value")) == Decimal("15")
    assert Decimal(_value(rows, ("metric", "csat_average"), "value")) == Decimal("4.5")
    assert Decimal(_value(rows, ("contract", "Acme Dental"), "value")) == Decimal("8189.26")
    assert ("contract", "Globex Legal") not in rows
    screenshot(page, "metrics-roi-exported")

    assert js_errors == []


def test_custom_dates_for_one_client_and_their_export(
    page: Page, roi_world: RoiWorld, js_errors: list[str]
) -> None:
    """Weeks -9 to -2 for Globex: tickets at weeks -2 (agent), -6 and -9 (technician)."""
    world = roi_world
    first = _this_monday() - dt.timedelta(weeks=9)
    last = _this_monday() - dt.timedelta(weeks=2) + dt.timedelta(days=6)
    sign_in(page, "owner")
    page.goto("/metrics/")
    report = page.locator("#report")
    _choose(page, "Client", str(world.globex.id))
    expect(report.locator("p.period strong")).to_have_text("1")  # last week: one ticket

    # "Custom dates" before any date is typed: the error shows in place, last week stays.
    _choose(page, "Period", "custom", status=400)
    expect(report.get_by_role("alert")).to_contain_text(
        "A custom period needs a start and an end date."
    )
    _type_date(page, "#id_start", first, status=400)
    _type_date(page, "#id_end", last)
    expect(report.get_by_role("alert")).to_have_count(0)
    expect(report.locator("p.period")).to_contain_text(
        f"{first:%a} {first.day} {first:%b %Y} – {last:%a} {last.day} {last:%b %Y}, one client"
    )
    expect(report.locator("p.period strong")).to_have_text("3")
    expect(_tile(page, "deflection_rate").locator("strong")).to_have_text("33.3 %")
    expect(report).to_contain_text("No contract was in force in this period for this client.")
    _assert_chart_drawn(page)
    screenshot(page, "metrics-roi-globex-custom-dates")

    filename, rows = _export(page, "metrics-roi-globex-custom-dates")
    assert filename == f"metrics-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    assert _value(rows, ("metric", "deflection_rate"), "value") == _tile_number(
        page, "deflection_rate"
    )
    assert _value(rows, ("metric", "deflection_rate"), "value") == "33.3"
    assert _value(rows, ("metric", "deflection_rate"), "tickets") == "3"
    assert not any(section == "contract" for section, _ in rows)

    # The two 400s are the form's answer, shown in place; nothing else may fail.
    assert [e for e in js_errors if "status of 400" not in e] == []
