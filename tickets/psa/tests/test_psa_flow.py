"""End to end against each PSA simulator, through the production code: a connection, a sync
into the inbox, processing into enriched tickets, webhooks, mirrored changes, and the
write-back outbox — including the faults the PSAs throw at it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from tests.fixtures import World
from tickets.intake.inbox import inbox_drain
from tickets.models import (
    ClientEmailDomain,
    InboxEvent,
    OutboxItem,
    PsaConnection,
    PsaMapping,
    PsaSyncRun,
    Ticket,
    TicketEvent,
)
from tickets.psa.intake import psa_refetch
from tickets.psa.outbox import outbox_deliver
from tickets.psa.services import connection_save, mapping_load
from tickets.psa.simulators import simulator_class
from tickets.psa.simulators.base import Fault
from tickets.psa.sync import MAX_RETRIES, psa_sync
from tickets.services import Actor, ticket_add_note, ticket_change, time_entry_log

KINDS = ["connectwise", "autotask", "halopsa"]
NOTE_PATHS = {"connectwise": "notes", "autotask": "Notes", "halopsa": "Actions"}
TICKET_PATHS = {
    "connectwise": "service/tickets",
    "autotask": "Tickets/query",
    "halopsa": "api/Tickets",
}
pytestmark = pytest.mark.django_db


@pytest.fixture(params=KINDS)
def sim(request: pytest.FixtureRequest) -> Iterator[Any]:
    simulator = simulator_class(request.param)()
    simulator.start()
    simulator.add_company("acme-dental", "Acme Dental")
    simulator.add_company("globex-legal", "Globex Legal")
    simulator.add_member("insider", "Insider")
    yield simulator
    simulator.stop()


@pytest.fixture
def psa(world: World, sim: Any, settings: Any) -> PsaConnection:
    settings.PSA_TIMEOUT_SECONDS = 2.0
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    connection = PsaConnection(name=f"Test {sim.kind}", kind=sim.kind, base_url=sim.base_url)
    return connection_save(
        connection=connection, credentials=dict(sim.credentials), webhook_secret=sim.webhook_secret
    )


def _sync(connection: PsaConnection, **options: Any) -> PsaSyncRun:
    naps: list[float] = options.pop("naps", [])
    return psa_sync(connection, sleep=naps.append, **options)


def _process() -> None:
    """Drain the inbox; re-fetch what webhooks named; drain again (what the worker does)."""
    inbox_drain(budget_seconds=60)
    deliveries = list(
        InboxEvent.objects.filter(status=InboxEvent.Status.PROCESSING).values_list("id", flat=True)
    )
    if deliveries:
        psa_refetch(deliveries, sleep=lambda seconds: None)
        inbox_drain(budget_seconds=60)


def _mirror(sim: Any, external_id: str) -> Ticket:
    return Ticket.objects.get(source=sim.kind, external_id=external_id)


def test_initial_sync_makes_enriched_tickets_and_a_resync_is_a_no_op(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    first = sim.create_ticket(
        summary="Outlook asks for the password on ACME-LT-0001",
        description="Since this morning.",
        company="acme-dental",
        contact_email="dana@acme.test",
        contact_name="Dana",
        status="In Progress",
        priority="High",
        assignee="insider",
    )
    sim.create_ticket(summary="Printer jam", company="globex-legal", status="New")

    run = _sync(psa)
    _process()

    assert run.status == PsaSyncRun.Status.DONE, run.error
    assert (run.fetched, run.stored) == (2, 2)
    ticket = _mirror(sim, first)
    assert ticket.client == world.client
    assert ticket.contact == world.contact
    assert ticket.status == Ticket.Status.IN_PROGRESS
    assert ticket.priority == 2
    assert ticket.assignee == world.tech_in
    assert ticket.psa_connection == psa
    assert list(ticket.assets.all()) == [world.asset]
    enriched = ticket.events.get(kind=TicketEvent.Kind.ENRICHED)
    assert "through the mapping" in enriched.body or "named by the source" in enriched.body
    assert sim.ticket_json(first).items() <= ticket.raw_payload.items()  # kept as read
    psa.refresh_from_db()
    assert psa.watermark is not None

    again = _sync(psa, full=True)
    _process()
    assert (again.fetched, again.stored) == (2, 0)
    assert Ticket.objects.filter(source=sim.kind).count() == 2


def test_an_incremental_sync_mirrors_only_what_changed_at_the_psa(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="VPN drops", company="acme-dental", status="New")
    sim.create_ticket(summary="Unchanged", company="acme-dental", status="New")
    _sync(psa)
    _process()
    ticket = _mirror(sim, external_id)
    # Our own decision, not written back: a later PSA update must not undo it.
    ticket_change(
        ticket_id=ticket.id,
        actor=Actor(kind=TicketEvent.ActorKind.RULE, name="rule"),
        changes={"queue": world.queue.id},
    )
    sim.advance(5)
    sim.update_ticket(external_id, status="In Progress", assignee="insider")

    run = _sync(psa)
    _process()

    # From the watermark (inclusive: the unchanged ticket shares its second and is re-read,
    # a no-op): one new version.
    assert (run.fetched, run.stored) == (2, 1)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.IN_PROGRESS
    assert ticket.assignee == world.tech_in
    assert ticket.queue == world.queue
    moved = ticket.events.get(kind=TicketEvent.Kind.ASSIGNMENT_CHANGED)
    assert moved.actor_kind == TicketEvent.ActorKind.SYSTEM
    assert moved.data["from_source"] is True
    assert not OutboxItem.objects.exists()  # a change from the PSA is not echoed back


def test_a_sync_that_fails_mid_way_resumes_from_its_watermark_with_nothing_skipped(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    ids = sim.seed(1_200, companies=["acme-dental", "globex-legal"], contact_domain="acme.test")
    # The count and the first page answer; then the PSA fails every retry of the next page.
    path = TICKET_PATHS[sim.kind]
    sim.fail(Fault(status=503, path=path, after=2), *[Fault(status=503, path=path)] * MAX_RETRIES)
    failed = _sync(psa)
    assert failed.status == PsaSyncRun.Status.FAILED
    assert failed.retries == MAX_RETRIES
    assert 0 < failed.stored < 1_200
    watermark = PsaConnection.objects.get(pk=psa.pk).watermark
    assert watermark is not None

    sim.fail(Fault(status=429, retry_after=3))
    naps: list[float] = []
    resumed = _sync(psa, naps=naps)
    _process()

    assert resumed.status == PsaSyncRun.Status.DONE, resumed.error
    assert resumed.watermark_from == watermark
    assert 3.0 in naps  # the Retry-After was honoured
    mirrored = set(Ticket.objects.filter(source=sim.kind).values_list("external_id", flat=True))
    assert mirrored == set(ids)
    assert InboxEvent.objects.filter(status=InboxEvent.Status.INVALID).count() == 0


def test_a_time_out_mid_sync_is_retried(world: World, sim: Any, psa: PsaConnection) -> None:
    sim.seed(30, companies=["acme-dental"])
    sim.fail(Fault(delay=2.5))
    run = _sync(psa)
    assert run.status == PsaSyncRun.Status.DONE, run.error
    assert run.retries >= 1
    assert run.fetched >= 30


def test_a_signed_webhook_is_stored_then_the_ticket_is_fetched(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Disk full", company="acme-dental")
    body, headers = sim.delivery(external_id, "added")
    url = reverse("api_psa_webhook", args=[psa.id])

    answer = _post(url, body, headers)
    repeat = _post(url, body, headers)

    assert answer.status_code == 202, answer.content
    assert repeat.status_code == 202 and repeat.json()["duplicate"] is True
    assert InboxEvent.objects.filter(connection=psa).count() == 1
    _process()
    ticket = _mirror(sim, external_id)
    assert ticket.summary == "Disk full"
    assert ticket.client == world.client
    delivery = InboxEvent.objects.get(pk=answer.json()["id"])
    assert delivery.status == InboxEvent.Status.PROCESSED
    assert delivery.ticket == ticket


def test_a_webhook_with_a_wrong_secret_is_refused_and_nothing_is_stored(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Disk full", company="acme-dental")
    body, headers = sim.delivery(external_id, "updated", secret="not-the-secret-0123456789")

    answer = _post(reverse("api_psa_webhook", args=[psa.id]), body, headers)

    assert answer.status_code == 401
    assert not InboxEvent.objects.exists()
    psa.refresh_from_db()
    assert psa.rejected_deliveries == 1
    assert psa.last_rejection


def test_a_webhook_secret_being_rotated_accepts_both(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    old = sim.webhook_secret
    connection_save(
        connection=psa,
        credentials={},
        webhook_secret="the-new-secret-0123456789abcdef",
        keep_previous_secret=True,
    )
    external_id = sim.create_ticket(summary="Disk full", company="acme-dental")
    url = reverse("api_psa_webhook", args=[psa.id])
    for secret in (old, "the-new-secret-0123456789abcdef"):
        body, headers = sim.delivery(external_id, "updated", secret=secret)
        assert _post(url, body, headers).status_code == 202
    assert psa.credentials == dict(sim.credentials)  # blank credentials kept the stored ones


def test_a_tampered_webhook_body_is_refused_or_never_trusted(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Disk full", company="acme-dental")
    body, headers = sim.delivery(external_id, "added")
    tampered = body.replace(b"Disk full", b"Send gift cards")
    if tampered == body:  # a delivery that does not carry the ticket: change its id instead
        tampered = body.replace(external_id.encode(), b"999999", 1)
    assert tampered != body

    answer = _post(reverse("api_psa_webhook", args=[psa.id]), tampered, headers)

    if sim.kind != "halopsa":  # ConnectWise and Autotask sign the body
        assert answer.status_code == 401
        assert not InboxEvent.objects.exists()
        return
    # Halo authenticates the sender, not the body: the delivery is stored, but the ticket is
    # re-fetched from the PSA, so a changed body never reaches it.
    assert answer.status_code == 202
    _process()
    assert _mirror(sim, external_id).summary == "Disk full"
    assert not Ticket.objects.filter(summary__contains="gift cards").exists()


def test_malformed_and_mistyped_webhooks_are_400_and_kept(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    url = reverse("api_psa_webhook", args=[psa.id])
    broken = _post(url, b'{"ID": 12,', {"Content-Type": "application/json"})
    mistyped = _post(url, b"ID=12", {"Content-Type": "application/x-www-form-urlencoded"})

    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert mistyped.status_code == 400 and "as JSON" in mistyped.json()["error"]
    kept = InboxEvent.objects.filter(status=InboxEvent.Status.INVALID).order_by("id")
    assert [event.body for event in kept] == ['{"ID": 12,', "ID=12"]


def test_write_back_round_trips_notes_status_assignment_and_time(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", company="acme-dental", status="New")
    _sync(psa)
    _process()
    mapping_load(psa)  # every status, so "resolved" has a PSA status to go to
    ticket = _mirror(sim, external_id)
    tech = Actor(kind=TicketEvent.ActorKind.HUMAN, staff=world.tech_in)

    ticket_add_note(ticket=ticket, staff=world.tech_in, body="Reinstalled Teams.", public=False)
    ticket_change(ticket_id=ticket.id, actor=tech, changes={"assignee": world.tech_in.id})
    ticket_change(ticket_id=ticket.id, actor=tech, changes={"status": Ticket.Status.RESOLVED})
    started = timezone.now() - dt.timedelta(minutes=30)
    time_entry_log(ticket=ticket, staff=world.tech_in, started_at=started, minutes=25, notes="Fix")

    sent = outbox_deliver(psa.id)

    problems = list(
        OutboxItem.objects.exclude(status=OutboxItem.Status.SENT).values_list(
            "operation", "last_error"
        )
    )
    assert problems == []
    assert sent == 4
    assert any("Reinstalled Teams." in json.dumps(note) for note in sim.notes(external_id))
    assert sim.assignee_identifier(external_id) == "insider"
    assert sim.status_label(external_id).lower() in {"closed", "complete", "completed"}
    assert len(sim.time_entries(external_id)) == 1
    assert outbox_deliver(psa.id) == 0  # nothing is sent twice


def test_write_back_that_would_overwrite_a_newer_psa_change_stops_as_a_conflict(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", company="acme-dental", status="New")
    _sync(psa)
    _process()
    mapping_load(psa)
    ticket = _mirror(sim, external_id)
    sim.update_ticket(external_id, status="Waiting Customer")  # not synced yet
    tech = Actor(kind=TicketEvent.ActorKind.HUMAN, staff=world.tech_in)
    ticket_change(ticket_id=ticket.id, actor=tech, changes={"status": Ticket.Status.RESOLVED})

    outbox_deliver(psa.id)

    item = OutboxItem.objects.get()
    assert item.status == OutboxItem.Status.CONFLICT
    assert "changed in" in item.last_error
    assert sim.status_label(external_id) == "Waiting Customer"


def test_a_429_on_write_back_pauses_the_connection_for_its_retry_after(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", company="acme-dental")
    _sync(psa)
    _process()
    ticket = _mirror(sim, external_id)
    ticket_add_note(ticket=ticket, staff=world.tech_in, body="First.", public=False)
    ticket_add_note(ticket=ticket, staff=world.tech_in, body="Second.", public=False)
    sim.fail(Fault(status=429, retry_after=120, path=NOTE_PATHS[sim.kind]))

    before = timezone.now()
    assert outbox_deliver(psa.id) == 0

    psa.refresh_from_db()
    assert psa.paused_until is not None
    assert psa.paused_until >= before + dt.timedelta(seconds=119)
    statuses = sorted(OutboxItem.objects.values_list("status", "attempts"))
    assert statuses == [("pending", 0), ("pending", 1)]
    later = psa.paused_until + dt.timedelta(seconds=1)
    assert outbox_deliver(psa.id, now=later) == 2
    assert len(sim.notes(external_id)) == 2


def test_an_unmapped_status_fails_with_what_to_map(
    world: World, sim: Any, psa: PsaConnection
) -> None:
    external_id = sim.create_ticket(summary="Teams drops", company="acme-dental", status="New")
    _sync(psa)
    _process()
    PsaMapping.objects.filter(connection=psa, field="status").exclude(value="new").delete()
    ticket = _mirror(sim, external_id)
    tech = Actor(kind=TicketEvent.ActorKind.HUMAN, staff=world.tech_in)
    ticket_change(ticket_id=ticket.id, actor=tech, changes={"status": Ticket.Status.SCHEDULED})

    outbox_deliver(psa.id)

    item = OutboxItem.objects.get()
    assert item.status == OutboxItem.Status.FAILED
    assert "mapped to “Scheduled”" in item.last_error


def test_credentials_are_sealed_at_rest(sim: Any, psa: PsaConnection) -> None:
    stored = PsaConnection.objects.values_list("credentials_sealed", flat=True).get(pk=psa.pk)
    for value in sim.credentials.values():
        assert value not in stored
    assert PsaConnection.objects.get(pk=psa.pk).credentials == dict(sim.credentials)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Any:
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return HttpClient().post(url, data=body, content_type=content_type, headers=rest)


def test_an_autotask_delivery_with_a_stale_signed_time_is_refused(world: World) -> None:
    with simulator_class("autotask")() as sim:
        sim.add_company("acme-dental", "Acme Dental")
        connection = connection_save(
            connection=PsaConnection(name="AT", kind="autotask", base_url=sim.base_url),
            credentials=dict(sim.credentials),
            webhook_secret=sim.webhook_secret,
        )
        external_id = sim.create_ticket(summary="Disk full", company="acme-dental")
        sim.advance(-600)  # the delivery says it happened ten minutes ago
        body, headers = sim.delivery(external_id, "updated")

        answer = _post(reverse("api_psa_webhook", args=[connection.id]), body, headers)

    assert answer.status_code == 401
    assert not InboxEvent.objects.exists()
    connection.refresh_from_db()
    assert "EventTime" in connection.last_rejection or "time" in connection.last_rejection


def test_the_schedule_replaces_a_sync_whose_worker_died(
    world: World, sim: Any, psa: PsaConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tickets.psa import sync as sync_module

    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: queued.append(args))
    long_ago = timezone.now() - dt.timedelta(minutes=30)
    PsaSyncRun.objects.create(connection=psa, started_at=long_ago, heartbeat_at=long_ago)

    assert sync_module.psa_sync_due() == [psa.id]
    run = _sync(psa)
    assert run.status == PsaSyncRun.Status.DONE
    dead = PsaSyncRun.objects.get(started_at=long_ago)
    assert dead.status == PsaSyncRun.Status.FAILED and "stopped" in dead.error
    assert sync_module.psa_sync_due() == []  # just ran
