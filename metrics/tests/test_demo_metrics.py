"""The demo MSP tells the metrics pages' story: technicians only before the agent's rollout,
then quick wins resolved by the agent, compared with a frozen "Before automation" baseline."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Max
from django.test import Client as HttpClient
from django.urls import reverse

from metrics.models import Baseline, BaselineValue, Holiday, Path, TicketFact
from tickets.demo import catalogue as cat
from tickets.demo.generate import build_plan
from tickets.models import Ticket, TicketEvent, TimeEntry

NOW = dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC)
TICKETS = 500
ROLLOUT = build_plan(seed=7, now=NOW, months=6, tickets=TICKETS).rollout
AUTOMATED = (Path.AGENT, Path.AGENT_APPROVAL)


def seed_metrics() -> str:
    out = StringIO()
    call_command("seed_metrics_demo", "--no-progress", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db, settings) -> str:
    settings.DEBUG = True  # the demo add-on commands refuse to run with DEBUG off
    call_command(
        "seed_demo",
        "--tickets",
        str(TICKETS),
        "--now",
        NOW.isoformat(),
        "--force",
        "--no-progress",
        stdout=StringIO(),
    )
    return seed_metrics()


def test_the_rollout_is_a_monday_morning_six_weeks_back() -> None:
    assert dt.datetime(2025, 5, 19, 8, 0, tzinfo=dt.UTC) == ROLLOUT  # 09:00 in London
    short = build_plan(seed=7, now=NOW, months=2, tickets=0)
    assert short.rollout is None, "no rollout without as many weeks of history before it"


def test_the_agent_resolves_quick_wins_only_after_the_rollout(seeded: str) -> None:
    assert ROLLOUT is not None
    facts = TicketFact.objects.filter(resolved_at__isnull=False)
    quick = facts.filter(ticket_type__is_quick_win=True)
    before = quick.filter(opened_at__lt=ROLLOUT)
    after = quick.filter(opened_at__gte=ROLLOUT)
    assert before.count() > 50
    assert not facts.filter(path__in=AUTOMATED, resolved_at__lt=ROLLOUT).exists()
    assert not before.filter(path__in=AUTOMATED).exists()
    alone = after.filter(path=Path.AGENT).count()
    approved = after.filter(path=Path.AGENT_APPROVAL).count()
    assert alone / after.count() > 0.15  # the L1 deflection of quick wins
    assert 0.3 <= (alone + approved) / after.count() <= 0.8
    assert 0 < approved < alone
    assert not facts.filter(path__in=AUTOMATED, ticket_type__is_quick_win=False).exists()


def test_what_the_agent_resolves_no_technician_worked(seeded: str) -> None:
    # Ids first: joins of a freshly loaded, not yet analysed timeline can plan very badly.
    automated = list(Ticket.objects.filter(fact__path__in=AUTOMATED).values_list("id", flat=True))
    alone_ids = set(TicketFact.objects.filter(path=Path.AGENT).values_list("ticket_id", flat=True))
    assert not TimeEntry.objects.filter(ticket__in=automated).exists()
    assert not Ticket.objects.filter(id__in=automated, assignee__isnull=False).exists()
    human = list(
        TicketEvent.objects.filter(ticket__in=automated, actor_kind="human").values_list(
            "ticket_id", "kind", "new_value"
        )
    )
    assert {(kind, value) for _t, kind, value in human} == {("action", "approved")}
    assert not {ticket for ticket, _k, _v in human} & alone_ids
    resolutions = TicketEvent.objects.filter(
        ticket__in=automated, kind=TicketEvent.Kind.STATUS_CHANGED, new_value="resolved"
    )
    assert set(resolutions.values_list("actor_kind", flat=True)) == {"agent"}
    alone = TicketFact.objects.filter(path=Path.AGENT)
    slowest = alone.aggregate(seconds=Max("resolution_seconds"))["seconds"]
    assert slowest is not None and slowest < 15 * 60, "the agent alone resolves in minutes"
    assert not alone.filter(first_response_seconds__isnull=True).exists()
    assert TicketFact.objects.filter(path__in=AUTOMATED, csat_score__isnull=False).exists()


def test_the_baseline_is_the_eight_weeks_before_the_rollout(seeded: str) -> None:
    baseline = Baseline.objects.get()
    assert baseline.name == "Before automation"
    assert baseline.is_active
    assert (baseline.starts_on, baseline.ends_on) == (dt.date(2025, 3, 24), dt.date(2025, 5, 18))
    assert baseline.frozen_by is not None
    assert baseline.frozen_by.user.username == cat.MANAGER.username
    overall = BaselineValue.objects.get(
        baseline=baseline, metric="deflection_rate", client=None, ticket_type=None
    )
    assert overall.count > 100
    assert overall.value == 0.0
    assert "Baseline “Before automation”: 2025-03-24 to 2025-05-18" in seeded


def test_the_holidays_are_there(seeded: str) -> None:
    shared = Holiday.objects.filter(client__isnull=True)
    in_history = shared.filter(date__gte=dt.date(2024, 12, 29), date__lte=NOW.date())
    assert {holiday.name for holiday in in_history} == {
        "New Year's Day",
        "Good Friday",
        "Easter Monday",
        "Early May bank holiday",
        "Spring bank holiday",
    }
    own = Holiday.objects.get(client__isnull=False)
    assert own.client is not None and own.client.timezone == "Europe/Dublin"
    assert own.date <= NOW.date()
    assert "Ticket facts: 500 tickets computed" in seeded


def test_a_second_run_changes_nothing(seeded: str) -> None:
    def state() -> tuple[object, ...]:
        return (
            list(Holiday.objects.values_list("date", "client_id", "name")),
            list(Baseline.objects.values_list("id", "is_active", "frozen_at")),
            BaselineValue.objects.count(),
            TicketFact.objects.count(),
            TicketFact.objects.aggregate(at=Max("computed_at"))["at"],
        )

    before = state()
    output = seed_metrics()
    assert state() == before
    assert output.splitlines() == [
        "Skipped holidays: already present.",
        "Skipped ticket facts: every ticket has them.",
        "Skipped baseline: “Before automation” is already frozen.",
    ]


def test_the_owner_page_shows_the_hours_the_agent_reclaimed(seeded: str) -> None:
    assert ROLLOUT is not None
    browser = HttpClient()
    browser.force_login(User.objects.get(username=cat.OWNER.username))
    last_day = NOW.date() - dt.timedelta(days=1)
    query = {"period": "custom", "start": f"{ROLLOUT:%Y-%m-%d}", "end": f"{last_day:%Y-%m-%d}"}
    page = browser.get(reverse("metrics_owner"), query)
    assert page.status_code == 200
    assert page.context["baseline"] == Baseline.objects.get()
    assert page.context["reclaimed"]["hours"] > 0
    assert page.context["reclaimed"]["tickets"] > 0
    deflection = next(t for t in page.context["tiles"] if t.metric.key == "deflection_rate")
    assert deflection.value is not None and deflection.value > 0
    assert deflection.baseline_value == 0.0
