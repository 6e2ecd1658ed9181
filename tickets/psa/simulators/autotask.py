"""A loopback Autotask REST v1.0 tenant: zone discovery, header auth on every call, query
filters evaluated (eq noteq gt gte lt lte beginsWith endsWith contains in notIn exist
notExist, and/or groups), `nextPageUrl` paging, ticket read/create/update, notes, time
entries, picklists, companies, contacts, resources and their roles, configuration items,
the rolling-hour request threshold (429 when spent) and signed webhook deliveries.

Query results come in (lastActivityDate, id) order for tickets and id order for the rest;
`nextPageUrl` carries the query and the sort key of the page's last row, so a ticket updated
during a sync moves behind the cursor and is seen again rather than shifting a later one
out of view.
"""

from __future__ import annotations

import base64
import bisect
import copy
import datetime as dt
import hashlib
import hmac
import json
import random
import re
import sys
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from tickets.psa.simulators.base import Request, Response, Simulator, iso, parse_time

API = "/atservicesrest/v1.0/"
SIGNING_KEY = "sim-webhook-secret-0123456789"  # the default secretKey of the loopback webhook
OWN_COMPANY_ID = 0
DEFAULT_ROLE_ID = 29683461
COMPLETE = 5
PAGE_LIMIT = 500
WINDOW = dt.timedelta(hours=1)
STATUSES = {1: "New", 8: "In Progress", 7: "Waiting Customer", 5: "Complete"}
PRIORITIES = {4: "Critical", 1: "High", 2: "Medium", 3: "Low"}
TICKET_TYPES = {1: "Service Request", 2: "Incident", 3: "Problem", 4: "Change Request"}
ISSUE_TYPES = {10: "Hardware", 11: "Software", 12: "Network"}
QUEUES = {29682833: "Service Desk", 29682834: "Projects"}
PICKLISTS = {
    "status": STATUSES,
    "priority": PRIORITIES,
    "ticketType": TICKET_TYPES,
    "issueType": ISSUE_TYPES,
    "queueID": QUEUES,
}
ALIASES = {"completed": "Complete", "closed": "Complete"}
ACTION_NAMES = {
    "added": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "deactivated": "Deactivated",
}
ENTITIES = (
    "Tickets",
    "TicketNotes",
    "TimeEntries",
    "Companies",
    "Contacts",
    "Resources",
    "ResourceServiceDeskRoles",
    "ConfigurationItems",
)
DATE_VALUE = re.compile(r"^\d{4}-\d\d-\d\dT")
SUMMARIES = (
    "{host} is low on disk space",
    "Outlook keeps asking for a password",
    "VPN drops every few minutes",
    "Printer on the second floor is offline",
    "New starter: set up a laptop for {person}",
    "Backup job failed on {host}",
    "Cannot open the shared drive",
    "Password reset for {person}",
    "Wi-Fi is slow in meeting room {room}",
    "Teams calls keep dropping",
    "{host} CPU above 95% for 15 minutes",
    "Please install Adobe Acrobat for {person}",
)
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Finn", "Grace", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Okafor", "Smith", "Nguyen", "Patel", "Kowalski", "Brown", "Silva", "Berg")


class AutotaskSimulator(Simulator):
    """One Autotask database with one API user (`credentials`); `base_url` is what a
    `PsaConnection` stores (the client discovers the zone under it). Tests may set
    `threshold` and `used` (the request budget) and `sign_escaped` (sign deliveries over
    the HTML-escaped JSON form, as Autotask has been seen doing)."""

    kind = "autotask"

    def __init__(self, *, port: int = 0, webhook_secret: str = SIGNING_KEY) -> None:
        super().__init__(port=port)
        self.webhook_secret = webhook_secret
        self.credentials: dict[str, str] = {
            "username": "api-user@loopback-msp.test",
            "secret": "sim-api-secret-9876543210",
            "integration_code": "LOOPBACKINTEGRATIONCODE01",
        }
        self.threshold = 10_000
        self.sign_escaped = False
        self.webhook_guid = str(uuid.uuid4())
        self._preset_used = 0
        self._request_times: deque[dt.datetime] = deque()
        self._sequence = 0
        self.tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in ENTITIES}
        self._next_ids = {name: 1 for name in ENTITIES}
        self._next_ids.update(Tickets=1000, Companies=100, Resources=29682900, Contacts=30000)
        self._order: list[tuple[dt.datetime, int]] = []  # tickets by (last activity, id)
        self._stamps: dict[int, dt.datetime] = {}
        self._companies: dict[str, int] = {}
        self._members: dict[str, int] = {}
        self._contacts: dict[tuple[int, str], int] = {}
        self._items: dict[tuple[int, str], int] = {}
        self._insert("Companies", self._company_row(OWN_COMPANY_ID, "", "Loopback MSP"))

    def __enter__(self) -> AutotaskSimulator:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.url

    # request budget ----------------------------------------------------------------------
    @property
    def used(self) -> int:
        """Requests counted in the rolling hour (plus whatever a test preset)."""
        with self.lock:
            horizon = self.now() - WINDOW
            while self._request_times and self._request_times[0] <= horizon:
                self._request_times.popleft()
            return self._preset_used + len(self._request_times)

    @used.setter
    def used(self, value: int) -> None:
        with self.lock:
            self._preset_used = value
            self._request_times.clear()

    # tenant set-up -----------------------------------------------------------------------
    def start_ids_at(self, first: int) -> None:
        """Number new tickets from `first` on (a restarted demo must not reuse ids)."""
        with self.lock:
            self._next_ids["Tickets"] = max(first, self._next_ids["Tickets"])

    def add_company(self, identifier: str, name: str) -> str:
        with self.lock:
            if identifier not in self._companies:
                row = self._company_row(self._new_id("Companies"), identifier, name)
                self._insert("Companies", row)
                self._companies[identifier] = row["id"]
            return str(self._companies[identifier])

    def add_member(self, identifier: str, name: str) -> str:
        with self.lock:
            if identifier not in self._members:
                first, _, last = name.partition(" ")
                resource_id = self._new_id("Resources")
                self._insert(
                    "Resources",
                    {
                        "id": resource_id,
                        "userName": identifier,
                        "firstName": first,
                        "lastName": last,
                        "email": f"{identifier}@loopback-msp.test",
                        "resourceType": "Employee",
                        "isActive": True,
                    },
                )
                self._insert(
                    "ResourceServiceDeskRoles",
                    {
                        "id": self._new_id("ResourceServiceDeskRoles"),
                        "resourceID": resource_id,
                        "roleID": DEFAULT_ROLE_ID,
                        "isDefault": True,
                        "isActive": True,
                    },
                )
                self._members[identifier] = resource_id
            return str(self._members[identifier])

    def create_ticket(
        self,
        *,
        summary: str,
        description: str = "",
        company: str = "",
        contact_email: str = "",
        contact_name: str = "",
        status: str = "New",
        priority: str = "Medium",
        type: str = "",
        queue: str = "Service Desk",
        assignee: str = "",
        hostnames: Sequence[str] = (),
        opened_at: dt.datetime | None = None,
    ) -> str:
        """Labels are the preset picklists' (case-insensitive; "Closed"/"Completed" mean
        Complete); only the first hostname is linked (a ticket has one configuration item)."""
        with self.lock:
            now = self.now()
            ticket = self._blank_ticket(self._new_id("Tickets"), opened_at or now)
            self._apply(
                ticket,
                {
                    "summary": summary,
                    "description": description,
                    "company": company,
                    "contact_email": contact_email,
                    "contact_name": contact_name,
                    "status": status,
                    "priority": priority,
                    "type": type,
                    "queue": queue,
                    "assignee": assignee,
                    "hostnames": hostnames,
                },
            )
            self._insert("Tickets", ticket)
            self._touch(ticket["id"], now)
            return str(ticket["id"])

    def update_ticket(self, external_id: str, **changes: Any) -> None:
        with self.lock:
            ticket = self.tables["Tickets"][int(external_id)]
            self._apply(ticket, changes)
            self._touch(ticket["id"], self.now())

    def seed(
        self,
        count: int,
        *,
        companies: Sequence[str],
        contact_domain: str = "example.test",
        start: dt.datetime | None = None,
    ) -> list[str]:
        """`count` tickets, one a second from `start`, over the given company identifiers
        (added when unknown), with ten contacts and twenty devices per company."""
        rng = random.Random(count)
        with self.lock:
            first = (start or self.now() - dt.timedelta(seconds=count)).replace(microsecond=0)
            company_ids = [int(self.add_company(c, c.replace("-", " ").title())) for c in companies]
            contacts = {c: self._seed_contacts(c, contact_domain) for c in company_ids}
            members = list(self._members.values())
            ids = []
            for n in range(count):
                stamp = first + dt.timedelta(seconds=n)
                company_id = rng.choice(company_ids)
                ticket = self._seed_ticket(rng, stamp, company_id, contacts[company_id], members)
                self.tables["Tickets"][ticket["id"]] = ticket
                self._stamps[ticket["id"]] = stamp
                self._order.append((stamp, ticket["id"]))
                ids.append(str(ticket["id"]))
            self._order.sort()
            return ids

    # reading the tenant ------------------------------------------------------------------
    def ticket_json(self, external_id: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.tables["Tickets"][int(external_id)])

    def notes(self, external_id: str) -> list[dict[str, Any]]:
        return self._rows_of("TicketNotes", int(external_id))

    def time_entries(self, external_id: str) -> list[dict[str, Any]]:
        return self._rows_of("TimeEntries", int(external_id))

    def status_label(self, external_id: str) -> str:
        with self.lock:
            return STATUSES[self.tables["Tickets"][int(external_id)]["status"]]

    def assignee_identifier(self, external_id: str) -> str:
        with self.lock:
            resource_id = self.tables["Tickets"][int(external_id)]["assignedResourceID"]
            resource = self.tables["Resources"].get(resource_id or -1)
            return str(resource["userName"]) if resource else ""

    # webhooks ----------------------------------------------------------------------------
    def deliver(
        self,
        url: str,
        external_id: str,
        action: str = "updated",
        *,
        secret: str | None = None,
        tamper: bool = False,
    ) -> int:
        body, headers = self.delivery(external_id, action, secret=secret)
        if tamper:
            payload = json.loads(body)
            payload["Id"] = int(payload["Id"]) + 1
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return self.post(url, body, headers)

    def delivery(
        self, external_id: str, action: str = "updated", *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body (compact UTF-8 JSON) and headers of a delivery, signed with HMAC-SHA1
        over the body, or over its HTML-escaped form when `sign_escaped` is set."""
        with self.lock:
            self._sequence += 1
            ticket = self.tables["Tickets"].get(int(external_id), {})
            payload = {
                "Action": ACTION_NAMES[action],
                "Guid": self.webhook_guid,
                "EntityType": "Ticket",
                "Id": int(external_id),
                "Fields": {
                    k: ticket.get(k) for k in ("title", "status", "priority", "queueID") if ticket
                },
                "EventTime": iso(self.now()),
                "SequenceNumber": self._sequence,
                "PersonID": None,
            }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        signed = html_escaped(payload).encode() if self.sign_escaped else body
        key = (secret if secret is not None else self.webhook_secret).encode()
        signature = base64.b64encode(hmac.new(key, signed, hashlib.sha1).digest()).decode()
        return body, {"Content-Type": "application/json", "X-Hook-Signature": f"sha1={signature}"}

    # HTTP --------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        if request.path.lower().endswith("/zoneinformation"):
            return True
        expected = {
            "apiintegrationcode": self.credentials["integration_code"],
            "username": self.credentials["username"],
            "secret": self.credentials["secret"],
        }
        return all(
            hmac.compare_digest(request.headers.get(name, "").encode(), value.encode())
            for name, value in expected.items()
        )

    def route(self, request: Request) -> Response:
        path = request.path.lower()
        if not path.startswith(API):
            return _not_found(request.path)
        parts = request.path[len(API) :].strip("/").split("/")
        with self.lock:
            if path.endswith("/zoneinformation"):
                return self._zone(request)
            if path.endswith("/thresholdinformation"):
                return Response(200, self._threshold_information())
            if self.used >= self.threshold:
                return Response(
                    429,
                    {"errors": ["The request threshold of this database has been reached."]},
                    {"Retry-After": str(self._seconds_until_room())},
                )
            self._request_times.append(self.now())
            return self._dispatch(request, parts)

    def _dispatch(self, request: Request, parts: list[str]) -> Response:
        entity = self._entity(parts[0])
        rest = [p.lower() for p in parts[1:]]
        method = request.method
        if entity is None:
            return _not_found(request.path)
        if rest == ["entityinformation", "fields"] and entity == "Tickets":
            return Response(200, {"fields": _ticket_fields()})
        if rest[:1] == ["query"]:
            return self._query_route(request, entity, rest[1:])
        if entity == "Tickets" and not rest and method == "PATCH":
            return self._patch_ticket(request.json())
        if entity == "Tickets" and not rest and method == "POST":
            return self._post_ticket(request.json())
        if entity == "Tickets" and len(rest) == 2 and rest[1] == "notes":
            return self._notes_route(request, rest[0])
        if entity == "TimeEntries" and not rest and method == "POST":
            return self._post_time_entry(request.json())
        if len(rest) == 1 and rest[0].isdigit() and method == "GET":
            return self._get_one(entity, int(rest[0]))
        return _not_found(request.path)

    def _zone(self, request: Request) -> Response:
        if request.arg("user").lower() != self.credentials["username"].lower():
            return Response(404, {"errors": ["Zone information could not be determined."]})
        return Response(
            200,
            {"zoneName": "Loopback", "url": f"{self.url}/atservicesrest/", "ci": 0},
        )

    def _threshold_information(self) -> dict[str, int]:
        return {
            "externalRequestThreshold": self.threshold,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": self.used,
        }

    def _seconds_until_room(self) -> int:
        if not self._request_times:
            return int(WINDOW.total_seconds())
        return max(1, int((self._request_times[0] + WINDOW - self.now()).total_seconds()))

    # queries -----------------------------------------------------------------------------
    def _query_route(self, request: Request, entity: str, rest: list[str]) -> Response:
        if rest == ["next"]:
            paging = json.loads(request.arg("paging"))
            return self._query(entity, json.loads(request.arg("search")), paging["after"])
        search = json.loads(request.arg("search")) if request.method == "GET" else request.json()
        if not isinstance(search, dict):
            raise ValueError("the query must be a JSON object")
        if rest == ["count"]:
            matches = self._matching(entity, _filters(search), None)
            return Response(200, {"queryCount": sum(1 for _ in matches)})
        if not rest:
            return self._query(entity, search, None)
        return _not_found(request.path)

    def _query(self, entity: str, search: dict[str, Any], after: list[Any] | None) -> Response:
        size = min(max(int(search.get("MaxRecords") or PAGE_LIMIT), 1), PAGE_LIMIT)
        rows = []
        for row in self._matching(entity, _filters(search), after):
            rows.append(row)
            if len(rows) > size:
                break
        page = rows[:size]
        next_url = None
        if len(rows) > size:
            last = self._sort_key(entity, page[-1]["id"])
            next_url = self._next_url(entity, search, last)
        details = {
            "count": len(page),
            "requestCount": size,
            "prevPageUrl": None,
            "nextPageUrl": next_url,
        }
        return Response(200, {"items": [dict(row) for row in page], "pageDetails": details})

    def _next_url(self, entity: str, search: dict[str, Any], after: list[Any]) -> str:
        paging, query = quote(json.dumps({"after": after})), quote(json.dumps(search))
        return f"{self.url}{API}{entity}/query/next?paging={paging}&search={query}"

    def _sort_key(self, entity: str, row_id: int) -> list[Any]:
        if entity == "Tickets":
            return [self._stamps[row_id].isoformat(), row_id]
        return [row_id]

    def _matching(
        self, entity: str, filters: list[dict[str, Any]], after: list[Any] | None
    ) -> Iterator[dict[str, Any]]:
        table = self.tables[entity]
        for row_id in self._candidates(entity, filters, after):
            row = table.get(row_id)
            if row is not None and all(_matches(row, c) for c in filters):
                yield row

    def _candidates(
        self, entity: str, filters: list[dict[str, Any]], after: list[Any] | None
    ) -> Iterator[int]:
        """Row ids in sort order past `after`; an `id eq/in` condition or a ticket
        lastActivityDate lower bound narrows them before the filters are evaluated."""
        wanted = _id_condition(filters)
        if entity == "Tickets":
            start = (parse_time(after[0]), int(after[1])) if after else None
            bound = _activity_bound(filters)
            position = max(
                bisect.bisect_right(self._order, start) if start else 0,
                bisect.bisect_left(self._order, bound) if bound else 0,
            )
            keys = self._order[position:] if wanted is None else self._keys_of(wanted, start)
            return (row_id for _, row_id in keys)
        last = int(after[0]) if after else -1
        ids = sorted(self.tables[entity]) if wanted is None else sorted(wanted)
        return (row_id for row_id in ids if row_id > last)

    def _keys_of(
        self, ids: set[int], start: tuple[dt.datetime, int] | None
    ) -> list[tuple[dt.datetime, int]]:
        keys = sorted((self._stamps[i], i) for i in ids if i in self._stamps)
        return [key for key in keys if start is None or key > start]

    # writes ------------------------------------------------------------------------------
    def _get_one(self, entity: str, row_id: int) -> Response:
        row = self.tables[entity].get(row_id)
        if row is None:
            return Response(404, {"errors": [f"{entity} {row_id} was not found."]})
        return Response(200, {"item": dict(row)})

    def _post_ticket(self, body: dict[str, Any]) -> Response:
        now = self.now()
        ticket = self._blank_ticket(self._new_id("Tickets"), now)
        for field in ("title", "companyID"):
            if body.get(field) in (None, ""):
                raise ValueError(f"{field} is required")
        ticket.update({k: v for k, v in body.items() if k in ticket and k != "id"})
        self._check_picklists(ticket)
        self._insert("Tickets", ticket)
        self._touch(ticket["id"], now)
        return Response(200, {"itemId": ticket["id"]})

    def _patch_ticket(self, body: dict[str, Any]) -> Response:
        ticket = self.tables["Tickets"].get(int(body["id"]))
        if ticket is None:
            return Response(404, {"errors": [f"Ticket {body['id']} was not found."]})
        resource_keys = {"assignedResourceID", "assignedResourceRoleID"}
        if len(resource_keys & body.keys()) == 1:
            raise ValueError("assignedResourceID and assignedResourceRoleID go together")
        changes = {k: v for k, v in body.items() if k in ticket and k != "id"}
        if changes.get("assignedResourceID") is not None:
            self._check_role(changes["assignedResourceID"], changes["assignedResourceRoleID"])
        candidate = {**ticket, **changes}
        self._check_picklists(candidate)
        ticket.update(changes)
        self._completion(ticket)
        self._touch(ticket["id"], self.now())
        return Response(200, {"itemId": ticket["id"]})

    def _notes_route(self, request: Request, ticket_key: str) -> Response:
        ticket_id = int(ticket_key)
        if ticket_id not in self.tables["Tickets"]:
            return Response(404, {"errors": [f"Ticket {ticket_id} was not found."]})
        if request.method == "GET":
            notes = self._rows_of("TicketNotes", ticket_id)
            return Response(200, {"items": notes, "pageDetails": {"count": len(notes)}})
        body = request.json()
        if int(body.get("ticketID", ticket_id)) != ticket_id:
            raise ValueError("ticketID does not match the ticket in the path")
        for field in ("title", "description", "noteType", "publish"):
            if body.get(field) in (None, ""):
                raise ValueError(f"{field} is required")
        now = self.now()
        note = {
            "id": self._new_id("TicketNotes"),
            "ticketID": ticket_id,
            "title": str(body["title"])[:250],
            "description": str(body["description"]),
            "noteType": int(body["noteType"]),
            "publish": int(body["publish"]),
            "createDateTime": iso(now),
            "lastActivityDate": iso(now),
            "creatorResourceID": None,
        }
        self._insert("TicketNotes", note)
        self._touch(ticket_id, now)
        return Response(200, {"itemId": note["id"]})

    def _post_time_entry(self, body: dict[str, Any]) -> Response:
        ticket_id = int(body["ticketID"])
        if ticket_id not in self.tables["Tickets"]:
            return Response(404, {"errors": [f"Ticket {ticket_id} was not found."]})
        self._check_role(body["resourceID"], body["roleID"])
        started, ended = parse_time(body["startDateTime"]), parse_time(body["endDateTime"])
        hours = float(body["hoursWorked"])
        if ended <= started or hours <= 0:
            raise ValueError("endDateTime must follow startDateTime and hoursWorked be > 0")
        entry = {
            "id": self._new_id("TimeEntries"),
            "ticketID": ticket_id,
            "resourceID": int(body["resourceID"]),
            "roleID": int(body["roleID"]),
            "startDateTime": iso(started),
            "endDateTime": iso(ended),
            "hoursWorked": hours,
            "summaryNotes": str(body.get("summaryNotes") or ""),
            "dateWorked": iso(started.replace(hour=0, minute=0, second=0)),
        }
        self._insert("TimeEntries", entry)
        self._touch(ticket_id, self.now())
        return Response(200, {"itemId": entry["id"]})

    def _check_role(self, resource_id: Any, role_id: Any) -> None:
        """A resource can be booked only under a service-desk role it holds."""
        if int(resource_id) not in self.tables["Resources"]:
            raise ValueError(f"resource {resource_id} does not exist")
        held = {
            row["roleID"]
            for row in self.tables["ResourceServiceDeskRoles"].values()
            if row["resourceID"] == int(resource_id) and row["isActive"]
        }
        if int(role_id) not in held:
            raise ValueError(f"resource {resource_id} does not hold role {role_id}")

    def _check_picklists(self, ticket: Mapping[str, Any]) -> None:
        for field, values in PICKLISTS.items():
            value = ticket.get(field)
            if value is not None and int(value) not in values:
                raise ValueError(f"{value!r} is not a valid {field}")

    # tenant internals --------------------------------------------------------------------
    def _new_id(self, entity: str) -> int:
        row_id = self._next_ids[entity]
        self._next_ids[entity] = row_id + 1
        return row_id

    def _insert(self, entity: str, row: dict[str, Any]) -> None:
        self.tables[entity][row["id"]] = row

    def _touch(self, ticket_id: int, moment: dt.datetime) -> None:
        """Moves the ticket to `moment` in the last-activity order."""
        stamp = moment.replace(microsecond=0)
        old = self._stamps.get(ticket_id)
        if old is not None:
            del self._order[bisect.bisect_left(self._order, (old, ticket_id))]
        bisect.insort(self._order, (stamp, ticket_id))
        self._stamps[ticket_id] = stamp
        self.tables["Tickets"][ticket_id]["lastActivityDate"] = iso(stamp)

    def _rows_of(self, entity: str, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.tables[entity].values()
            return [dict(row) for row in rows if row["ticketID"] == ticket_id]

    def _entity(self, name: str) -> str | None:
        return next((e for e in ENTITIES if e.lower() == name.lower()), None)

    def _company_row(self, company_id: int, identifier: str, name: str) -> dict[str, Any]:
        return {
            "id": company_id,
            "companyName": name,
            "companyNumber": identifier,
            "companyType": 1,
            "isActive": True,
        }

    def _blank_ticket(self, ticket_id: int, opened_at: dt.datetime) -> dict[str, Any]:
        return {
            "id": ticket_id,
            "ticketNumber": f"T{opened_at:%Y%m%d}.{ticket_id % 10000:04d}",
            "title": "",
            "description": "",
            "status": 1,
            "priority": 2,
            "queueID": None,
            "issueType": None,
            "subIssueType": None,
            "ticketType": None,
            "ticketCategory": 3,
            "source": 2,
            "companyID": OWN_COMPANY_ID,
            "contactID": None,
            "configurationItemID": None,
            "contractID": None,
            "assignedResourceID": None,
            "assignedResourceRoleID": None,
            "createDate": iso(opened_at),
            "lastActivityDate": iso(opened_at),
            "completedDate": None,
            "firstResponseDateTime": None,
            "resolvedDateTime": None,
            "serviceLevelAgreementID": None,
            "serviceLevelAgreementHasBeenMet": None,
            "rmmAlertID": None,
            "userDefinedFields": [],
        }

    def _apply(self, ticket: dict[str, Any], changes: Mapping[str, Any]) -> None:
        """`create_ticket`'s keywords onto the native ticket."""
        unknown = set(changes) - SIMULATOR_FIELDS
        if unknown:
            raise TypeError(f"unknown ticket fields: {sorted(unknown)}")
        simple = {"summary": "title", "description": "description"}
        for key, field in simple.items():
            if key in changes:
                ticket[field] = changes[key]
        for key, field in PICKLIST_KEYWORDS.items():
            if key in changes:
                ticket[field] = _picklist_value(PICKLISTS[field], changes[key], field)
        if "company" in changes:
            ticket["companyID"] = self._company_of(changes["company"])
        if changes.keys() & {"company", "contact_email", "contact_name"}:
            self._set_contact(ticket, changes)
        if "assignee" in changes:
            member = self._members.get(changes["assignee"]) if changes["assignee"] else None
            if changes["assignee"] and member is None:
                raise ValueError(f"unknown member {changes['assignee']!r}")
            ticket["assignedResourceID"] = member
            ticket["assignedResourceRoleID"] = DEFAULT_ROLE_ID if member else None
        if "hostnames" in changes:
            hosts = list(changes["hostnames"])
            ticket["configurationItemID"] = (
                self._item_of(ticket["companyID"], hosts[0]) if hosts else None
            )
        if "opened_at" in changes and changes["opened_at"] is not None:
            ticket["createDate"] = iso(changes["opened_at"])
        self._completion(ticket)

    def _completion(self, ticket: dict[str, Any]) -> None:
        if ticket["status"] == COMPLETE:
            ticket["completedDate"] = ticket["completedDate"] or iso(self.now())
        else:
            ticket["completedDate"] = None

    def _company_of(self, identifier: str) -> int:
        if not identifier:
            return OWN_COMPANY_ID
        if identifier not in self._companies:
            raise ValueError(f"unknown company {identifier!r}: add_company() it first")
        return self._companies[identifier]

    def _set_contact(self, ticket: dict[str, Any], changes: Mapping[str, Any]) -> None:
        current = self.tables["Contacts"].get(ticket["contactID"] or -1, {})
        email = changes.get("contact_email", current.get("emailAddress", ""))
        name = changes.get("contact_name", _full_name(current))
        ticket["contactID"] = self._contact_of(ticket["companyID"], email, name) if email else None

    def _contact_of(self, company_id: int, email: str, name: str) -> int:
        key = (company_id, email.lower())
        if key not in self._contacts:
            first, _, last = (name or email.split("@")[0]).partition(" ")
            contact_id = self._new_id("Contacts")
            self._insert(
                "Contacts",
                {
                    "id": contact_id,
                    "companyID": company_id,
                    "firstName": first,
                    "lastName": last,
                    "emailAddress": email,
                    "isActive": 1,
                },
            )
            self._contacts[key] = contact_id
        return self._contacts[key]

    def _item_of(self, company_id: int, hostname: str) -> int:
        key = (company_id, hostname.lower())
        if key not in self._items:
            item_id = self._new_id("ConfigurationItems")
            self._insert(
                "ConfigurationItems",
                {
                    "id": item_id,
                    "companyID": company_id,
                    "referenceTitle": hostname,
                    "serialNumber": None,
                    "isActive": True,
                },
            )
            self._items[key] = item_id
        return self._items[key]

    def _seed_contacts(self, company_id: int, domain: str) -> list[int]:
        return [
            self._contact_of(
                company_id, f"{first.lower()}.{last.lower()}@{domain}", f"{first} {last}"
            )
            for first, last in zip(FIRST_NAMES, LAST_NAMES * 2, strict=False)
        ]

    def _seed_ticket(
        self,
        rng: random.Random,
        stamp: dt.datetime,
        company_id: int,
        contacts: list[int],
        members: list[int],
    ) -> dict[str, Any]:
        company = self.tables["Companies"][company_id]
        host = f"{company['companyNumber'].upper()}-PC{rng.randrange(20):03d}"
        person = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        summary = rng.choice(SUMMARIES).format(host=host, person=person, room=rng.randrange(9))
        opened = stamp - dt.timedelta(minutes=rng.randrange(0, 4320))
        ticket = self._blank_ticket(self._new_id("Tickets"), opened)
        member = rng.choice(members) if members and rng.random() < 0.6 else None
        ticket.update(
            title=summary,
            description=f"{summary}.\n\nReported by {person}.",
            status=rng.choices(list(STATUSES), weights=(5, 3, 1, 2))[0],
            priority=rng.choices(list(PRIORITIES), weights=(1, 3, 5, 2))[0],
            ticketType=rng.choice(list(TICKET_TYPES)[:3]),
            issueType=rng.choice(list(ISSUE_TYPES)),
            queueID=rng.choices(list(QUEUES), weights=(9, 1))[0],
            companyID=company_id,
            contactID=rng.choice(contacts),
            configurationItemID=self._item_of(company_id, host) if "{host}" in summary else None,
            assignedResourceID=member,
            assignedResourceRoleID=DEFAULT_ROLE_ID if member else None,
            lastActivityDate=iso(stamp),
        )
        self._completion(ticket)
        return ticket


PICKLIST_KEYWORDS = {
    "status": "status",
    "priority": "priority",
    "type": "ticketType",
    "queue": "queueID",
}
SIMULATOR_FIELDS = {
    "summary",
    "description",
    "company",
    "contact_email",
    "contact_name",
    "status",
    "priority",
    "type",
    "queue",
    "assignee",
    "hostnames",
    "opened_at",
}


def html_escaped(payload: Any) -> str:
    """Compact JSON with `& < > ' "` in strings and non-ASCII as \\uXXXX — how Autotask has
    been seen to sign. Written independently of the adapter's `escaped_json`, so that the
    test of one checks the other."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    for char in "&<>'":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return re.sub(r'\\\\|\\"', lambda m: "\\u0022" if m.group() == '\\"' else m.group(), text)


def _picklist_value(values: Mapping[int, str], label: str, field: str) -> int | None:
    """A preset label (or its id as text) to its picklist id; "" is none."""
    if label == "":
        return None
    wanted = ALIASES.get(label.lower(), label).lower()
    for value, name in values.items():
        if wanted in (name.lower(), str(value)):
            return value
    raise ValueError(f"unknown {field} {label!r}; known: {', '.join(values.values())}")


def _ticket_fields() -> list[dict[str, Any]]:
    fields = [
        {
            "name": name,
            "dataType": "integer",
            "isPickList": True,
            "isRequired": name in ("status", "priority"),
            "isReadOnly": False,
            "isQueryable": True,
            "picklistValues": [
                {
                    "value": str(value),
                    "label": label,
                    "isDefaultValue": False,
                    "sortOrder": order,
                    "parentValue": "",
                    "isActive": True,
                    "isSystem": True,
                }
                for order, (value, label) in enumerate(values.items())
            ],
        }
        for name, values in PICKLISTS.items()
    ]
    plain = ("id", "title", "description", "companyID", "lastActivityDate", "createDate")
    fields.extend({"name": name, "isPickList": False, "picklistValues": None} for name in plain)
    return fields


def _filters(search: Mapping[str, Any]) -> list[dict[str, Any]]:
    filters = search.get("filter") or search.get("Filter")
    if not isinstance(filters, list) or not filters:
        raise ValueError("a query needs a non-empty filter")
    return filters


def _id_condition(filters: list[dict[str, Any]]) -> set[int] | None:
    for condition in filters:
        if str(condition.get("field", "")).lower() != "id":
            continue
        op = str(condition.get("op", "")).lower()
        if op == "eq":
            return {int(condition["value"])}
        if op == "in":
            return {int(v) for v in condition["value"]}
    return None


def _activity_bound(filters: list[dict[str, Any]]) -> tuple[dt.datetime, int] | None:
    for condition in filters:
        if str(condition.get("field", "")).lower() != "lastactivitydate":
            continue
        op = str(condition.get("op", "")).lower()
        if op == "gte":
            return (parse_time(str(condition["value"])), -1)
        if op == "gt":
            return (parse_time(str(condition["value"])), sys.maxsize)
    return None


def _matches(row: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    op = str(condition.get("op", "")).lower()
    if op in ("and", "or"):
        results = (_matches(row, item) for item in condition.get("items") or [])
        return all(results) if op == "and" else any(results)
    actual = _field(row, str(condition.get("field", "")))
    expected = condition.get("value")
    if op in ("exist", "notexist"):
        return (actual not in (None, "")) == (op == "exist")
    if op in ("in", "notin"):
        found = any(_compare(actual, v) == 0 for v in expected or [])
        return found == (op == "in")
    if actual is None:
        return op == "noteq"
    return _test(op, actual, expected)


def _test(op: str, actual: Any, expected: Any) -> bool:
    text, wanted = str(actual).lower(), str(expected).lower()
    tests = {
        "eq": lambda: _compare(actual, expected) == 0,
        "noteq": lambda: _compare(actual, expected) != 0,
        "gt": lambda: _compare(actual, expected) > 0,
        "gte": lambda: _compare(actual, expected) >= 0,
        "lt": lambda: _compare(actual, expected) < 0,
        "lte": lambda: _compare(actual, expected) <= 0,
        "beginswith": lambda: text.startswith(wanted),
        "endswith": lambda: text.endswith(wanted),
        "contains": lambda: wanted in text,
    }
    if op not in tests:
        raise ValueError(f"unknown operator {op!r}")
    return tests[op]()


def _field(row: Mapping[str, Any], name: str) -> Any:
    """Autotask field names are case-insensitive."""
    if name in row:
        return row[name]
    return next((v for k, v in row.items() if k.lower() == name.lower()), None)


def _compare(actual: Any, expected: Any) -> int:
    """-1, 0 or 1, comparing as the row's type: numbers, booleans, dates or text."""
    if actual is None or expected is None:
        return 0 if actual is expected else -1
    left: Any
    right: Any
    if isinstance(actual, bool):
        left, right = actual, str(expected).lower() in ("true", "1")
    elif isinstance(actual, int | float):
        left, right = float(actual), float(expected)
    elif isinstance(actual, str) and DATE_VALUE.match(actual):
        left, right = parse_time(actual), parse_time(str(expected))
    else:
        left, right = str(actual).lower(), str(expected).lower()
    return int(left > right) - int(left < right)


def _full_name(row: Mapping[str, Any]) -> str:
    return " ".join(str(row[k]) for k in ("firstName", "lastName") if row.get(k))


def _not_found(path: str) -> Response:
    return Response(404, {"errors": [f"No such resource: {path}"]})
