"""The ConnectWise adapter against its loopback simulator: discovery and auth, keyset paging
by last-updated, write-back, the catalogue, failures, `normalize` and signed callbacks."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from tickets.intake.types import IntakeError
from tickets.psa.base import ConnectionSettings, PsaClient, PsaError, Ref, WebhookRejected
from tickets.psa.connectwise import KIND, ConnectWiseClient, client, normalize, verify_webhook
from tickets.psa.simulators.base import Fault
from tickets.psa.simulators.connectwise import API_PREFIX, ConnectWiseSimulator

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
ROTATED = "rotated-secret-abcdefghijklmnop"


@pytest.fixture
def sim() -> Iterator[ConnectWiseSimulator]:
    with ConnectWiseSimulator() as simulator:
        simulator.add_company("acme", "Acme Dental")
        simulator.add_company("globex", "Globex Legal")
        simulator.add_member("dana", "Dana Scully")
        yield simulator


def _settings(sim: ConnectWiseSimulator, *secrets: str, **credentials: str) -> ConnectionSettings:
    return ConnectionSettings(
        kind=KIND,
        base_url=sim.base_url,
        credentials={**sim.credentials, **credentials},
        webhook_secrets=secrets,
    )


@pytest.fixture
def api(sim: ConnectWiseSimulator) -> Iterator[ConnectWiseClient]:
    connection = client(_settings(sim, sim.webhook_secret), timeout=5.0)
    yield connection
    connection.close()


def _all_pages(api: ConnectWiseClient, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    rows, cursor = [], None
    while True:
        page = api.tickets_page(updated_since=since, cursor=cursor)
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def _order_key(row: dict[str, Any]) -> tuple[str, int]:
    return (row["_info"]["lastUpdated"], row["id"])


# discovery, auth, paging ------------------------------------------------------------------
def test_it_is_a_psa_client_that_discovers_the_api_base(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    protocol: PsaClient = api

    line = protocol.check()

    assert line == f"Connected to ConnectWise PSA v2024.1.104567 at {sim.base_url} as simco."
    assert sim.log == [("GET", "/login/companyinfo/simco"), ("GET", f"{API_PREFIX}system/info")]
    assert protocol.requests_made == 2


def test_it_rejects_wrong_credentials_as_permanent(sim: ConnectWiseSimulator) -> None:
    wrong = client(_settings(sim, private_key="not-the-key"))

    with pytest.raises(PsaError) as caught:
        wrong.check()

    assert caught.value.status == 401
    assert caught.value.transient is False


def test_it_says_when_the_company_id_is_unknown(sim: ConnectWiseSimulator) -> None:
    unknown = client(_settings(sim, company_id="nobody"))

    with pytest.raises(PsaError) as caught:
        unknown.count_updated_since(None)

    assert caught.value.status == 404
    assert "Company 'nobody' not found" in str(caught.value)


def test_missing_credentials_are_named() -> None:
    settings = ConnectionSettings(kind=KIND, base_url="http://127.0.0.1:9", credentials={})

    with pytest.raises(PsaError, match="company_id, public_key, private_key, client_id"):
        client(settings)


def test_paging_returns_every_ticket_once_oldest_first(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    start = sim.now() - dt.timedelta(hours=2)
    ids = sim.seed(2_350, companies=["acme", "globex"], start=start)

    pages = []
    cursor = None
    while True:
        page = api.tickets_page(updated_since=None, cursor=cursor)
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    rows = [row for page in pages for row in page.items]

    assert [len(page.items) for page in pages] == [1000, 1000, 350]
    assert [str(row["id"]) for row in rows] == ids
    assert rows == sorted(rows, key=_order_key)


def test_a_ticket_updated_while_paging_is_read_again_not_skipped(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    ids = sim.seed(2_100, companies=["acme"])
    first = api.tickets_page(updated_since=None, cursor=None)
    sim.update_ticket(ids[10], status="In Progress")  # moves behind everything else

    rest = _all_pages_from(api, first.next_cursor)
    seen = [str(row["id"]) for row in first.items + rest]

    assert set(seen) == set(ids)
    assert seen[-1] == ids[10]
    assert seen.count(ids[10]) == 2


def _all_pages_from(api: ConnectWiseClient, cursor: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while cursor is not None:
        page = api.tickets_page(updated_since=None, cursor=cursor)
        rows.extend(page.items)
        cursor = page.next_cursor
    return rows


def test_updated_since_includes_tickets_updated_exactly_at_the_watermark(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    sim.freeze()  # the three tickets "at the mark" must share its second
    older = sim.create_ticket(summary="Older")
    sim.advance(10)
    watermark = sim.now()
    at_mark = [sim.create_ticket(summary=f"At the mark {n}") for n in range(3)]
    sim.advance(10)
    later = sim.create_ticket(summary="Later")

    rows = _all_pages(api, since=watermark)
    after_mark = _all_pages(api, since=watermark + dt.timedelta(seconds=1))

    assert [str(row["id"]) for row in rows] == [*at_mark, later]
    assert older not in {str(row["id"]) for row in rows}
    assert [str(row["id"]) for row in after_mark] == [later]
    assert api.count_updated_since(watermark) == 4
    assert api.count_updated_since(None) == 5


def test_a_watermark_with_microseconds_still_includes_its_second(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    ticket = sim.create_ticket(summary="Same second")
    moment = sim.now() + dt.timedelta(microseconds=500_000)

    assert [str(row["id"]) for row in _all_pages(api, since=moment)] == [ticket]


# reading and write-back -------------------------------------------------------------------
def test_ticket_returns_the_ticket_with_its_configurations(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    external_id = sim.create_ticket(summary="Disk full", hostnames=["ACME-LT-0001"])

    ticket = api.ticket(external_id)

    assert {k: v for k, v in ticket.items() if k != "configurations"} == sim.ticket_json(
        external_id
    )
    assert [item["deviceIdentifier"] for item in ticket["configurations"]] == ["ACME-LT-0001"]
    assert normalize(ticket).assets == ("ACME-LT-0001",)


def test_an_unknown_ticket_is_a_permanent_404(api: ConnectWiseClient) -> None:
    with pytest.raises(PsaError) as caught:
        api.ticket("424242")
    assert (caught.value.status, caught.value.transient) == (404, False)


def test_notes_status_assignee_and_time_round_trip(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", company="acme")
    member = sim.add_member("fox", "Fox Mulder")
    started = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)

    public_note = api.add_note(external_id, text="We are on it.", public=True)
    private_note = api.add_note(external_id, text="Reinstalled Teams.", public=False)
    api.update_ticket(external_id, status="1:14", assignee=member)
    entry = api.add_time(external_id, member=member, started_at=started, minutes=25, notes="Fix")

    notes = sim.notes(external_id)
    assert [(str(n["id"]), n["text"]) for n in notes] == [
        (public_note, "We are on it."),
        (private_note, "Reinstalled Teams."),
    ]
    assert [(n["detailDescriptionFlag"], n["internalAnalysisFlag"]) for n in notes] == [
        (True, False),
        (False, True),
    ]
    assert sim.status_label(external_id) == "Closed"
    assert sim.ticket_json(external_id)["closedFlag"] is True
    assert sim.assignee_identifier(external_id) == "fox"
    [logged] = sim.time_entries(external_id)
    assert (str(logged["id"]), logged["actualHours"], logged["notes"]) == (entry, 0.42, "Fix")
    assert (logged["timeStart"], logged["timeEnd"]) == (
        "2024-05-01T09:00:00Z",
        "2024-05-01T09:25:00Z",
    )


def test_update_ticket_can_unassign_and_is_silent_without_changes(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", assignee="dana")
    before = len(sim.log)

    api.update_ticket(external_id)
    assert len(sim.log) == before
    api.update_ticket(external_id, assignee="")

    assert sim.assignee_identifier(external_id) == ""


def test_a_status_of_another_board_is_refused_by_the_psa(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", queue="Service Desk")

    with pytest.raises(PsaError) as caught:
        api.update_ticket(external_id, status="2:22")

    assert (caught.value.status, caught.value.transient) == (400, False)
    assert "not a status of board 1" in str(caught.value)
    assert sim.status_label(external_id) == "New"


def test_catalogue_lists_board_statuses_and_the_other_values(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    catalogue = api.catalogue()

    assert catalogue["queue"] == [Ref("1", "Service Desk"), Ref("2", "Projects")]
    assert catalogue["status"][:4] == [
        Ref("1:11", "New"),
        Ref("1:12", "In Progress"),
        Ref("1:13", "Waiting Customer"),
        Ref("1:14", "Closed"),
    ]
    assert Ref("2:24", "Closed") in catalogue["status"]
    assert [ref.label for ref in catalogue["priority"]] == [
        "Priority 1 - Critical",
        "Priority 2 - High",
        "Priority 3 - Medium",
        "Priority 4 - Low",
    ]
    assert [ref.label for ref in catalogue["type"]][:3] == [
        "Incident",
        "Service Request",
        "Problem",
    ]
    assert [ref.label for ref in catalogue["company"]] == ["Acme Dental", "Globex Legal"]
    assert [ref.label for ref in catalogue["member"]] == ["Dana Scully"]
    assert api.budget() is None


# failures ---------------------------------------------------------------------------------
def test_a_429_is_transient_with_the_psa_retry_after(
    sim: ConnectWiseSimulator, api: ConnectWiseClient
) -> None:
    sim.fail(Fault(status=429, retry_after=7, path="service/tickets"))

    with pytest.raises(PsaError) as caught:
        api.tickets_page(updated_since=None, cursor=None)

    assert (caught.value.status, caught.value.transient, caught.value.retry_after) == (
        429,
        True,
        7.0,
    )


def test_a_500_is_transient(sim: ConnectWiseSimulator, api: ConnectWiseClient) -> None:
    sim.fail(Fault(status=500, path="service/tickets"))

    with pytest.raises(PsaError) as caught:
        api.count_updated_since(None)

    assert (caught.value.status, caught.value.transient) == (500, True)
    assert api.count_updated_since(None) == 0  # the next call is answered


def test_a_psa_slower_than_the_time_out_is_a_transient_time_out(
    sim: ConnectWiseSimulator,
) -> None:
    impatient = client(_settings(sim), timeout=0.3)
    sim.fail(Fault(delay=1.0, path="service/tickets"))

    with pytest.raises(PsaError, match="timed out") as caught:
        impatient.tickets_page(updated_since=None, cursor=None)

    assert caught.value.transient is True
    assert caught.value.status is None


def test_the_simulator_evaluates_conditions_and_order(sim: ConnectWiseSimulator) -> None:
    closed = sim.create_ticket(summary="Closed one", company="acme", status="Closed")
    open_acme = sim.create_ticket(summary="Printer offline", company="acme")
    globex = sim.create_ticket(summary="Printer jam", company="globex")

    def ids(**params: str) -> list[int]:
        answer = _raw_get(sim, "service/tickets", params)
        return [row["id"] for row in answer.json()]

    assert ids(conditions='closedFlag=false and company/identifier="ACME"') == [int(open_acme)]
    assert ids(conditions='summary like "printer*" and company/identifier!="acme"') == [int(globex)]
    assert ids(conditions='summary like "printer*"', orderBy="id desc") == [
        int(globex),
        int(open_acme),
    ]
    assert ids(conditions=f"(id={closed} or id={globex}) and closedFlag=true") == [int(closed)]
    assert ids(conditions=f"id in ({closed}, {open_acme})") == [int(closed), int(open_acme)]
    assert ids(conditions='summary not contains "printer"') == [int(closed)]
    assert _raw_get(sim, "service/tickets", {"conditions": "id = = 3"}).status_code == 400


def test_the_simulator_pages_with_a_link_header(sim: ConnectWiseSimulator) -> None:
    for n in range(3):
        sim.create_ticket(summary=f"Ticket {n}")

    first = _raw_get(sim, "service/tickets", {"pageSize": "2"})
    last = httpx2.get(_next_link(first), headers=_auth(sim))

    assert len(first.json()) == 2 and len(last.json()) == 1
    assert 'rel="next"' not in last.headers["Link"]
    assert _raw_get(sim, "service/tickets", {}, headers={}).status_code == 401


def _auth(sim: ConnectWiseSimulator) -> dict[str, str]:
    login = "{company_id}+{public_key}:{private_key}".format(**sim.credentials)
    basic = base64.b64encode(login.encode()).decode()
    return {"Authorization": f"Basic {basic}", "clientId": sim.credentials["client_id"]}


def _raw_get(
    sim: ConnectWiseSimulator,
    path: str,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    headers = _auth(sim) if headers is None else headers
    return httpx2.get(f"{sim.url}{API_PREFIX}{path}", params=params, headers=headers)


def _next_link(answer: httpx2.Response) -> str:
    for part in answer.headers["Link"].split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    raise AssertionError("no next link")


# normalize --------------------------------------------------------------------------------
def test_normalize_reads_the_ticket_refs_and_people(sim: ConnectWiseSimulator) -> None:
    opened = dt.datetime(2024, 4, 30, 8, 15, tzinfo=dt.UTC)
    external_id = sim.create_ticket(
        summary="Outlook asks for the password",
        description="Since this morning.",
        company="acme",
        contact_email="kim@acme.test",
        contact_name="Kim Lee",
        status="Waiting Customer",
        priority="High",
        type="Service Request",
        queue="Projects",
        assignee="dana",
        opened_at=opened,
    )
    raw = sim.ticket_json(external_id)

    record = normalize(raw)

    assert record.external_id == external_id
    assert record.summary == "Outlook asks for the password"
    assert record.description == "Since this morning."
    assert record.status == Ref("2:23", "Waiting Customer")
    assert record.closed is False
    assert record.priority == Ref("2", "Priority 2 - High")
    assert record.type == Ref("202", "Service Request")
    assert record.subtype is None
    assert record.queue == Ref("2", "Projects")
    assert record.company == Ref("1", "Acme Dental")
    assert record.company_identifier == "acme"
    assert (record.contact_email, record.contact_name) == ("kim@acme.test", "Kim Lee")
    assert record.assignee == Ref("3", "Dana Scully")
    assert record.opened_at == opened
    assert record.updated_at == dt.datetime.fromisoformat(raw["_info"]["lastUpdated"])
    assert record.updated_at.tzinfo == dt.UTC
    assert record.raw is raw


def test_normalize_marks_a_closed_ticket_closed(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Done", status="Completed")

    record = normalize(sim.ticket_json(external_id))

    assert record.closed is True
    assert record.status == Ref("1:14", "Closed")


def test_normalize_tolerates_missing_and_odd_fields() -> None:
    record = normalize(
        {
            "id": 57962,
            "_info": {"lastUpdated": "2024-05-01T10:00:00"},
            "status": "odd",
            "company": None,
            "owner": {"identifier": "no-id"},
            "configurations": "not a list",
            "somethingNew": {"x": 1},
        }
    )

    assert record.external_id == "57962"
    assert record.updated_at == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert (record.status, record.company, record.assignee, record.assets) == (None, None, None, ())
    assert (record.summary, record.description, record.closed) == ("", "", False)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "has no id"),
        ({"id": None, "_info": {"lastUpdated": "2024-05-01T10:00:00Z"}}, "has no id"),
        ({"id": 7}, "ticket 7 has no readable _info.lastUpdated"),
        ({"id": 7, "_info": {"lastUpdated": "yesterday"}}, "ticket 7 has no readable"),
        ({"id": 7, "_info": "garbage"}, "ticket 7 has no readable"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_normalize_refuses_a_ticket_without_id_or_last_updated(raw: Any, message: str) -> None:
    with pytest.raises(IntakeError, match=message):
        normalize(raw)


# callbacks --------------------------------------------------------------------------------
def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_a_signed_callback_verifies(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    body, headers = sim.delivery(external_id, "added")

    delivery = verify_webhook(_settings(sim, sim.webhook_secret), _headers(headers), body, now=NOW)

    assert delivery.external_id == external_id
    assert delivery.action == "added"
    assert delivery.delivery_id == json.loads(body)["MessageId"]
    assert json.loads(json.loads(body)["Entity"])["summary"] == "Disk full"
    assert not any(path.startswith("/callbackkey") for _, path in sim.log)


def test_a_callback_signed_with_another_key_is_rejected(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    body, headers = sim.delivery(external_id, secret="not-the-secret-0123456789")

    with pytest.raises(WebhookRejected, match="does not match"):
        verify_webhook(_settings(sim, sim.webhook_secret), _headers(headers), body, now=NOW)


def test_a_tampered_callback_is_rejected(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    body, headers = sim.delivery(external_id)
    tampered = body.replace(f'"ID": {external_id}'.encode(), b'"ID": 1')

    assert tampered != body
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_webhook(_settings(sim, sim.webhook_secret), _headers(headers), tampered, now=NOW)


def test_a_second_secret_verifies_during_rotation(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    settings = _settings(sim, sim.webhook_secret, ROTATED)

    for secret in (sim.webhook_secret, ROTATED):
        body, headers = sim.delivery(external_id, secret=secret)
        assert verify_webhook(settings, _headers(headers), body, now=NOW).external_id == external_id


def test_without_a_configured_secret_the_key_is_fetched_from_key_url_once(
    sim: ConnectWiseSimulator,
) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    settings = _settings(sim)  # no pasted key: only the PSA's own key_url can verify

    for _ in range(2):
        body, headers = sim.delivery(external_id)
        assert verify_webhook(settings, _headers(headers), body, now=NOW).action == "updated"
    forged, forged_headers = sim.delivery(external_id, secret="forger-0123456789")

    with pytest.raises(WebhookRejected, match="does not match"):
        verify_webhook(settings, _headers(forged_headers), forged, now=NOW)
    assert httpx2.get(sim.key_url).json() == {"signing_key": sim.webhook_secret}
    assert [path for _, path in sim.log].count("/callbackkey/1") == 2  # one fetch, our get


def test_a_key_url_on_another_host_is_refused_without_fetching_it(
    sim: ConnectWiseSimulator,
) -> None:
    with ConnectWiseSimulator(webhook_secret="attacker-key-0123456789") as attacker:
        body, headers = attacker.delivery("1001")
        assert json.loads(body)["Metadata"]["key_url"].startswith(attacker.url)

        with pytest.raises(WebhookRejected, match="not on the configured ConnectWise site"):
            verify_webhook(_settings(sim, sim.webhook_secret), _headers(headers), body, now=NOW)

        assert attacker.request_count == 0


def test_a_deleted_ticket_callback_carries_no_entity(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    body, headers = sim.delivery(external_id, "deleted")

    delivery = verify_webhook(_settings(sim, sim.webhook_secret), _headers(headers), body, now=NOW)

    assert json.loads(body)["Entity"] is None
    assert (delivery.external_id, delivery.action) == (external_id, "deleted")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Type": "company"}, "is not a ticket"),
        ({"ID": None}, "names no ticket ID"),
    ],
)
def test_a_callback_that_is_not_about_a_ticket_is_rejected(
    sim: ConnectWiseSimulator, change: dict[str, Any], reason: str
) -> None:
    from tickets.psa.connectwise import callback_signature

    payload = {**json.loads(sim.delivery("1001")[0]), **change}
    body = json.dumps(payload).encode()
    headers = {"x-content-signature": callback_signature(sim.webhook_secret, body)}

    with pytest.raises(WebhookRejected, match=reason):
        verify_webhook(_settings(sim, sim.webhook_secret), headers, body, now=NOW)


def test_a_callback_without_signature_or_json_is_rejected(sim: ConnectWiseSimulator) -> None:
    body, headers = sim.delivery("1001")
    settings = _settings(sim, sim.webhook_secret)

    with pytest.raises(WebhookRejected, match="No x-content-signature"):
        verify_webhook(settings, {}, body, now=NOW)
    with pytest.raises(WebhookRejected, match="not JSON"):
        verify_webhook(settings, _headers(headers), b"{not json", now=NOW)


class _Receiver:
    """A loopback endpoint that keeps what it is sent and answers 202."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_deliver_posts_signed_and_tampered_callbacks(sim: ConnectWiseSimulator) -> None:
    external_id = sim.create_ticket(summary="Disk full")
    receiver = _Receiver()
    try:
        statuses = [
            sim.deliver(receiver.url, external_id, "updated"),
            sim.deliver(receiver.url, external_id, "updated", tamper=True),
        ]
    finally:
        receiver.close()
    settings = _settings(sim, sim.webhook_secret)
    (signed, signed_headers), (tampered, tampered_headers) = receiver.received

    assert statuses == [202, 202]
    assert verify_webhook(settings, signed_headers, signed, now=NOW).external_id == external_id
    with pytest.raises(WebhookRejected):
        verify_webhook(settings, tampered_headers, tampered, now=NOW)
