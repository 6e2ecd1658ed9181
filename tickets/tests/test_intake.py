"""Intake: stored raw before processing, processed once into an enriched ticket, bad input
kept with its reason, replays and re-deliveries change nothing, and the pipeline is told."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import reverse

from tests.fixtures import World
from tickets.intake.inbox import inbox_process, inbox_store, inbox_sweep
from tickets.models import (
    Asset,
    ClientEmailDomain,
    InboxEvent,
    Ticket,
    TicketEvent,
)

KEY = "k" * 32
URL = "/api/intake/tickets/"


def _payload(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_id": "mon-1",
        "summary": "Disk full on ACME-LT-0001",
        "description": "C: is full",
        "requester_email": "dana@acme.test",
        "opened_at": "2026-11-25T02:30:00Z",  # a Wednesday, 02:30 in the client's UTC zone
    }
    data.update(fields)
    return data


def _post(
    body: Any, *, content_type: str = "application/json", key: str = KEY, **headers: str
) -> Any:
    http = HttpClient()
    raw = body if isinstance(body, str) else json.dumps(body)
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    extra.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return http.post(URL, data=raw, content_type=content_type, **extra)


@pytest.fixture
def intake(world: World, settings: Any) -> World:
    settings.INTAKE_API_KEYS = [KEY]
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    return world


def _process_all() -> None:
    for event_id in InboxEvent.objects.filter(status="received").values_list("id", flat=True):
        inbox_process(event_id=event_id)


@pytest.mark.django_db
def test_an_api_ticket_is_stored_then_processed_into_an_enriched_ticket(intake: World) -> None:
    response = _post(_payload())
    assert response.status_code == 202
    event = InboxEvent.objects.get(pk=response.json()["inbox_id"])
    assert (
        event.status == InboxEvent.Status.RECEIVED
        and not Ticket.objects.filter(external_id="mon-1").exists()
    )  # stored first, nothing processed yet
    assert json.loads(event.body)["external_id"] == "mon-1"

    inbox_process(event_id=event.id)
    event.refresh_from_db()
    ticket = Ticket.objects.get(source=Ticket.Source.API, external_id="mon-1")
    assert event.status == InboxEvent.Status.PROCESSED and event.ticket == ticket
    assert ticket.client == intake.client and ticket.contact == intake.contact
    assert ticket.contract == intake.contract
    assert list(ticket.assets.all()) == [intake.asset]  # named in the summary
    assert ticket.opened_at == dt.datetime(2026, 11, 25, 2, 30, tzinfo=dt.UTC)
    matched = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ENRICHED)
    assert "Client Acme Dental: the requester's domain acme.test." in matched.body
    assert "Requester Dana: by e-mail address." in matched.body
    assert "Asset ACME-LT-0001: its hostname is in the text." in matched.body
    assert "Arrived after Acme Dental's business hours (Wed 02:30 UTC)." in matched.body
    assert matched.data["after_hours"] is True
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.CREATED).count() == 1


@pytest.mark.django_db
def test_a_duplicate_delivery_and_a_second_run_change_nothing(intake: World) -> None:
    first = _post(_payload(), **{"Idempotency-Key": "delivery-1"})
    again = _post(_payload(), **{"Idempotency-Key": "delivery-1"})
    assert again.status_code == 202 and again.json() == {
        "inbox_id": first.json()["inbox_id"],
        "duplicate": True,
    }
    same_body = _post(_payload())  # no key: the same body is the same delivery
    assert _post(_payload()).json()["inbox_id"] == same_body.json()["inbox_id"]
    assert InboxEvent.objects.count() == 2
    event_id = first.json()["inbox_id"]
    inbox_process(event_id=event_id)
    inbox_process(event_id=event_id)  # a retried task finds nothing to claim
    _process_all()  # the second delivery of the same ticket: no new ticket, no new events
    ticket = Ticket.objects.get(external_id="mon-1")
    assert Ticket.objects.filter(external_id="mon-1").count() == 1
    assert TicketEvent.objects.filter(ticket=ticket).count() == 2  # created + matched
    assert InboxEvent.objects.get(pk=event_id).attempts == 1


@pytest.mark.django_db
def test_a_newer_version_updates_the_ticket_and_an_older_one_does_not(intake: World) -> None:
    _post(_payload(updated_at="2026-11-25T03:00:00Z"))
    _process_all()
    _post(_payload(summary="Disk full, now 0 bytes", updated_at="2026-11-25T04:00:00Z"))
    _process_all()
    _post(_payload(summary="stale copy", updated_at="2026-11-25T03:30:00Z"))
    _process_all()
    ticket = Ticket.objects.get(external_id="mon-1")
    assert ticket.summary == "Disk full, now 0 bytes"
    [update] = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.UPDATED_AT_SOURCE)
    assert update.body == "Changed at the source: summary."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("{not json", "application/json", "The body is not valid JSON: Expecting property name"),
        ("[1, 2]", "application/json", "The body must be a JSON object."),
        ("summary=x", "application/x-www-form-urlencoded", "Send the ticket as JSON"),
    ],
)
def test_malformed_bodies_are_a_400_and_kept_with_the_reason(
    intake: World, body: str, content_type: str, message: str
) -> None:
    tickets = Ticket.objects.count()
    response = _post(body, content_type=content_type)
    assert response.status_code == 400 and response.json()["detail"].startswith(message)
    event = InboxEvent.objects.get(pk=response.json()["inbox_id"])
    assert event.status == InboxEvent.Status.INVALID and event.body == body
    assert event.error.startswith(message)
    assert Ticket.objects.count() == tickets


@pytest.mark.django_db
def test_a_payload_missing_what_a_ticket_needs_is_kept_invalid(intake: World) -> None:
    response = _post({"external_id": "x-1"})
    assert response.status_code == 202  # well-formed JSON: judged by the worker
    event = inbox_process(event_id=response.json()["inbox_id"])
    assert event.status == InboxEvent.Status.INVALID
    assert event.error == "“summary” is required."
    bad_time = inbox_process(event_id=_post(_payload(opened_at="yesterday")).json()["inbox_id"])
    assert "ISO 8601" in bad_time.error


@pytest.mark.django_db
def test_without_a_valid_key_nothing_is_stored(intake: World) -> None:
    assert _post(_payload(), key="").status_code in (401, 403)
    wrong = _post(_payload(), key="w" * 32)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Unknown intake key."
    with override_settings(INTAKE_API_KEYS=[]):
        assert _post(_payload()).status_code == 401
    assert not InboxEvent.objects.exists()


@pytest.mark.django_db
def test_unmatched_requesters_and_clients_are_said_not_guessed(intake: World) -> None:
    event = inbox_store(
        channel=InboxEvent.Channel.API,
        body=json.dumps(_payload(requester_email="someone@unknown.example", external_id="u-1")),
    )[0]
    inbox_process(event_id=event.id)
    ticket = Ticket.objects.get(external_id="u-1")
    assert ticket.client is None and ticket.contact is None
    matched = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ENRICHED)
    assert matched.body == "Client not matched: no client has the mail domain unknown.example."

    named = inbox_store(
        channel=InboxEvent.Channel.API,
        body=json.dumps(
            _payload(
                client=intake.client.identifier, requester_email="new@acme.test", external_id="u-2"
            )
        ),
    )[0]
    inbox_process(event_id=named.id)
    ticket = Ticket.objects.get(external_id="u-2")
    assert ticket.client == intake.client and ticket.contact is None
    body = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ENRICHED).body
    assert "Client Acme Dental: named by the source." in body
    assert "Requester new@acme.test is not a contact of Acme Dental." in body


@pytest.mark.django_db
def test_a_vip_requester_and_a_linked_asset_of_another_client(intake: World) -> None:
    intake.contact.is_vip = True
    intake.contact.save()
    Asset.objects.create(client=intake.other_client, hostname="GLOBEX-FS01")
    event = inbox_store(
        channel=InboxEvent.Channel.API,
        body=json.dumps(_payload(summary="slow", hostnames=["GLOBEX-FS01", "ACME-LT-0001"])),
    )[0]
    inbox_process(event_id=event.id)
    ticket = Ticket.objects.get(external_id="mon-1")
    assert list(ticket.assets.values_list("hostname", flat=True)) == ["ACME-LT-0001"]
    matched = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ENRICHED)
    assert "Requester Dana (VIP): by e-mail address." in matched.body
    assert "Asset ACME-LT-0001: linked by the source." in matched.body
    assert matched.data["vip"] is True


@pytest.mark.django_db
def test_processing_tells_the_pipeline(
    intake: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from django_q.conf import Conf

    from automation.models import TriageRule
    from automation.rule_services import RuleInput, rule_create

    monkeypatch.setattr(Conf, "SYNC", True)
    rule_create(
        staff=intake.manager,
        data=RuleInput(
            "Disks are high",
            "",
            "all",
            [{"field": "summary", "op": "contains", "value": "disk"}],
            [{"kind": "add_tag", "params": {"tag": "disk"}}],
            False,
        ),
    )
    assert TriageRule.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(_payload())
    assert response.status_code == 202  # the store queued processing, which queued the pipeline
    ticket = Ticket.objects.get(external_id="mon-1")
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RULE_MATCHED).exists()


@pytest.mark.django_db
def test_the_sweep_requeues_what_a_dead_worker_left(intake: World) -> None:
    from django.utils import timezone

    event = inbox_store(channel=InboxEvent.Channel.API, body=json.dumps(_payload()))[0]
    long_ago = timezone.now() - dt.timedelta(minutes=30)
    InboxEvent.objects.filter(pk=event.id).update(
        status=InboxEvent.Status.PROCESSING, claimed_at=long_ago, received_at=long_ago
    )
    assert inbox_sweep() >= 1
    assert InboxEvent.objects.get(pk=event.id).status == InboxEvent.Status.RECEIVED
    assert inbox_process(event_id=event.id).status == InboxEvent.Status.PROCESSED


@pytest.mark.django_db
def test_the_schema_documents_the_intake_endpoint(intake: World) -> None:
    http = HttpClient()
    http.force_login(intake.manager.user)
    schema = http.get(reverse("api_schema")).content.decode()
    assert "/api/intake/tickets/" in schema and "Send a ticket" in schema


@pytest.mark.django_db
def test_a_burst_is_processed_in_batches_with_one_pipeline_call(intake: World) -> None:
    from tickets.signals import tickets_arrived

    calls: list[list[int]] = []

    def listen(*, ticket_ids: list[int], **kwargs: Any) -> None:
        calls.append(ticket_ids)

    events = [
        inbox_store(
            channel=InboxEvent.Channel.API,
            body=json.dumps(_payload(external_id=f"b-{number}")),
        )[0]
        for number in range(5)
    ]
    broken = inbox_store(channel=InboxEvent.Channel.API, body='{"external_id": "no summary"}')[0]
    tickets_arrived.connect(listen, dispatch_uid="test-burst")
    try:
        inbox_process(event_id=events[2].id)  # one task takes every waiting arrival
        for event in events:  # the other tasks find theirs taken and do nothing
            inbox_process(event_id=event.id)
    finally:
        tickets_arrived.disconnect(dispatch_uid="test-burst")
    assert len(calls) == 1 and len(calls[0]) == 5
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"processed", "invalid"}
    assert InboxEvent.objects.get(pk=broken.id).error == "“summary” is required."
    assert Ticket.objects.filter(external_id__startswith="b-").count() == 5


@pytest.mark.django_db
def test_a_burst_queues_one_drain_which_takes_everything(
    intake: World, django_capture_on_commit_callbacks: Any
) -> None:
    from django_q.models import OrmQ

    from tickets.intake.inbox import inbox_drain

    with django_capture_on_commit_callbacks(execute=True):
        for number in range(3):
            inbox_store(
                channel=InboxEvent.Channel.API,
                body=json.dumps(_payload(external_id=f"d-{number}")),
            )
    assert OrmQ.objects.count() == 1  # the first arrival queued a drain; the rest rode along
    assert inbox_drain() == 3
    assert inbox_drain() == 0
    assert Ticket.objects.filter(external_id__startswith="d-").count() == 3


@pytest.mark.django_db
def test_a_ticket_and_its_update_in_one_batch(intake: World) -> None:
    from tickets.intake.inbox import inbox_drain

    for summary, updated in (("first words", "03:00"), ("second words", "04:00")):
        inbox_store(
            channel=InboxEvent.Channel.API,
            body=json.dumps(
                _payload(external_id="same", summary=summary, updated_at=f"2026-11-25T{updated}Z")
            ),
        )
    assert inbox_drain() == 2
    ticket = Ticket.objects.get(external_id="same")
    assert ticket.summary == "second words"
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert sorted(kinds) == ["created", "enriched", "updated_at_source"]
    assert set(InboxEvent.objects.values_list("ticket_id", flat=True)) == {ticket.id}


@pytest.mark.django_db
def test_assets_match_by_serial_number_and_ip_and_the_contract_by_covered_type(
    intake: World,
) -> None:
    from django.utils import timezone

    from tickets.intake.enrich import enrich
    from tickets.intake.types import TicketInput
    from tickets.models import Asset, Contract

    server = Asset.objects.create(
        client=intake.client, hostname="ACME-SRV-01", serial_number="SN-4417X", kind="server"
    )
    printer = Asset.objects.create(
        client=intake.client, hostname="ACME-PRN-02", ip_address="10.20.30.40", kind="printer"
    )
    Asset.objects.create(client=intake.other_client, hostname="GLX-1", ip_address="10.20.30.41")
    covering = Contract.objects.create(
        client=intake.client, name="Helpdesk add-on", kind="managed", starts_on=dt.date(2025, 1, 1)
    )
    covering.covered_types.add(intake.ticket_type)
    data = TicketInput(
        source="api",
        external_id="X-1",
        summary="Server sn-4417x beeping, printer at 10.20.30.40 and 10.20.30.41 offline",
        requester_email="dana@acme.test",
        type_id=intake.ticket_type.id,
    )

    found = enrich(data, opened_at=timezone.now())

    assert found.assets == [printer, server]
    assert "Asset ACME-PRN-02: its IP address is in the text." in found.reasons
    assert "Asset ACME-SRV-01: its serial number is in the text." in found.reasons
    assert found.contract == covering
    assert "Contract Helpdesk add-on: in force and covers the ticket's type." in found.reasons
