"""Prometheus Alertmanager's webhook (`"version": "4"`): one notification carries a group of
alerts; each alert becomes (or updates) the ticket keyed by its `fingerprint`, so repeated
notifications and a flapping alert stay one ticket; `status: resolved` resolves it and a
new firing reopens it.

Labels we read: `client` or `customer` (our client identifier), `severity` (critical, high
or error, warning, info), `instance` / `host` / `hostname` / `node` (matched to assets), and
`alertname`; annotations `summary` and `description`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime

from tickets.intake.types import IntakeError, TicketInput, as_dict, json_object
from tickets.models import Priority, Ticket

_SEVERITY = {
    "critical": Priority.CRITICAL,
    "page": Priority.CRITICAL,
    "high": Priority.HIGH,
    "error": Priority.HIGH,
    "warning": Priority.MEDIUM,
    "info": Priority.LOW,
    "none": Priority.LOW,
}
_HOST_LABELS = ("instance", "host", "hostname", "node")
MAX_ALERTS = 1000
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not ended yet"


def alertmanager_parse(body: str) -> list[TicketInput]:
    data = json_object(body)
    if str(data.get("version")) != "4":
        raise IntakeError('Not an Alertmanager webhook: expected an object with "version": "4".')
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise IntakeError("The notification has no alerts.")
    if len(alerts) > MAX_ALERTS:
        raise IntakeError(f"More than {MAX_ALERTS} alerts in one notification.")
    common = as_dict(data.get("commonLabels"))
    return [_alert(alert, common, index) for index, alert in enumerate(alerts)]


def _alert(alert: Any, common: dict[str, Any], index: int) -> TicketInput:
    if not isinstance(alert, dict):
        raise IntakeError(f"Alert {index + 1} is not an object.")
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        raise IntakeError(f"Alert {index + 1} has no fingerprint.")
    labels = {**common, **as_dict(alert.get("labels"))}
    annotations = as_dict(alert.get("annotations"))
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise IntakeError(f"Alert {index + 1}: status must be firing or resolved, not {status!r}.")
    starts = _time(alert.get("startsAt"), f"Alert {index + 1} startsAt")
    ends = (
        None
        if alert.get("endsAt") in (None, "", ZERO_TIME)
        else _time(alert.get("endsAt"), f"Alert {index + 1} endsAt")
    )
    resolved = status == "resolved"
    name = str(labels.get("alertname", "Alert"))
    host = next((str(labels[key]) for key in _HOST_LABELS if labels.get(key)), "")
    hostname = host.split(":")[0]
    summary = str(annotations.get("summary") or f"{name} on {hostname or 'unknown host'}")
    details = [str(annotations.get("description", "")).strip()]
    details.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if alert.get("generatorURL"):
        details.append(f"Source: {alert['generatorURL']}")
    return TicketInput(
        source=Ticket.Source.ALERT,
        external_id=f"alertmanager:{fingerprint.strip()[:100]}",
        summary=summary[:255],
        description="\n\n".join(part for part in details if part),
        client_identifier=str(labels.get("client") or labels.get("customer") or "")[:60],
        priority=_SEVERITY.get(str(labels.get("severity", "")).lower()),
        opened_at=starts,
        updated_at=(ends or starts) if resolved else starts,
        hostnames=(hostname,) if hostname else (),
        raw=alert,
        resolved=resolved,
    )


def _time(value: Any, what: str) -> dt.datetime:
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise IntakeError(f"{what} must be an RFC 3339 time, not {value!r}.")
    return moment
