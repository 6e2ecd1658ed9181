"""The satisfaction survey after resolution: one mail per resolution through a real SMTP server
on loopback, one-click links that record the first answer only, and the optional comment and
recommendation score posted back once (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection, connections, transaction
from django.test import Client as HttpClient
from django.utils import timezone

from metrics.models import CsatSurvey
from metrics.survey import (
    LINK_LIFETIME,
    MAX_ATTEMPTS,
    csat_survey_answer,
    csat_surveys_send,
)
from tests.fixtures import World, make_ticket
from tests.servers import free_port
from tickets.models import Contact, CsatResponse, Ticket, TicketEvent

BASE = "https://desk.msp.test"
LINK = re.compile(r"https://desk\.msp\.test/csat/[A-Za-z0-9_-]+/[0-9]+/")


@pytest.fixture(autouse=True)
def _public_base_url(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = BASE


def _resolve(ticket: Ticket, *, ago: dt.timedelta = dt.timedelta(hours=1)) -> Ticket:
    ticket.status, ticket.resolved_at = Ticket.Status.RESOLVED, timezone.now() - ago
    ticket.opened_at = min(ticket.opened_at, ticket.resolved_at - dt.timedelta(hours=1))
    ticket.save(update_fields=["status", "resolved_at", "opened_at"])
    return ticket


def _links(message: EmailMessage) -> dict[int, str]:
    """The survey links in a received mail, as paths by score."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    urls = LINK.findall(body.get_content())
    return {int(url.rstrip("/").rsplit("/", 1)[1]): urlsplit(url).path for url in urls}


def _token(path: str) -> str:
    return path.split("/")[2]


def _asked(world: World, smtp_server: Any) -> str:
    """Resolve the world's ticket, send its survey; returns the link for a 4."""
    _resolve(world.ticket)
    assert csat_surveys_send() == 1
    return _links(smtp_server.messages[-1])[4]


def _csat_events(ticket: Ticket) -> list[TicketEvent]:
    return list(ticket.events.filter(kind=TicketEvent.Kind.CSAT_RECEIVED).order_by("id"))


# Sending


@pytest.mark.django_db
def test_it_mails_one_survey_per_resolved_ticket_with_working_links(
    world: World, smtp_server: Any
) -> None:
    _resolve(world.ticket)
    other = _resolve(
        make_ticket(world.client, summary="VPN drops", external_id="T-3", contact=world.contact)
    )

    assert csat_surveys_send() == 2

    assert CsatSurvey.objects.count() == 2
    by_subject = {message["Subject"]: message for message in smtp_server.messages}
    message = by_subject[f"How did we do? [#{world.ticket.id}] Dana cannot sign in"]
    assert f"How did we do? [#{other.id}] VPN drops" in by_subject
    assert message["To"] == "dana@acme.test" and message["From"] == "help@msp.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_body(preferencelist=("html",)) is not None
    links = _links(message)
    assert sorted(links) == [1, 2, 3, 4, 5]
    assert len({_token(path) for path in links.values()}) == 1

    page = HttpClient().get(links[5])
    assert page.status_code == 200
    assert "Thank you — you rated us 5/5." in page.content.decode()
    survey = CsatSurvey.objects.get(ticket=world.ticket)
    assert survey.sent_at is not None and survey.attempts == 1 and survey.last_error == ""
    assert survey.expires_at == survey.created_at + LINK_LIFETIME
    assert survey.resolved_at == world.ticket.resolved_at and survey.email == "dana@acme.test"
    assert survey.response is not None and survey.response.score == 5


@pytest.mark.django_db
def test_a_rerun_sends_nothing_new(world: World, smtp_server: Any) -> None:
    _resolve(world.ticket)
    assert csat_surveys_send() == 1

    assert csat_surveys_send() == 0
    assert csat_surveys_send(now=timezone.now() + dt.timedelta(hours=6)) == 0

    assert len(smtp_server.messages) == 1 and CsatSurvey.objects.count() == 1


@pytest.mark.django_db
def test_a_reopened_and_re_resolved_ticket_is_asked_again(world: World, smtp_server: Any) -> None:
    _resolve(world.ticket, ago=dt.timedelta(hours=5))
    assert csat_surveys_send() == 1
    world.ticket.status = Ticket.Status.IN_PROGRESS
    world.ticket.save(update_fields=["status"])
    assert csat_surveys_send() == 0  # open again: nothing to ask

    _resolve(world.ticket, ago=dt.timedelta(minutes=5))
    assert csat_surveys_send() == 1

    first, second = CsatSurvey.objects.filter(ticket=world.ticket).order_by("resolved_at")
    assert first.resolved_at < second.resolved_at == world.ticket.resolved_at
    assert _token(_links(smtp_server.messages[0])[3]) != _token(_links(smtp_server.messages[1])[3])


@pytest.mark.django_db
def test_a_ticket_without_an_email_address_gets_no_survey(world: World, smtp_server: Any) -> None:
    Contact.objects.filter(pk=world.contact.pk).update(email="")
    _resolve(world.ticket)
    _resolve(world.other_ticket)  # no contact at all

    assert csat_surveys_send() == 0

    assert not CsatSurvey.objects.exists() and smtp_server.messages == []


@pytest.mark.django_db
def test_open_old_and_already_answered_tickets_are_not_asked(
    world: World, smtp_server: Any
) -> None:
    def ticket(number: int) -> Ticket:
        return make_ticket(
            world.client, summary=f"t{number}", external_id=f"T-{number}", contact=world.contact
        )

    _resolve(ticket(3), ago=dt.timedelta(days=3, minutes=1))
    answered = _resolve(ticket(4))
    CsatResponse.objects.create(
        ticket=answered, contact=world.contact, score=5, responded_at=timezone.now()
    )
    ticket(5)  # still open

    assert csat_surveys_send() == 0
    assert not CsatSurvey.objects.exists()


@pytest.mark.django_db
def test_a_failed_send_is_kept_and_retried_by_the_next_run(
    world: World, smtp_server: Any, settings: Any
) -> None:
    server_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()
    _resolve(world.ticket)

    assert csat_surveys_send() == 0

    survey = CsatSurvey.objects.get()
    assert survey.attempts == 1 and survey.sent_at is None
    assert "ConnectionRefused" in survey.last_error
    settings.EMAIL_PORT = server_port
    assert csat_surveys_send() == 1
    survey.refresh_from_db()
    assert survey.attempts == 2 and survey.sent_at is not None and survey.last_error == ""
    [message] = smtp_server.messages
    assert HttpClient().get(_links(message)[2]).status_code == 200  # the mailed token works


@pytest.mark.django_db
def test_it_gives_up_after_five_attempts(world: World, smtp_server: Any, settings: Any) -> None:
    server_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()
    _resolve(world.ticket)
    for _ in range(MAX_ATTEMPTS + 1):
        csat_surveys_send()
    assert CsatSurvey.objects.get().attempts == MAX_ATTEMPTS

    settings.EMAIL_PORT = server_port
    assert csat_surveys_send() == 0
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_the_token_is_not_stored_in_clear(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    token = _token(path)
    HttpClient().get(path)

    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(s)::text FROM metrics_csatsurvey s")
        surveys = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT row_to_json(e)::text FROM tickets_ticketevent e")
        events = [row[0] for row in cursor.fetchall()]
    assert len(surveys) == 1 and token not in surveys[0]
    assert all(token not in row for row in events)
    assert len(token) >= 43  # token_urlsafe(32)


# Answering


@pytest.mark.django_db
def test_one_click_records_the_score_and_a_second_click_changes_nothing(
    world: World, smtp_server: Any
) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()

    first = http.get(path)
    again = http.get(path.replace("/4/", "/1/"))

    assert first.status_code == again.status_code == 200
    assert "You already answered: 4/5 — thank you." in again.content.decode()
    response = CsatResponse.objects.get()
    assert (response.ticket, response.contact, response.score) == (world.ticket, world.contact, 4)
    survey = CsatSurvey.objects.get()
    assert survey.response == response and survey.answered_at == response.responded_at
    [event] = _csat_events(world.ticket)
    assert event.actor_kind == TicketEvent.ActorKind.REQUESTER
    assert event.actor_contact == world.contact and event.new_value == "4"
    assert event.body == "Rated 4/5 in the satisfaction survey."
    assert event.occurred_at == response.responded_at
    assert first["Cache-Control"] == "no-store" and first["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
def test_the_page_shows_its_own_ticket_only(world: World, smtp_server: Any) -> None:
    page = HttpClient().get(_asked(world, smtp_server)).content.decode()

    assert f"#{world.ticket.id}: Dana cannot sign in" in page
    assert world.other_ticket.summary not in page
    assert world.contact.email not in page and world.client.name not in page


@pytest.mark.django_db
def test_an_unknown_token_is_a_404(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()

    for bad in ("/csat/not-a-token/4/", path.replace(_token(path), _token(path)[:-1] + "x")):
        page = http.get(bad)
        assert page.status_code == 404
        assert "This survey link is not valid." in page.content.decode()
    assert http.post("/csat/not-a-token/", {"comment": "Hi"}).status_code == 404
    assert not CsatResponse.objects.exists()


@pytest.mark.django_db
def test_a_score_outside_one_to_five_is_a_404(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()

    assert http.get(path.replace("/4/", "/6/")).status_code == 404
    assert http.get(path.replace("/4/", "/0/")).status_code == 404
    assert not CsatResponse.objects.exists()
    with pytest.raises(ValueError, match="1 to 5"):
        csat_survey_answer(token=_token(path), score=6)


@pytest.mark.django_db
def test_an_expired_link_is_gone(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    CsatSurvey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    page = HttpClient().get(path)

    assert page.status_code == 410
    assert "This survey link has expired." in page.content.decode()
    assert not CsatResponse.objects.exists() and _csat_events(world.ticket) == []


@pytest.mark.django_db
def test_an_answer_stays_visible_after_the_link_expires(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    HttpClient().get(path)
    CsatSurvey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    page = HttpClient().get(path.replace("/4/", "/2/"))

    assert page.status_code == 200
    assert "You already answered: 4/5" in page.content.decode()


# The comment and the recommendation score


def _form_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


@pytest.mark.django_db
def test_the_requester_adds_a_comment_and_a_recommendation_once(
    world: World, smtp_server: Any
) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient(enforce_csrf_checks=True)
    page = http.get(path).content.decode()
    follow_up = f"/csat/{_token(path)}/"
    assert f'action="{follow_up}"' in page
    assert http.post(follow_up, {"comment": "Quick!", "nps": "9"}).status_code == 403  # no token
    form = {"csrfmiddlewaretoken": _form_token(page), "comment": "  Quick and kind.  ", "nps": "9"}

    done = http.post(follow_up, form)

    assert done.status_code == 200
    assert "Thank you — we have your comment." in done.content.decode()
    response = CsatResponse.objects.get()
    assert (response.score, response.comment, response.nps) == (4, "Quick and kind.", 9)
    _, second = _csat_events(world.ticket)
    assert second.body == "Quick and kind." and second.data["nps"] == 9
    assert second.actor_kind == TicketEvent.ActorKind.REQUESTER
    assert second.actor_contact == world.contact

    again = http.post(follow_up, {**form, "comment": "Changed my mind.", "nps": "0"})
    assert again.status_code == 409
    response.refresh_from_db()
    assert (response.comment, response.nps) == ("Quick and kind.", 9)
    assert len(_csat_events(world.ticket)) == 2


@pytest.mark.django_db
def test_a_recommendation_alone_is_enough(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()
    http.get(path)

    assert http.post(f"/csat/{_token(path)}/", {"comment": "", "nps": "0"}).status_code == 200

    assert CsatResponse.objects.get().nps == 0
    assert _csat_events(world.ticket)[1].body == "Would recommend us: 0/10."


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"nps": "11"}, "nps", "How likely to recommend us: choose a whole number from 0 to 10."),
        ({"nps": "abc"}, "nps", "How likely to recommend us: choose a whole number from 0 to 10."),
        ({"comment": "x" * 2001}, "comment", "Comment: at most 2000 characters; this has 2001."),
        ({"comment": "   "}, "comment", "Comment: write a few words, or choose how likely"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_a_400_naming_the_field(
    world: World, smtp_server: Any, form: dict[str, str], field: str, message: str
) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()
    http.get(path)

    page = http.post(f"/csat/{_token(path)}/", form)

    assert page.status_code == 400
    assert message in page.content.decode()
    assert 'name="comment"' in page.content.decode()  # the form, to correct
    response = CsatResponse.objects.get()
    assert (response.comment, response.nps) == ("", None)
    assert len(_csat_events(world.ticket)) == 1


@pytest.mark.django_db
def test_comments_close_a_day_after_answering(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)
    http = HttpClient()
    http.get(path)
    CsatSurvey.objects.update(answered_at=timezone.now() - dt.timedelta(hours=24, seconds=1))

    page = http.post(f"/csat/{_token(path)}/", {"comment": "Late thought."})

    assert page.status_code == 410
    assert "Comments on this survey closed" in page.content.decode()
    assert CsatResponse.objects.get().comment == ""


@pytest.mark.django_db
def test_a_comment_needs_an_answer_first(world: World, smtp_server: Any) -> None:
    path = _asked(world, smtp_server)

    page = HttpClient().post(f"/csat/{_token(path)}/", {"comment": "Hello?", "nps": "7"})

    assert page.status_code == 409
    assert f'href="{path}"' in page.content.decode()  # the scores to choose from
    assert not CsatResponse.objects.exists()


# Concurrency (separate connections, committed transactions)


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as error:  # the test reports it
            result.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _wait_until_blocked_or_done(thread: threading.Thread) -> None:
    """Until the thread waits on a row lock held by this test's connection (or finished)."""
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # Statistics views are a snapshot per transaction unless it is cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone() == (1,):
                return
        time.sleep(0.02)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_clicks_record_one_answer(world: World, smtp_server: Any) -> None:
    token = _token(_asked(world, smtp_server))

    with transaction.atomic():
        mine = csat_survey_answer(token=token, score=4)
        thread, theirs = _in_thread(lambda: csat_survey_answer(token=token, score=1))
        _wait_until_blocked_or_done(thread)
        assert thread.is_alive(), "the second click did not wait for the first"
    thread.join(10)

    [other] = theirs
    assert mine.recorded and not other.recorded and other.response.score == 4
    assert CsatResponse.objects.get().score == 4
    assert len(_csat_events(world.ticket)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_an_overlapping_run_does_not_send_a_survey_twice(
    world: World, smtp_server: Any, settings: Any
) -> None:
    server_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()
    _resolve(world.ticket)
    csat_surveys_send()  # fails: the survey waits for a retry
    settings.EMAIL_PORT = server_port

    with transaction.atomic():  # another run is sending it
        CsatSurvey.objects.select_for_update().get()
        thread, sent = _in_thread(csat_surveys_send)
        thread.join(10)
    assert sent == [0] and smtp_server.messages == []
    assert CsatSurvey.objects.count() == 1

    assert csat_surveys_send() == 1
    assert csat_surveys_send() == 0
    assert len(smtp_server.messages) == 1
