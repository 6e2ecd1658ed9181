"""NinjaOne's webhook: one activity per delivery. A `CONDITION` activity that is
`TRIGGERED` opens (or reopens) the ticket keyed by its `seriesUid`; the matching `RESET`
resolves it — so a condition that keeps triggering and resetting stays one ticket.

Fields read: `id`, `activityTime` (epoch seconds), `seriesUid`, `statusCode`, `severity`
(NONE … CRITICAL), `subject`, `message`, `sourceName`, `deviceId` and `device` (its
`systemName` / `dnsName` are matched to assets, and an `organization` name is ignored: set
the client on the device's asset, or send `client` in the device's custom fields)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tickets.intake.types import IntakeError, TicketInput, as_dict, json_object
from tickets.models import Priority, Ticket

_SEVERITY = {
    "CRITICAL": Priority.CRITICAL,
    "MAJOR": Priority.HIGH,
    "MODERATE": Priority.MEDIUM,
    "MINOR": Priority.LOW,
    "NONE": Priority.LOW,
}


def ninjaone_parse(body: str) -> list[TicketInput]:
    data = json_object(body)
    if data.get("activityType") != "CONDITION":
        raise IntakeError(
            f"Only CONDITION activities make tickets; this is {data.get('activityType')!r}."
        )
    series = data.get("seriesUid")
    if not isinstance(series, str) or not series.strip():
        raise IntakeError("The activity has no seriesUid to pair TRIGGERED with RESET.")
    status = data.get("statusCode")
    if status not in ("TRIGGERED", "RESET"):
        raise IntakeError(f"statusCode must be TRIGGERED or RESET, not {status!r}.")
    moment = _time(data.get("activityTime"))
    device = as_dict(data.get("device"))
    hostname = str(device.get("systemName") or device.get("dnsName") or "").split(".")[0]
    subject = str(data.get("subject") or data.get("sourceName") or "NinjaOne condition")
    fields = as_dict(device.get("customFields"))
    return [
        TicketInput(
            source=Ticket.Source.ALERT,
            external_id=f"ninjaone:{series.strip()[:100]}",
            summary=(f"{subject} on {hostname}" if hostname else subject)[:255],
            description=_description(data),
            client_identifier=str(fields.get("client") or "")[:60],
            priority=_SEVERITY.get(str(data.get("severity", "")).upper()),
            opened_at=moment,
            updated_at=moment,
            hostnames=(hostname,) if hostname else (),
            raw=data,
            resolved=status == "RESET",
        )
    ]


def _description(data: dict[str, Any]) -> str:
    parts = [str(data.get("message") or "").strip()]
    parts.append(f"NinjaOne activity {data.get('id')}, device {data.get('deviceId')}.")
    return "\n\n".join(part for part in parts if part)


def _time(value: Any) -> dt.datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntakeError(f"activityTime must be epoch seconds, not {value!r}.")
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
