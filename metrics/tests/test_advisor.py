"""The rollout advisor, the payback projection and the data hygiene checks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import AgentPolicy
from metrics.advisor import advisor_report_generate, opportunities
from metrics.facts import facts_refresh_all
from metrics.hygiene import CHECKS_BY_KEY, hygiene_counts, hygiene_report_generate
from metrics.payback import PaybackInputs, payback_project
from tests.fixtures import World, make_staff, make_ticket
from tickets.intake.inbox import inbox_process, inbox_store
from tickets.models import (
    Asset,
    ClientEmailDomain,
    Contact,
    InboxEvent,
    KnowledgeArticle,
    Skill,
    Ticket,
    TicketEvent,
    TicketType,
    TimeEntry,
)

TODAY = dt.date(2026, 11, 25)  # a Wednesday; the window is the 12 weeks before Mon 23 Nov


def test_the_projection_matches_the_hand_computed_figures() -> None:
    payback = payback_project(
        PaybackInputs(
            hourly_cost=Decimal("50"),
            product_monthly=Decimal("300"),
            llm_monthly=Decimal("50"),
            setup_hours=Decimal("40"),
            hours_per_week=Decimal("4.5"),
        )
    )
    # 4.5 h × 52 / 12 = 19.5 h a month; × 50 = 975.00; − 350 = 625.00; 40 × 50 = 2,000
    # setup ÷ 625 = 3.2 months.
    assert payback.hours_per_month == Decimal("19.5")
    assert payback.gross_monthly == Decimal("975.00")
    assert payback.costs_monthly == Decimal("350.00")
    assert payback.net_monthly == Decimal("625.00")
    assert payback.setup_cost == Decimal("2000.00")
    assert payback.payback_months == Decimal("3.2")


def test_a_rollout_that_costs_more_than_it_saves_never_pays_back() -> None:
    payback = payback_project(
        PaybackInputs(
            hourly_cost=Decimal("40"),
            product_monthly=Decimal("500"),
            llm_monthly=Decimal("100"),
            setup_hours=Decimal("10"),
            hours_per_week=Decimal("2"),
        )
    )
    # 2 × 52 / 12 = 8.67 h → 346.67 saved, 600 spent
    assert payback.net_monthly == Decimal("-253.33")
    assert payback.payback_months is None and not payback.pays


def _history(world: World, ticket_type: TicketType, n: int, *, minutes: int, steps: int) -> None:
    """`n` tickets of the type resolved by a technician in the window, each with `minutes`
    logged; `steps` notes before the reply (so the way of working differs with it)."""
    opened = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))
    for i in range(n):
        ticket = make_ticket(
            world.client,
            summary=f"{ticket_type.slug} {i}",
            external_id=f"{ticket_type.slug}-{i}",
            type=ticket_type,
            opened_at=opened + dt.timedelta(hours=i),
            contact=world.contact,
        )
        at = ticket.opened_at
        for step in range(steps + (i % 3 if steps else 0)):
            at += dt.timedelta(minutes=5)
            kind = TicketEvent.Kind.NOTE if step % 2 == 0 else TicketEvent.Kind.ASSIGNMENT_CHANGED
            TicketEvent.objects.create(
                ticket=ticket,
                kind=kind,
                actor_kind="human",
                actor_staff=world.tech_in,
                occurred_at=at,
                body="Checked the logs.",
            )
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.REPLY,
            actor_kind="human",
            actor_staff=world.tech_in,
            occurred_at=at + dt.timedelta(minutes=10),
            body="Reset your password; it must be changed at next sign-in.",
        )
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.STATUS_CHANGED,
            actor_kind="human",
            actor_staff=world.tech_in,
            old_value="new",
            new_value="resolved",
            occurred_at=at + dt.timedelta(minutes=11),
        )
        TimeEntry.objects.create(ticket=ticket, staff=world.tech_in, started_at=at, minutes=minutes)


@pytest.fixture
def history(world: World) -> World:
    """Password resets: 24 in 12 weeks, 15 min, all the same way (a playbook exists).
    Onboarding: 12 in 12 weeks, 120 min, worked three different ways (no playbook).
    Payroll: 12, 60 min, but every requester is VIP (high risk)."""
    resets = world.ticket_type  # "Password reset", which a playbook resolves
    onboarding = TicketType.objects.create(name="Onboarding", slug="onboarding")
    payroll = TicketType.objects.create(name="Payroll", slug="payroll")
    _history(world, resets, 24, minutes=15, steps=0)
    _history(world, onboarding, 12, minutes=120, steps=2)
    vip = Contact.objects.create(client=world.client, first_name="Boss", is_vip=True)
    _history(world, payroll, 12, minutes=60, steps=0)
    Ticket.objects.filter(type=payroll).update(contact=vip)
    KnowledgeArticle.objects.create(
        title="Reset a password", body="…", created_at=timezone.now(), updated_at=timezone.now()
    ).ticket_types.add(resets)
    facts_refresh_all()
    return world


def test_quick_wins_rank_above_the_long_tail_for_the_reasons_given(history: World) -> None:
    _start, _end, rows = opportunities(today=TODAY)
    overall = {row.type_name: row for row in rows if row.client_id is None}
    resets, onboarding, payroll = (
        overall["Password reset"],
        overall["Onboarding"],
        overall["Payroll"],
    )
    assert [r.rank for r in (resets, onboarding, payroll)] == [1, 2, 3]
    # 24 tickets / 12 weeks = 2 a week × 15 min = 0.5 h × all the same way × current KB × playbook
    assert resets.weekly_volume == 2.0 and resets.handling_minutes == 15.0
    assert resets.path_share == 1.0 and resets.kb_factor == 1.0
    assert resets.hours_per_week == pytest.approx(0.5)
    # 1 a week × at most 5 of its 120 min (no playbook) × a third worked the same way × no KB
    assert onboarding.path_share == pytest.approx(1 / 3, abs=0.01)
    assert onboarding.hours_per_week == pytest.approx(5 / 60 * (4 / 12) * 0.5, abs=0.01)
    assert payroll.risk == "high" and payroll.vip_share == 1.0
    assert "Password reset playbook resolves it end to end" in resets.sentence
    assert "no KB article" in onboarding.sentence and "no playbook yet" in onboarding.sentence
    assert "high risk — approval only" in payroll.sentence


def test_the_advisor_page_reads_the_stored_ranking_and_drafts_a_shadow_policy(
    history: World,
) -> None:
    advisor_report_generate(today=TODAY)
    http = history.login(history.manager)
    page = http.get(reverse("metrics_advisor"))
    assert page.status_code == 200
    assert "Password reset playbook resolves it end to end" in page.content.decode()
    resets = TicketType.objects.get(slug="password-reset")
    response = http.post(reverse("metrics_draft_policy", args=[resets.id]))
    policy = AgentPolicy.objects.get(ticket_type=resets, client__isnull=True)
    assert response["Location"] == reverse("policy_edit", args=[policy.id])
    assert policy.shadow_mode
    again = http.post(reverse("metrics_draft_policy", args=[resets.id]), follow=True)
    assert "already exists" in again.content.decode()


def test_only_managers_draft_policies_and_technicians_see_no_advisor(history: World) -> None:
    resets = TicketType.objects.get(slug="password-reset")
    owner = history.login(history.owner)
    assert owner.post(reverse("metrics_draft_policy", args=[resets.id])).status_code == 403
    tech = history.login(history.tech_in)
    assert tech.get(reverse("metrics_advisor")).status_code == 403
    assert tech.get(reverse("metrics_hygiene")).status_code == 403


def test_the_payback_form_projects_the_chosen_types(history: World) -> None:
    advisor_report_generate(today=TODAY)
    resets = TicketType.objects.get(slug="password-reset")
    response = history.login(history.manager).post(
        reverse("metrics_advisor"),
        {
            "hourly_cost": "60",
            "product_monthly": "10",
            "llm_monthly": "5",
            "setup_hours": "4",
            "ticket_types": [resets.id],
        },
    )
    projected = response.context["projection"].projected
    # 0.5 h/week × 52/12 = 2.17 h a month × 60 = 130.00 − 15 = 115.00; 240 / 115 = 2.1 months
    assert projected.gross_monthly == Decimal("130.00")
    assert projected.net_monthly == Decimal("115.00")
    assert projected.payback_months == Decimal("2.1")


def test_a_bad_payback_input_names_the_field(history: World) -> None:
    response = history.login(history.manager).post(
        reverse("metrics_advisor"), {"hourly_cost": "-3", "product_monthly": "x"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Technician cost per hour: Ensure this value is greater than or equal to 1" in body


def test_an_empty_advisor_says_what_it_needs(world: World) -> None:
    body = world.login(world.manager).get(reverse("metrics_advisor")).content.decode()
    assert "The advisor has not run yet" in body


def _counts() -> dict[str, int]:
    return hygiene_counts(now=timezone.now())


def test_each_hygiene_check_finds_its_planted_record(world: World, settings: Any) -> None:
    before = _counts()
    Contact.objects.create(client=world.client, first_name="No", last_name="Mail")
    Contact.objects.create(client=world.other_client, first_name="Dana", email="DANA@acme.test")
    Asset.objects.create(hostname="ORPHAN-01")
    ticket_type = TicketType.objects.create(name="Undocumented", slug="undocumented")
    KnowledgeArticle.objects.create(
        title="Old",
        body="…",
        created_at=timezone.now(),
        updated_at=timezone.now() - dt.timedelta(days=400),
    ).ticket_types.add(ticket_type)
    world.tech_in.skills.add(Skill.objects.create(name="Exchange"))
    after = _counts()
    changed = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    assert changed == {
        "contacts_without_email": 1,
        "contacts_duplicated": 2,  # Dana at Acme and the same address at Globex
        "assets_without_client": 1,
        "stale_articles": 1,
        "technicians_without_skills": -1,
    }


def test_intake_records_what_it_could_not_match_and_hygiene_lists_it(
    world: World, settings: Any
) -> None:
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    body = {
        "external_id": "h-1",
        "summary": "Laptop slow",
        "requester_email": "stranger@acme.test",
        "hostnames": ["ACME-LT-0001", "GHOST-PC"],
        "opened_at": timezone.now().isoformat(),
    }
    event = inbox_store(channel=InboxEvent.Channel.API, body=json.dumps(body))[0]
    inbox_process(event_id=event.id)
    ticket = Ticket.objects.get(external_id="h-1")
    intake = ticket.events.get(kind=TicketEvent.Kind.ENRICHED)
    assert intake.data["unmatched"] == {
        "requester": "stranger@acme.test",
        "hostnames": ["ghost-pc"],
    }
    now = timezone.now()
    assert list(CHECKS_BY_KEY["tickets_contact_unmatched"].records(now)) == [ticket]
    assert list(CHECKS_BY_KEY["tickets_asset_unmatched"].records(now)) == [ticket]


def test_contracts_missing_or_expired_are_told_apart(world: World) -> None:
    world.contract.ends_on = timezone.localdate() - dt.timedelta(days=1)
    world.contract.save()
    now = timezone.now()
    assert list(CHECKS_BY_KEY["clients_contract_expired"].records(now)) == [world.client]
    assert list(CHECKS_BY_KEY["clients_without_contract"].records(now)) == [world.other_client]


def test_the_hygiene_page_shows_the_trend_and_the_records_export(world: World) -> None:
    Contact.objects.create(client=world.client, first_name="No", last_name="Mail")
    hygiene_report_generate(now=timezone.now() - dt.timedelta(days=7))
    Contact.objects.create(client=world.client, first_name="Also", last_name="None")
    report = hygiene_report_generate()
    http = world.login(world.manager)
    page = http.get(reverse("metrics_hygiene"))
    finding = next(
        f for f in page.context["findings"] if f["check"].key == "contacts_without_email"
    )
    assert finding["count"] == report.counts["contacts_without_email"]
    assert finding["trend"][-1] - finding["trend"][-2] == 1
    url = reverse("metrics_hygiene_records", args=["contacts_without_email"])
    listing = http.get(url).content.decode()
    assert "No Mail (Acme Dental)" in listing and "Fix it" in listing
    exported = http.get(url + "?format=csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["record", "detail", "fix_at"]
    assert ["Also None (Acme Dental)", "no e-mail address"] in [r[:2] for r in rows]
    assert http.get(reverse("metrics_hygiene_records", args=["nope"])).status_code == 404


def test_a_manager_of_some_clients_sees_only_their_clients_rows(history: World) -> None:
    advisor_report_generate(today=TODAY)
    scoped = make_staff("scoped", "manager", clients=[history.other_client])
    http = history.login(scoped)
    page = http.get(reverse("metrics_advisor"), {"client": history.client.id})
    assert list(page.context["clients"]) == [history.other_client]
    assert all(row["client_id"] is None for row in page.context["rows"])  # not Acme's rows
