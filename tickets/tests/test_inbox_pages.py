"""The managers' inbox pages: every arrival as received, filtered and paged; an invalid one
shows why, and a manager corrects and replays it into a ticket. Nobody else sees them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.fixtures import World
from tickets.intake.inbox import inbox_process, inbox_store
from tickets.models import InboxEvent, Ticket

BAD_JSON_ERROR = "The body is not valid JSON: Expecting property name at line 1."


def _invalid(body: str = "{not json", **fields: Any) -> InboxEvent:
    return inbox_store(channel=InboxEvent.Channel.API, body=body, error=BAD_JSON_ERROR, **fields)[0]


def _good_body(**fields: Any) -> str:
    data = {"external_id": "inbox-1", "summary": "Outlook will not open", **fields}
    return json.dumps(data)


def _at(event: InboxEvent, minutes_ago: int) -> None:
    moment = timezone.now() - dt.timedelta(minutes=minutes_ago)
    InboxEvent.objects.filter(pk=event.pk).update(received_at=moment)


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # no worker: the task runs where it is queued


# --- who may see it -----------------------------------------------------------------------


@pytest.mark.django_db
def test_only_managers_see_the_inbox(world: World) -> None:
    event = _invalid()
    urls = [reverse("inbox_list"), reverse("inbox_detail", args=[event.id])]
    for url in urls:
        assert world.login(world.manager).get(url).status_code == 200
        for staff in (world.tech_in, world.owner):
            response = world.login(staff).get(url)
            assert response.status_code == 403
            body = response.content.decode()
            assert "Only service desk managers see the inbox" in body
            assert "{not json" not in body


@pytest.mark.django_db
def test_a_technician_or_owner_cannot_replay(world: World, sync_tasks: None) -> None:
    event = _invalid()
    url = reverse("inbox_replay", args=[event.id])
    for staff in (world.tech_in, world.owner):
        response = world.login(staff).post(url, {"body": _good_body()})
        assert response.status_code == 403
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.INVALID and event.corrected_body == ""
    assert not Ticket.objects.filter(external_id="inbox-1").exists()


@pytest.mark.django_db
def test_the_nav_counts_invalid_arrivals_for_managers_only(world: World) -> None:
    _invalid()
    _invalid(body="{also not json")
    manager = world.login(world.manager).get(reverse("home")).content.decode()
    assert 'title="Could not be processed">2</span>' in manager
    assert reverse("inbox_list") in manager
    tech = world.login(world.tech_in).get(reverse("home")).content.decode()
    assert reverse("inbox_list") not in tech


@pytest.mark.django_db
def test_the_nav_count_is_one_query(world: World, django_assert_num_queries: Any) -> None:
    from django.template import engines
    from django.test import RequestFactory

    from tickets.context_processors import inbox

    _invalid()
    request = RequestFactory().get("/")
    request.user = world.manager.user
    context = inbox(request)
    with django_assert_num_queries(1):
        rendered = engines["django"].from_string("{{ n }}").render({"n": context["inbox_invalid"]})
    assert rendered == "1"


# --- the list -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_each_arrival_newest_first(world: World) -> None:
    bad = _invalid(delivery_key="bad-delivery")
    good = inbox_store(
        channel=InboxEvent.Channel.API, body=_good_body(), delivery_key="good-delivery"
    )[0]
    inbox_process(event_id=good.id)
    _at(bad, 5)
    response = world.login(world.manager).get(reverse("inbox_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("good-delivery") < body.index("bad-delivery")
    assert 'failed">Could not be processed<' in body and 'succeeded">Processed<' in body
    assert BAD_JSON_ERROR[:60] in body
    ticket = Ticket.objects.get(external_id="inbox-1")
    assert reverse("ticket_detail", args=[ticket.id]) in body
    assert reverse("inbox_detail", args=[bad.id]) in body
    # The invalid ones are counted and linked.
    assert "1 arrival could not be processed" in body
    assert f"{reverse('inbox_list')}?status=invalid" in body


@pytest.mark.django_db
def test_the_list_filters_by_status_and_channel(world: World) -> None:
    _invalid(delivery_key="api-bad")
    inbox_store(channel=InboxEvent.Channel.API, body=_good_body(), delivery_key="api-waiting")
    inbox_store(channel=InboxEvent.Channel.EMAIL, body="From: x", delivery_key="mail-waiting")
    http = world.login(world.manager)
    url = reverse("inbox_list")

    invalid = http.get(url, {"status": "invalid"}).content.decode()
    assert "api-bad" in invalid and "api-waiting" not in invalid and "mail-waiting" not in invalid

    mail = http.get(url, {"channel": "email"}).content.decode()
    assert "mail-waiting" in mail and "api-bad" not in mail and "api-waiting" not in mail

    both = http.get(url, {"status": "received", "channel": "api"}).content.decode()
    assert "api-waiting" in both and "api-bad" not in both and "mail-waiting" not in both

    none = http.get(url, {"status": "processed"}).content.decode()
    assert "No arrivals match these filters" in none

    wrong = http.get(url, {"status": "lost"})
    assert wrong.status_code == 400 and "could not be used" in wrong.content.decode()


@pytest.mark.django_db
def test_the_list_filters_in_place_for_htmx(world: World) -> None:
    _invalid(delivery_key="api-bad")
    response = world.login(world.manager).get(
        reverse("inbox_list"), {"status": "invalid"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"') and "api-bad" in body
    assert "<nav" not in body.split('id="results"')[0]


@pytest.mark.django_db
def test_the_list_pages(world: World, settings: Any) -> None:
    settings.TICKETS_PAGE_SIZE = 2
    for number in range(5):
        event = _invalid(body=f"{{broken {number}", delivery_key=f"delivery-{number}")
        _at(event, 100 - number)  # delivery-4 is the newest
    http = world.login(world.manager)
    first = http.get(reverse("inbox_list")).content.decode()
    assert "delivery-4" in first and "delivery-3" in first and "delivery-2" not in first
    assert "5 arrivals · page 1 of 3" in first and "page=2" in first
    third = http.get(reverse("inbox_list"), {"page": "3", "status": "invalid"}).content.decode()
    assert "delivery-0" in third and "delivery-1" not in third
    assert "status=invalid&amp;page=2" in third  # the pager keeps the filters


@pytest.mark.django_db
def test_an_empty_inbox_says_how_to_send_tickets(world: World) -> None:
    body = world.login(world.manager).get(reverse("inbox_list")).content.decode()
    assert "Nothing has arrived yet" in body
    assert "POST /api/intake/tickets/" in body and reverse("api_schema") in body


# --- the detail and replay ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_invalid_arrival_shows_its_error_and_raw_body(world: World) -> None:
    event = _invalid(
        content_type="application/json", headers={"User-Agent": "monitor/1.0"}, delivery_key="d-1"
    )
    response = world.login(world.manager).get(reverse("inbox_detail", args=[event.id]))
    body = response.content.decode()
    assert response.status_code == 200
    assert BAD_JSON_ERROR in body
    assert "<pre" in body and "{not json</pre>" in body
    assert "monitor/1.0" in body and "application/json" in body and "d-1" in body
    # The correction form, pre-filled with the body to fix.
    assert f'action="{reverse("inbox_replay", args=[event.id])}"' in body
    assert 'for="id_body"' in body and ">\n{not json</textarea>" in body
    assert ">Replay</button>" in body


@pytest.mark.django_db
def test_a_body_is_shown_escaped(world: World) -> None:
    event = _invalid(body='{"summary": "<script>alert(1)</script>"')
    body = world.login(world.manager).get(reverse("inbox_detail", args=[event.id])).content
    text = body.decode()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.django_db
def test_a_corrected_replay_creates_the_ticket(
    world: World, sync_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    event = _invalid()
    http = world.login(world.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(
            reverse("inbox_replay", args=[event.id]), {"body": _good_body().replace(",", ",\r\n")}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox_detail", args=[event.id])

    event.refresh_from_db()
    ticket = Ticket.objects.get(source=Ticket.Source.API, external_id="inbox-1")
    assert event.status == InboxEvent.Status.PROCESSED and event.ticket == ticket
    assert event.corrected_by == world.manager
    assert event.body == "{not json"  # the original is kept as received
    assert "\r" not in event.corrected_body and json.loads(event.corrected_body)["summary"]
    assert event.error == "" and event.attempts == 1

    page = http.get(response["Location"]).content.decode()
    assert reverse("ticket_detail", args=[ticket.id]) in page
    assert "Outlook will not open" in page
    assert "Corrected by" in page and "Manager" in page
    assert "{not json</pre>" in page  # both the original and the correction are shown
    assert "<textarea" not in page  # nothing left to replay


@pytest.mark.django_db
def test_a_replay_waits_for_a_worker_when_none_runs(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    event = _invalid()
    http = world.login(world.manager)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = http.post(
            reverse("inbox_replay", args=[event.id]), {"body": _good_body()}, follow=True
        )
    assert len(queued) == 1  # processing is queued once the replay commits
    page = response.content.decode()
    assert "Replay queued" in page and "Waiting to be processed" in page
    assert 'hx-trigger="every 3s"' in page  # the outcome updates itself
    # While it waits, polling returns just the outcome; once settled, a full refresh.
    poll = http.get(reverse("inbox_detail", args=[event.id]), HTTP_HX_REQUEST="true")
    assert poll.content.decode().lstrip().startswith('<section id="outcome"')
    inbox_process(event_id=event.id)
    settled = http.get(reverse("inbox_detail", args=[event.id]), HTTP_HX_REQUEST="true")
    assert settled.status_code == 204 and settled["HX-Refresh"] == "true"


@pytest.mark.django_db
def test_a_replay_that_still_fails_shows_the_new_error(
    world: World, sync_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    event = _invalid()
    http = world.login(world.manager)
    with django_capture_on_commit_callbacks(execute=True):
        http.post(reverse("inbox_replay", args=[event.id]), {"body": '{"summary": "No id"}'})
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.INVALID
    assert "external_id" in event.error
    page = http.get(reverse("inbox_detail", args=[event.id])).content.decode()
    assert "external_id" in page and "required" in page
    assert "{&quot;summary&quot;: &quot;No id&quot;}</textarea>" in page  # from the correction


@pytest.mark.django_db
def test_replaying_a_processed_arrival_is_refused(world: World, sync_tasks: None) -> None:
    event = inbox_store(channel=InboxEvent.Channel.API, body=_good_body())[0]
    inbox_process(event_id=event.id)
    response = world.login(world.manager).post(
        reverse("inbox_replay", args=[event.id]), {"body": _good_body(summary="Changed")}
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert "Not replayed: this arrival is “Processed”" in text
    assert "Only an arrival that could not be processed can be replayed." in text
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.PROCESSED and event.corrected_body == ""
    assert Ticket.objects.get(external_id="inbox-1").summary == "Outlook will not open"


@pytest.mark.django_db
def test_an_empty_replay_body_is_refused(world: World) -> None:
    event = _invalid()
    response = world.login(world.manager).post(
        reverse("inbox_replay", args=[event.id]), {"body": ""}
    )
    assert response.status_code == 400
    assert "The body to replay cannot be empty." in response.content.decode()
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.INVALID


@pytest.mark.django_db
def test_replaying_unchanged_records_no_correction(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    event = _invalid(body='{"external_id": "x",\n"summary": "y"}')
    with django_capture_on_commit_callbacks(execute=False):
        world.login(world.manager).post(
            reverse("inbox_replay", args=[event.id]),
            {"body": '{"external_id": "x",\r\n"summary": "y"}'},  # a browser's line breaks
        )
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.RECEIVED
    assert event.corrected_body == "" and event.corrected_by is None


@pytest.mark.django_db
def test_an_unknown_arrival_is_a_404(world: World) -> None:
    http = world.login(world.manager)
    assert http.get(reverse("inbox_detail", args=[999_999])).status_code == 404
    assert http.post(reverse("inbox_replay", args=[999_999]), {"body": "{}"}).status_code == 404
