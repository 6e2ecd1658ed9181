"""The metrics pages: who may see them, scope, filters, drill-down, export, baselines,
the holdout and the weekly report archive."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.holdout import draw, holdout_start
from governance.models import Action, HoldoutTicket
from governance.tests.helpers import policy_with, propose
from metrics.facts import facts_refresh_all
from metrics.models import Baseline, TicketFact, WeeklyReport
from metrics.reports import weekly_report_due, weekly_report_generate
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import StaffMember, Ticket, TicketEvent, TimeEntry

WEEK = dt.date(2026, 10, 5)  # a Monday
QUERY = "period=custom&start=2026-10-05&end=2026-10-11"


def _resolve(ticket: Ticket, at: dt.datetime, *, human: StaffMember | None = None) -> None:
    if human is not None:
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.REPLY,
            actor_kind=TicketEvent.ActorKind.HUMAN,
            actor_staff=human,
            occurred_at=at - dt.timedelta(minutes=30),
        )
        TimeEntry.objects.create(ticket=ticket, staff=human, started_at=at, minutes=30)
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.STATUS_CHANGED,
        actor_kind=TicketEvent.ActorKind.HUMAN if human else TicketEvent.ActorKind.AGENT,
        actor_staff=human,
        old_value="new",
        new_value="resolved",
        occurred_at=at,
    )


def _ticket(world: World, client_name: str, n: int, *, human: bool) -> Ticket:
    client = world.client if client_name == "acme" else world.other_client
    opened = timezone.make_aware(dt.datetime(2026, 10, 6, 9, 0))
    ticket = make_ticket(
        client,
        summary=f"{client_name} ticket {n}",
        external_id=f"{client_name}-{n}",
        opened_at=opened,
        type=world.ticket_type,
        contract=world.contract if client_name == "acme" else None,
    )
    _resolve(ticket, opened + dt.timedelta(hours=2), human=world.tech_in if human else None)
    return ticket


@pytest.fixture
def resolved(world: World) -> World:
    """Acme: 3 tickets (1 by the agent alone); Globex: 2 tickets by the agent alone."""
    world.tech_in.hourly_cost = Decimal("60")
    world.tech_in.save()
    for n in range(2):
        _ticket(world, "acme", n, human=True)
    _ticket(world, "acme", 2, human=False)
    for n in range(2):
        _ticket(world, "globex", n, human=False)
    facts_refresh_all()
    return world


def _figure(response: object, key: str) -> dict[str, object]:
    rows = response.context["overview"].metrics  # type: ignore[attr-defined]
    found: dict[str, object] = next(row for row in rows if row["key"] == key)
    return found


def test_the_owner_sees_every_client(resolved: World) -> None:
    response = resolved.login(resolved.owner).get(f"{reverse('metrics_owner')}?{QUERY}")
    assert response.status_code == 200
    deflection = _figure(response, "deflection_rate")
    assert deflection["count"] == 5
    assert deflection["value"] == 60.0  # 3 of 5 resolved with no human touch


def test_a_technician_may_not_open_the_roi_page(resolved: World) -> None:
    response = resolved.login(resolved.tech_in).get(reverse("metrics_owner"))
    assert response.status_code == 403


def test_a_technician_sees_only_their_clients_operations(resolved: World) -> None:
    http = resolved.login(resolved.tech_out)  # sees Globex only
    response = http.get(f"{reverse('metrics_operations')}?{QUERY}")
    assert response.status_code == 200
    tiles = {f.metric.key: f for f in response.context["tiles"]}
    assert tiles["ftr_rate"].count == 2


def test_drill_down_lists_only_tickets_in_scope(resolved: World) -> None:
    url = f"{reverse('metrics_tickets')}?metric=deflection_rate&{QUERY}"
    page = resolved.login(resolved.tech_out).get(url).content.decode()
    assert "globex ticket 0" in page and "globex ticket 1" in page
    assert "acme ticket" not in page


def test_drill_down_marks_the_hits_of_a_rate(resolved: World) -> None:
    url = f"{reverse('metrics_tickets')}?metric=deflection_rate&client={resolved.client.id}&{QUERY}"
    response = resolved.login(resolved.owner).get(url)
    rows = list(response.context["page"].object_list)
    assert [row.hit for row in rows] == [1, 0, 0]  # hits first
    assert rows[0].ticket.summary == "acme ticket 2"


def test_an_unknown_metric_is_a_404_that_says_so(resolved: World) -> None:
    response = resolved.login(resolved.owner).get(f"{reverse('metrics_tickets')}?metric=nope")
    assert response.status_code == 404
    assert "is not a metric" in response.content.decode()


def test_the_export_leaves_out_other_clients_and_contract_money(resolved: World) -> None:
    response = resolved.login(resolved.tech_out).get(f"{reverse('metrics_export')}?{QUERY}")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    metrics = {row[1]: row for row in rows if row[0] == "metric"}
    assert metrics["deflection_rate"][5] == "2"  # tickets column: Globex's two
    assert not [row for row in rows if row[0] == "contract"]


def test_the_owner_export_has_contract_margins(resolved: World) -> None:
    response = resolved.login(resolved.owner).get(f"{reverse('metrics_export')}?{QUERY}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    contracts = [row for row in rows if row[0] == "contract"]
    assert [row[1] for row in contracts] == ["Acme Dental"]
    # Managed, no revenue set, one hour of labour at 60 → margin -60.00
    assert float(contracts[0][3]) == -60.0


def test_bad_dates_say_what_is_wrong_and_show_last_week(resolved: World) -> None:
    url = f"{reverse('metrics_owner')}?period=custom&start=2026-10-09&end=2026-10-01"
    response = resolved.login(resolved.owner).get(url)
    assert response.status_code == 400
    body = response.content.decode()
    assert "The end date must be on or after the start date." in body
    assert "Showing last week instead." in body


def test_the_htmx_filter_returns_only_the_report(resolved: World) -> None:
    url = f"{reverse('metrics_owner')}?{QUERY}"
    response = resolved.login(resolved.owner).get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="report"')
    assert "<html" not in body


def test_an_empty_period_explains_what_is_missing(world: World) -> None:
    response = world.login(world.owner).get(f"{reverse('metrics_owner')}?{QUERY}")
    assert "No ticket was resolved in this period" in response.content.decode()


def test_the_owner_page_query_count_does_not_grow_with_tickets(resolved: World) -> None:
    http = resolved.login(resolved.owner)
    url = f"{reverse('metrics_owner')}?{QUERY}"
    with CaptureQueriesContext(connection) as few:
        http.get(url)
    for n in range(3, 8):
        _ticket(resolved, "acme", n, human=True)
    facts_refresh_all()
    with CaptureQueriesContext(connection) as more:
        http.get(url)
    assert len(more) == len(few)


def test_a_manager_freezes_a_baseline_and_reports_compare_with_it(resolved: World) -> None:
    http = resolved.login(resolved.manager)
    response = http.post(
        reverse("metrics_baselines"),
        {"name": "Before automation", "starts_on": "2026-10-05", "ends_on": "2026-10-11"},
    )
    assert response.status_code == 302
    baseline = Baseline.objects.get()
    assert baseline.is_active and baseline.frozen_by == resolved.manager
    cells = baseline.values.filter(metric="deflection_rate")
    overall = cells.get(client__isnull=True, ticket_type__isnull=True)
    assert (overall.count, overall.total) == (5, 3)
    acme = cells.get(client=resolved.client, ticket_type__isnull=True)
    assert (acme.count, acme.total) == (3, 1)
    page = http.get(f"{reverse('metrics_owner')}?{QUERY}&client={resolved.client.id}")
    figure = next(f for f in page.context["tiles"] if f.metric.key == "deflection_rate")
    assert figure.baseline_value == pytest.approx(100 / 3)
    assert figure.delta == pytest.approx(0)
    assert figure.change.significant is False


def test_a_baseline_needs_finished_days_with_tickets(resolved: World) -> None:
    http = resolved.login(resolved.manager)
    today = timezone.localdate().isoformat()
    response = http.post(
        reverse("metrics_baselines"), {"name": "x", "starts_on": today, "ends_on": today}
    )
    assert response.status_code == 400
    assert "A baseline covers finished days" in response.content.decode()
    response = http.post(
        reverse("metrics_baselines"),
        {"name": "x", "starts_on": "2025-01-01", "ends_on": "2025-01-31"},
    )
    assert "No ticket was resolved in this period" in response.content.decode()
    assert not Baseline.objects.exists()


def test_only_a_manager_freezes_a_baseline(resolved: World) -> None:
    response = resolved.login(resolved.owner).post(
        reverse("metrics_baselines"),
        {"name": "x", "starts_on": "2026-10-05", "ends_on": "2026-10-11"},
    )
    assert response.status_code == 403


def test_the_draw_keeps_about_the_chosen_share(world: World) -> None:
    holdout = holdout_start(share=Decimal("0.2"), staff=world.manager)
    control = sum(draw(holdout, n) == HoldoutTicket.Arm.CONTROL for n in range(10_000))
    assert 1_850 <= control <= 2_150  # 20% ± 1.5 points (over 4 standard errors)
    assert draw(holdout, 42) == draw(holdout, 42)


def _new_ticket(world: World, external_id: str) -> Ticket:
    """A ticket opened now, after the holdout started."""
    return make_ticket(
        world.client,
        summary=external_id,
        external_id=external_id,
        type=world.ticket_type,
        opened_at=timezone.now(),
    )


def test_a_control_ticket_is_kept_human_only_by_the_gate(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    holdout = holdout_start(share=Decimal("0.5"), staff=world.manager)
    for n in range(50):
        ticket = _new_ticket(world, f"H-{n}")
        if draw(holdout, ticket.id) == HoldoutTicket.Arm.CONTROL:
            break
    action = propose(ticket)
    assert action.status == Action.Status.REFUSED
    assert "control group" in action.status_reason
    assert HoldoutTicket.objects.get(ticket=ticket).arm == HoldoutTicket.Arm.CONTROL
    note = ticket.events.get(kind=TicketEvent.Kind.AGENT_HOLD)
    assert "Kept human-only" in note.body
    facts_refresh_all()
    assert TicketFact.objects.get(ticket=ticket).holdout_arm == "control"


def test_a_batch_keeps_each_ticket_in_the_arm_it_was_drawn_into(world: World) -> None:
    from governance.services import Proposal, actions_propose

    policy_with(world, set_priority="autonomous")
    holdout = holdout_start(share=Decimal("0.5"), staff=world.manager)
    tickets: list[Ticket] = []
    while len({draw(holdout, t.id) for t in tickets}) < 2 or len(tickets) < 6:
        tickets.append(_new_ticket(world, f"B-{len(tickets)}"))
    control = {t.id for t in tickets if draw(holdout, t.id) == HoldoutTicket.Arm.CONTROL}

    def batch(priority: int) -> list[Any]:
        proposal = Proposal(
            kind="set_priority",
            params={"priority": priority},
            proposer_kind=Action.Proposer.MODEL,
            proposer_name="triage",
            confidence=0.99,
        )
        return actions_propose(items=[(t, proposal) for t in tickets])

    first, second = batch(1), batch(2)  # the first draws each ticket, the second reads it

    for outcomes in (first, second):
        refused = {a.ticket_id for a in outcomes if a.status == Action.Status.REFUSED}
        assert refused == control
    assert HoldoutTicket.objects.filter(ticket__in=tickets).count() == len(tickets)
    held = TicketEvent.objects.filter(ticket__in=tickets, kind=TicketEvent.Kind.AGENT_HOLD)
    assert sorted(held.values_list("ticket_id", flat=True)) == sorted(control)


def test_a_treated_ticket_is_left_to_the_policy(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    holdout = holdout_start(share=Decimal("0.01"), staff=world.manager)
    ticket = _new_ticket(world, "H-1")
    if draw(holdout, ticket.id) == HoldoutTicket.Arm.CONTROL:  # 1% chance: pick another
        ticket = _new_ticket(world, "H-2")
    action = propose(ticket)
    assert action.status != Action.Status.REFUSED
    assert HoldoutTicket.objects.get(ticket=ticket).arm == HoldoutTicket.Arm.TREATED


def test_tickets_opened_before_the_holdout_are_not_drawn(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    holdout_start(share=Decimal("0.5"), staff=world.manager)
    propose(world.ticket)  # opened two hours before the holdout started
    assert not HoldoutTicket.objects.exists()


def test_a_manager_starts_and_ends_a_holdout_from_the_page(world: World) -> None:
    http = world.login(world.manager)
    response = http.post(reverse("metrics_holdout"), {"share": "10", "note": "Q4 trial"})
    assert response.status_code == 302
    page = http.get(reverse("metrics_baselines")).content.decode()
    assert "Running" in page and "10% of all ticket types kept human-only" in page
    http.post(reverse("metrics_holdout"), {"end": "1"})
    page = http.get(reverse("metrics_baselines")).content.decode()
    assert "Start a holdout" in page


def test_a_bad_holdout_share_is_refused_with_the_reason(world: World) -> None:
    http = world.login(world.manager)
    response = http.post(reverse("metrics_holdout"), {"share": "80"}, follow=True)
    assert "Ensure this value is less than or equal to 50" in response.content.decode()


def test_the_weekly_report_is_archived_and_mailed_once(resolved: World, smtp_server: Any) -> None:
    resolved.owner.user.email = "owner@msp.test"
    resolved.owner.user.save()
    now = timezone.make_aware(dt.datetime(2026, 10, 13, 7, 0))  # the Tuesday after WEEK
    report = weekly_report_due(now=now)
    assert report.week_starts_on == WEEK
    assert report.sent_at is not None and report.recipients == ["owner@msp.test"]
    assert len(smtp_server.messages) == 1
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "L1 deflection: 60.0 % (n=5)" in text
    weekly_report_due(now=now)  # the next hourly run: nothing new
    assert WeeklyReport.objects.count() == 1 and len(smtp_server.messages) == 1


def test_a_failed_report_mail_is_kept_and_retried(resolved: World, settings: Any) -> None:
    resolved.owner.user.email = "owner@msp.test"
    resolved.owner.user.save()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    now = timezone.make_aware(dt.datetime(2026, 10, 13, 7, 0))
    report = weekly_report_due(now=now)
    assert report.sent_at is None and report.send_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert weekly_report_due(now=now).sent_at is not None


def test_the_report_page_shows_the_archived_figures(resolved: World) -> None:
    report = weekly_report_generate(week_starts_on=WEEK)
    http = resolved.login(resolved.owner)
    assert str(WEEK.day) in http.get(reverse("metrics_reports")).content.decode()
    page = http.get(reverse("metrics_report", args=[report.id])).content.decode()
    assert "L1 deflection" in page and "60.0" in page


def test_reports_are_closed_to_managers_of_some_clients(resolved: World) -> None:
    report = weekly_report_generate(week_starts_on=WEEK)
    scoped = make_staff("scoped", StaffMember.Role.MANAGER, clients=[resolved.client])
    http = HttpClient()
    http.force_login(scoped.user)
    assert http.get(reverse("metrics_report", args=[report.id])).status_code == 403
    assert http.get(reverse("metrics_reports")).status_code == 403


def test_the_trend_is_weekly_and_scoped(resolved: World) -> None:
    url = f"{reverse('metrics_trend')}?{QUERY}&metric=deflection_rate"
    data = resolved.login(resolved.tech_out).get(url).json()
    assert data["weeks"][-1] == "2026-10-05" and len(data["weeks"]) == 12
    series = data["series"][0]
    assert series["counts"][-1] == 2 and series["values"][-1] == 100.0
