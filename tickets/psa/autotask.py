"""Autotask PSA (REST v1.0): the client, `normalize` of its ticket JSON and the webhook
verifier.

An Autotask ticket carries only ids: picklist integers (status, priority, queueID,
ticketType, issueType) and foreign keys (companyID, contactID, assignedResourceID,
configurationItemID). So that `normalize` can stay a pure function and still give labels, a
contact e-mail and a company number, the client adds one key to every ticket it returns,
`LOOKUPS` ("_lookups"), holding what it read in batches — one picklist read per client and
one `id in [...]` query per page for each of companies, contacts, resources and
configuration items (cached for the client's life). A ticket without that key (a stored
older payload, a webhook's Fields) still normalizes, with ids and no labels.

Field choices: `type` is the ticketType (Service Request, Incident, Problem…), `subtype`
the issueType, `queue` the queueID, `assignee` the assignedResourceID, `closed` means
status 5 (Complete), `company_identifier` the company's companyNumber, `assets` the linked
configuration item's referenceTitle (its id when not looked up).

Ordering: the simulator serves query results by (lastActivityDate, id); Autotask documents
no sort order for queries, so against a real tenant a sync should only move its watermark
once every page of a run has been read.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from tickets.intake.types import IntakeError, as_dict
from tickets.psa.base import (
    Budget,
    ConnectionSettings,
    Delivery,
    Page,
    PsaError,
    PsaRecord,
    Ref,
    WebhookRejected,
)
from tickets.psa.http import Http, HttpBacked

KIND = "autotask"
ZONE_PATH = "/atservicesrest/v1.0/"
PAGE_SIZE = 500
COMPLETE = "5"
LOOKUPS = "_lookups"
NOTE_TYPE = 1  # "Task Summary"; the tenant's own picklist may differ (unverified)
PUBLISH_ALL, PUBLISH_INTERNAL = 1, 2  # "All Autotask Users", "Internal Only" (unverified)
WEBHOOK_TOLERANCE = dt.timedelta(minutes=5)
ACTIONS = {
    "create": "added",
    "update": "updated",
    "delete": "deleted",
    "deactivated": "deactivated",
}
CATALOGUE_PICKLISTS = {
    "status": "status",
    "priority": "priority",
    "type": "ticketType",
    "queue": "queueID",
}
LOOKUP_FIELDS = {
    "company": ("Companies", "companyID"),
    "contact": ("Contacts", "contactID"),
    "assignee": ("Resources", "assignedResourceID"),
    "configurationItem": ("ConfigurationItems", "configurationItemID"),
}
LABELLED_PICKLISTS = ("status", "priority", "ticketType", "issueType", "queueID")


class AutotaskClient(HttpBacked):
    """One Autotask database through one API user. The zone (webservicesN) is discovered on
    the first call and kept."""

    def __init__(self, settings: ConnectionSettings, *, timeout: float) -> None:
        self.username = _credential(settings, "username")
        self.role_id = settings.credentials.get("default_role_id", "").strip()
        headers = {
            "ApiIntegrationCode": _credential(settings, "integration_code"),
            "UserName": self.username,
            "Secret": _credential(settings, "secret"),
        }
        impersonate = settings.credentials.get("impersonation_resource_id", "").strip()
        if impersonate:
            headers["ImpersonationResourceId"] = impersonate
        self.http = Http(timeout=timeout, headers=headers)
        self.site = settings.base_url.rstrip("/")
        self._api: str | None = None
        self._picklists: dict[str, dict[str, str]] | None = None
        self._known: dict[str, dict[str, dict[str, Any]]] = {}
        self._roles: dict[str, str] = {}

    # reads -------------------------------------------------------------------------------
    def check(self) -> str:
        budget = self.budget()
        return (
            f"Connected to Autotask at {urlsplit(self.api).netloc} as {self.username} "
            f"({budget.used} of {budget.limit} API requests used this hour)."
        )

    def count_updated_since(self, since: dt.datetime | None) -> int | None:
        answer = self._call("POST", "Tickets/query/count", json={"filter": _since(since)})
        count = as_dict(answer).get("queryCount")
        return count if isinstance(count, int) else None

    def tickets_page(self, *, updated_since: dt.datetime | None, cursor: str | None) -> Page:
        """The first page is a query; later ones follow Autotask's own `nextPageUrl`."""
        if cursor is None:
            body = {"filter": _since(updated_since), "MaxRecords": PAGE_SIZE}
            answer = self._call("POST", "Tickets/query", json=body)
        else:
            answer = self._follow(cursor)
        items, next_url = _page_parts(answer)
        return Page(items=self._with_lookups(items), next_cursor=next_url)

    def ticket(self, external_id: str) -> dict[str, Any]:
        ticket_id = _numeric(external_id, "ticket")
        item = as_dict(self._call("GET", f"Tickets/{ticket_id}")).get("item")
        if not isinstance(item, dict):
            raise PsaError(f"Autotask has no ticket {ticket_id}.", status=404)
        return self._with_lookups([item])[0]

    def budget(self) -> Budget:
        answer = as_dict(self._call("GET", "ThresholdInformation"))
        return Budget(
            used=int(answer.get("currentTimeframeRequestCount") or 0),
            limit=int(answer.get("externalRequestThreshold") or 0),
            window_seconds=int(answer.get("requestThresholdTimeframe") or 60) * 60,
        )

    def catalogue(self) -> dict[str, list[Ref]]:
        picklists = self._picklist_labels()
        values = {
            key: [Ref(id=v, label=label) for v, label in picklists.get(field, {}).items()]
            for key, field in CATALOGUE_PICKLISTS.items()
        }
        active = [{"op": "eq", "field": "isActive", "value": True}]
        values["company"] = [
            Ref(id=_id_text(c.get("id")), label=_text(c.get("companyName")))
            for c in self._query_all("Companies", active)
        ]
        values["member"] = [
            Ref(id=_id_text(r.get("id")), label=_person(r))
            for r in self._query_all("Resources", active)
        ]
        return values

    # writes ------------------------------------------------------------------------------
    def add_note(self, external_id: str, *, text: str, public: bool) -> str:
        ticket_id = _numeric(external_id, "ticket")
        note = {
            "ticketID": ticket_id,
            "title": _note_title(text),
            "description": text,
            "noteType": NOTE_TYPE,
            "publish": PUBLISH_ALL if public else PUBLISH_INTERNAL,
        }
        return _item_id(self._call("POST", f"Tickets/{ticket_id}/Notes", json=note))

    def update_ticket(
        self, external_id: str, *, status: str | None = None, assignee: str | None = None
    ) -> None:
        """An empty `assignee` unassigns (Autotask clears the resource and role together)."""
        if status is None and assignee is None:
            return
        change: dict[str, Any] = {"id": _numeric(external_id, "ticket")}
        if status is not None:
            change["status"] = _numeric(status, "status")
        if assignee == "":
            change.update(assignedResourceID=None, assignedResourceRoleID=None)
        elif assignee is not None:
            change["assignedResourceID"] = _numeric(assignee, "resource")
            change["assignedResourceRoleID"] = _numeric(self._role_of(assignee), "role")
        self._call("PATCH", "Tickets", json=change)

    def add_time(
        self,
        external_id: str,
        *,
        member: str,
        started_at: dt.datetime,
        minutes: int,
        notes: str,
    ) -> str:
        entry = {
            "ticketID": _numeric(external_id, "ticket"),
            "resourceID": _numeric(member, "resource"),
            "roleID": _numeric(self._role_of(member), "role"),
            "startDateTime": _iso(started_at),
            "endDateTime": _iso(started_at + dt.timedelta(minutes=minutes)),
            "hoursWorked": round(minutes / 60, 4),
            "summaryNotes": notes,
        }
        return _item_id(self._call("POST", "TimeEntries", json=entry))

    # plumbing ----------------------------------------------------------------------------
    @property
    def api(self) -> str:
        """The zone's API root, e.g. https://webservices5.autotask.net/atservicesrest/v1.0/."""
        if self._api is None:
            url = f"{self.site}{ZONE_PATH}zoneInformation?user={quote(self.username)}"
            zone = as_dict(self.http.request("GET", url)).get("url")
            if not isinstance(zone, str) or not zone.startswith(("http://", "https://")):
                raise PsaError(f"Autotask named no zone for the API user {self.username}.")
            self._api = zone.rstrip("/") + "/v1.0/"
        return self._api

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, self.api + path, **kwargs)

    def _follow(self, url: str) -> Any:
        """GET a `nextPageUrl`, only on the zone's own host: it carries our credentials."""
        if urlsplit(url).netloc != urlsplit(self.api).netloc:
            raise PsaError(f"Autotask's next page points to another host: {url[:120]}")
        return self.http.request("GET", url)

    def _query_all(self, entity: str, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"filter": filters, "MaxRecords": PAGE_SIZE}
        items, next_url = _page_parts(self._call("POST", f"{entity}/query", json=body))
        while next_url:
            more, next_url = _page_parts(self._follow(next_url))
            items.extend(more)
        return items

    def _picklist_labels(self) -> dict[str, dict[str, str]]:
        """Active picklist values of ticket fields, label by value (read once)."""
        if self._picklists is None:
            answer = as_dict(self._call("GET", "Tickets/entityInformation/fields"))
            self._picklists = {
                _text(field.get("name")): {
                    _id_text(v.get("value")): _text(v.get("label"))
                    for v in field.get("picklistValues") or []
                    if isinstance(v, dict) and v.get("isActive", True)
                }
                for field in answer.get("fields") or []
                if isinstance(field, dict) and field.get("isPickList")
            }
        return self._picklists

    def _records(self, entity: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rows of `entity` by id, asking only for ids not read before."""
        known = self._known.setdefault(entity, {})
        missing = sorted({i for i in ids if i.isdigit() and i not in known}, key=int)
        for start in range(0, len(missing), PAGE_SIZE):
            chunk = [int(i) for i in missing[start : start + PAGE_SIZE]]
            for row in self._query_all(entity, [{"op": "in", "field": "id", "value": chunk}]):
                known[_id_text(row.get("id"))] = row
        return known

    def _with_lookups(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each ticket with its `LOOKUPS` (see the module docstring)."""
        if not items:
            return items
        picklists = self._picklist_labels()
        found = {
            key: self._records(entity, (_id_text(item.get(field)) for item in items))
            for key, (entity, field) in LOOKUP_FIELDS.items()
        }
        for item in items:
            labels = {
                name: picklists.get(name, {}).get(_id_text(item.get(name)), "")
                for name in LABELLED_PICKLISTS
            }
            lookups: dict[str, Any] = {"labels": labels}
            for key, (_entity, field) in LOOKUP_FIELDS.items():
                row = found[key].get(_id_text(item.get(field)))
                if row is not None:
                    lookups[key] = row
            item[LOOKUPS] = lookups
        return items

    def _role_of(self, resource: str) -> str:
        """The role time and assignments are booked under: the connection's
        `default_role_id`, else the resource's default service-desk role."""
        if self.role_id:
            return self.role_id
        if resource not in self._roles:
            rows = self._query_all(
                "ResourceServiceDeskRoles",
                [
                    {"op": "eq", "field": "resourceID", "value": _numeric(resource, "resource")},
                    {"op": "eq", "field": "isDefault", "value": True},
                ],
            )
            if not rows:
                raise PsaError(f"Autotask resource {resource} has no default service-desk role.")
            self._roles[resource] = _id_text(rows[0].get("roleID"))
        return self._roles[resource]


def client(settings: ConnectionSettings, *, timeout: float = 10.0) -> AutotaskClient:
    return AutotaskClient(settings, timeout=timeout)


# normalize ---------------------------------------------------------------------------------
def normalize(raw: dict[str, Any]) -> PsaRecord:
    """The ticket as PSA values. Needs `id` and `lastActivityDate`; anything else may be
    missing or unknown."""
    if not isinstance(raw, dict):
        raise IntakeError("An Autotask ticket must be a JSON object.")
    external_id = _id_text(raw.get("id"))
    if not external_id:
        raise IntakeError("The Autotask ticket has no id.")
    updated_at = _time(raw.get("lastActivityDate"))
    if updated_at is None:
        raise IntakeError(f"Autotask ticket {external_id} has no readable lastActivityDate.")
    lookups = as_dict(raw.get(LOOKUPS))
    labels = as_dict(lookups.get("labels"))
    company = as_dict(lookups.get("company"))
    contact = as_dict(lookups.get("contact"))
    status = _ref(raw.get("status"), labels.get("status"))
    return PsaRecord(
        external_id=external_id,
        summary=_text(raw.get("title")),
        updated_at=updated_at,
        description=_text(raw.get("description")),
        opened_at=_time(raw.get("createDate")),
        status=status,
        closed=status is not None and status.id == COMPLETE,
        priority=_ref(raw.get("priority"), labels.get("priority")),
        type=_ref(raw.get("ticketType"), labels.get("ticketType")),
        subtype=_ref(raw.get("issueType"), labels.get("issueType")),
        queue=_ref(raw.get("queueID"), labels.get("queueID")),
        company=_ref(raw.get("companyID"), company.get("companyName")),
        company_identifier=_text(company.get("companyNumber")),
        contact_email=_text(contact.get("emailAddress")),
        contact_name=_person(contact),
        assignee=_ref(raw.get("assignedResourceID"), _person(as_dict(lookups.get("assignee")))),
        assets=_assets(raw, as_dict(lookups.get("configurationItem"))),
        raw=raw,
    )


def _ref(value: Any, label: Any) -> Ref | None:
    text = _id_text(value)
    return Ref(id=text, label=_text(label)) if text else None


def _assets(raw: dict[str, Any], item: dict[str, Any]) -> tuple[str, ...]:
    linked = _id_text(raw.get("configurationItemID"))
    if not linked:
        return ()
    return (_text(item.get("referenceTitle")) or linked,)


def _person(row: Mapping[str, Any]) -> str:
    return " ".join(_text(row.get(k)) for k in ("firstName", "lastName") if row.get(k))


# webhooks ----------------------------------------------------------------------------------
def verify_webhook(
    settings: ConnectionSettings,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
) -> Delivery:
    """Checks `X-Hook-Signature` against every configured secret, over the raw body and
    then over `escaped_json(body)` (the form Autotask has been seen signing); then that the
    signed `EventTime` is within five minutes of `now`."""
    signature = _signature(headers)
    secrets = settings.webhook_secrets
    if not secrets:
        raise WebhookRejected("No webhook secret is configured for this Autotask connection.")
    raw_signed = any(_signed(secret, body, signature) for secret in secrets)
    payload = _payload(body)
    if not raw_signed:
        escaped = escaped_json(payload).encode("ascii")
        if not any(_signed(secret, escaped, signature) for secret in secrets):
            raise WebhookRejected("X-Hook-Signature does not match any configured secret.")
    _check_event_time(payload, now)
    return _delivery(payload, body)


def escaped_json(value: Any) -> str:
    """JSON as Autotask's .NET serializer writes it with HTML escaping: compact separators
    (`,` and `:`, no spaces), keys in the order received, `& < > ' "` inside strings as
    \\u0026 \\u003c \\u003e \\u0027 \\u0022, every non-ASCII character as \\uXXXX (lower-case
    hex, astral characters as a surrogate pair), other escapes as Python's `json` writes
    them; numbers, booleans and null as `json.dumps` writes them."""
    if isinstance(value, dict):
        pairs = (f"{_escaped_string(str(k))}:{escaped_json(v)}" for k, v in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(escaped_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _escaped_string(value)
    return json.dumps(value)


def _escaped_string(text: str) -> str:
    parts = [f"\\u{ord(char):04x}" if char in "&<>'\"" else json.dumps(char)[1:-1] for char in text]
    return '"' + "".join(parts) + '"'


def _signature(headers: Mapping[str, str]) -> bytes:
    value = headers.get("x-hook-signature", "").strip()
    if not value:
        raise WebhookRejected("The delivery has no X-Hook-Signature header.")
    scheme, _, encoded = value.partition("=")
    if scheme.lower() != "sha1" or not encoded:
        raise WebhookRejected("X-Hook-Signature is not of the form sha1=<base64>.")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise WebhookRejected("X-Hook-Signature is not valid base64.") from None


def _signed(secret: str, message: bytes, signature: bytes) -> bool:
    expected = hmac.new(secret.encode(), message, hashlib.sha1).digest()
    return hmac.compare_digest(expected, signature)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("The delivery body is not JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The delivery body is not a JSON object.")
    return payload


def _check_event_time(payload: dict[str, Any], now: dt.datetime) -> None:
    moment = _time(payload.get("EventTime"))
    if moment is None:
        raise WebhookRejected("The delivery has no readable EventTime.")
    if abs(now - moment) > WEBHOOK_TOLERANCE:
        raise WebhookRejected(
            f"The delivery's EventTime {_iso(moment)} is more than 5 minutes from now "
            f"({_iso(now)}): stale or replayed."
        )


def _delivery(payload: dict[str, Any], body: bytes) -> Delivery:
    action = ACTIONS.get(_text(payload.get("Action")).lower())
    if action is None:
        raise WebhookRejected(f"Unknown Autotask webhook Action {payload.get('Action')!r}.")
    entity = _text(payload.get("EntityType"))
    if entity and entity.lower() != "ticket":
        raise WebhookRejected(f"The delivery is about a {entity}, not a Ticket.")
    external_id = _id_text(payload.get("Id"))
    if not external_id:
        raise WebhookRejected("The delivery names no ticket Id.")
    guid, sequence = _text(payload.get("Guid")), _id_text(payload.get("SequenceNumber"))
    if guid and sequence:
        delivery_id = f"{guid}:{sequence}"
    else:
        delivery_id = "sha256:" + hashlib.sha256(body).hexdigest()
    return Delivery(delivery_id=delivery_id, external_id=external_id, action=action)


# small readers -----------------------------------------------------------------------------
def _credential(settings: ConnectionSettings, key: str) -> str:
    value = settings.credentials.get(key, "").strip()
    if not value:
        raise PsaError(f"The Autotask connection's credentials lack {key!r}.")
    return value


def _since(moment: dt.datetime | None) -> list[dict[str, Any]]:
    """Autotask wants at least one condition: every ticket is `id >= 0`."""
    if moment is None:
        return [{"op": "gte", "field": "id", "value": 0}]
    return [{"op": "gte", "field": "lastActivityDate", "value": _iso(moment)}]


def _page_parts(answer: Any) -> tuple[list[dict[str, Any]], str | None]:
    data = as_dict(answer)
    items = [item for item in data.get("items") or [] if isinstance(item, dict)]
    next_url = as_dict(data.get("pageDetails")).get("nextPageUrl")
    return items, next_url if isinstance(next_url, str) and next_url else None


def _item_id(answer: Any) -> str:
    item_id = _id_text(as_dict(answer).get("itemId"))
    if not item_id:
        raise PsaError("Autotask answered without the new item's itemId.")
    return item_id


def _numeric(value: str, what: str) -> int:
    """An Autotask id from our text form; `what` names it in the error."""
    text = str(value).strip()
    if not text.isdigit():
        raise PsaError(f"{text!r} is not an Autotask {what} id.")
    return int(text)


def _note_title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first or "Note")[:250]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id_text(value: Any) -> str:
    """Ids arrive as integers (sometimes as text or 12.0); None and booleans are no id."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _time(value: Any) -> dt.datetime | None:
    """Autotask writes UTC with a Z and up to seven fractional digits; a time without an
    offset is UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
