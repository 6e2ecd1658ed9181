"""HaloPSA: an OAuth2 client-credentials client for its REST API, the normalizer of its ticket
JSON and the verifier of its webhook deliveries.

Halo's ticket field names come from third-party typings and are *unverified*
(`docs/integrations.md`), so `normalize` reads each value from the first of a few likely keys
and ignores everything else. Names of labels (`status_name`, `priority_name`, …) are read when
present; without them a `Ref` carries the id and an empty label, and the mapping page shows
the catalogue's label instead.

Two choices worth knowing:

- Write-back: the status and the assignee are set with one `POST api/Tickets [{"id", "status_id",
  "agent_id"}]` (an element with an id updates); notes and time go through `POST api/Actions`.
- Ordering: `tickets_page` asks for `order=last_update&orderdesc=false`. Halo documents
  `order`/`orderdesc`, but not that `last_update` is an accepted order field (*unverified*).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import html
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

KIND = "halopsa"
PAGE_SIZE = 100
CLOSED_STATUS_ID = 9  # Halo's built-in "Closed" status
TOKEN_MARGIN_SECONDS = 60.0
_CLOSED_WORDS = ("clos", "resolv", "complet", "cancel")
_ACTIONS = {
    "create": "added",
    "created": "added",
    "new": "added",
    "add": "added",
    "added": "added",
    "ticket created": "added",
    "update": "updated",
    "updated": "updated",
    "ticket updated": "updated",
    "delete": "deleted",
    "deleted": "deleted",
    "ticket deleted": "deleted",
}


def client(settings: ConnectionSettings, *, timeout: float = 10.0) -> HaloClient:
    return HaloClient(settings, timeout=timeout)


@dataclass(frozen=True)
class _Cursor:
    """Where the next page starts: after the ticket (`updated_at`, `ticket_id`), of which
    `seen` tickets updated at exactly `updated_at` were already returned.

    Halo pages by offset; an offset shifts when a ticket is updated mid-sync (it jumps to the
    end) and the ticket after the page boundary would be skipped. Restarting each page at the
    last ticket's time (`lastupdatefromdate`) and dropping what was already returned cannot
    skip; `seen` only serves to step over more than a page of tickets sharing one time."""

    updated_at: dt.datetime
    ticket_id: int
    seen: int

    def text(self) -> str:
        return f"{self.updated_at.isoformat()}|{self.ticket_id}|{self.seen}"

    @classmethod
    def parse(cls, text: str) -> _Cursor:
        try:
            moment, ticket_id, seen = text.split("|")
            return cls(_aware(dt.datetime.fromisoformat(moment)), int(ticket_id), int(seen))
        except ValueError:
            raise PsaError(f"Not a HaloPSA page cursor: {text!r}.") from None


class HaloClient(HttpBacked):
    """One HaloPSA tenant. The bearer token is cached until a minute before it expires and
    fetched again once when the API answers 401 (tokens can be revoked)."""

    def __init__(self, settings: ConnectionSettings, *, timeout: float) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.credentials = dict(settings.credentials)
        self.http = Http(timeout=timeout)
        self._token = ""
        self._token_expires = 0.0  # time.monotonic()

    # reading ---------------------------------------------------------------------------
    def check(self) -> str:
        count = self.count_updated_since(None)
        return f"Connected to HaloPSA at {self.base_url}: {count} tickets."

    def count_updated_since(self, since: dt.datetime | None) -> int:
        params = _ticket_query(since, page_no=1, page_size=1)
        return int(_object(self._api("GET", "Tickets", params=params)).get("record_count") or 0)

    def tickets_page(self, *, updated_since: dt.datetime | None, cursor: str | None) -> Page:
        """Pages of 100, oldest last-updated first (see `_Cursor`). Each later page restarts
        at the previous page's last time, so it re-reads and drops the tickets sharing that
        time (usually one: 99 new a page), and `total` is given on the first page only —
        later, Halo's `record_count` counts from the restart."""
        after = _Cursor.parse(cursor) if cursor else None
        since = after.updated_at if after else updated_since
        page_no = after.seen // PAGE_SIZE + 1 if after else 1
        data = _object(self._api("GET", "Tickets", params=_ticket_query(since, page_no, PAGE_SIZE)))
        rows = [as_dict(row) for row in _list(data.get("tickets"))]
        items = [row for row in rows if after is None or not _returned(row, after)]
        full = len(rows) >= PAGE_SIZE
        following = _next_cursor(items, after) if full and items else None
        total = data.get("record_count") if after is None else None
        return Page(items, following.text() if following else None, _int_or_none(total))

    def ticket(self, external_id: str) -> dict[str, Any]:
        path = f"Tickets/{_number(external_id, 'ticket id')}"
        return _object(self._api("GET", path, params={"includedetails": "true"}))

    # writing ---------------------------------------------------------------------------
    def add_note(self, external_id: str, *, text: str, public: bool) -> str:
        """A public note is visible to the user in Halo's portal; no e-mail is sent."""
        action = {
            "ticket_id": _number(external_id, "ticket id"),
            "note_html": _html(text),
            "hiddenfromuser": not public,
            "sendemail": False,
        }
        return self._post_action(action)

    def update_ticket(
        self, external_id: str, *, status: str | None = None, assignee: str | None = None
    ) -> None:
        change: dict[str, Any] = {"id": _number(external_id, "ticket id")}
        if status is not None:
            change["status_id"] = _number(status, "status id")
        if assignee is not None:
            change["agent_id"] = _number(assignee, "agent id")
        if len(change) > 1:
            self._api("POST", "Tickets", json=[change])

    def add_time(
        self,
        external_id: str,
        *,
        member: str,
        started_at: dt.datetime,
        minutes: int,
        notes: str,
    ) -> str:
        action = {
            "ticket_id": _number(external_id, "ticket id"),
            "agent_id": _number(member, "agent id"),
            "note_html": _html(notes),
            "timetaken": round(minutes / 60, 4),
            "actionarrivaldate": _query_time(started_at),
            "actioncompletiondate": _query_time(started_at + dt.timedelta(minutes=minutes)),
            "hiddenfromuser": True,
            "sendemail": False,
        }
        return self._post_action(action)

    def budget(self) -> Budget | None:
        return None

    def catalogue(self) -> dict[str, list[Ref]]:
        return {
            "status": self._refs("Status"),
            "priority": self._refs("Priority"),
            "type": self._refs("TicketType"),
            "queue": self._refs("Team"),
            "company": self._clients(),
            "member": self._refs("Agent"),
        }

    # plumbing --------------------------------------------------------------------------
    def _post_action(self, action: dict[str, Any]) -> str:
        if self.credentials.get("outcome_id", "").isdigit():
            action["outcome_id"] = int(self.credentials["outcome_id"])
        created = self._api("POST", "Actions", json=[action])
        first = created[0] if isinstance(created, list) and created else created
        return str(as_dict(first).get("id", ""))

    def _refs(self, path: str) -> list[Ref]:
        return _unique_refs(_list(self._api("GET", path)))

    def _clients(self) -> list[Ref]:
        """Clients, paged: a tenant can have thousands. Stops at a short page, or at one that
        adds nothing (a server that ignores paging answers the same list every time)."""
        rows: list[Any] = []
        seen: set[str] = set()
        for page_no in itertools.count(1):
            params = {"pageinate": "true", "page_size": str(PAGE_SIZE), "page_no": str(page_no)}
            data = self._api("GET", "Client", params=params)
            page = _list(data.get("clients") if isinstance(data, dict) else data)
            ids = {ref.id for ref in _unique_refs(page)}
            rows.extend(page)
            if len(page) < PAGE_SIZE or ids <= seen:
                break
            seen |= ids
        return _unique_refs(rows)

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/api/{path}"
        try:
            return self.http.request(method, url, headers=self._authorization(), **kwargs)
        except PsaError as error:
            if error.status != 401:
                raise
        self._token = ""
        return self.http.request(method, url, headers=self._authorization(), **kwargs)

    def _authorization(self) -> dict[str, str]:
        if not self._token or time.monotonic() >= self._token_expires:
            self._authenticate()
        return {"Authorization": f"Bearer {self._token}"}

    def _authenticate(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials.get("client_id", ""),
            "client_secret": self.credentials.get("client_secret", ""),
            "scope": "all",
        }
        tenant = self.credentials.get("tenant", "")
        params = {"tenant": tenant} if tenant else {}
        try:
            data = self.http.request(
                "POST", f"{self.base_url}/auth/token", params=params, data=form
            )
        except PsaError as error:
            if error.status in (400, 401, 403):
                raise PsaError(
                    f"HaloPSA refused the client id and secret ({error.status}); check them "
                    "and the tenant on the connection page.",
                    status=error.status,
                ) from None
            raise
        token = as_dict(data).get("access_token")
        if not isinstance(token, str) or not token:
            raise PsaError("HaloPSA's token endpoint answered without an access_token.")
        lifetime = float(as_dict(data).get("expires_in") or 3600)
        self._token = token
        self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)


def _ticket_query(since: dt.datetime | None, page_no: int, page_size: int) -> dict[str, str]:
    params = {
        "pageinate": "true",
        "page_size": str(page_size),
        "page_no": str(page_no),
        "order": "last_update",
        "orderdesc": "false",
    }
    if since is not None:
        params["lastupdatefromdate"] = _query_time(since)
    return params


def _returned(row: dict[str, Any], after: _Cursor) -> bool:
    """Whether a row of a page that restarted at `after.updated_at` came before the cursor."""
    key = _sort_key(row)
    return key is not None and key <= (after.updated_at, after.ticket_id)


def _next_cursor(items: list[dict[str, Any]], after: _Cursor | None) -> _Cursor | None:
    keys = [key for key in map(_sort_key, items) if key is not None]
    if not keys:
        return None
    last_time, last_id = keys[-1]
    at_last_time = sum(1 for moment, _ in keys if moment == last_time)
    if after is not None and after.updated_at == last_time:
        at_last_time += after.seen
    return _Cursor(last_time, last_id, at_last_time)


def _sort_key(row: dict[str, Any]) -> tuple[dt.datetime, int] | None:
    moment = _time(row.get("last_update"))
    ticket_id = _int_or_none(row.get("id"))
    return (moment, ticket_id) if moment is not None and ticket_id is not None else None


def _query_time(moment: dt.datetime) -> str:
    """UTC, as Halo writes it; microseconds kept so a watermark never moves later."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


# normalize --------------------------------------------------------------------------------
def normalize(raw: dict[str, Any]) -> PsaRecord:
    """A Halo ticket (as `ticket()` or a page returns it) as a `PsaRecord`.

    The queue is the Halo team: `team_id` when the ticket has it, else the team's name.

    `closed`: when the ticket carries a status label, the label decides (it says closed,
    resolved, complete or cancelled); without one, status id 9 (Halo's built-in Closed) or
    `hasbeenclosed` true."""
    ticket_id = _int_or_none(raw.get("id"))
    if ticket_id is None:
        raise IntakeError("The HaloPSA ticket has no id.")
    updated_at = _time(raw.get("last_update"))
    if updated_at is None:
        raise IntakeError(f"HaloPSA ticket {ticket_id} has no valid last_update time.")
    status = _ref(raw, ("status_id",), ("status_name", "status"))
    return PsaRecord(
        external_id=str(ticket_id),
        summary=_text(raw.get("summary")),
        updated_at=updated_at,
        description=_text(raw.get("details")),
        opened_at=_time(raw.get("dateoccurred")) or _time(raw.get("datecreated")),
        status=status,
        closed=_closed(raw, status),
        priority=_ref(raw, ("priority_id",), ("priority_name", "priority")),
        type=_ref(raw, ("tickettype_id",), ("tickettype_name", "tickettype")),
        subtype=_category(raw),
        queue=_ref(raw, ("team_id", "team"), ("team", "team_name")),
        company=_ref(raw, ("client_id",), ("client_name",)),
        contact_email=_email(raw),
        contact_name=_text(raw.get("user_name")),
        assignee=_ref(raw, ("agent_id",), ("agent_name",)),
        assets=_assets(raw.get("assets")),
        raw=raw,
    )


def _ref(raw: dict[str, Any], id_keys: tuple[str, ...], label_keys: tuple[str, ...]) -> Ref | None:
    """The first present id (0 and blank mean "none" in Halo) with the first text label."""
    ids = [raw.get(key) for key in id_keys]
    found = next((value for value in ids if value not in (None, "", 0, "0")), None)
    if found is None or isinstance(found, (dict, list, bool)):
        return None
    labels = [raw.get(key) for key in label_keys]
    label = next((value for value in labels if isinstance(value, str) and value), "")
    return Ref(str(found), label)


def _closed(raw: dict[str, Any], status: Ref | None) -> bool:
    if status is not None and status.label:
        return any(word in status.label.lower() for word in _CLOSED_WORDS)
    return raw.get("hasbeenclosed") is True or (
        status is not None and status.id == str(CLOSED_STATUS_ID)
    )


def _category(raw: dict[str, Any]) -> Ref | None:
    category = _text(raw.get("category_1"))
    return Ref(category, category) if category else None


def _email(raw: dict[str, Any]) -> str:
    for key in ("user_email", "user_emailaddress", "emailaddress", "reportedby", "emailfrom"):
        value = _text(raw.get(key))
        if "@" in value:
            return value
    return ""


def _assets(value: Any) -> tuple[str, ...]:
    names = []
    for asset in _list(value):
        asset = as_dict(asset)
        name = _text(asset.get("key_field") or asset.get("inventory_number") or asset.get("id"))
        if name:
            names.append(name)
    return tuple(names)


# webhooks ---------------------------------------------------------------------------------
def verify_webhook(
    settings: ConnectionSettings,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
) -> Delivery:
    """A Halo delivery, authenticated by `Authorization: Bearer <secret>` or `Basic` with the
    secret as password (Halo signs nothing, and sends no time, so `now` is unused).

    Payload keys are unverified; the ticket id is the first of `ticket.id`, `ticket_id`,
    `object_id`, `id`. The delivery id is the body's `id` when that is not the ticket's own
    id (an event id), else the SHA-256 of the raw body — a retry of the same body is then
    recognised as a replay."""
    if not _authenticated(settings.webhook_secrets, headers.get("authorization", "")):
        raise WebhookRejected("The Authorization header does not carry a current secret.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise WebhookRejected("The body is not a JSON object.")
    ticket_id = _webhook_ticket_id(data)
    if ticket_id is None:
        raise WebhookRejected("The delivery names no ticket id.")
    event_id = data.get("id")
    if isinstance(event_id, (str, int)) and not isinstance(event_id, bool):
        delivery_id = str(event_id) if str(event_id) != ticket_id else ""
    else:
        delivery_id = ""
    return Delivery(
        delivery_id=delivery_id or hashlib.sha256(body).hexdigest(),
        external_id=ticket_id,
        action=_webhook_action(data),
    )


def _authenticated(secrets: Any, authorization: str) -> bool:
    """Constant-time compare against every configured secret (no early exit)."""
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            credential = base64.b64decode(credential, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    offered = credential.strip().encode()
    matched = False
    for secret in secrets:
        matched |= bool(secret) and hmac.compare_digest(offered, str(secret).encode())
    return matched and bool(offered)


def _webhook_ticket_id(data: dict[str, Any]) -> str | None:
    candidates = (
        as_dict(data.get("ticket")).get("id"),
        data.get("ticket_id"),
        data.get("object_id"),
        data.get("id"),
    )
    numbers = (_int_or_none(value) for value in candidates)
    found = next((number for number in numbers if number), None)
    return str(found) if found is not None else None


def _webhook_action(data: dict[str, Any]) -> str:
    value = next(
        (data[key] for key in ("event", "action", "Action") if isinstance(data.get(key), str)),
        "updated",
    )
    word = value.strip().lower() or "updated"
    return _ACTIONS.get(word, word)


# small readers ----------------------------------------------------------------------------
def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PsaError(f"HaloPSA answered {type(data).__name__} where an object was expected.")
    return data


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _unique_refs(rows: list[Any]) -> list[Ref]:
    """Rows as Refs, first of each id kept: Halo lists a priority once per SLA."""
    refs: dict[str, Ref] = {}
    for row in map(as_dict, rows):
        ref = _ref(row, ("id", "priorityid"), ("name",))
        if ref is not None and ref.id not in refs:
            refs[ref.id] = ref
    return list(refs.values())


def _number(value: str, what: str) -> int:
    if not str(value).strip().isdigit():
        raise PsaError(f"A HaloPSA {what} is a number; got {value!r}.")
    return int(value)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value).strip()


def _time(value: Any) -> dt.datetime | None:
    """Halo writes UTC times, usually without a zone; aware UTC or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _aware(moment)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")
