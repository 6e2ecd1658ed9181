"""Each ticket fact read from a hand-built timeline whose right answer is known (real PostgreSQL).

Every test writes `Ticket` and `TicketEvent` rows (and time entries, CSAT answers, LLM calls)
with explicit instants, lets the database triggers mark the tickets stale, refreshes the facts
the way the scheduled task does (`facts_refresh_all`) and checks the stored `TicketFact`
exactly. Expected values are worked out by hand in each test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from automation.models import LlmCall
from metrics.facts import facts_compute, facts_refresh_all
from metrics.models import FactDirty, Holiday, Path, TicketFact
from metrics.tests.timeline import event
from tests.fixtures import make_staff
from tickets.models import (
    Client,
    CsatResponse,
    StaffMember,
    Ticket,
    TicketEvent,
    TimeEntry,
)

pytestmark = pytest.mark.django_db

HOUR = 3600
UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

Kind = TicketEvent.Kind
Actor = TicketEvent.ActorKind

# 2026-10-16 is a Friday, 2026-10-19 the Monday after; both well before "now" (late 2026).
FRIDAY = dt.date(2026, 10, 16)
MONDAY = dt.date(2026, 10, 19)

_numbers = itertools.count(1)


def at(
    day: dt.date, hour: int = 0, minute: int = 0, second: int = 0, tz: dt.tzinfo = UTC
) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)


def client_make(name: str, *, tz: str = "UTC", days: str = "12345") -> Client:
    """A client open 08:00–18:00 on `days` in `tz` (the model's default hours)."""
    slug = f"{name.lower().replace(' ', '-')}-{next(_numbers)}"
    return Client.objects.create(name=name, identifier=slug, timezone=tz, business_days=days)


def staff_make(name: str, *, hourly_cost: str = "0") -> StaffMember:
    staff = make_staff(f"{name}{next(_numbers)}", StaffMember.Role.TECHNICIAN, all_clients=True)
    staff.hourly_cost = Decimal(hourly_cost)
    staff.save(update_fields=["hourly_cost"])
    return staff


def ticket_make(client: Client | None, opened_at: dt.datetime, **fields: Any) -> Ticket:
    """A ticket row with its `created` event (by the system), as intake writes them."""
    ticket = Ticket.objects.create(
        source=Ticket.Source.API,
        external_id=f"F-{next(_numbers)}",
        summary="Hand-built timeline",
        client=client,
        opened_at=opened_at,
        **fields,
    )
    event(ticket, Kind.CREATED, opened_at)
    return ticket


def resolve(
    ticket: Ticket,
    occurred_at: dt.datetime,
    *,
    actor: str = Actor.AGENT,
    staff: StaffMember | None = None,
    data: dict[str, Any] | None = None,
    old: str = Ticket.Status.IN_PROGRESS,
    new: str = Ticket.Status.RESOLVED,
) -> None:
    """A status change into a done status, and the ticket row's mirror of it."""
    event(
        ticket,
        Kind.STATUS_CHANGED,
        occurred_at,
        actor=actor,
        staff=staff,
        old=old,
        new=new,
        data=data,
    )
    Ticket.objects.filter(pk=ticket.pk).update(status=new, resolved_at=occurred_at)


def reopen(ticket: Ticket, occurred_at: dt.datetime) -> None:
    """The requester writes back: the ticket goes from resolved to in progress."""
    event(ticket, Kind.REQUESTER_REPLY, occurred_at, actor=Actor.REQUESTER)
    event(
        ticket,
        Kind.STATUS_CHANGED,
        occurred_at,
        actor=Actor.REQUESTER,
        old=Ticket.Status.RESOLVED,
        new=Ticket.Status.IN_PROGRESS,
    )
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.IN_PROGRESS, resolved_at=None)


def fact_of(ticket: Ticket) -> TicketFact:
    facts_refresh_all()
    return TicketFact.objects.get(ticket_id=ticket.pk)


@pytest.fixture
def acme() -> Client:
    return client_make("Acme")


@pytest.fixture
def tech() -> StaffMember:
    return staff_make("tech", hourly_cost="60.00")


# --- Resolution time: wall clock and business hours -------------------------------------------


def test_it_counts_business_hours_across_a_weekend(acme: Client) -> None:
    ticket = ticket_make(acme, at(FRIDAY, 16))
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    # Wall clock: Friday 16:00 → Monday 10:00 is 2 days and 18 hours = 66 h.
    assert fact.resolved_at == at(MONDAY, 10)
    assert fact.resolution_seconds == 66 * HOUR
    # Business: Friday 16:00–18:00 (2 h) + Monday 08:00–10:00 (2 h) = 4 h exactly.
    assert fact.resolution_business_seconds == 4 * HOUR


def test_a_global_holiday_on_the_monday_removes_its_hours(acme: Client) -> None:
    Holiday.objects.create(date=MONDAY, name="Bank holiday")
    ticket = ticket_make(acme, at(FRIDAY, 16))
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    assert fact.resolution_seconds == 66 * HOUR
    # Only Friday 16:00–18:00 is business time; Monday is closed.
    assert fact.resolution_business_seconds == 2 * HOUR
    # Resolved on a closed day: after hours.
    assert fact.after_hours is True


def test_a_client_holiday_applies_to_that_client_only(acme: Client) -> None:
    globex = client_make("Globex")
    Holiday.objects.create(date=MONDAY, name="Acme founders' day", client=acme)
    closed = ticket_make(acme, at(FRIDAY, 16))
    resolve(closed, at(MONDAY, 10))
    open_as_usual = ticket_make(globex, at(FRIDAY, 16))
    resolve(open_as_usual, at(MONDAY, 10))

    facts_refresh_all()

    closed_fact = TicketFact.objects.get(ticket=closed)
    usual_fact = TicketFact.objects.get(ticket=open_as_usual)
    assert closed_fact.resolution_business_seconds == 2 * HOUR  # Friday only
    assert closed_fact.after_hours is True
    assert usual_fact.resolution_business_seconds == 4 * HOUR  # Friday 2 h + Monday 2 h
    assert usual_fact.after_hours is False


def test_business_hours_follow_the_client_time_zone_for_the_same_instants() -> None:
    new_york = client_make("Gotham Dental", tz="America/New_York")
    tokyo = client_make("Edo Legal", tz="Asia/Tokyo")
    opened, resolved = at(FRIDAY, 20), at(MONDAY, 14)  # both UTC
    east = ticket_make(new_york, opened)
    resolve(east, resolved)
    far_east = ticket_make(tokyo, opened)
    resolve(far_east, resolved)

    facts_refresh_all()

    ny = TicketFact.objects.get(ticket=east)
    jp = TicketFact.objects.get(ticket=far_east)
    # Same instants, same wall clock: 66 h.
    assert ny.resolution_seconds == jp.resolution_seconds == 66 * HOUR
    # New York (EDT, UTC−4): Friday 16:00 → Monday 10:00 local = 2 h + 2 h.
    assert ny.resolution_business_seconds == 4 * HOUR
    assert ny.after_hours is False  # Monday 10:00 local
    # Tokyo (UTC+9): Saturday 05:00 → Monday 23:00 local = all of Monday 08:00–18:00.
    assert jp.resolution_business_seconds == 10 * HOUR
    assert jp.after_hours is True  # Monday 23:00 local


def test_wall_clock_counts_the_extra_hour_when_daylight_saving_ends() -> None:
    new_york = client_make("Gotham Dental", tz="America/New_York")
    # Friday 2026-10-30 16:00 EDT (20:00 UTC) → Monday 2026-11-02 10:00 EST (15:00 UTC);
    # the clocks went back on Sunday 1 November, so the weekend had 49 hours.
    ticket = ticket_make(new_york, at(dt.date(2026, 10, 30), 16, tz=NEW_YORK))
    resolve(ticket, at(dt.date(2026, 11, 2), 10, tz=NEW_YORK))

    fact = fact_of(ticket)

    assert fact.resolution_seconds == 67 * HOUR
    assert fact.resolution_business_seconds == 4 * HOUR


def test_a_ticket_without_a_client_uses_utc_weekdays_eight_to_six() -> None:
    ticket = ticket_make(None, at(FRIDAY, 16))
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    assert fact.client_id is None
    assert fact.resolution_business_seconds == 4 * HOUR


def test_resolution_is_the_first_move_into_a_done_status(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    # Resolved → closed is neither a new resolution nor a reopen.
    resolve(ticket, at(MONDAY, 15), old=Ticket.Status.RESOLVED, new=Ticket.Status.CLOSED)

    fact = fact_of(ticket)

    assert fact.resolved_at == at(MONDAY, 11)
    assert fact.resolution_seconds == 2 * HOUR
    assert fact.reopens == 0
    assert fact.reopened_7d is False


def test_a_ticket_mirrored_already_done_without_the_event_uses_its_own_times(
    acme: Client,
) -> None:
    # No event at all: the PSA sent it already resolved.
    resolved = Ticket.objects.create(
        source=Ticket.Source.CONNECTWISE,
        external_id="CW-1",
        summary="Closed before we saw it",
        client=acme,
        opened_at=at(MONDAY, 9),
        status=Ticket.Status.RESOLVED,
        resolved_at=at(MONDAY, 12),
        first_response_at=at(MONDAY, 9, 45),
    )
    closed = Ticket.objects.create(
        source=Ticket.Source.CONNECTWISE,
        external_id="CW-2",
        summary="Closed before we saw it",
        client=acme,
        opened_at=at(MONDAY, 9),
        status=Ticket.Status.CLOSED,
        closed_at=at(MONDAY, 13),
    )

    facts_refresh_all()

    resolved_fact = TicketFact.objects.get(ticket=resolved)
    assert resolved_fact.resolved_at == at(MONDAY, 12)
    assert resolved_fact.resolution_seconds == 3 * HOUR
    assert resolved_fact.first_response_seconds == 45 * 60
    closed_fact = TicketFact.objects.get(ticket=closed)
    assert closed_fact.resolved_at == at(MONDAY, 13)
    assert closed_fact.resolution_seconds == 4 * HOUR


def test_an_open_ticket_has_no_resolution_facts(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))

    fact = fact_of(ticket)

    assert fact.resolved_at is None
    assert fact.resolution_seconds is None
    assert fact.resolution_business_seconds is None
    assert fact.path == ""
    assert fact.first_touch is None
    assert fact.reopened_7d is None
    assert fact.after_hours is None


# --- First response ---------------------------------------------------------------------------


def test_first_response_is_the_first_reply_by_a_technician(acme: Client, tech: StaffMember) -> None:
    opened = at(MONDAY, 9)
    ticket = ticket_make(acme, opened)
    # None of these is a reply to the requester by a technician or the agent:
    event(ticket, Kind.REQUESTER_REPLY, at(MONDAY, 9, 5), actor=Actor.REQUESTER)
    event(ticket, Kind.NOTE, at(MONDAY, 9, 10), actor=Actor.HUMAN, staff=tech)
    event(ticket, Kind.REPLY, at(MONDAY, 9, 15), actor=Actor.RULE)
    event(ticket, Kind.REPLY, at(MONDAY, 9, 20), actor=Actor.REQUESTER)
    # …this is; the later one does not move it.
    event(ticket, Kind.REPLY, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)
    event(ticket, Kind.REPLY, at(MONDAY, 9, 40), actor=Actor.AGENT)

    fact = fact_of(ticket)

    assert fact.first_response_at == at(MONDAY, 9, 30)
    assert fact.first_response_seconds == 30 * 60


def test_first_response_can_be_the_agents_reply(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.REPLY, at(MONDAY, 9, 2), actor=Actor.AGENT)
    event(ticket, Kind.REPLY, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)

    fact = fact_of(ticket)

    assert fact.first_response_seconds == 2 * 60


def test_a_ticket_nobody_replied_to_has_no_first_response(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.REPLY, at(MONDAY, 9, 1), actor=Actor.RULE)
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    assert fact.first_response_at is None
    assert fact.first_response_seconds is None


# --- Reassignments and first touch ------------------------------------------------------------


def test_a_ticket_reassigned_twice_counts_two_reassignments(acme: Client) -> None:
    first, second, third = staff_make("ann"), staff_make("bob"), staff_make("cat")
    ticket = ticket_make(acme, at(MONDAY, 9), assignee=third)
    # The initial assignment has no previous assignee: not a reassignment.
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 9, 1), new=str(first.pk))
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 10), old=str(first.pk), new=str(second.pk))
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 11), old=str(second.pk), new=str(third.pk))
    resolve(ticket, at(MONDAY, 12))

    fact = fact_of(ticket)

    assert fact.reassignments == 2
    assert fact.first_touch is False
    assert fact.technician_id == third.pk


def test_the_initial_assignment_alone_keeps_first_touch(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9), assignee=tech)
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 9, 1), new=str(tech.pk))
    event(ticket, Kind.REPLY, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)
    resolve(ticket, at(MONDAY, 10), actor=Actor.HUMAN, staff=tech)

    fact = fact_of(ticket)

    assert fact.reassignments == 0
    assert fact.human_touchers == 1
    assert fact.first_touch is True


def test_two_technicians_working_a_ticket_is_not_first_touch(
    acme: Client, tech: StaffMember
) -> None:
    colleague = staff_make("colleague")
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.NOTE, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)
    event(ticket, Kind.NOTE, at(MONDAY, 9, 45), actor=Actor.HUMAN, staff=colleague)
    resolve(ticket, at(MONDAY, 10), actor=Actor.HUMAN, staff=tech)

    fact = fact_of(ticket)

    assert fact.reassignments == 0
    assert fact.human_touchers == 2
    assert fact.first_touch is False


def test_a_second_technician_who_only_logged_time_breaks_first_touch(
    acme: Client, tech: StaffMember
) -> None:
    colleague = staff_make("colleague", hourly_cost="50.00")
    ticket = ticket_make(acme, at(MONDAY, 9))
    TimeEntry.objects.create(ticket=ticket, staff=colleague, started_at=at(MONDAY, 9), minutes=20)
    event(ticket, Kind.REPLY, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)
    resolve(ticket, at(MONDAY, 10), actor=Actor.HUMAN, staff=tech)

    fact = fact_of(ticket)

    assert fact.path == Path.HUMAN
    assert fact.human_touchers == 2
    assert fact.first_touch is False


def test_a_bulk_load_of_events_marks_every_ticket_it_touches(acme: Client) -> None:
    first = ticket_make(acme, at(MONDAY, 9))
    second = ticket_make(acme, at(MONDAY, 9))
    facts_refresh_all()

    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=ticket,
            kind=Kind.STATUS_CHANGED,
            occurred_at=at(MONDAY, hour),
            actor_kind=Actor.AGENT,
            old_value="new",
            new_value="resolved",
        )
        for ticket, hour in ((first, 10), (second, 12))
    )

    assert _stale() == {first.pk, second.pk}
    facts_refresh_all()
    assert TicketFact.objects.get(ticket=first).resolution_seconds == 1 * HOUR
    assert TicketFact.objects.get(ticket=second).resolution_seconds == 3 * HOUR


# --- Reopens ----------------------------------------------------------------------------------


def test_a_ticket_reopened_three_days_later_counts_once_and_keeps_its_first_resolution(
    acme: Client,
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    reopen(ticket, at(MONDAY + dt.timedelta(days=3), 11))
    resolve(ticket, at(MONDAY + dt.timedelta(days=3), 15))

    fact = fact_of(ticket)

    assert fact.reopens == 1
    assert fact.reopened_7d is True
    assert fact.resolved_at == at(MONDAY, 11)
    assert fact.resolution_seconds == 2 * HOUR
    assert fact.first_touch is False


def test_a_reopen_eight_days_later_is_not_within_seven_days(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    reopen(ticket, at(MONDAY + dt.timedelta(days=8), 11))
    resolve(ticket, at(MONDAY + dt.timedelta(days=8), 12))

    fact = fact_of(ticket)

    assert fact.reopens == 1
    assert fact.reopened_7d is False
    assert fact.resolved_at == at(MONDAY, 11)
    assert fact.first_touch is False  # any reopen breaks first touch


def test_a_reopen_exactly_seven_days_later_is_within_seven_days(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    reopen(ticket, at(MONDAY + dt.timedelta(days=7), 11))

    fact = fact_of(ticket)

    assert fact.reopens == 1
    assert fact.reopened_7d is True
    # Still open after the reopen, yet counted as resolved at its first resolution.
    assert fact.resolved_at == at(MONDAY, 11)


def test_two_reopens_count_two(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    reopen(ticket, at(MONDAY, 12))
    resolve(ticket, at(MONDAY, 13))
    reopen(ticket, at(MONDAY, 14))
    resolve(ticket, at(MONDAY, 15), old=Ticket.Status.IN_PROGRESS, new=Ticket.Status.CLOSED)

    fact = fact_of(ticket)

    assert fact.reopens == 2
    assert fact.resolved_at == at(MONDAY, 11)


# --- After hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "after_hours"),
    [
        (dt.datetime(2026, 10, 14, 18, 0, 0), True),  # Wednesday, closing time itself
        (dt.datetime(2026, 10, 14, 17, 59, 59), False),  # the last business second
        (dt.datetime(2026, 10, 14, 8, 0, 0), False),  # opening time
        (dt.datetime(2026, 10, 14, 7, 59, 59), True),  # a second before opening
        (dt.datetime(2026, 10, 17, 11, 0, 0), True),  # Saturday late morning
    ],
)
def test_after_hours_is_read_in_the_client_time_zone_at_its_boundaries(
    local: dt.datetime, after_hours: bool
) -> None:
    new_york = client_make("Gotham Dental", tz="America/New_York")
    resolved = local.replace(tzinfo=NEW_YORK)
    ticket = ticket_make(new_york, resolved - dt.timedelta(hours=1))
    resolve(ticket, resolved)

    assert fact_of(ticket).after_hours is after_hours


def test_after_hours_uses_the_client_time_zone_not_utc(acme: Client) -> None:
    new_york = client_make("Gotham Dental", tz="America/New_York")
    moment = at(dt.date(2026, 10, 14), 20)  # Wednesday 20:00 UTC = 16:00 in New York (EDT)
    in_utc = ticket_make(acme, moment - dt.timedelta(hours=1))
    resolve(in_utc, moment)
    in_new_york = ticket_make(new_york, moment - dt.timedelta(hours=1))
    resolve(in_new_york, moment)

    facts_refresh_all()

    assert TicketFact.objects.get(ticket=in_utc).after_hours is True
    assert TicketFact.objects.get(ticket=in_new_york).after_hours is False


def test_after_hours_follows_the_clients_working_days() -> None:
    # A client that works Saturdays (ISO 6) but not Mondays.
    shop = client_make("Weekend Shop", days="23456")
    saturday = ticket_make(shop, at(dt.date(2026, 10, 17), 10))
    resolve(saturday, at(dt.date(2026, 10, 17), 11))
    monday = ticket_make(shop, at(MONDAY, 10))
    resolve(monday, at(MONDAY, 11))

    facts_refresh_all()

    assert TicketFact.objects.get(ticket=saturday).after_hours is False
    assert TicketFact.objects.get(ticket=monday).after_hours is True


# --- Path -------------------------------------------------------------------------------------


def test_a_ticket_no_technician_took_part_in_is_the_agent_alone(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.RULE_MATCHED, at(MONDAY, 9, 1), actor=Actor.RULE)
    event(ticket, Kind.ACTION, at(MONDAY, 9, 2), actor=Actor.AGENT, data={"step": "executed"})
    event(ticket, Kind.REPLY, at(MONDAY, 9, 3), actor=Actor.AGENT)
    event(ticket, Kind.REQUESTER_REPLY, at(MONDAY, 9, 10), actor=Actor.REQUESTER)
    resolve(ticket, at(MONDAY, 9, 15))

    fact = fact_of(ticket)

    assert fact.path == Path.AGENT
    assert fact.human_touchers == 0
    assert fact.first_touch is True


@pytest.mark.parametrize("step", ["approved", "edited"])
def test_a_technicians_approval_alone_is_agent_with_approval(
    acme: Client, tech: StaffMember, step: str
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.ACTION, at(MONDAY, 9, 1), actor=Actor.AGENT, data={"step": "proposed"})
    event(ticket, Kind.ACTION, at(MONDAY, 9, 5), actor=Actor.HUMAN, staff=tech, data={"step": step})
    event(ticket, Kind.ACTION, at(MONDAY, 9, 6), actor=Actor.AGENT, data={"step": "executed"})
    resolve(ticket, at(MONDAY, 9, 10))

    fact = fact_of(ticket)

    assert fact.path == Path.AGENT_APPROVAL
    assert fact.human_touchers == 0  # approving is not working the ticket
    assert fact.first_touch is True


def test_a_technicians_rejection_is_a_human_touch(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(
        ticket,
        Kind.ACTION,
        at(MONDAY, 9, 5),
        actor=Actor.HUMAN,
        staff=tech,
        data={"step": "rejected"},
    )
    resolve(ticket, at(MONDAY, 9, 10))

    assert fact_of(ticket).path == Path.HUMAN


def test_any_technician_note_makes_the_path_human(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(
        ticket,
        Kind.ACTION,
        at(MONDAY, 9, 5),
        actor=Actor.HUMAN,
        staff=tech,
        data={"step": "approved"},
    )
    event(ticket, Kind.NOTE, at(MONDAY, 9, 6), actor=Actor.HUMAN, staff=tech)
    resolve(ticket, at(MONDAY, 9, 10))

    fact = fact_of(ticket)

    assert fact.path == Path.HUMAN
    assert fact.human_touchers == 1


def test_time_logged_alone_makes_the_path_human(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 9, 10))
    TimeEntry.objects.create(ticket=ticket, staff=tech, started_at=at(MONDAY, 9), minutes=5)

    fact = fact_of(ticket)

    assert fact.path == Path.HUMAN
    assert fact.technician_minutes == 5
    assert fact.human_touchers == 1  # a technician who logged time worked the ticket


def test_a_resolution_made_at_the_psa_makes_the_path_human(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 9, 10), actor=Actor.SYSTEM, data={"from_source": True})

    assert fact_of(ticket).path == Path.HUMAN


def test_an_alert_that_cleared_itself_is_counted_apart(acme: Client) -> None:
    # A monitoring alert resolved by its source: nobody's work, so neither deflection nor
    # hours reclaimed.
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 9, 10), actor=Actor.SYSTEM, data={"from_source": False})

    assert fact_of(ticket).path == Path.SOURCE


def test_a_psa_status_change_after_the_first_resolution_does_not_change_the_path(
    acme: Client,
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 9, 10))
    # The PSA later closes it: not the first resolution, so nobody "worked it there".
    resolve(
        ticket,
        at(MONDAY, 12),
        actor=Actor.SYSTEM,
        data={"from_source": True},
        old=Ticket.Status.RESOLVED,
        new=Ticket.Status.CLOSED,
    )

    assert fact_of(ticket).path == Path.AGENT


# --- SLA --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "met"),
    [
        (at(MONDAY, 13), True),  # due after the resolution
        (at(MONDAY, 12), True),  # due exactly at it
        (at(MONDAY, 11), False),  # due before it
        (None, None),  # no SLA
    ],
)
def test_resolution_sla_is_met_when_resolved_by_its_due_time(
    acme: Client, due: dt.datetime | None, met: bool | None
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9), sla_resolution_due_at=due)
    resolve(ticket, at(MONDAY, 12))

    assert fact_of(ticket).sla_resolution_met is met


def test_an_open_ticket_past_its_due_time_has_missed_and_one_not_yet_due_is_undecided(
    acme: Client,
) -> None:
    now = timezone.now()
    overdue = ticket_make(
        acme,
        now - dt.timedelta(days=2),
        sla_response_due_at=now - dt.timedelta(days=1, hours=12),
        sla_resolution_due_at=now - dt.timedelta(days=1),
    )
    not_yet = ticket_make(
        acme,
        now - dt.timedelta(hours=1),
        sla_response_due_at=now + dt.timedelta(hours=1),
        sla_resolution_due_at=now + dt.timedelta(days=1),
    )

    facts_refresh_all()

    late = TicketFact.objects.get(ticket=overdue)
    assert late.sla_resolution_met is False
    assert late.sla_response_met is False
    pending = TicketFact.objects.get(ticket=not_yet)
    assert pending.sla_resolution_met is None
    assert pending.sla_response_met is None


def test_response_sla_is_read_from_the_first_reply(acme: Client, tech: StaffMember) -> None:
    on_time = ticket_make(acme, at(MONDAY, 9), sla_response_due_at=at(MONDAY, 9, 30))
    event(on_time, Kind.REPLY, at(MONDAY, 9, 30), actor=Actor.HUMAN, staff=tech)
    resolve(on_time, at(MONDAY, 11))
    late = ticket_make(acme, at(MONDAY, 9), sla_response_due_at=at(MONDAY, 9, 30))
    event(late, Kind.NOTE, at(MONDAY, 9, 10), actor=Actor.HUMAN, staff=tech)  # not a reply
    event(late, Kind.REPLY, at(MONDAY, 9, 31), actor=Actor.HUMAN, staff=tech)
    resolve(late, at(MONDAY, 11))

    facts_refresh_all()

    assert TicketFact.objects.get(ticket=on_time).sla_response_met is True
    assert TicketFact.objects.get(ticket=late).sla_response_met is False


# --- Money, CSAT ------------------------------------------------------------------------------


def test_labour_cost_is_minutes_times_each_technicians_hourly_cost(acme: Client) -> None:
    dear = staff_make("dear", hourly_cost="73.33")
    cheap = staff_make("cheap", hourly_cost="60.00")
    ticket = ticket_make(acme, at(MONDAY, 9))
    other = ticket_make(acme, at(MONDAY, 9))
    TimeEntry.objects.create(ticket=ticket, staff=dear, started_at=at(MONDAY, 9), minutes=7)
    TimeEntry.objects.create(ticket=ticket, staff=dear, started_at=at(MONDAY, 10), minutes=13)
    TimeEntry.objects.create(ticket=ticket, staff=cheap, started_at=at(MONDAY, 11), minutes=50)
    TimeEntry.objects.create(ticket=other, staff=cheap, started_at=at(MONDAY, 11), minutes=600)
    resolve(ticket, at(MONDAY, 12))

    fact = fact_of(ticket)

    assert fact.technician_minutes == 7 + 13 + 50
    # 20 min × $73.33/h = 1466.60 / 60 = 24.44333…; 50 min × $60/h = 50.00; total 74.44333… → 74.44
    assert fact.labour_cost == Decimal("74.44")


def test_llm_cost_is_the_sum_of_the_tickets_calls(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    for cost in ("0.01234567", "0.00500000"):
        LlmCall.objects.create(
            ticket=ticket,
            purpose="triage",
            model="m",
            cost=Decimal(cost),
            latency_ms=10,
            outcome=LlmCall.Outcome.OK,
            created_at=at(MONDAY, 9, 1),
        )
    LlmCall.objects.create(  # another ticket's call
        ticket=ticket_make(acme, at(MONDAY, 9)),
        purpose="triage",
        model="m",
        cost=Decimal("5"),
        latency_ms=10,
        outcome=LlmCall.Outcome.OK,
        created_at=at(MONDAY, 9, 1),
    )
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    # 0.01234567 + 0.00500000 = 0.01734567, kept to 4 places
    assert fact.llm_cost == Decimal("0.0173")
    assert fact.labour_cost == Decimal("0.00")


def test_csat_is_the_latest_answer(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 10))
    # The later answer is stored first: order is by when they answered, not by row id.
    CsatResponse.objects.create(ticket=ticket, score=5, nps=10, responded_at=at(MONDAY, 16))
    CsatResponse.objects.create(ticket=ticket, score=2, nps=3, responded_at=at(MONDAY, 12))

    fact = fact_of(ticket)

    assert fact.csat_score == 5
    assert fact.nps == 10


def test_a_ticket_without_an_answer_has_no_csat(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 10))

    fact = fact_of(ticket)

    assert fact.csat_score is None
    assert fact.nps is None


# --- The facts follow the timeline ------------------------------------------------------------


def _stale() -> set[int]:
    return set(FactDirty.objects.values_list("ticket_id", flat=True))


def test_facts_follow_events_added_after_a_refresh(acme: Client, tech: StaffMember) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    assert ticket.pk in _stale()  # the ticket row and its created event marked it

    fact = fact_of(ticket)
    assert fact.resolved_at is None
    assert fact.first_response_seconds is None
    assert _stale() == set()
    assert facts_refresh_all() == 0  # nothing left to do

    event(ticket, Kind.REPLY, at(MONDAY, 9, 20), actor=Actor.AGENT)
    assert _stale() == {ticket.pk}
    assert fact_of(ticket).first_response_seconds == 20 * 60

    event(ticket, Kind.STATUS_CHANGED, at(MONDAY, 10), old="in_progress", new="resolved")
    fact = fact_of(ticket)
    assert fact.resolved_at == at(MONDAY, 10)
    assert fact.path == Path.AGENT

    event(ticket, Kind.NOTE, at(MONDAY, 10, 5), actor=Actor.HUMAN, staff=tech)
    assert fact_of(ticket).path == Path.HUMAN


def test_time_entry_changes_and_deletions_mark_the_ticket_stale(
    acme: Client, tech: StaffMember
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 10))
    assert fact_of(ticket).path == Path.AGENT

    entry = TimeEntry.objects.create(
        ticket=ticket, staff=tech, started_at=at(MONDAY, 9), minutes=30
    )
    assert _stale() == {ticket.pk}
    fact = fact_of(ticket)
    assert (fact.technician_minutes, fact.labour_cost, fact.path) == (30, Decimal("30.00"), "human")

    entry.minutes = 45
    entry.save(update_fields=["minutes"])
    assert _stale() == {ticket.pk}
    fact = fact_of(ticket)
    assert (fact.technician_minutes, fact.labour_cost) == (45, Decimal("45.00"))

    TimeEntry.objects.filter(pk=entry.pk).update(minutes=6)  # a bulk update, too
    assert _stale() == {ticket.pk}
    assert fact_of(ticket).labour_cost == Decimal("6.00")

    entry.delete()
    assert _stale() == {ticket.pk}
    fact = fact_of(ticket)
    assert (fact.technician_minutes, fact.labour_cost, fact.path) == (0, Decimal("0.00"), "agent")


def test_moving_a_time_entry_to_another_ticket_refreshes_it(
    acme: Client, tech: StaffMember
) -> None:
    first = ticket_make(acme, at(MONDAY, 9))
    second = ticket_make(acme, at(MONDAY, 9))
    entry = TimeEntry.objects.create(ticket=first, staff=tech, started_at=at(MONDAY, 9), minutes=30)
    facts_refresh_all()

    entry.ticket = second
    entry.save(update_fields=["ticket"])
    facts_refresh_all()

    # The new ticket gains the time…
    assert TicketFact.objects.get(ticket=second).technician_minutes == 30
    # …and the old one loses it (an UPDATE must mark the ticket the row left, too).
    assert TicketFact.objects.get(ticket=first).technician_minutes == 0


def test_csat_and_llm_changes_mark_the_ticket_stale(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 10))
    facts_refresh_all()

    answer = CsatResponse.objects.create(ticket=ticket, score=3, responded_at=at(MONDAY, 12))
    assert _stale() == {ticket.pk}
    assert fact_of(ticket).csat_score == 3

    answer.score = 4
    answer.save(update_fields=["score"])
    assert fact_of(ticket).csat_score == 4

    answer.delete()
    assert _stale() == {ticket.pk}
    assert fact_of(ticket).csat_score is None

    LlmCall.objects.create(
        ticket=ticket,
        purpose="reply",
        model="m",
        cost=Decimal("0.25"),
        latency_ms=5,
        outcome=LlmCall.Outcome.OK,
        created_at=at(MONDAY, 9, 30),
    )
    assert _stale() == {ticket.pk}
    assert fact_of(ticket).llm_cost == Decimal("0.2500")


def test_facts_compute_recomputes_the_given_tickets_directly(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 11))
    FactDirty.objects.all().delete()  # as if nobody marked it

    assert facts_compute([ticket.pk]) == 1

    fact = TicketFact.objects.get(ticket=ticket)
    assert fact.resolution_seconds == 2 * HOUR
    assert fact.client_id == acme.pk


# --- Which technician a resolved ticket is credited to ----------------------------------------


def test_the_technician_is_the_one_assigned_at_the_first_resolution(acme: Client) -> None:
    first, second = staff_make("first"), staff_make("second")
    ticket = ticket_make(acme, at(MONDAY, 9), assignee=first)
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 9, 1), new=str(first.pk))
    resolve(ticket, at(MONDAY, 10), actor=Actor.HUMAN, staff=first)
    reopen(ticket, at(MONDAY, 14))
    event(ticket, Kind.ASSIGNMENT_CHANGED, at(MONDAY, 14, 5), old=str(first.pk), new=str(second.pk))
    Ticket.objects.filter(pk=ticket.pk).update(assignee=second)
    resolve(ticket, at(MONDAY, 16), actor=Actor.HUMAN, staff=second)

    fact = fact_of(ticket)

    assert fact.resolved_at == at(MONDAY, 10)
    assert fact.technician_id == first.pk


# --- Definitions refined after review --------------------------------------------------------


def test_an_alert_the_agent_worked_before_it_cleared_is_the_agents(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    event(ticket, Kind.PLAYBOOK, at(MONDAY, 9, 2), actor=Actor.AGENT)
    resolve(ticket, at(MONDAY, 9, 10), actor=Actor.SYSTEM)

    assert fact_of(ticket).path == Path.AGENT


def test_a_ticket_deleted_at_the_psa_is_not_a_resolution(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(
        ticket,
        at(MONDAY, 9, 10),
        actor=Actor.SYSTEM,
        data={"from_source": True, "deleted_at_source": True},
        new=Ticket.Status.CLOSED,
    )

    fact = fact_of(ticket)
    assert (fact.resolved_at, fact.path, fact.first_touch) == (None, "", None)


def test_resolving_before_any_reply_meets_the_response_sla(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9), sla_response_due_at=at(MONDAY, 10))
    resolve(ticket, at(MONDAY, 9, 30))

    assert fact_of(ticket).sla_response_met is True


def test_a_later_answer_without_the_recommendation_keeps_the_earlier_nps(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 9, 30))
    CsatResponse.objects.create(ticket=ticket, score=3, nps=9, responded_at=at(MONDAY, 11))
    CsatResponse.objects.create(ticket=ticket, score=5, responded_at=at(MONDAY, 12))

    fact = fact_of(ticket)
    assert (fact.csat_score, fact.nps) == (5, 9)


def test_a_holiday_added_later_refreshes_the_tickets_open_that_day(acme: Client) -> None:
    globex = client_make("Globex")
    friday = MONDAY + dt.timedelta(days=4)
    spans = ticket_make(acme, at(MONDAY, 9))
    resolve(spans, at(friday, 17))
    elsewhere = ticket_make(globex, at(MONDAY, 9))
    resolve(elsewhere, at(friday, 17))
    before = fact_of(spans).resolution_business_seconds
    assert before is not None
    assert not FactDirty.objects.exists()

    Holiday.objects.create(date=MONDAY + dt.timedelta(days=2), name="Founders' day", client=acme)

    assert list(FactDirty.objects.values_list("ticket_id", flat=True)) == [spans.pk]
    assert fact_of(spans).resolution_business_seconds == before - 10 * 3600


def test_changing_a_clients_hours_refreshes_its_tickets(acme: Client) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    resolve(ticket, at(MONDAY, 17))
    assert fact_of(ticket).resolution_business_seconds == 8 * 3600

    Client.objects.filter(pk=acme.pk).update(business_start=dt.time(10, 0))

    assert fact_of(ticket).resolution_business_seconds == 7 * 3600


def test_changing_a_technicians_cost_refreshes_the_tickets_they_logged(
    acme: Client, tech: StaffMember
) -> None:
    ticket = ticket_make(acme, at(MONDAY, 9))
    TimeEntry.objects.create(ticket=ticket, staff=tech, started_at=at(MONDAY, 9), minutes=30)
    resolve(ticket, at(MONDAY, 10), actor=Actor.HUMAN, staff=tech)
    before = fact_of(ticket).labour_cost

    StaffMember.objects.filter(pk=tech.pk).update(hourly_cost=tech.hourly_cost + 20)

    assert fact_of(ticket).labour_cost == before + Decimal("10.00")
