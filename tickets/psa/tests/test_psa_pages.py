"""The managers' PSA pages: connections (credentials never shown back), the mapping, sync
progress and the write-back failures — and that nobody else can open them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.fixtures import World
from tickets.models import OutboxItem, PsaConnection, PsaMapping, PsaSyncRun, Ticket
from tickets.psa.services import connection_save

pytestmark = pytest.mark.django_db
SECRET = "pk-very-secret-value-123456"


@pytest.fixture
def connection(world: World) -> PsaConnection:
    return connection_save(
        connection=PsaConnection(
            name="Main CW", kind=PsaConnection.Kind.CONNECTWISE, base_url="http://127.0.0.1:9"
        ),
        credentials={
            "company_id": "northgate",
            "public_key": "pub-key",
            "private_key": SECRET,
            "client_id": "client-guid-0000-1111",
        },
        webhook_secret="webhook-secret-abcdefghijkl",
    )


def _manager_routes(connection: PsaConnection, row: PsaMapping, item: OutboxItem) -> list[Any]:
    c = connection.id
    return [
        ("get", reverse("psa_connection_list")),
        ("get", reverse("psa_connection_new") + "?kind=autotask"),
        ("get", reverse("psa_connection_edit", args=[c])),
        ("post", reverse("psa_connection_check", args=[c])),
        ("post", reverse("psa_connection_sync", args=[c])),
        ("get", reverse("psa_connection_runs", args=[c])),
        ("get", reverse("psa_mapping", args=[c])),
        ("post", reverse("psa_mapping_load", args=[c])),
        ("post", reverse("psa_mapping_row", args=[c, row.id])),
        ("post", reverse("psa_mapping_confirm", args=[c])),
        ("get", reverse("psa_outbox")),
        ("post", reverse("psa_outbox_act", args=[item.id, "retry"])),
    ]


def _row(connection: PsaConnection) -> PsaMapping:
    return PsaMapping.objects.create(
        connection=connection, field="status", external_id="1:5", label="Closed (Board 1)"
    )


def _item(world: World, connection: PsaConnection, **fields: Any) -> OutboxItem:
    Ticket.objects.filter(pk=world.ticket.pk).update(psa_connection=connection)
    return OutboxItem.objects.create(
        connection=connection,
        ticket=world.ticket,
        operation=fields.pop("operation", OutboxItem.Operation.NOTE),
        payload={"text": "Hello", "public": False},
        dedupe_key=fields.pop("dedupe_key", "note:1"),
        next_attempt_at=timezone.now(),
        **fields,
    )


def test_only_managers_open_the_psa_pages(world: World, connection: PsaConnection) -> None:
    routes = _manager_routes(connection, _row(connection), _item(world, connection))
    for staff in (world.tech_in, world.owner):
        http = world.login(staff)
        for method, url in routes:
            response = getattr(http, method)(url)
            assert response.status_code == 403, (staff, url)
    assert OutboxItem.objects.get().status == OutboxItem.Status.PENDING


def test_the_connection_page_never_shows_a_secret_back(
    world: World, connection: PsaConnection
) -> None:
    page = world.login(world.manager).get(reverse("psa_connection_edit", args=[connection.id]))
    body = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in body and "webhook-secret-abcdefghijkl" not in body
    assert "••••3456" in body  # a hint to recognise it by
    assert "pub-key" in body  # identifiers are not secrets
    assert reverse("api_psa_webhook", args=[connection.id]) in body


def test_saving_with_blank_secrets_keeps_them(world: World, connection: PsaConnection) -> None:
    url = reverse("psa_connection_edit", args=[connection.id])
    response = world.login(world.manager).post(
        url,
        {
            "name": "Main CW",
            "base_url": "http://127.0.0.1:9",
            "is_active": "on",
            "sync_every_minutes": "10",
            "cred_company_id": "northgate",
            "cred_public_key": "pub-key-2",
            "cred_private_key": "",
            "cred_client_id": "",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.credentials["private_key"] == SECRET
    assert connection.credentials["public_key"] == "pub-key-2"
    assert connection.sync_every_minutes == 10
    assert connection.webhook_secrets == ["webhook-secret-abcdefghijkl"]


def test_a_new_connection_needs_its_credentials(world: World) -> None:
    url = reverse("psa_connection_new") + "?kind=halopsa"
    response = world.login(world.manager).post(
        url, {"name": "Halo", "base_url": "https://halo.example", "sync_every_minutes": "5"}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not PsaConnection.objects.filter(name="Halo").exists()


def test_a_failing_connection_test_says_why(world: World, connection: PsaConnection) -> None:
    url = reverse("psa_connection_check", args=[connection.id])
    body = world.login(world.manager).post(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="check"' in body
    assert "failed" in body or "timed out" in body  # nothing listens on port 9


def test_mapping_a_value_from_the_page(world: World, connection: PsaConnection) -> None:
    row = _row(connection)
    http = world.login(world.manager)
    url = reverse("psa_mapping_row", args=[connection.id, row.id])
    refused = http.post(url, {"value": "not-a-status"}, headers={"HX-Request": "true"})
    saved = http.post(url, {"value": "closed"}, headers={"HX-Request": "true"})

    assert refused.status_code == 400
    assert saved.status_code == 200 and "Saved" in saved.content.decode()
    row.refresh_from_db()
    assert (row.value, row.suggested) == ("closed", False)
    gaps = http.get(reverse("psa_mapping", args=[connection.id]) + "?gaps=1").content.decode()
    assert "Every value is mapped" in gaps


def test_confirming_every_suggestion(world: World, connection: PsaConnection) -> None:
    suggested = PsaMapping.objects.create(
        connection=connection, field="priority", external_id="1", value="1", suggested=True
    )
    http = world.login(world.manager)
    page = http.get(reverse("psa_mapping", args=[connection.id])).content.decode()
    assert "Confirm the 1 suggestion" in page
    http.post(reverse("psa_mapping_confirm", args=[connection.id]))
    suggested.refresh_from_db()
    assert (suggested.value, suggested.suggested) == ("1", False)


def test_the_list_shows_sync_progress_gaps_and_failures(
    world: World, connection: PsaConnection
) -> None:
    _row(connection)
    now = timezone.now()
    PsaSyncRun.objects.create(
        connection=connection, started_at=now, heartbeat_at=now, total=200, fetched=50
    )
    _item(world, connection, status=OutboxItem.Status.FAILED, last_error="No member mapped")
    http = world.login(world.manager)
    listing = http.get(reverse("psa_connection_list")).content.decode()
    runs = http.get(reverse("psa_connection_runs", args=[connection.id])).content.decode()
    outbox = http.get(reverse("psa_outbox")).content.decode()

    assert "1 to map" in listing and "1 failed" in listing
    assert 'value="25"' in runs and "50 of 200 read" in runs
    assert 'hx-trigger="every 2s"' in runs  # polls while the run is going
    assert "No member mapped" in outbox


def test_retrying_and_discarding_a_failed_write_back(
    world: World, connection: PsaConnection
) -> None:
    failed = _item(world, connection, status=OutboxItem.Status.FAILED, attempts=8)
    conflict = _item(world, connection, status=OutboxItem.Status.CONFLICT, dedupe_key="status:2")
    http = world.login(world.manager)
    http.post(reverse("psa_outbox_act", args=[failed.id, "retry"]))
    http.post(reverse("psa_outbox_act", args=[conflict.id, "discard"]))
    bogus = http.post(reverse("psa_outbox_act", args=[failed.id, "explode"]))

    failed.refresh_from_db()
    conflict.refresh_from_db()
    assert (failed.status, failed.attempts) == (OutboxItem.Status.PENDING, 0)
    assert conflict.status == OutboxItem.Status.DISCARDED
    assert bogus.status_code == 404


def test_time_logged_on_a_psa_ticket_goes_to_the_outbox(
    world: World, connection: PsaConnection
) -> None:
    Ticket.objects.filter(pk=world.ticket.pk).update(psa_connection=connection)
    http = world.login(world.tech_in)
    url = reverse("ticket_time_add", args=[world.ticket.id])
    refused = http.post(url, {"minutes": "0"}, headers={"HX-Request": "true"})
    logged = http.post(
        url,
        {"minutes": "25", "notes": "Rebuilt profile", "billable": "on"},
        headers={"HX-Request": "true"},
    )

    assert refused.status_code == 400
    body = logged.content.decode()
    assert logged.status_code == 200 and 'id="facts"' in body
    assert "25 min · Insider — Rebuilt profile" in body
    assert "1 change on the way to the PSA" in body
    item = OutboxItem.objects.get()
    assert item.operation == OutboxItem.Operation.TIME
    assert (item.payload["minutes"], item.payload["staff"]) == (25, world.tech_in.id)
    page = http.get(reverse("ticket_detail", args=[world.ticket.id])).content.decode()
    assert "Main CW" in page and "on the way to the PSA" in page
