"""Alertmanager notifications: one ticket per alert fingerprint, resolved when the alert
resolves, reopened (not duplicated) when it fires again, repeats ignored, bad ones kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client as HttpClient

from tests.fixtures import World
from tickets.intake.inbox import inbox_drain
from tickets.models import Asset, InboxEvent, Priority, Ticket, TicketEvent

KEY = "a" * 32
URL = "/api/intake/alertmanager/"


def _alert(fingerprint: str, status: str = "firing", **extra: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": status,
        "fingerprint": fingerprint,
        "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "ACME-FS01:9100"},
        "annotations": {"summary": "Disk full on ACME-FS01", "description": "/ is at 99%"},
        "startsAt": "2026-11-27T09:30:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
    }
    alert.update(extra)
    return alert


def _notify(*alerts: dict[str, Any], client: str = "acme-dental") -> Any:
    body = {
        "version": "4",
        "status": alerts[0]["status"],
        "receiver": "servicedesk",
        "groupKey": "{}:{}",
        "commonLabels": {"client": client},
        "alerts": list(alerts),
    }
    return HttpClient().post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {KEY}",
    )


@pytest.fixture
def alerts(world: World, settings: Any) -> World:
    settings.INTAKE_API_KEYS = [KEY]
    Asset.objects.create(client=world.client, hostname="ACME-FS01", kind=Asset.Kind.SERVER)
    return world


def _ticket(fingerprint: str) -> Ticket:
    return Ticket.objects.get(source=Ticket.Source.ALERT, external_id=f"alertmanager:{fingerprint}")


@pytest.mark.django_db
def test_each_alert_becomes_an_enriched_ticket(alerts: World) -> None:
    second = _alert("f2", labels={"alertname": "HighLoad", "severity": "warning"}, annotations={})
    assert _notify(_alert("f1"), second).status_code == 202
    assert inbox_drain() == 1
    disk = _ticket("f1")
    assert disk.summary == "Disk full on ACME-FS01" and disk.priority == Priority.CRITICAL
    assert disk.client == alerts.client and [a.hostname for a in disk.assets.all()] == ["ACME-FS01"]
    assert "Labels: alertname=DiskFull" in disk.description
    assert disk.opened_at.isoformat() == "2026-11-27T09:30:00+00:00"
    load = _ticket("f2")
    assert load.summary == "HighLoad on unknown host" and load.priority == Priority.MEDIUM
    assert InboxEvent.objects.get().ticket in (disk, load)


@pytest.mark.django_db
def test_a_repeat_is_ignored_resolve_resolves_and_a_new_firing_reopens(alerts: World) -> None:
    _notify(_alert("f1"))
    _notify(_alert("f1"))  # Alertmanager repeats the same notification
    assert InboxEvent.objects.count() == 1
    inbox_drain()
    _notify(_alert("f1", status="resolved", endsAt="2026-11-27T09:40:00Z"))
    inbox_drain()
    ticket = _ticket("f1")
    assert ticket.status == Ticket.Status.RESOLVED
    resolved = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED)
    assert resolved.actor_name == "Prometheus Alertmanager" and resolved.new_value == "resolved"

    _notify(_alert("f1", startsAt="2026-11-27T09:45:00Z"))  # flapping: it fires again
    inbox_drain()
    assert Ticket.objects.filter(source=Ticket.Source.ALERT).count() == 1
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    changes = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED)
    assert list(changes.values_list("new_value", flat=True)) == ["resolved", "new"]

    # An older resolution arriving late changes nothing.
    _notify(_alert("f1", status="resolved", endsAt="2026-11-27T09:41:00Z"))
    inbox_drain()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW


@pytest.mark.django_db
def test_a_resolution_for_an_unseen_alert_is_recorded_resolved(alerts: World) -> None:
    _notify(_alert("f9", status="resolved", endsAt="2026-11-27T09:40:00Z"))
    inbox_drain()
    ticket = _ticket("f9")
    assert ticket.status == Ticket.Status.RESOLVED
    assert ticket.resolved_at is not None and ticket.resolved_at.isoformat().startswith(
        "2026-11-27T09:40"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"version": "3", "alerts": []}, 'expected an object with "version": "4"'),
        ({"version": "4", "alerts": []}, "The notification has no alerts."),
        ({"version": "4", "alerts": [{"status": "firing"}]}, "Alert 1 has no fingerprint."),
        (
            {
                "version": "4",
                "alerts": [{"status": "firing", "fingerprint": "x", "startsAt": "soon"}],
            },
            "Alert 1 startsAt must be an RFC 3339 time",
        ),
    ],
)
def test_a_notification_that_cannot_be_read_is_kept_with_the_reason(
    alerts: World, body: dict[str, Any], reason: str
) -> None:
    response = HttpClient().post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {KEY}",
    )
    assert response.status_code == 202
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.status == InboxEvent.Status.INVALID and reason in event.error
    assert not Ticket.objects.filter(source=Ticket.Source.ALERT).exists()


@pytest.mark.django_db
def test_a_group_processed_again_makes_no_second_tickets(alerts: World) -> None:
    _notify(_alert("g1"), _alert("g2"))
    inbox_drain()
    event = InboxEvent.objects.get()
    assert event.status == InboxEvent.Status.PROCESSED and event.ticket == _ticket("g1")
    InboxEvent.objects.filter(pk=event.pk).update(status=InboxEvent.Status.RECEIVED)
    assert inbox_drain() == 1
    assert Ticket.objects.filter(source=Ticket.Source.ALERT).count() == 2
