"""NinjaOne conditions: TRIGGERED opens the ticket of its seriesUid, RESET resolves it, a
re-trigger reopens the same ticket; deliveries are de-duplicated by activity id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client as HttpClient

from tests.fixtures import World
from tickets.intake.inbox import inbox_drain
from tickets.models import Asset, InboxEvent, Priority, Ticket

KEY = "n" * 32


def _activity(activity_id: int, status: str, at: int, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": activity_id,
        "activityTime": at,
        "deviceId": 77,
        "severity": "CRITICAL",
        "priority": "HIGH",
        "seriesUid": "series-1",
        "activityType": "CONDITION",
        "statusCode": status,
        "sourceName": "Disk usage",
        "subject": "Disk usage above 95%",
        "message": "C: 97% used",
        "device": {"systemName": "ACME-FS01", "customFields": {"client": "acme-dental"}},
    }
    data.update(extra)
    return data


def _send(data: dict[str, Any]) -> Any:
    return HttpClient().post(
        "/api/intake/ninjaone/",
        data=json.dumps(data),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {KEY}",
    )


@pytest.fixture
def ninja(world: World, settings: Any) -> World:
    settings.INTAKE_API_KEYS = [KEY]
    Asset.objects.create(client=world.client, hostname="ACME-FS01", kind=Asset.Kind.SERVER)
    return world


def _ticket() -> Ticket:
    return Ticket.objects.get(source=Ticket.Source.ALERT, external_id="ninjaone:series-1")


@pytest.mark.django_db
def test_trigger_reset_and_trigger_again_is_one_ticket(ninja: World) -> None:
    first = _send(_activity(1, "TRIGGERED", 1_764_236_000))
    assert _send(_activity(1, "TRIGGERED", 1_764_236_000)).json() == {
        "inbox_id": first.json()["inbox_id"],
        "duplicate": True,
    }
    inbox_drain()
    ticket = _ticket()
    assert ticket.summary == "Disk usage above 95% on ACME-FS01"
    assert ticket.priority == Priority.CRITICAL and ticket.client == ninja.client
    assert [a.hostname for a in ticket.assets.all()] == ["ACME-FS01"]
    _send(_activity(2, "RESET", 1_764_236_600))
    inbox_drain()
    assert _ticket().status == Ticket.Status.RESOLVED
    _send(_activity(3, "TRIGGERED", 1_764_237_000))
    inbox_drain()
    assert _ticket().status == Ticket.Status.NEW
    assert Ticket.objects.filter(source=Ticket.Source.ALERT).count() == 1


@pytest.mark.django_db
def test_other_activities_are_kept_with_the_reason(ninja: World) -> None:
    _send(_activity(5, "TRIGGERED", 1_764_236_000, activityType="ACTION"))
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.status == InboxEvent.Status.INVALID
    assert event.error == "Only CONDITION activities make tickets; this is 'ACTION'."
