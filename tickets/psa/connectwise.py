"""ConnectWise PSA (Manage) REST 3.0: the client, `normalize` of its ticket JSON and the
callback verifier.

The API base is discovered from `/login/companyinfo/{companyId}` (its `Codebase` moves with
upgrades). Tickets are read oldest last-updated first with keyset paging: the cursor is the
last row's (lastUpdated, id) and the next page asks for rows after it, so a ticket updated
while the sync pages moves behind the cursor instead of shifting a page-numbered window
(which would skip a row). Statuses belong to a board, so a status's PSA id is
"{board_id}:{status_id}".
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping
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

KIND = "connectwise"
PAGE_SIZE = 1000  # ConnectWise's maximum
CREDENTIALS = ("company_id", "public_key", "private_key", "client_id")
TICKET_ORDER = "lastUpdated asc, id asc"
KEY_FETCH_TIMEOUT = 5.0  # a delivery must be answered within seconds
KEY_CACHE_SIZE = 64


class ConnectWiseClient(HttpBacked):
    """One ConnectWise company's API, authenticated as an API member."""

    def __init__(self, settings: ConnectionSettings, *, timeout: float) -> None:
        missing = [name for name in CREDENTIALS if not settings.credentials.get(name)]
        if missing:
            raise PsaError(f"The ConnectWise connection needs {', '.join(missing)}.")
        credentials = settings.credentials
        self.site = settings.base_url.rstrip("/")
        self.company_id = credentials["company_id"]
        login = f"{self.company_id}+{credentials['public_key']}:{credentials['private_key']}"
        self.http = Http(
            timeout=timeout,
            headers={
                "Authorization": f"Basic {base64.b64encode(login.encode()).decode()}",
                "clientId": credentials["client_id"],
                "Accept": "application/json",
            },
        )
        self._api: str | None = None

    def check(self) -> str:
        info = as_dict(self._get("system/info"))
        version = info.get("version") or "(version not given)"
        return f"Connected to ConnectWise PSA {version} at {self.site} as {self.company_id}."

    def count_updated_since(self, since: dt.datetime | None) -> int | None:
        params = {"conditions": updated_since_condition(since)} if since else {}
        count = as_dict(self._get("service/tickets/count", params)).get("count")
        return count if isinstance(count, int) else None

    def tickets_page(self, *, updated_since: dt.datetime | None, cursor: str | None) -> Page:
        conditions = []
        if updated_since is not None:
            conditions.append(updated_since_condition(updated_since))
        if cursor:
            conditions.append(after_cursor_condition(cursor))
        params: dict[str, Any] = {"page": 1, "pageSize": PAGE_SIZE, "orderBy": TICKET_ORDER}
        if conditions:
            params["conditions"] = " and ".join(conditions)
        items = [row for row in self._get_list("service/tickets", params) if isinstance(row, dict)]
        more = len(items) == PAGE_SIZE and self._link_allows_next()
        return Page(items=items, next_cursor=ticket_cursor(items[-1]) if more else None)

    def ticket(self, external_id: str) -> dict[str, Any]:
        """The ticket as GET returns it, plus `configurations` (its linked configuration
        items, from their own endpoint) so that `normalize` can name the assets."""
        path = ticket_path(external_id)
        ticket = as_dict(self._get(path))
        ticket["configurations"] = self._configurations(path)
        return ticket

    def add_note(self, external_id: str, *, text: str, public: bool) -> str:
        note = {
            "text": text,
            "detailDescriptionFlag": public,  # "Discussion": the customer sees it
            "internalAnalysisFlag": not public,
            "resolutionFlag": False,
            "customerUpdatedFlag": False,
        }
        answer = self.http.request(
            "POST", self._url(f"{ticket_path(external_id)}/notes"), json=note
        )
        return _id_of(answer, "note")

    def update_ticket(
        self, external_id: str, *, status: str | None = None, assignee: str | None = None
    ) -> None:
        operations = []
        if status is not None:
            operations.append(_replace("status", {"id": status_id(status)}))
        if assignee is not None:
            operations.append(_replace("owner", member_reference(assignee) if assignee else None))
        if operations:
            self.http.request("PATCH", self._url(ticket_path(external_id)), json=operations)

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
            "chargeToId": int(ticket_path(external_id).rsplit("/", 1)[1]),
            "chargeToType": "ServiceTicket",
            "member": member_reference(member),
            "timeStart": stamp(started_at),
            "timeEnd": stamp(started_at + dt.timedelta(minutes=minutes)),
            "actualHours": round(minutes / 60, 2),
            "notes": notes,
        }
        return _id_of(self.http.request("POST", self._url("time/entries"), json=entry), "entry")

    def budget(self) -> Budget | None:
        return None  # ConnectWise publishes no request budget

    def catalogue(self) -> dict[str, list[Ref]]:
        boards = list(self._all("service/boards", conditions="inactiveFlag=false"))
        statuses, types = [], []
        for board in boards:
            board_id = board.get("id")
            for status in self._all(f"service/boards/{board_id}/statuses"):
                statuses.append(Ref(f"{board_id}:{status.get('id')}", _text(status.get("name"))))
            for kind in self._all(f"service/boards/{board_id}/types"):
                types.append(Ref(str(kind.get("id")), _text(kind.get("name"))))
        return {
            "status": statuses,
            "priority": [_named(row) for row in self._all("service/priorities")],
            "type": types,
            "queue": [_named(board) for board in boards],
            "company": [_named(row) for row in self._all("company/companies")],
            "member": [
                Ref(str(row.get("id")), member_label(row))
                for row in self._all("system/members", conditions="inactiveFlag=false")
            ],
        }

    def _configurations(self, path: str) -> list[dict[str, Any]]:
        """A ticket's configuration items; an API member not allowed to read them gets none
        rather than no ticket at all."""
        try:
            rows = self._get_list(f"{path}/configurations", {"pageSize": PAGE_SIZE})
        except PsaError as error:
            if error.status in (403, 404):
                return []
            raise
        return [row for row in rows if isinstance(row, dict)]

    def _all(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        """Every row of a list endpoint, page by page."""
        page = 1
        while True:
            rows = self._get_list(path, {**params, "page": page, "pageSize": PAGE_SIZE})
            yield from (row for row in rows if isinstance(row, dict))
            if len(rows) < PAGE_SIZE or not self._link_allows_next():
                return
            page += 1

    def _link_allows_next(self) -> bool:
        """ConnectWise says a page is the last by a `Link` header without rel="next"; with no
        `Link` header at all, a full page may have a successor."""
        headers = self.http.last_headers
        link = headers.get("Link") if headers is not None else None
        return link is None or 'rel="next"' in link

    def _get_list(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        rows = self._get(path, params)
        if not isinstance(rows, list):
            raise PsaError(f"GET {path} answered with something other than a list.")
        return rows

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.request("GET", self._url(path), params=dict(params or {}))

    def _url(self, path: str) -> str:
        return self._api_base() + path

    def _api_base(self) -> str:
        """`{site}/{Codebase}apis/3.0/`, asked once per client: the codebase changes when
        the PSA is upgraded."""
        if self._api is None:
            url = f"{self.site}/login/companyinfo/{quote(self.company_id, safe='')}"
            codebase = as_dict(self.http.request("GET", url)).get("Codebase")
            if not isinstance(codebase, str) or not codebase.strip("/"):
                raise PsaError(
                    f"ConnectWise at {self.site} does not know company id {self.company_id!r}."
                )
            self._api = f"{self.site}/{codebase.strip('/')}/apis/3.0/"
        return self._api


def client(settings: ConnectionSettings, *, timeout: float = 10.0) -> ConnectWiseClient:
    return ConnectWiseClient(settings, timeout=timeout)


def stamp(moment: dt.datetime) -> str:
    """UTC to the second, as ConnectWise writes times. Truncating a watermark can only widen
    a `>=` filter, never narrow it."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_since_condition(since: dt.datetime) -> str:
    return f"lastUpdated>=[{stamp(since)}]"


def ticket_cursor(ticket: Mapping[str, Any]) -> str:
    updated = as_dict(ticket.get("_info")).get("lastUpdated")
    moment = parse_time(updated)
    if moment is None or not str(ticket.get("id", "")).isdigit():
        raise PsaError("ConnectWise returned a ticket without id or _info.lastUpdated.")
    return f"{stamp(moment)}|{ticket['id']}"


def after_cursor_condition(cursor: str) -> str:
    """Rows after the cursor's (lastUpdated, id) in the (lastUpdated asc, id asc) order."""
    moment, _, ticket_id = cursor.partition("|")
    if parse_time(moment) is None or not ticket_id.isdigit():
        raise PsaError(f"Not a ConnectWise ticket cursor: {cursor!r}.")
    return f"(lastUpdated>[{moment}] or (lastUpdated=[{moment}] and id>{int(ticket_id)}))"


def ticket_path(external_id: str) -> str:
    if not external_id.strip().isdigit():
        raise PsaError(f"{external_id!r} is not a ConnectWise ticket id.", status=404)
    return f"service/tickets/{int(external_id)}"


def status_id(status: str) -> int:
    """The status id within "{board_id}:{status_id}" (or a bare status id)."""
    status_part = status.rpartition(":")[2]
    if not status_part.strip().isdigit():
        raise PsaError(f"{status!r} is not a ConnectWise status id (expected board:status).")
    return int(status_part)


def member_reference(member: str) -> dict[str, Any]:
    """A member by id when the mapping holds ids, else by identifier (login name)."""
    return {"id": int(member)} if member.isdigit() else {"identifier": member}


def member_label(row: Mapping[str, Any]) -> str:
    name = f"{_text(row.get('firstName'))} {_text(row.get('lastName'))}".strip()
    return name or _text(row.get("name")) or _text(row.get("identifier"))


def _replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def _id_of(answer: Any, what: str) -> str:
    created = as_dict(answer).get("id")
    if created is None:
        raise PsaError(f"ConnectWise created the {what} but did not say its id.")
    return str(created)


def _named(row: Mapping[str, Any]) -> Ref:
    return Ref(str(row.get("id")), _text(row.get("name")))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_time(value: Any) -> dt.datetime | None:
    """A ConnectWise timestamp as aware UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


# normalize ------------------------------------------------------------------------------
def normalize(raw: dict[str, Any]) -> PsaRecord:
    """A ConnectWise ticket as a `PsaRecord`. `closed` is the PSA's `closedFlag` (set when
    the ticket reaches a status marked closed on its board). Only `id` and
    `_info.lastUpdated` are required; every other field may be missing or null."""
    if not isinstance(raw, dict):
        raise IntakeError("A ConnectWise ticket must be a JSON object.")
    external_id = _text(raw.get("id"))
    if not external_id:
        raise IntakeError("The ConnectWise ticket has no id.")
    info = as_dict(raw.get("_info"))
    updated_at = parse_time(info.get("lastUpdated") or raw.get("lastUpdated"))
    if updated_at is None:
        raise IntakeError(
            f"ConnectWise ticket {external_id} has no readable _info.lastUpdated time."
        )
    board, company, contact = (as_dict(raw.get(key)) for key in ("board", "company", "contact"))
    return PsaRecord(
        external_id=external_id,
        summary=_text(raw.get("summary")),
        updated_at=updated_at,
        description=_text(raw.get("initialDescription")),
        opened_at=parse_time(info.get("dateEntered") or raw.get("dateEntered")),
        status=_status_ref(board, as_dict(raw.get("status"))),
        closed=_flag(raw.get("closedFlag")),
        priority=_ref(raw.get("priority")),
        type=_ref(raw.get("type")),
        subtype=_ref(raw.get("subType")),
        queue=_ref(board),
        company=_ref(company),
        company_identifier=_text(company.get("identifier")),
        contact_email=_text(raw.get("contactEmailAddress")),
        contact_name=_text(raw.get("contactName")) or _text(contact.get("name")),
        assignee=_ref(raw.get("owner")),
        assets=_assets(raw.get("configurations")),
        raw=raw,
    )


def _ref(value: Any) -> Ref | None:
    value = as_dict(value)
    if value.get("id") is None:
        return None
    return Ref(str(value["id"]), _text(value.get("name")))


def _status_ref(board: Mapping[str, Any], status: Mapping[str, Any]) -> Ref | None:
    if status.get("id") is None:
        return None
    prefix = f"{board['id']}:" if board.get("id") is not None else ""
    return Ref(f"{prefix}{status['id']}", _text(status.get("name")))


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _assets(configurations: Any) -> tuple[str, ...]:
    """Hostnames of the linked configuration items (their device identifier or name)."""
    if not isinstance(configurations, list):
        return ()
    names = (
        _text(item.get("deviceIdentifier")) or _text(item.get("name"))
        for item in configurations
        if isinstance(item, dict)
    )
    return tuple(dict.fromkeys(name for name in names if name))


# callbacks ------------------------------------------------------------------------------
_signing_keys: dict[str, str] = {}
_signing_keys_lock = threading.Lock()


def verify_webhook(
    settings: ConnectionSettings, headers: Mapping[str, str], body: bytes, *, now: dt.datetime
) -> Delivery:
    """A ConnectWise callback, verified: `x-content-signature` must be the HMAC of the raw
    body under one of the configured signing keys, or else under the key served at the
    delivery's `Metadata.key_url` — fetched only from the configured site. ConnectWise
    signs no timestamp, so `now` is unused; replays are caught by the delivery id."""
    signature = headers.get("x-content-signature", "").strip()
    if not signature:
        raise WebhookRejected("No x-content-signature header.")
    payload = _payload(body)
    if not any(_signed_with(key, body, signature) for key in settings.webhook_secrets if key):
        key_url = _text(as_dict(payload.get("Metadata")).get("key_url"))
        if not _signed_with(_signing_key(settings, key_url), body, signature):
            raise WebhookRejected("The x-content-signature does not match the body.")
    return _delivery(payload, body)


def callback_signature(signing_key: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key=SHA-256(signing_key), body)), as ConnectWise signs."""
    key = hashlib.sha256(signing_key.encode()).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def _signed_with(signing_key: str, body: bytes, signature: str) -> bool:
    expected = callback_signature(signing_key, body)
    return hmac.compare_digest(expected.encode(), signature.encode())


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The body is not a JSON object.")
    return payload


def _delivery(payload: Mapping[str, Any], body: bytes) -> Delivery:
    if _text(payload.get("Type")).lower() != "ticket":
        raise WebhookRejected(f"Callback type {payload.get('Type')!r} is not a ticket.")
    external_id = _text(payload.get("ID"))
    if not external_id:
        raise WebhookRejected("The callback names no ticket ID.")
    return Delivery(
        delivery_id=_text(payload.get("MessageId")) or hashlib.sha256(body).hexdigest(),
        external_id=external_id,
        action=_text(payload.get("Action")).lower(),
    )


def _signing_key(settings: ConnectionSettings, key_url: str) -> str:
    """The signing key served at `key_url`, cached per URL (the URL names the key). A URL
    on any other origin than the configured site is refused unfetched: a forged delivery
    could otherwise make us verify against its own key."""
    if not key_url:
        raise WebhookRejected("The signature matches no configured key and there is no key_url.")
    origin = _origin(key_url)
    if origin is None or origin != _origin(settings.base_url):
        raise WebhookRejected(f"key_url {key_url!r} is not on the configured ConnectWise site.")
    with _signing_keys_lock:
        cached = _signing_keys.get(key_url)
    if cached is not None:
        return cached
    key = _fetch_signing_key(key_url)
    with _signing_keys_lock:
        if len(_signing_keys) >= KEY_CACHE_SIZE:
            _signing_keys.pop(next(iter(_signing_keys)))
        _signing_keys[key_url] = key
    return key


def _fetch_signing_key(key_url: str) -> str:
    """The key from a JSON object (`signingKey`, `signing_key` or `key`) or a JSON string."""
    http = Http(timeout=KEY_FETCH_TIMEOUT)
    try:
        answer = http.request("GET", key_url)
    except PsaError as error:
        raise WebhookRejected(f"The signing key could not be fetched: {error}") from None
    finally:
        http.close()
    if isinstance(answer, dict):
        answer = next(
            (answer[name] for name in ("signingKey", "signing_key", "key") if answer.get(name)),
            None,
        )
    if not isinstance(answer, str) or not answer:
        raise WebhookRejected("key_url answered without a signing key.")
    return answer


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL; None for anything else."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return (scheme, parts.hostname.lower(), port)
