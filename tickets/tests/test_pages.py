"""The pages each role uses: list, detail, notes, login, and their query budgets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.fixtures import PASSWORD, World, make_ticket
from tickets.models import Ticket, TicketEvent


def _list_queries(world: World, query: str = "") -> int:
    http = world.login(world.tech_in)
    with CaptureQueriesContext(connection) as captured:
        response = http.get(reverse("ticket_list") + query)
    assert response.status_code == 200
    return len(captured)


def test_the_ticket_list_query_count_does_not_grow_with_the_page(world: World) -> None:
    few = _list_queries(world)
    for number in range(60):
        make_ticket(
            world.client,
            summary=f"Extra {number}",
            external_id=f"X-{number}",
            type=world.ticket_type,
            queue=world.queue,
            assignee=world.tech_in if number % 2 else world.manager,
            contact=world.contact,
        )
    many = _list_queries(world)
    assert few == many


@pytest.mark.smoke
def test_the_ticket_list_paginates(world: World, settings) -> None:
    settings.TICKETS_PAGE_SIZE = 5
    for number in range(12):
        make_ticket(world.client, summary=f"Paged {number:02d}", external_id=f"P-{number}")
    http = world.login(world.tech_in)
    first = http.get(reverse("ticket_list")).content.decode()
    third = http.get(reverse("ticket_list") + "?page=3").content.decode()
    assert "page 1 of 3" in first and "Paged 11" in first
    assert "page 3 of 3" in third and "Dana cannot sign in" in third


def test_an_htmx_filter_returns_only_the_results_partial(world: World) -> None:
    http = world.login(world.tech_in)
    response = http.get(reverse("ticket_list") + "?q=Dana", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body
    assert "Dana cannot sign in" in body


def test_search_finds_by_id_and_by_words(world: World) -> None:
    http = world.login(world.manager)
    by_id = http.get(reverse("ticket_list") + f"?q=%23{world.other_ticket.id}")
    assert "Globex printer jam" in by_id.content.decode()
    assert "Dana cannot sign in" not in by_id.content.decode()
    by_words = http.get(reverse("ticket_list") + "?q=printer")
    assert "Globex printer jam" in by_words.content.decode()


def test_a_bad_filter_is_a_field_error_not_a_crash(world: World) -> None:
    http = world.login(world.manager)
    response = http.get(reverse("ticket_list") + "?priority=9&status=bogus")
    assert response.status_code == 400
    body = response.content.decode()
    assert "priority" in body and "status" in body


def test_filters_narrow_the_list(world: World) -> None:
    world.other_ticket.status = Ticket.Status.RESOLVED
    world.other_ticket.save()
    http = world.login(world.manager)
    body = http.get(reverse("ticket_list") + "?status=open").content.decode()
    assert "Dana cannot sign in" in body and "Globex printer jam" not in body
    query = f"?assignee=none&type={world.ticket_type.id}"
    assert "Dana cannot sign in" in http.get(reverse("ticket_list") + query).content.decode()


def test_an_empty_list_explains_itself(world: World) -> None:
    http = world.login(world.manager)
    body = http.get(reverse("ticket_list") + "?q=nothing-matches-this").content.decode()
    assert "No tickets match these filters" in body


def test_the_detail_page_shows_the_timeline_within_a_query_budget(world: World) -> None:
    for number in range(10):
        TicketEvent.objects.create(
            ticket=world.ticket,
            kind=TicketEvent.Kind.NOTE,
            actor_kind=TicketEvent.ActorKind.HUMAN,
            actor_staff=world.tech_in,
            body=f"Checked step {number}",
            occurred_at=world.ticket.opened_at,
        )
    http = world.login(world.tech_in)
    with CaptureQueriesContext(connection) as captured:
        response = http.get(reverse("ticket_detail", args=[world.ticket.id]))
    body = response.content.decode()
    assert "Checked step 9" in body and "Insider" in body
    assert len(captured) <= 14


def test_a_public_reply_is_timelined_and_sets_first_response(world: World) -> None:
    http = world.login(world.tech_in)
    url = reverse("ticket_note_add", args=[world.ticket.id])
    response = http.post(
        url, {"body": "Resetting it now", "public": "on"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="timeline"')
    event = TicketEvent.objects.get(ticket=world.ticket, kind=TicketEvent.Kind.REPLY)
    assert event.actor_staff == world.tech_in and event.body == "Resetting it now"
    world.ticket.refresh_from_db()
    assert world.ticket.first_response_at == event.occurred_at


def test_an_internal_note_does_not_count_as_a_response(world: World) -> None:
    http = world.login(world.tech_in)
    http.post(reverse("ticket_note_add", args=[world.ticket.id]), {"body": "Looking"})
    world.ticket.refresh_from_db()
    assert world.ticket.first_response_at is None
    assert TicketEvent.objects.filter(ticket=world.ticket, kind="note").count() == 1


def test_an_empty_note_is_a_field_error(world: World) -> None:
    http = world.login(world.tech_in)
    response = http.post(reverse("ticket_note_add", args=[world.ticket.id]), {"body": "   "})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not TicketEvent.objects.filter(ticket=world.ticket, kind="note").exists()


@pytest.mark.smoke
def test_each_role_signs_in_and_lands_on_its_home(world: World, client) -> None:
    expectations = {
        world.tech_in: "My desk",
        world.manager: "Service desk today",
        world.owner: "Business overview",
    }
    for staff, heading in expectations.items():
        response = client.post(
            reverse("login"), {"username": staff.user.username, "password": PASSWORD}, follow=True
        )
        assert heading in response.content.decode()
        client.post(reverse("logout"))
        assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_is_refused(world: World, client) -> None:
    response = client.post(reverse("login"), {"username": "insider", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_owner_sees_revenue_and_labour_cost(world: World) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from tickets.models import CsatResponse, TimeEntry

    world.contract.monthly_revenue = Decimal("4200")
    world.contract.save()
    world.tech_in.hourly_cost = Decimal("60")
    world.tech_in.save()
    now = timezone.now()
    TimeEntry.objects.create(ticket=world.ticket, staff=world.tech_in, started_at=now, minutes=90)
    CsatResponse.objects.create(ticket=world.ticket, score=4, responded_at=now)
    CsatResponse.objects.create(ticket=world.ticket, score=5, responded_at=now)
    business = world.login(world.owner).get(reverse("home")).context["business"]
    assert business.monthly_revenue == Decimal("4200")
    assert business.technician_hours_30d == 1.5
    assert business.technician_cost_30d == Decimal("90")
    assert (business.csat_average_30d, business.csat_responses_30d) == (4.5, 2)
    assert world.login(world.manager).get(reverse("home")).context["business"] is None


def test_a_huge_list_says_more_than_instead_of_counting_everything(world: World, settings) -> None:
    settings.TICKETS_PAGE_SIZE = 2
    settings.TICKETS_COUNT_CAP = 5
    for number in range(8):
        make_ticket(world.client, summary=f"Bulk {number}", external_id=f"B-{number}")
    http = world.login(world.manager)
    body = http.get(reverse("ticket_list")).content.decode()
    assert "More than 5 tickets" in body and "page 1 of 3+" in body
    body = http.get(reverse("ticket_list") + "?q=Bulk+7").content.decode()
    assert "1 ticket · page 1 of 1" in body


def test_a_history_restore_gets_the_whole_page(world: World) -> None:
    http = world.login(world.tech_in)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    response = http.get(reverse("ticket_list") + "?q=Dana", headers=headers)
    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("query", ["%C2%B2", "99999999999999999999999", "%23", "%00"])
def test_odd_searches_are_answered_not_crashed(world: World, query: str) -> None:
    response = world.login(world.manager).get(reverse("ticket_list") + f"?q={query}")
    assert response.status_code in (200, 400)


def test_a_psa_ticket_number_is_searchable(world: World) -> None:
    make_ticket(world.client, summary="Outlook keeps asking for a password", external_id="48213")
    body = world.login(world.manager).get(reverse("ticket_list") + "?q=48213").content.decode()
    assert "Outlook keeps asking" in body and "Dana cannot sign in" not in body


def test_a_htmx_reply_also_refreshes_the_facts_panel(world: World) -> None:
    http = world.login(world.tech_in)
    response = http.post(
        reverse("ticket_note_add", args=[world.ticket.id]),
        {"body": "On it", "public": "on"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert '<aside id="facts" class="side-col card" hx-swap-oob="true">' in body
    world.ticket.refresh_from_db()
    assert world.ticket.first_response_at is not None
    assert "First response</dt><dd>—" not in body


def test_ticket_times_are_shown_in_the_clients_zone(world: World) -> None:
    import datetime as dt

    from django.utils import timezone

    world.client.timezone = "America/New_York"
    world.client.save()
    opened = timezone.make_aware(dt.datetime(2026, 7, 1, 15, 30), dt.UTC)
    ticket = make_ticket(world.client, summary="Zone check", external_id="Z-1", opened_at=opened)
    body = world.login(world.tech_in).get(reverse("ticket_detail", args=[ticket.id]))
    text = body.content.decode()
    assert "1 Jul 2026 11:30" in text and "America/New_York" in text


def test_navigation_follows_the_role(world: World) -> None:
    tech = world.login(world.tech_in).get(reverse("home")).content.decode()
    assert "My open tickets" in tech and "Unassigned</a>" not in tech and ">Admin<" not in tech
    manager = world.login(world.manager).get(reverse("home")).content.decode()
    assert "Unassigned</a>" in manager and "My open tickets" not in manager
    world.tech_in.user.is_staff = True
    world.tech_in.user.save()
    # Django staff, but scoped to some clients: the admin would refuse, so no link.
    assert ">Admin<" not in world.login(world.tech_in).get(reverse("home")).content.decode()
    world.manager.user.is_staff = True
    world.manager.user.save()
    assert ">Admin<" in world.login(world.manager).get(reverse("home")).content.decode()


def test_a_psa_reference_finds_its_ticket_and_words_find_summaries(world: World) -> None:
    make_ticket(world.client, summary="Laptop fan loud", external_id="CW-9917")
    make_ticket(world.client, summary="Ticket CW-9917 follow-up", external_id="CW-9920")
    http = world.login(world.manager)
    exact = http.get(reverse("ticket_list") + "?q=CW-9917").content.decode()
    assert "Laptop fan loud" in exact and "follow-up" not in exact
    words = http.get(reverse("ticket_list") + "?q=fan+loud").content.decode()
    assert "Laptop fan loud" in words


def test_a_number_also_finds_it_in_summaries(world: World) -> None:
    make_ticket(world.client, summary="Renew 2026 licences", external_id="L-1")
    body = world.login(world.manager).get(reverse("ticket_list") + "?q=2026").content.decode()
    assert "Renew 2026 licences" in body


def test_a_word_that_is_also_a_reference_still_searches_summaries(world: World) -> None:
    make_ticket(world.client, summary="Nightly backup failed", external_id="backup")
    make_ticket(world.client, summary="Backup job slow", external_id="B-77")
    body = world.login(world.manager).get(reverse("ticket_list") + "?q=backup").content.decode()
    assert "Nightly backup failed" in body and "Backup job slow" in body


def test_a_too_short_search_is_a_field_error(world: World) -> None:
    response = world.login(world.manager).get(reverse("ticket_list") + "?q=ab")
    assert response.status_code == 400
    assert "at least 3 characters" in response.content.decode()
    assert world.login(world.manager).get(reverse("ticket_list") + "?q=%237").status_code == 200


def test_summary_search_has_a_trigram_index_on_postgresql(db: None) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the trigram index exists only on PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ticket_summary_trgm_idx'"
        )
        row = cursor.fetchone()
    assert row is not None and "gin_trgm_ops" in row[0]
