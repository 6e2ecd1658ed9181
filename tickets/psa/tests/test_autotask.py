"""The Autotask adapter against its loopback simulator, over real HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tickets.intake.types import IntakeError
from tickets.psa.autotask import KIND, AutotaskClient, client, escaped_json, normalize
from tickets.psa.autotask import verify_webhook as verify
from tickets.psa.base import (
    ConnectionSettings,
    Delivery,
    PsaClient,
    PsaError,
    Ref,
    WebhookRejected,
)
from tickets.psa.simulators.autotask import AutotaskSimulator, html_escaped
from tickets.psa.simulators.base import Fault

SECRET = "sim-webhook-secret-0123456789"
OLD_SECRET = "the-secret-before-rotation-42"


@pytest.fixture
def sim() -> Iterator[AutotaskSimulator]:
    with AutotaskSimulator(webhook_secret=SECRET) as simulator:
        simulator.add_company("acme", "Acme Corp")
        simulator.add_member("jdoe", "Jane Doe")
        yield simulator


def connect(sim: AutotaskSimulator, *, timeout: float = 5.0, **credentials: str) -> AutotaskClient:
    settings = ConnectionSettings(
        kind=KIND,
        base_url=sim.base_url,
        credentials={**sim.credentials, **credentials},
        webhook_secrets=(SECRET,),
    )
    return client(settings, timeout=timeout)


def all_pages(api: PsaClient, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = api.tickets_page(updated_since=since, cursor=cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def settings_with(*secrets: str) -> ConnectionSettings:
    return ConnectionSettings(kind=KIND, base_url="", credentials={}, webhook_secrets=secrets)


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).digest()
    return {"x-hook-signature": "sha1=" + base64.b64encode(digest).decode()}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# auth and reads ------------------------------------------------------------------------------
def test_it_satisfies_the_client_protocol(sim: AutotaskSimulator) -> None:
    api: PsaClient = connect(sim)
    assert api.check().startswith("Connected to Autotask at 127.0.0.1:")
    assert api.requests_made == 2  # zone discovery, ThresholdInformation


def test_it_rejects_wrong_credentials_as_permanent(sim: AutotaskSimulator) -> None:
    api = connect(sim, secret="not-the-secret")
    with pytest.raises(PsaError) as caught:
        api.check()
    assert caught.value.status == 401
    assert not caught.value.transient


def test_it_reports_missing_credentials() -> None:
    settings = ConnectionSettings(kind=KIND, base_url="http://127.0.0.1:9", credentials={})
    with pytest.raises(PsaError, match="username"):
        client(settings)


def test_it_pages_every_ticket_once_in_last_activity_order(sim: AutotaskSimulator) -> None:
    ids = sim.seed(2350, companies=["acme", "globex"])
    items = all_pages(connect(sim))
    assert [str(item["id"]) for item in items] == ids
    keys = [(normalize(item).updated_at, item["id"]) for item in items]
    assert keys == sorted(keys)
    assert sim.log.count(("GET", "/atservicesrest/v1.0/Tickets/query/next")) == 4


def test_a_ticket_updated_during_a_sync_is_not_skipped(sim: AutotaskSimulator) -> None:
    ids = sim.seed(1200, companies=["acme"])
    api = connect(sim)
    first = api.tickets_page(updated_since=None, cursor=None)
    sim.update_ticket(ids[10], status="In Progress")
    rest = all_pages_from(api, first.next_cursor)
    seen = [str(item["id"]) for item in first.items + rest]
    assert sorted(set(seen), key=int) == ids
    assert seen[-1] == ids[10]


def all_pages_from(api: PsaClient, cursor: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while cursor is not None:
        page = api.tickets_page(updated_since=None, cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
    return items


def test_updated_since_includes_tickets_updated_at_the_watermark(sim: AutotaskSimulator) -> None:
    before = sim.create_ticket(summary="Older", company="acme")
    sim.advance(60)
    at = sim.create_ticket(summary="At the watermark", company="acme")
    watermark = normalize(sim.ticket_json(at)).updated_at
    sim.advance(60)
    after = sim.create_ticket(summary="Newer", company="acme")
    api = connect(sim)
    ids = [str(item["id"]) for item in all_pages(api, watermark)]
    assert ids == [at, after]
    assert before not in ids
    assert api.count_updated_since(watermark) == 2
    assert api.count_updated_since(None) == 3


def test_it_reads_one_ticket_with_its_lookups(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(
        summary="Printer offline",
        company="acme",
        contact_email="ann@acme.test",
        contact_name="Ann Lee",
        assignee="jdoe",
        hostnames=["ACME-PC007"],
    )
    raw = connect(sim).ticket(ticket_id)
    assert raw["title"] == "Printer offline"
    assert raw["_lookups"]["contact"]["emailAddress"] == "ann@acme.test"


def test_an_unknown_ticket_is_a_permanent_404(sim: AutotaskSimulator) -> None:
    with pytest.raises(PsaError) as caught:
        connect(sim).ticket("999999")
    assert caught.value.status == 404
    assert not caught.value.transient


def test_the_catalogue_lists_picklists_companies_and_members(sim: AutotaskSimulator) -> None:
    values = connect(sim).catalogue()
    assert {(ref.id, ref.label) for ref in values["status"]} >= {("1", "New"), ("5", "Complete")}
    assert ("4", "Critical") in {(ref.id, ref.label) for ref in values["priority"]}
    assert "Incident" in {ref.label for ref in values["type"]}
    assert {ref.label for ref in values["queue"]} == {"Service Desk", "Projects"}
    assert (sim.add_company("acme", ""), "Acme Corp") in {
        (ref.id, ref.label) for ref in values["company"]
    }
    assert [(ref.id, ref.label) for ref in values["member"]] == [
        (sim.add_member("jdoe", ""), "Jane Doe")
    ]


def test_query_filters_are_evaluated(sim: AutotaskSimulator) -> None:
    sim.create_ticket(summary="VPN drops", company="acme", priority="High")
    sim.create_ticket(summary="Printer jam", company="acme", priority="Low")
    sim.create_ticket(summary="VPN slow", company="acme", priority="Low", status="Closed")
    api = connect(sim)
    query = {
        "filter": [
            {"op": "beginsWith", "field": "title", "value": "vpn"},
            {
                "op": "or",
                "items": [
                    {"op": "eq", "field": "priority", "value": 1},
                    {"op": "in", "field": "status", "value": [5]},
                ],
            },
        ]
    }
    answer = api.http.request("POST", api.api + "Tickets/query", json=query)
    assert sorted(item["title"] for item in answer["items"]) == ["VPN drops", "VPN slow"]


# writes --------------------------------------------------------------------------------------
def test_notes_status_assignee_and_time_reach_the_psa(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Disk full", company="acme")
    api = connect(sim)
    note_id = api.add_note(ticket_id, text="Cleared temp files.\nMore later.", public=False)
    api.update_ticket(ticket_id, status="8", assignee=sim.add_member("jdoe", ""))
    started = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
    entry_id = api.add_time(
        ticket_id, member=sim.add_member("jdoe", ""), started_at=started, minutes=30, notes="Fixed"
    )
    [note] = sim.notes(ticket_id)
    assert (str(note["id"]), note["title"], note["publish"]) == (note_id, "Cleared temp files.", 2)
    assert sim.status_label(ticket_id) == "In Progress"
    assert sim.assignee_identifier(ticket_id) == "jdoe"
    [entry] = sim.time_entries(ticket_id)
    assert str(entry["id"]) == entry_id
    assert (entry["hoursWorked"], entry["endDateTime"]) == (0.5, "2024-05-01T09:30:00Z")


def test_completing_and_unassigning(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Done soon", company="acme", assignee="jdoe")
    connect(sim).update_ticket(ticket_id, status="5", assignee="")
    assert sim.status_label(ticket_id) == "Complete"
    assert sim.assignee_identifier(ticket_id) == ""
    assert sim.ticket_json(ticket_id)["completedDate"] is not None


def test_a_configured_role_is_used_without_a_lookup(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Role", company="acme")
    api = connect(sim, default_role_id="29683461")
    api.update_ticket(ticket_id, assignee=sim.add_member("jdoe", ""))
    assert ("POST", "/atservicesrest/v1.0/ResourceServiceDeskRoles/query") not in sim.log
    assert sim.ticket_json(ticket_id)["assignedResourceRoleID"] == 29683461


def test_a_bad_status_id_is_refused_permanently(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Bad", company="acme")
    with pytest.raises(PsaError) as caught:
        connect(sim).update_ticket(ticket_id, status="42")
    assert (caught.value.status, caught.value.transient) == (400, False)
    assert sim.status_label(ticket_id) == "New"


# failures and budget -------------------------------------------------------------------------
def test_429_is_transient_with_its_retry_after(sim: AutotaskSimulator) -> None:
    api = connect(sim)
    sim.fail(Fault(status=429, retry_after=17, path="Tickets/query"))
    with pytest.raises(PsaError) as caught:
        api.tickets_page(updated_since=None, cursor=None)
    assert (caught.value.status, caught.value.transient, caught.value.retry_after) == (
        429,
        True,
        17.0,
    )


def test_500_is_transient(sim: AutotaskSimulator) -> None:
    sim.fail(Fault(status=500, path="ThresholdInformation"))
    with pytest.raises(PsaError) as caught:
        connect(sim).budget()
    assert (caught.value.status, caught.value.transient) == (500, True)


def test_a_slow_answer_is_a_transient_time_out(sim: AutotaskSimulator) -> None:
    sim.fail(Fault(delay=1.0, path="ThresholdInformation"))
    with pytest.raises(PsaError, match="timed out") as caught:
        connect(sim, timeout=0.2).budget()
    assert caught.value.transient


def test_the_budget_reports_and_enforces_the_threshold(sim: AutotaskSimulator) -> None:
    sim.threshold, sim.used = 100, 40
    api = connect(sim)
    api.count_updated_since(None)
    budget = api.budget()
    assert (budget.used, budget.limit, budget.window_seconds) == (41, 100, 3600)
    sim.used = 100
    with pytest.raises(PsaError) as caught:
        api.count_updated_since(None)
    assert (caught.value.status, caught.value.transient) == (429, True)
    assert caught.value.retry_after == 3600.0


def test_a_next_page_on_another_host_is_not_followed(sim: AutotaskSimulator) -> None:
    with pytest.raises(PsaError, match="another host"):
        connect(sim).tickets_page(updated_since=None, cursor="http://elsewhere.test/next")


# normalize -----------------------------------------------------------------------------------
def test_normalize_reads_a_looked_up_ticket(sim: AutotaskSimulator) -> None:
    opened = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    before = sim.now()
    ticket_id = sim.create_ticket(
        summary="Server down",
        description="Nothing answers.",
        company="acme",
        contact_email="ann@acme.test",
        contact_name="Ann Lee",
        status="Waiting Customer",
        priority="Critical",
        type="Incident",
        queue="Projects",
        assignee="jdoe",
        hostnames=["ACME-SRV01"],
        opened_at=opened,
    )
    record = normalize(connect(sim).ticket(ticket_id))
    assert record.external_id == ticket_id
    assert (record.summary, record.description) == ("Server down", "Nothing answers.")
    assert (record.status, record.closed) == (Ref("7", "Waiting Customer"), False)
    assert record.priority == Ref("4", "Critical")
    assert record.type == Ref("2", "Incident")
    assert record.queue == Ref("29682834", "Projects")
    assert record.company == Ref(sim.add_company("acme", ""), "Acme Corp")
    assert record.company_identifier == "acme"
    assert (record.contact_email, record.contact_name) == ("ann@acme.test", "Ann Lee")
    assert record.assignee == Ref(sim.add_member("jdoe", ""), "Jane Doe")
    assert record.assets == ("ACME-SRV01",)
    assert record.opened_at == opened
    assert before <= record.updated_at <= sim.now()


def test_normalize_reads_a_bare_ticket_by_ids(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Closed one", company="acme", status="Completed")
    raw = sim.ticket_json(ticket_id)
    record = normalize(raw)
    assert (record.status, record.closed) == (Ref("5", ""), True)
    assert record.company == Ref(sim.add_company("acme", ""), "")
    assert (record.contact_email, record.company_identifier) == ("", "")
    assert record.updated_at.utcoffset() == dt.timedelta(0)
    assert record.raw is raw


def test_normalize_tolerates_missing_and_unknown_keys() -> None:
    record = normalize(
        {"id": 7, "lastActivityDate": "2024-05-01T10:00:00.1234567Z", "status": None, "new": 1}
    )
    assert record.external_id == "7"
    assert record.updated_at == dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert (record.status, record.company, record.assets) == (None, None, ())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({}, "no id"),
        ({"title": "x", "lastActivityDate": "2024-05-01T10:00:00Z"}, "no id"),
        ({"id": 5}, "lastActivityDate"),
        ({"id": 5, "lastActivityDate": "yesterday"}, "lastActivityDate"),
    ],
)
def test_normalize_refuses_garbage(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(IntakeError, match=reason):
        normalize(raw)


# webhooks ------------------------------------------------------------------------------------
def test_a_signed_delivery_verifies(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id, "updated")
    delivery = verify(settings_with(SECRET), lower(headers), body, now=sim.now())
    payload = json.loads(body)
    assert delivery == Delivery(
        delivery_id=f"{payload['Guid']}:{payload['SequenceNumber']}",
        external_id=ticket_id,
        action="updated",
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [("added", "added"), ("deleted", "deleted"), ("deactivated", "deactivated")],
)
def test_each_action_maps(sim: AutotaskSimulator, action: str, expected: str) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id, action)
    assert verify(settings_with(SECRET), lower(headers), body, now=sim.now()).action == expected


def test_the_second_secret_verifies_during_rotation(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id, secret=OLD_SECRET)
    delivery = verify(settings_with(SECRET, OLD_SECRET), lower(headers), body, now=sim.now())
    assert delivery.external_id == ticket_id


def test_a_wrong_secret_is_rejected(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id, secret="someone-else")
    with pytest.raises(WebhookRejected, match="does not match"):
        verify(settings_with(SECRET, OLD_SECRET), lower(headers), body, now=sim.now())


def test_a_tampered_body_is_rejected(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id)
    tampered = body.replace(f'"Id":{ticket_id}'.encode(), f'"Id":{int(ticket_id) + 1}'.encode())
    assert tampered != body
    with pytest.raises(WebhookRejected, match="does not match"):
        verify(settings_with(SECRET), lower(headers), tampered, now=sim.now())


def test_a_missing_or_malformed_signature_is_rejected(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, _ = sim.delivery(ticket_id)
    with pytest.raises(WebhookRejected, match="no X-Hook-Signature"):
        verify(settings_with(SECRET), {}, body, now=sim.now())
    with pytest.raises(WebhookRejected, match="sha1="):
        verify(settings_with(SECRET), {"x-hook-signature": "md5=abc"}, body, now=sim.now())


def test_no_configured_secret_rejects(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id)
    with pytest.raises(WebhookRejected, match="No webhook secret"):
        verify(settings_with(), lower(headers), body, now=sim.now())


def test_a_stale_or_future_event_time_is_rejected(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    body, headers = sim.delivery(ticket_id)
    for offset in (10, -10):
        later = sim.now() + dt.timedelta(minutes=offset)
        with pytest.raises(WebhookRejected, match=r"EventTime .* more than 5 minutes"):
            verify(settings_with(SECRET), lower(headers), body, now=later)
    near = sim.now() + dt.timedelta(minutes=4)
    assert verify(settings_with(SECRET), lower(headers), body, now=near).external_id == ticket_id


def test_a_delivery_signed_over_the_escaped_form_verifies(sim: AutotaskSimulator) -> None:
    summary = 'Café "quoted" <b> & it\'s Ω 😀 path\\'
    ticket_id = sim.create_ticket(summary=summary, company="acme")
    sim.sign_escaped = True
    body, headers = sim.delivery(ticket_id)
    assert signed(body)["x-hook-signature"] != headers["X-Hook-Signature"]
    assert "Café".encode() in body
    delivery = verify(settings_with(SECRET), lower(headers), body, now=sim.now())
    assert delivery.external_id == ticket_id


def test_the_escaped_form_matches_the_documented_escapes() -> None:
    payload = {"a": "<&>'\"é\\", "n": [1, None, True], "k\u00fc": {"x": "😀"}}
    text = escaped_json(payload)
    assert text == (
        '{"a":"\\u003c\\u0026\\u003e\\u0027\\u0022\\u00e9\\\\",'
        '"n":[1,null,true],"k\\u00fc":{"x":"\\ud83d\\ude00"}}'
    )
    assert text == html_escaped(payload)


def test_an_escaped_signature_does_not_cover_a_changed_body() -> None:
    payload = {"Action": "Update", "Id": 5, "EventTime": "2024-05-01T10:00:00Z"}
    headers = signed(escaped_json({**payload, "Id": 6}).encode())
    body = json.dumps(payload).encode()
    with pytest.raises(WebhookRejected, match="does not match"):
        verify(settings_with(SECRET), headers, body, now=dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC))


def test_deliver_posts_to_a_receiver(sim: AutotaskSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Hook", company="acme")
    with Receiver() as url:
        assert sim.deliver(url, ticket_id) == 204
        assert sim.deliver(url, ticket_id, tamper=True) == 403
        assert sim.deliver(url, ticket_id, secret="wrong") == 403


class Receiver:
    """A loopback endpoint that answers 204 when `verify_webhook` accepts, else 403."""

    def __enter__(self) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                now = dt.datetime.now(dt.UTC)
                try:
                    verify(settings_with(SECRET), headers, body, now=now)
                    self.send_response(204)
                except WebhookRejected:
                    self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/hooks/autotask"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
