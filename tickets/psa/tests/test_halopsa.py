"""The HaloPSA adapter against the loopback Halo tenant: the real client over real HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tickets.intake.types import IntakeError
from tickets.psa.base import ConnectionSettings, Delivery, PsaError, Ref, WebhookRejected
from tickets.psa.halopsa import KIND, HaloClient, client, normalize, verify_webhook
from tickets.psa.simulators.base import Fault
from tickets.psa.simulators.halopsa import HaloSimulator

SECRET = "sim-webhook-secret-0123456789"
ROTATED = "rotated-webhook-secret-9876543210"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def sim() -> Iterator[HaloSimulator]:
    with HaloSimulator() as sim:
        yield sim


@pytest.fixture
def settings(sim: HaloSimulator) -> ConnectionSettings:
    return ConnectionSettings(
        kind=KIND,
        base_url=sim.base_url,
        credentials=sim.credentials,
        webhook_secrets=(SECRET, ROTATED),
    )


@pytest.fixture
def halo(settings: ConnectionSettings) -> Iterator[HaloClient]:
    halo = client(settings, timeout=2.0)
    yield halo
    halo.close()


def read_all(halo: HaloClient, since: dt.datetime | None = None) -> tuple[list[str], int]:
    """Every ticket id the pages give, in order, and how many pages it took."""
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = halo.tickets_page(updated_since=since, cursor=cursor)
        ids += [str(item["id"]) for item in page.items]
        pages += 1
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


def token_requests(sim: HaloSimulator) -> int:
    return sum(1 for method, path in sim.log if (method, path) == ("POST", "/auth/token"))


# auth ---------------------------------------------------------------------------------------
def test_it_refuses_wrong_credentials(sim: HaloSimulator) -> None:
    wrong = ConnectionSettings(
        kind=KIND, base_url=sim.base_url, credentials={**sim.credentials, "client_secret": "no"}
    )
    halo = client(wrong)
    with pytest.raises(PsaError) as caught:
        halo.check()
    assert caught.value.status == 401
    assert not caught.value.transient
    assert "client id and secret" in str(caught.value)


def test_it_reuses_its_token(sim: HaloSimulator, halo: HaloClient) -> None:
    sim.create_ticket(summary="Printer offline")
    assert halo.check() == f"Connected to HaloPSA at {sim.base_url}: 1 tickets."
    halo.count_updated_since(None)
    assert token_requests(sim) == 1
    assert halo.requests_made == 3


def test_it_authenticates_again_when_the_token_is_revoked(
    sim: HaloSimulator, halo: HaloClient
) -> None:
    halo.check()
    sim.revoke_tokens()
    assert halo.count_updated_since(None) == 0
    assert token_requests(sim) == 2


def test_the_simulator_refuses_api_calls_without_a_token(sim: HaloSimulator) -> None:
    status = sim.post(f"{sim.base_url}/api/Actions", b"[]", {})
    assert status == 401


# reading ------------------------------------------------------------------------------------
def test_pages_give_every_ticket_once_oldest_first(sim: HaloSimulator, halo: HaloClient) -> None:
    seeded = sim.seed(2350, companies=["acme", "globex"])
    first = halo.tickets_page(updated_since=None, cursor=None)
    assert first.total == 2350
    assert len(first.items) == 100
    ids, pages = read_all(halo)
    assert ids == seeded
    assert pages == 24


def test_an_update_during_the_sync_skips_nothing(sim: HaloSimulator, halo: HaloClient) -> None:
    seeded = sim.seed(250, companies=["acme"])
    first = halo.tickets_page(updated_since=None, cursor=None)
    sim.update_ticket(seeded[3], status="In Progress")  # jumps to the end of the order
    rest, _ = read_all_from(halo, first.next_cursor)
    seen = [str(item["id"]) for item in first.items] + rest
    assert sorted(set(seen), key=int) == seeded
    assert seen[-1] == seeded[3]


def read_all_from(halo: HaloClient, cursor: str | None) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    while cursor is not None:
        page = halo.tickets_page(updated_since=None, cursor=cursor)
        ids += [str(item["id"]) for item in page.items]
        pages += 1
        cursor = page.next_cursor
    return ids, pages


def test_more_than_a_page_sharing_one_time_is_read_once(
    sim: HaloSimulator, halo: HaloClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim, "now", lambda: NOW)
    created = [sim.create_ticket(summary=f"Alert {n}") for n in range(230)]
    ids, pages = read_all(halo)
    assert ids == created
    assert pages == 3


def test_updated_since_includes_the_watermark(sim: HaloSimulator, halo: HaloClient) -> None:
    seeded = sim.seed(10, companies=["acme"], start=NOW)
    watermark = NOW + dt.timedelta(seconds=5)
    page = halo.tickets_page(updated_since=watermark, cursor=None)
    assert [str(item["id"]) for item in page.items] == seeded[5:]
    assert page.items[0]["last_update"] == "2024-05-01T12:00:05"
    assert page.next_cursor is None
    assert halo.count_updated_since(watermark) == 5
    assert halo.count_updated_since(None) == 10


def test_ticket_is_what_the_api_returns(sim: HaloSimulator, halo: HaloClient) -> None:
    sim.add_company("acme", "Acme Ltd")
    ticket_id = sim.create_ticket(summary="VPN drops", company="acme", hostnames=["WS-1"])
    assert halo.ticket(ticket_id) == sim.ticket_json(ticket_id)
    with pytest.raises(PsaError) as caught:
        halo.ticket("999999")
    assert caught.value.status == 404
    assert not caught.value.transient


def test_catalogue_lists_every_value_once(sim: HaloSimulator, halo: HaloClient) -> None:
    for n in range(150):
        sim.add_company(f"client-{n}", f"Client {n}")
    member = sim.add_member("jdoe", "Jane Doe")
    catalogue = halo.catalogue()
    assert catalogue["status"] == [
        Ref("1", "New"),
        Ref("2", "In Progress"),
        Ref("3", "Waiting Customer"),
        Ref("9", "Closed"),
    ]
    assert [ref.label for ref in catalogue["priority"]] == ["Critical", "High", "Medium", "Low"]
    assert [ref.label for ref in catalogue["type"]] == ["Incident", "Service Request", "Problem"]
    assert catalogue["queue"] == [Ref("1", "Service Desk"), Ref("2", "Projects")]
    assert len(catalogue["company"]) == 150
    assert catalogue["company"][149] == Ref("150", "Client 149")
    assert catalogue["member"] == [Ref(member, "Jane Doe")]
    assert halo.budget() is None


# writing ------------------------------------------------------------------------------------
def test_add_note_stores_an_action(sim: HaloSimulator, halo: HaloClient) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    note_id = halo.add_note(ticket_id, text="Rebooted <spooler>\nFixed", public=False)
    [note] = sim.notes(ticket_id)
    assert str(note["id"]) == note_id
    assert note["note_html"] == "Rebooted &lt;spooler&gt;<br>Fixed"
    assert note["hiddenfromuser"] is True
    assert sim.time_entries(ticket_id) == []


def test_update_ticket_sets_status_and_assignee(sim: HaloSimulator, halo: HaloClient) -> None:
    member = sim.add_member("jdoe", "Jane Doe")
    ticket_id = sim.create_ticket(summary="Printer offline")
    halo.update_ticket(ticket_id, status="2", assignee=member)
    assert sim.status_label(ticket_id) == "In Progress"
    assert sim.assignee_identifier(ticket_id) == "jdoe"
    halo.update_ticket(ticket_id, status="9")
    assert sim.status_label(ticket_id) == "Closed"
    assert sim.assignee_identifier(ticket_id) == "jdoe"


def test_update_ticket_refuses_an_id_that_is_not_a_number(halo: HaloClient) -> None:
    with pytest.raises(PsaError, match="status id is a number"):
        halo.update_ticket("1001", status="3:17")
    assert halo.requests_made == 0


def test_update_ticket_with_an_unknown_status_is_refused(
    sim: HaloSimulator, halo: HaloClient
) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    with pytest.raises(PsaError) as caught:
        halo.update_ticket(ticket_id, status="77")
    assert caught.value.status == 400
    assert sim.status_label(ticket_id) == "New"


def test_add_time_stores_hours_and_member(sim: HaloSimulator, halo: HaloClient) -> None:
    member = sim.add_member("jdoe", "Jane Doe")
    ticket_id = sim.create_ticket(summary="Printer offline")
    entry_id = halo.add_time(
        ticket_id, member=member, started_at=NOW, minutes=30, notes="Replaced toner"
    )
    [entry] = sim.time_entries(ticket_id)
    assert str(entry["id"]) == entry_id
    assert entry["timetaken"] == 0.5
    assert entry["who_agentid"] == int(member)
    assert entry["actionarrivaldate"] == "2024-05-01T12:00:00Z"
    assert entry["actioncompletiondate"] == "2024-05-01T12:30:00Z"
    assert sim.notes(ticket_id) == []


# failures -----------------------------------------------------------------------------------
def test_429_is_transient_with_retry_after(sim: HaloSimulator, halo: HaloClient) -> None:
    sim.fail(Fault(status=429, retry_after=17, path="/api/Tickets"))
    with pytest.raises(PsaError) as caught:
        halo.tickets_page(updated_since=None, cursor=None)
    assert caught.value.status == 429
    assert caught.value.transient
    assert caught.value.retry_after == 17.0


def test_500_is_transient(sim: HaloSimulator, halo: HaloClient) -> None:
    sim.fail(Fault(status=500, path="/api/Status"))
    with pytest.raises(PsaError) as caught:
        halo.catalogue()
    assert caught.value.status == 500
    assert caught.value.transient


def test_a_slow_answer_is_a_transient_time_out(
    sim: HaloSimulator, settings: ConnectionSettings
) -> None:
    halo = client(settings, timeout=0.3)
    halo.check()
    sim.fail(Fault(delay=1.0, path="/api/Tickets"))
    with pytest.raises(PsaError, match="timed out") as caught:
        halo.count_updated_since(None)
    assert caught.value.transient
    halo.close()


# normalize ----------------------------------------------------------------------------------
def test_normalize_reads_the_simulator_json(sim: HaloSimulator) -> None:
    company = sim.add_company("acme", "Acme Ltd")
    member = sim.add_member("jdoe", "Jane Doe")
    ticket_id = sim.create_ticket(
        summary="Disk almost full",
        description="C: at 98%",
        company="acme",
        contact_email="pat@acme.test",
        contact_name="Pat Doe",
        status="Waiting Customer",
        priority="High",
        type="Problem",
        queue="Projects",
        assignee="jdoe",
        hostnames=["WS-042", "SRV-01"],
        opened_at=NOW,
    )
    raw = sim.ticket_json(ticket_id)
    record = normalize(raw)
    assert record.external_id == ticket_id
    assert record.summary == "Disk almost full"
    assert record.description == "C: at 98%"
    assert record.status == Ref("3", "Waiting Customer")
    assert not record.closed
    assert record.priority == Ref("2", "High")
    assert record.type == Ref("3", "Problem")
    assert record.queue == Ref("2", "Projects")
    assert record.company == Ref(company, "Acme Ltd")
    assert record.assignee == Ref(member, "Jane Doe")
    assert record.contact_email == "pat@acme.test"
    assert record.contact_name == "Pat Doe"
    assert record.assets == ("WS-042", "SRV-01")
    assert record.opened_at == NOW
    assert record.updated_at.tzinfo is not None
    assert record.raw is raw


def test_normalize_says_closed_for_the_closed_status(sim: HaloSimulator) -> None:
    ticket_id = sim.create_ticket(summary="Done", status="Completed")
    record = normalize(sim.ticket_json(ticket_id))
    assert record.status == Ref("9", "Closed")
    assert record.closed


@pytest.mark.parametrize(
    ("fields", "closed"),
    [
        ({"status_id": 9}, True),
        ({"status_id": 2}, False),
        ({"status_id": 4, "hasbeenclosed": True}, True),
        ({"status_id": 12, "status_name": "Resolved - awaiting survey"}, True),
        ({"status_id": 9, "status_name": "Reopened", "hasbeenclosed": True}, False),
    ],
)
def test_normalize_closed_rule(fields: dict[str, object], closed: bool) -> None:
    record = normalize({"id": 5, "last_update": "2024-05-01T10:00:00", **fields})
    assert record.closed is closed


def test_normalize_tolerates_missing_and_unknown_keys() -> None:
    record = normalize(
        {"id": "7", "last_update": "2024-05-01T10:00:00.250Z", "agent_id": 0, "odd": [1]}
    )
    assert record.external_id == "7"
    assert record.updated_at == dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=dt.UTC)
    assert record.summary == ""
    assert record.status is None
    assert record.assignee is None
    assert record.assets == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "has no id"),
        ({"id": None, "summary": "x"}, "has no id"),
        ({"id": 5}, "no valid last_update"),
        ({"id": 5, "last_update": "yesterday"}, "no valid last_update"),
    ],
)
def test_normalize_refuses_garbage(raw: dict[str, object], message: str) -> None:
    with pytest.raises(IntakeError, match=message):
        normalize(raw)


# webhooks -----------------------------------------------------------------------------------
def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_delivery_verifies(sim: HaloSimulator, settings: ConnectionSettings) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    body, headers = sim.delivery(ticket_id, "updated")
    delivery = verify_webhook(settings, lower(headers), body, now=NOW)
    assert delivery == Delivery(json.loads(body)["id"], ticket_id, "updated")


def test_a_wrong_secret_is_rejected(sim: HaloSimulator, settings: ConnectionSettings) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    body, headers = sim.delivery(ticket_id, secret="guessed-secret")
    with pytest.raises(WebhookRejected, match="Authorization"):
        verify_webhook(settings, lower(headers), body, now=NOW)


def test_the_rotated_secret_works(sim: HaloSimulator, settings: ConnectionSettings) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    body, headers = sim.delivery(ticket_id, "added", secret=ROTATED)
    assert verify_webhook(settings, lower(headers), body, now=NOW).action == "added"


def test_a_missing_authorization_is_rejected(
    sim: HaloSimulator, settings: ConnectionSettings
) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    body, _ = sim.delivery(ticket_id)
    with pytest.raises(WebhookRejected):
        verify_webhook(settings, {"content-type": "application/json"}, body, now=NOW)


def test_basic_auth_with_the_secret_as_password_works(settings: ConnectionSettings) -> None:
    body = b'{"event": "Ticket Created", "ticket": {"id": 1234}}'
    delivery = verify_webhook(settings, {"authorization": basic("halo", SECRET)}, body, now=NOW)
    assert delivery == Delivery(hashlib.sha256(body).hexdigest(), "1234", "added")
    with pytest.raises(WebhookRejected):
        verify_webhook(settings, {"authorization": basic(SECRET, "nope")}, body, now=NOW)


def test_a_body_without_a_ticket_id_is_rejected(settings: ConnectionSettings) -> None:
    body = b'{"event": "updated", "ticket": {"summary": "no id"}}'
    with pytest.raises(WebhookRejected, match="no ticket id"):
        verify_webhook(settings, {"authorization": f"Bearer {SECRET}"}, body, now=NOW)


def test_an_id_equal_to_the_ticket_is_not_taken_as_the_delivery_id(
    settings: ConnectionSettings,
) -> None:
    body = b'{"id": 77, "action": "DELETED"}'
    delivery = verify_webhook(settings, {"authorization": f"Bearer {SECRET}"}, body, now=NOW)
    assert delivery == Delivery(hashlib.sha256(body).hexdigest(), "77", "deleted")


class Receiver:
    """A loopback desk endpoint that answers 204 to a verified delivery and 403 otherwise."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.deliveries: list[Delivery] = []
        self.rejections: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    receiver.deliveries.append(verify_webhook(settings, headers, body, now=NOW))
                    self.send_response(204)
                except WebhookRejected as rejected:
                    receiver.rejections.append(str(rejected))
                    self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/halo"


@pytest.fixture
def receiver(settings: ConnectionSettings) -> Iterator[Receiver]:
    receiver = Receiver(settings)
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_deliver_posts_a_delivery_the_desk_accepts(sim: HaloSimulator, receiver: Receiver) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    assert sim.deliver(receiver.url, ticket_id, "updated") == 204
    assert [d.external_id for d in receiver.deliveries] == [ticket_id]


def test_a_tampered_delivery_is_refused(sim: HaloSimulator, receiver: Receiver) -> None:
    ticket_id = sim.create_ticket(summary="Printer offline")
    assert sim.deliver(receiver.url, ticket_id, tamper=True) == 403
    assert sim.deliver(receiver.url, ticket_id, secret="old-secret") == 403
    assert receiver.deliveries == []
    assert receiver.rejections == [
        "The body is not JSON.",
        "The Authorization header does not carry a current secret.",
    ]
