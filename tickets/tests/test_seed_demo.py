"""seed_demo builds the same demo MSP for the same seed, safely re-runs, and every ticket's
columns agree with its timeline."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Model, Q

from tickets.demo import DEMO_LOGINS
from tickets.demo.generate import build_plan, generate_tickets
from tickets.demo.seed import STEPS, seed_demo
from tickets.models import (
    Asset,
    Client,
    Contact,
    Contract,
    CsatResponse,
    KnowledgeArticle,
    Priority,
    SlaTarget,
    StaffMember,
    Ticket,
    TicketEvent,
    TimeEntry,
)

NOW = dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC)
TICKETS = 400
Event = TicketEvent.Kind
Status = Ticket.Status


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The real hasher costs half a second per login check; these tests check a few.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_command(*extra: str) -> str:
    out = StringIO()
    call_command(
        "seed_demo",
        "--tickets",
        str(TICKETS),
        "--now",
        NOW.isoformat(),
        "--force",
        *extra,
        stdout=out,
    )
    return out.getvalue()


@pytest.fixture
def seeded(db) -> str:
    return run_command("--no-progress")


def row_counts() -> dict[str, int]:
    models: tuple[type[Model], ...] = (
        *(Client, Contact, Asset, StaffMember, KnowledgeArticle, Contract, SlaTarget),
        *(Ticket, TicketEvent, TimeEntry, CsatResponse),
    )
    return {model.__name__: model._default_manager.count() for model in models}


def test_it_is_deterministic_for_a_seed():
    first = build_plan(seed=7, now=NOW, months=6, tickets=300)
    second = build_plan(seed=7, now=NOW, months=6, tickets=300)
    assert first == second
    assert list(generate_tickets(first)) == list(generate_tickets(second))


def test_another_seed_builds_another_msp():
    seven = build_plan(seed=7, now=NOW, months=6, tickets=300)
    eight = build_plan(seed=8, now=NOW, months=6, tickets=300)
    assert seven.clients != eight.clients
    assert seven.contacts != eight.contacts
    seven_opened = [row.opened_at for row in generate_tickets(seven)]
    assert seven_opened != [row.opened_at for row in generate_tickets(eight)]


def test_more_tickets_leave_the_reference_data_alone():
    small = build_plan(seed=7, now=NOW, months=6, tickets=10)
    large = build_plan(seed=7, now=NOW, months=6, tickets=10_000)
    assert (small.clients, small.contacts, small.assets) == (
        large.clients,
        large.contacts,
        large.assets,
    )


def test_the_plan_uses_only_the_models_choices():
    plan = build_plan(seed=7, now=NOW, months=6, tickets=300)
    tickets = list(generate_tickets(plan))
    events = [event for row in tickets for event in row.events]
    assert {row.status for row in tickets} <= set(Status.values)
    assert {event.kind for event in events} <= set(Event.values)
    assert {event.actor_kind for event in events} <= set(TicketEvent.ActorKind.values)
    changes = [event for event in events if event.kind == Event.STATUS_CHANGED]
    assert {event.new_value for event in changes} <= set(Status.values)
    assert {asset.kind for asset in plan.assets} <= set(Asset.Kind.values)
    assert {contract.kind for contract in plan.contracts} <= set(Contract.Kind.values)
    assert {person.role for person in plan.staff} == set(StaffMember.Role.values)


@pytest.mark.smoke
def test_the_command_builds_the_demo_msp(seeded):
    counts = row_counts()
    assert counts["Client"] == 25
    assert 500 <= counts["Contact"] <= 700
    assert 1300 <= counts["Asset"] <= 1800
    assert counts["KnowledgeArticle"] == 40
    assert counts["Contract"] == 25
    assert counts["SlaTarget"] == 25 * len(Priority)
    assert Ticket.objects.filter(source=Ticket.Source.DEMO).count() == TICKETS
    assert counts["TicketEvent"] > TICKETS * 5
    assert counts["TimeEntry"] > TICKETS
    roles = dict(StaffMember.objects.values_list("role").annotate(n=Count("id")))
    assert roles == {"technician": 12, "manager": 1, "owner": 1}
    assert f"{TICKETS:,} tickets," in seeded
    assert "tickets/s" in seeded


def test_every_demo_login_signs_in(seeded):
    usernames = {username for username, _password, _role in DEMO_LOGINS}
    staff = StaffMember.objects.filter(user__username__in=usernames)
    assert dict(staff.values_list("user__username", "role")) == {
        username: role for username, _password, role in DEMO_LOGINS
    }
    for username, password, _role in DEMO_LOGINS:
        assert authenticate(username=username, password=password) is not None, username


def test_a_second_run_writes_nothing(seeded):
    before = row_counts()
    output = run_command("--no-progress")
    assert row_counts() == before
    for step in STEPS:
        assert f"Skipped {step.name}: already present." in output


def test_an_interrupted_run_completes_the_missing_steps(db):
    first = seed_demo(seed=7, tickets=0, months=6, now=NOW, progress=False)
    assert first.skipped == []
    assert Ticket.objects.count() == 0

    second = seed_demo(seed=7, tickets=TICKETS, months=6, now=NOW, progress=False)

    assert second.skipped == [step.name for step in STEPS[:-1]]
    assert second.counts["Ticket"] == Ticket.objects.count() == TICKETS
    assert second.tickets_seconds > 0
    assert Client.objects.count() == 25
    tickets = Ticket.objects.filter(contact__isnull=False)
    assert not tickets.exclude(contact__client=F("client")).exists()


def test_another_seed_on_top_is_refused_with_a_reason(db):
    seed_demo(seed=7, tickets=0, months=6, now=NOW, progress=False)
    before = row_counts()
    with pytest.raises(CommandError, match="another seed"):
        call_command(
            "seed_demo", "--seed", "8", "--tickets", "0", "--now", NOW.isoformat(), "--force"
        )
    assert row_counts() == before


def timelines() -> dict[int, list[TicketEvent]]:
    by_ticket: dict[int, list[TicketEvent]] = defaultdict(list)
    for event in TicketEvent.objects.order_by("ticket_id", "occurred_at", "id"):
        by_ticket[event.ticket_id].append(event)
    return by_ticket


def last_value(events: list[TicketEvent], kind: str, initial: str) -> str:
    """Follows a chain of changes, checking each starts where the previous one ended."""
    value = initial
    for event in events:
        if event.kind == kind:
            assert event.old_value == value, (event.ticket_id, kind, event.old_value, value)
            value = event.new_value
    return value


def last_change(events: list[TicketEvent], kind: str) -> str | None:
    changes = [event.new_value for event in events if event.kind == kind]
    return changes[-1] if changes else None


def test_every_ticket_ends_where_its_timeline_ends(seeded):
    by_ticket = timelines()
    tickets = Ticket.objects.filter(source=Ticket.Source.DEMO)
    assert len(by_ticket) == tickets.count()
    for ticket in tickets:
        events = by_ticket[ticket.pk]
        assert events[0].kind == Event.CREATED
        assert [e.kind for e in events].count(Event.CREATED) == 1
        assert all(ticket.opened_at <= e.occurred_at <= NOW for e in events)
        assert ticket.status == last_value(events, Event.STATUS_CHANGED, Status.NEW)
        assignee = last_value(events, Event.ASSIGNMENT_CHANGED, "")
        assert assignee == ("" if ticket.assignee_id is None else str(ticket.assignee_id))
        assert last_change(events, Event.QUEUE_CHANGED) in (None, str(ticket.queue_id))
        assert last_change(events, Event.TYPE_CHANGED) in (None, str(ticket.type_id))
        assert last_change(events, Event.PRIORITY_CHANGED) in (None, str(ticket.priority))
        assert_moments_match(ticket, events)


def assert_moments_match(ticket: Ticket, events: list[TicketEvent]) -> None:
    replies = [
        e.occurred_at
        for e in events
        if e.kind == Event.REPLY and e.actor_kind in ("human", "agent")
    ]
    assert ticket.first_response_at == (replies[0] if replies else None)
    into = defaultdict(list)
    for event in events:
        if event.kind == Event.STATUS_CHANGED:
            into[event.new_value].append(event.occurred_at)
    done = ticket.status in Ticket.DONE_STATUSES
    assert ticket.resolved_at == (into[Status.RESOLVED][-1] if done else None)
    closed = ticket.status == Status.CLOSED
    assert ticket.closed_at == (into[Status.CLOSED][-1] if closed else None)
    if ticket.resolved_at is not None:
        assert ticket.resolved_at >= ticket.opened_at


def test_sla_due_times_follow_the_contract_in_force(seeded):
    targets = {(target.contract_id, target.priority): target for target in SlaTarget.objects.all()}
    tickets = Ticket.objects.select_related("contract")
    assert tickets.filter(contract__isnull=False).exists()
    for ticket in tickets:
        if ticket.contract is None:
            assert ticket.sla_response_due_at is ticket.sla_resolution_due_at is None
            continue
        assert ticket.contract.is_in_force(ticket.opened_at.date())
        target = targets[ticket.contract.pk, ticket.priority]
        response = dt.timedelta(minutes=target.response_minutes)
        resolution = dt.timedelta(minutes=target.resolution_minutes)
        assert ticket.sla_response_due_at == ticket.opened_at + response
        assert ticket.sla_resolution_due_at == ticket.opened_at + resolution


def test_people_in_the_timeline_are_the_right_people(seeded):
    humans = TicketEvent.objects.filter(actor_kind="human")
    assert humans.exists()
    assert not humans.exclude(actor_staff__role__in=["technician", "manager"]).exists()
    requesters = TicketEvent.objects.filter(actor_kind="requester")
    assert requesters.exists()
    assert not requesters.exclude(actor_contact=F("ticket__contact")).exists()
    created = TicketEvent.objects.filter(kind=Event.CREATED)
    assert set(created.values_list("actor_kind", flat=True)) == {"requester", "system"}
    assert not created.filter(actor_kind="system", ticket__contact__isnull=False).exists()
    rules = TicketEvent.objects.filter(actor_kind="rule")
    assert rules.filter(kind=Event.QUEUE_CHANGED).exists()
    assert not rules.exclude(actor_name__startswith="Rule: ").exists()
    assert not TicketEvent.objects.filter(dedupe_key__isnull=False).exists()
    assert not TimeEntry.objects.exclude(staff__role="technician").exists()


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def after_hours(ticket: Ticket) -> bool:
    # The demo plants a few tickets whose client intake could not match (data hygiene).
    return ticket.client is not None and not ticket.client.is_business_time(ticket.opened_at)


def type_slug(ticket: Ticket) -> str:
    assert ticket.type is not None
    return ticket.type.slug


def test_the_history_has_a_believable_shape(seeded):
    tickets = list(Ticket.objects.select_related("client", "type"))
    reassigned = Ticket.objects.filter(
        events__kind=Event.ASSIGNMENT_CHANGED, events__old_value__gt=""
    ).distinct()
    assert 0.07 <= share(reassigned.count(), len(tickets)) <= 0.22
    reopened = Ticket.objects.filter(
        events__kind=Event.STATUS_CHANGED,
        events__old_value=Status.RESOLVED,
        events__new_value=Status.IN_PROGRESS,
    ).distinct()
    assert 0.01 <= share(reopened.count(), len(tickets)) <= 0.1
    assert 0.07 <= share(sum(map(after_hours, tickets)), len(tickets)) <= 0.2
    quick_wins = ("password-reset", "account-unlock", "mfa-reenrolment")
    quick = [t for t in tickets if type_slug(t) in quick_wins]
    assert 0.15 <= share(len(quick), len(tickets)) <= 0.35
    critical = {type_slug(t) for t in tickets if t.priority == Priority.CRITICAL}
    assert critical <= {"network-outage", "security-incident"}
    still_open = [t for t in tickets if t.is_open]
    assert 0 < share(len(still_open), len(tickets)) <= 0.1
    ages = [(NOW - t.opened_at).days for t in still_open]
    assert statistics.median(ages) < 30


def test_quick_wins_are_quick_and_hardware_is_slow(seeded):
    def median_hours(slug: str) -> float:
        done = Ticket.objects.filter(type__slug=slug, resolved_at__isnull=False)
        return statistics.median(
            (t.resolved_at - t.opened_at).total_seconds() / 3600 for t in done if t.resolved_at
        )

    assert median_hours("password-reset") < 8
    assert median_hours("hardware-fault") > 24


def test_surveys_come_from_resolved_tickets_and_mostly_please(seeded):
    surveys = CsatResponse.objects.select_related("ticket")
    assert surveys.count() == TicketEvent.objects.filter(kind=Event.CSAT_RECEIVED).count()
    resolved = Ticket.objects.filter(resolved_at__isnull=False).count()
    assert 0.1 <= share(surveys.count(), resolved) <= 0.4
    assert all(s.ticket.resolved_at and s.responded_at >= s.ticket.resolved_at for s in surveys)
    happy = surveys.filter(score__gte=4).count()
    assert share(happy, surveys.count()) >= 0.55


def test_the_data_hygiene_gaps_are_there_to_find(seeded):
    technicians = StaffMember.objects.filter(role="technician")
    assert technicians.filter(all_clients=True).count() == 2
    assert technicians.annotate(n=Count("skills")).filter(n=0).count() == 1
    assert Contact.objects.filter(email="").exists()
    assert Asset.objects.filter(client__isnull=True).exists()
    vip = share(Contact.objects.filter(is_vip=True).count(), Contact.objects.count())
    assert 0.01 <= vip <= 0.06
    in_force = Q(ends_on__isnull=True) | Q(ends_on__gte=NOW.date())
    uncovered = Client.objects.exclude(contracts__in=Contract.objects.filter(in_force))
    assert 1 <= uncovered.count() <= 3
    stale = KnowledgeArticle.objects.filter(updated_at__lt=NOW - dt.timedelta(days=365))
    assert stale.exists()


def test_it_refuses_to_seed_with_debug_off_unless_forced(db):
    # pytest-django runs with DEBUG off, as production does.
    with pytest.raises(CommandError, match="Refusing to seed with DEBUG off"):
        call_command("seed_demo", "--tickets", "0", "--now", NOW.isoformat())
    assert not Client.objects.exists()


def test_it_leaves_a_database_with_real_data_alone_when_asked(db):
    real = Client.objects.create(name="Real Co", identifier="real-co")
    real.email_domains.create(domain="realco.com")
    out = StringIO()
    call_command("seed_demo", "--unless-real-data", "--tickets", "0", "--force", stdout=out)
    assert "demo not seeded" in out.getvalue()
    assert list(Client.objects.all()) == [real]


def test_a_demo_database_is_not_mistaken_for_real_data(seeded):
    from tickets.demo.seed import real_data_present

    assert not real_data_present()
    out = run_command("--no-progress", "--unless-real-data")
    assert "Skipped tickets: already present." in out
