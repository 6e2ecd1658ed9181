"""A loopback ConnectWise PSA: company-info discovery, Basic + clientId auth, tickets with
`conditions`/`orderBy`/`page`/`pageSize` and a `Link` header, JSON-Patch updates, notes,
time entries, boards with their statuses and types, priorities, companies, members, and
signed callbacks whose key is served at `Metadata.key_url`.

Tickets live in a dict plus a list of (lastUpdated, id) kept sorted, so that a page ordered
by last-updated starts with a bisect rather than a scan: 50,000 tickets page in seconds.
Stored ticket documents are replaced, never changed in place, so an answer being written
outside the lock never sees a half-made change.
"""

from __future__ import annotations

import base64
import bisect
import copy
import datetime as dt
import fnmatch
import hashlib
import hmac
import itertools
import json
import operator
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tickets.psa.simulators.base import Request, Response, Simulator, iso, parse_time

CODEBASE = "v4_6_release/"
API_PREFIX = f"/{CODEBASE}apis/3.0/"
KEY_PATH = "/callbackkey/1"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
BOARDS = {1: "Service Desk", 2: "Projects"}
STATUSES = ("New", "In Progress", "Waiting Customer", "Closed")
CLOSED_STATUS = "Closed"
STATUS_ALIASES = {"completed": "Closed", "complete": "Closed", "resolved": "Closed"}
TYPES = ("Incident", "Service Request", "Problem")
PRIORITIES = {
    1: "Priority 1 - Critical",
    2: "Priority 2 - High",
    3: "Priority 3 - Medium",
    4: "Priority 4 - Low",
}
API_MEMBER = "APIMember"
SUMMARIES = (
    "Outlook keeps asking for the password on {host}",
    "VPN drops every few minutes for {name}",
    "Printer on floor {n} shows offline",
    "Disk C: almost full on {host}",
    "New starter {name} needs an account and a laptop",
    "Backup job failed overnight on {host}",
    "Cannot open shared drive S: from {host}",
    "Teams calls are choppy in meeting room {n}",
    "Password reset for {name}",
    "High CPU alert on {host}",
    "Wi-Fi not working in the warehouse",
    "Licence request: Visio for {name}",
)
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Greg", "Hana", "Ivan", "Jo")
SEED_STATUSES = ("New", "New", "In Progress", "Waiting Customer", "Closed")
SEED_PRIORITIES = ("Medium", "Medium", "High", "Low", "Critical")

Handler = Callable[[Request, re.Match[str]], Response]


class ConnectWiseSimulator(Simulator):
    """One ConnectWise company. The public methods act as the PSA's own screens would (and
    take labels and identifiers); the HTTP routes are the API our client uses (ids)."""

    kind = "connectwise"

    def __init__(
        self,
        *,
        port: int = 0,
        webhook_secret: str = "sim-webhook-secret-0123456789",  # noqa: S107 (loopback only)
    ) -> None:
        super().__init__(port=port)
        self.webhook_secret = webhook_secret
        self.credentials: dict[str, str] = {
            "company_id": "simco",
            "public_key": secrets.token_hex(8),
            "private_key": secrets.token_hex(8),
            "client_id": str(uuid.uuid4()),
        }
        self._ticket_ids = itertools.count(1001)
        self._row_ids = itertools.count(1)
        self._tickets: dict[int, dict[str, Any]] = {}
        self._updated: dict[int, dt.datetime] = {}
        self._order: list[tuple[dt.datetime, int]] = []  # (lastUpdated, id), kept sorted
        self._notes: dict[int, list[dict[str, Any]]] = {}
        self._time: list[dict[str, Any]] = []
        self._configurations: dict[str, dict[str, Any]] = {}  # by hostname
        self._hosts: dict[int, list[str]] = {}  # ticket id → linked hostnames
        self._companies: dict[int, dict[str, Any]] = {}
        self._members: dict[int, dict[str, Any]] = {}
        self._contacts: dict[str, dict[str, Any]] = {}  # by e-mail, case-folded
        self._boards: dict[int, dict[str, Any]] = {
            board_id: {"id": board_id, "name": name, "inactiveFlag": False}
            for board_id, name in BOARDS.items()
        }
        self._statuses = {row["id"]: row for row in _preset_statuses()}
        self._types = {row["id"]: row for row in _preset_types()}
        self._priorities: dict[int, dict[str, Any]] = {
            pid: {"id": pid, "name": name, "sortOrder": pid, "defaultFlag": pid == 3}
            for pid, name in PRIORITIES.items()
        }
        self._routes = self._route_table()

    def __enter__(self) -> ConnectWiseSimulator:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def key_url(self) -> str:
        return self.url + KEY_PATH

    # the tenant's side -----------------------------------------------------------------
    def start_ids_at(self, first: int) -> None:
        """Number new tickets from `first` on (a restarted demo must not reuse ids)."""
        with self.lock:
            self._ticket_ids = itertools.count(max(first, max(self._tickets, default=0) + 1))

    def add_company(self, identifier: str, name: str) -> str:
        with self.lock:
            company_id = next(self._row_ids)
            self._companies[company_id] = {
                "id": company_id,
                "identifier": identifier,
                "name": name,
                "status": {"id": 1, "name": "Active"},
                "deletedFlag": False,
                "_info": {"lastUpdated": iso(self.now())},
            }
            return str(company_id)

    def add_member(self, identifier: str, name: str) -> str:
        first, _, last = name.partition(" ")
        with self.lock:
            member_id = next(self._row_ids)
            self._members[member_id] = {
                "id": member_id,
                "identifier": identifier,
                "firstName": first,
                "lastName": last,
                "officeEmail": f"{identifier}@msp.example.test",
                "inactiveFlag": False,
            }
            return str(member_id)

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
        changes = {
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
            "opened_at": opened_at,
        }
        with self.lock:
            document = self._new_ticket(changes, self.now())
            self._store(document, self.now())
            return str(document["id"])

    def update_ticket(self, external_id: str, **changes: Any) -> None:
        with self.lock:
            document = self._apply(_copy(self._ticket(external_id)), changes)
            self._store(document, self.now())

    def ticket_json(self, external_id: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._ticket(external_id))

    def notes(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._notes.get(self._ticket(external_id)["id"], []))

    def time_entries(self, external_id: str) -> list[dict[str, Any]]:
        ticket_id = int(external_id)
        with self.lock:
            return copy.deepcopy(
                [entry for entry in self._time if entry["chargeToId"] == ticket_id]
            )

    def status_label(self, external_id: str) -> str:
        with self.lock:
            return str(self._ticket(external_id)["status"]["name"])

    def assignee_identifier(self, external_id: str) -> str:
        with self.lock:
            owner = self._ticket(external_id)["owner"]
            return str(owner["identifier"]) if owner else ""

    def seed(
        self,
        count: int,
        *,
        companies: Sequence[str],
        contact_domain: str = "example.test",
        start: dt.datetime | None = None,
    ) -> list[str]:
        """`count` varied tickets, the n-th last updated `start + n` seconds; the index is
        sorted once at the end rather than per ticket."""
        start = start or self.now() - dt.timedelta(seconds=count)
        with self.lock:
            known = {row["identifier"] for row in self._companies.values()}
            for identifier in companies:
                if identifier not in known:
                    self.add_company(identifier, identifier.replace("-", " ").title())
            ids = []
            for n in range(count):
                moment = (start + dt.timedelta(seconds=n)).replace(microsecond=0)
                changes = _seed_changes(n, companies, contact_domain, moment)
                document = self._new_ticket(changes, moment)
                self._tickets[document["id"]] = document
                self._updated[document["id"]] = moment
                ids.append(str(document["id"]))
            self._order = sorted((moment, ticket) for ticket, moment in self._updated.items())
            return ids

    # callbacks -------------------------------------------------------------------------
    def delivery(
        self, external_id: str, action: str = "updated", *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A callback as ConnectWise posts it: the ticket as a JSON string in `Entity` (null
        on delete), signed with SHA-256 of the signing key as the HMAC key."""
        with self.lock:
            document = self._tickets.get(int(external_id))
            entity = json.dumps(document) if document and action != "deleted" else None
        payload = {
            "MessageId": str(uuid.uuid4()),
            "FromUrl": self.url,
            "CompanyId": self.credentials["company_id"],
            "MemberId": "admin1",
            "Action": action,
            "Type": "ticket",
            "ID": int(external_id),
            "Entity": entity,
            "Metadata": {"key_url": self.key_url},
        }
        body = json.dumps(payload).encode()
        key = hashlib.sha256((secret or self.webhook_secret).encode()).digest()
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        return body, {"Content-Type": "application/json", "x-content-signature": signature}

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
            body = body.replace(b'"ID": ', b'"ID": 9', 1)
        return self.post(url, body, headers)

    # tickets as documents --------------------------------------------------------------
    def _ticket(self, external_id: str) -> dict[str, Any]:
        ticket_id = int(external_id)
        if ticket_id not in self._tickets:
            raise KeyError(f"No ConnectWise ticket {external_id} in the simulator.")
        return self._tickets[ticket_id]

    def _new_ticket(self, changes: dict[str, Any], moment: dt.datetime) -> dict[str, Any]:
        board = self._boards[1]
        document: dict[str, Any] = {
            "id": next(self._ticket_ids),
            "summary": "",
            "recordType": "ServiceTicket",
            "board": _ref(board),
            "status": None,
            "company": None,
            "site": None,
            "contact": None,
            "contactName": None,
            "contactEmailAddress": None,
            "type": None,
            "subType": None,
            "item": None,
            "team": None,
            "owner": None,
            "priority": None,
            "severity": "Medium",
            "impact": "Medium",
            "source": {"id": 2, "name": "Email"},
            "agreement": None,
            "closedFlag": False,
            "closedDate": None,
            "closedBy": None,
            "requiredDate": None,
            "actualHours": 0.0,
            "sla": {"id": 1, "name": "Standard SLA"},
            "isInSla": True,
            "dateResponded": None,
            "dateResolved": None,
            "initialDescription": "",
            "customFields": [],
            "_info": {
                "dateEntered": iso(moment),
                "enteredBy": API_MEMBER,
                "lastUpdated": iso(moment),
                "updatedBy": API_MEMBER,
            },
        }
        changes = {"status": "New", "priority": "Medium", **changes}
        return self._apply(document, {key: v for key, v in changes.items() if v is not None})

    def _apply(self, document: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Apply label-based changes (the keywords of `create_ticket`); the board first, so
        that status and type are looked up on the ticket's board."""
        changes = dict(changes)
        if "queue" in changes:
            self._set_board(document, _find(self._boards.values(), changes.pop("queue"), "board"))
        setters = self._label_setters()
        for key, value in changes.items():
            setter = setters.get(key)
            if setter is None:
                raise TypeError(f"update_ticket() got an unknown change {key!r}.")
            setter(document, value)
        return document

    def _label_setters(self) -> dict[str, Callable[[dict[str, Any], Any], None]]:
        return {
            "summary": lambda doc, value: doc.update(summary=str(value)),
            "description": lambda doc, value: doc.update(initialDescription=str(value)),
            "status": lambda doc, value: self._set_status(doc, self._status_on(doc, value)),
            "priority": lambda doc, value: doc.update(priority=self._priority_ref(value)),
            "type": lambda doc, value: doc.update(type=self._type_ref(doc, value)),
            "company": self._set_company,
            "contact_email": lambda doc, v: self._set_contact(doc, "contactEmailAddress", str(v)),
            "contact_name": lambda doc, v: self._set_contact(doc, "contactName", str(v)),
            "assignee": lambda doc, value: doc.update(owner=self._member_ref(value)),
            "hostnames": self._set_hostnames,
            "opened_at": lambda doc, value: doc["_info"].update(dateEntered=iso(value)),
        }

    def _store(self, document: dict[str, Any], moment: dt.datetime) -> None:
        """Save a replaced document as last updated at `moment`, keeping the order index."""
        ticket_id = document["id"]
        document["_info"]["lastUpdated"] = iso(moment)
        document["_info"]["updatedBy"] = API_MEMBER
        old = self._updated.get(ticket_id)
        if old is not None:
            del self._order[bisect.bisect_left(self._order, (old, ticket_id))]
        self._updated[ticket_id] = moment
        bisect.insort(self._order, (moment, ticket_id))
        self._tickets[ticket_id] = document

    def _set_board(self, document: dict[str, Any], board: dict[str, Any]) -> None:
        """Move to a board, keeping the status and type of the same name on the new one."""
        status = document["status"]["name"] if document["status"] else "New"
        kind = document["type"]["name"] if document["type"] else ""
        document["board"] = _ref(board)
        self._set_status(document, self._status_on(document, status))
        document["type"] = self._type_ref(document, kind)

    def _set_status(self, document: dict[str, Any], status: dict[str, Any]) -> None:
        if status["board"]["id"] != document["board"]["id"]:
            raise ValueError(
                f"Status {status['id']} is not a status of board {document['board']['id']}."
            )
        document["status"] = _ref(status)
        closed = bool(status["closedStatus"])
        if closed != document["closedFlag"]:
            document["closedFlag"] = closed
            document["closedDate"] = iso(self.now()) if closed else None
            document["closedBy"] = API_MEMBER if closed else None

    def _set_company(self, document: dict[str, Any], identifier: Any) -> None:
        if not identifier:
            document.update(company=None, site=None)
            return
        company = _find(self._companies.values(), identifier, "company")
        document["company"] = {key: company[key] for key in ("id", "identifier", "name")}
        document["site"] = {"id": company["id"] * 10, "name": "Main"}

    def _set_contact(self, document: dict[str, Any], field: str, value: str) -> None:
        """Set the contact's e-mail or name; the contact record is found (or made) by e-mail,
        as ConnectWise matches an incoming e-mail to a contact."""
        document[field] = value or None
        email, name = document["contactEmailAddress"], document["contactName"]
        if not email:
            document["contact"] = None
            return
        contact = self._contacts.setdefault(email.casefold(), {"id": next(self._row_ids)})
        contact["name"] = name or contact.get("name") or email
        document["contact"] = dict(contact)

    def _set_hostnames(self, document: dict[str, Any], hostnames: Sequence[str]) -> None:
        for hostname in hostnames:
            self._configurations.setdefault(hostname, _configuration(next(self._row_ids), hostname))
        self._hosts[document["id"]] = list(hostnames)

    def _status_on(self, document: dict[str, Any], label: Any) -> dict[str, Any]:
        board_id = document["board"]["id"]
        label = STATUS_ALIASES.get(str(label).casefold(), label)
        rows = (row for row in self._statuses.values() if row["board"]["id"] == board_id)
        return _find(rows, label, "status")

    def _type_ref(self, document: dict[str, Any], label: Any) -> dict[str, Any] | None:
        if not label:
            return None
        board_id = document["board"]["id"]
        rows = (row for row in self._types.values() if row["board"]["id"] == board_id)
        return _ref(_find(rows, label, "type"))

    def _priority_ref(self, label: Any) -> dict[str, Any]:
        """A priority by id, full name, or the short word ("High" → "Priority 2 - High")."""
        short = str(label).casefold()
        for row in self._priorities.values():
            if row["name"].casefold().endswith(f" - {short}"):
                label = row["name"]
        priority = _find(self._priorities.values(), label, "priority")
        return {"id": priority["id"], "name": priority["name"], "sort": priority["sortOrder"]}

    def _member_ref(self, member: Any) -> dict[str, Any] | None:
        if not member:
            return None
        row = _find(self._members.values(), member, "member")
        name = f"{row['firstName']} {row['lastName']}".strip()
        return {"id": row["id"], "identifier": row["identifier"], "name": name}

    # HTTP ------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        if request.path.startswith("/login/companyinfo/") or request.path == KEY_PATH:
            return True
        login = "{company_id}+{public_key}:{private_key}".format(**self.credentials)
        expected = f"Basic {base64.b64encode(login.encode()).decode()}"
        return (
            hmac.compare_digest(request.headers.get("authorization", ""), expected)
            and request.headers.get("clientid") == self.credentials["client_id"]
        )

    def route(self, request: Request) -> Response:
        if request.path.startswith("/login/companyinfo/"):
            return self._company_info(request.path.rsplit("/", 1)[1])
        if request.path == KEY_PATH:
            return Response(200, {"signing_key": self.webhook_secret})
        if request.path.lower().startswith(API_PREFIX):
            rest = request.path[len(API_PREFIX) :].strip("/")
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(rest)
                if match and method == request.method:
                    with self.lock:
                        return handler(request, match)
        return _error(404, "NotFound", f"No API route for {request.method} {request.path}.")

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"system/info", self._system_info),
            ("GET", r"service/tickets/count", self._ticket_count),
            ("GET", r"service/tickets", self._ticket_list),
            ("POST", r"service/tickets", self._ticket_create),
            ("GET", r"service/tickets/(\d+)", self._ticket_get),
            ("PATCH", r"service/tickets/(\d+)", self._ticket_patch),
            ("GET", r"service/tickets/(\d+)/notes", self._note_list),
            ("POST", r"service/tickets/(\d+)/notes", self._note_create),
            ("GET", r"service/tickets/(\d+)/configurations", self._configuration_list),
            ("GET", r"time/entries", self._time_list),
            ("POST", r"time/entries", self._time_create),
            ("GET", r"service/boards", self._board_list),
            ("GET", r"service/boards/(\d+)/statuses", self._board_statuses),
            ("GET", r"service/boards/(\d+)/types", self._board_types),
            ("GET", r"service/priorities", self._priority_list),
            ("GET", r"company/companies", self._company_list),
            ("GET", r"system/members", self._member_list),
        ]
        return [(method, re.compile(path, re.IGNORECASE), fn) for method, path, fn in table]

    def _company_info(self, company_id: str) -> Response:
        if company_id.casefold() != self.credentials["company_id"].casefold():
            return _error(404, "NotFound", f"Company {company_id!r} not found.")
        return Response(
            200,
            {
                "CompanyName": "Simulated MSP",
                "Codebase": CODEBASE,
                "VersionCode": "v2024.1",
                "VersionNumber": "v4.6",
                "CompanyID": self.credentials["company_id"],
                "IsCloud": False,
                "SiteUrl": self.url.split("://", 1)[1],
            },
        )

    def _system_info(self, request: Request, match: re.Match[str]) -> Response:
        return Response(
            200, {"version": "v2024.1.104567", "isCloud": False, "serverTimeZone": "UTC"}
        )

    def _ticket_list(self, request: Request, match: re.Match[str]) -> Response:
        condition = parse_conditions(request.arg("conditions"))
        order = parse_order(request.arg("orderBy"))
        page, size = _paging(request)
        matching = filter(condition.test, self._ticket_candidates(order, condition))
        rows = list(itertools.islice(matching, (page - 1) * size, page * size + 1))
        return self._page(request, rows, page, size)

    def _ticket_count(self, request: Request, match: re.Match[str]) -> Response:
        condition = parse_conditions(request.arg("conditions"))
        candidates = self._ticket_candidates([("_info/lastUpdated", False)], condition)
        return Response(200, {"count": sum(1 for row in candidates if condition.test(row))})

    def _ticket_candidates(
        self, order: list[tuple[str, bool]], condition: Condition
    ) -> Iterable[dict[str, Any]]:
        """Tickets in the requested order; ordered by last-updated ascending, those before
        the condition's lower bound on it are skipped by a bisect."""
        fields = [(path.casefold(), descending) for path, descending in order]
        if fields in ([], [("id", False)]):
            return self._tickets.values()
        if fields[0] == ("_info/lastupdated", False) and fields[1:] in ([], [("id", False)]):
            bound = condition.lower_bound("_info/lastUpdated")
            start = bisect.bisect_left(self._order, (bound, 0)) if bound else 0
            return (
                self._tickets[ticket] for _, ticket in itertools.islice(self._order, start, None)
            )
        return sort_rows(list(self._tickets.values()), order)

    def _ticket_get(self, request: Request, match: re.Match[str]) -> Response:
        ticket = self._tickets.get(int(match[1]))
        if ticket is None:
            return _error(404, "NotFound", f"Ticket ID {match[1]} not found.")
        return Response(200, ticket)

    def _ticket_create(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not body.get("summary"):
            return _error(400, "InvalidObject", "summary: a ticket needs a summary.")
        changes = {
            "summary": body["summary"],
            "description": body.get("initialDescription") or "",
            "queue": body.get("board") or BOARDS[1],
            "company": _api_identifier(body.get("company"), self._companies),
            "contact_email": body.get("contactEmailAddress") or "",
            "contact_name": body.get("contactName") or "",
            "status": _api_identifier(body.get("status"), self._statuses, "name") or "New",
            "priority": _api_identifier(body.get("priority"), self._priorities, "name") or "Medium",
            "type": _api_identifier(body.get("type"), self._types, "name"),
            "assignee": _api_identifier(body.get("owner"), self._members),
        }
        document = self._new_ticket(changes, self.now())
        self._store(document, self.now())
        return Response(201, document)

    def _ticket_patch(self, request: Request, match: re.Match[str]) -> Response:
        ticket = self._tickets.get(int(match[1]))
        operations = request.json()
        if ticket is None:
            return _error(404, "NotFound", f"Ticket ID {match[1]} not found.")
        if not isinstance(operations, list) or not operations:
            return _error(400, "InvalidObject", "The body must be a JSON-Patch array.")
        document = _copy(ticket)
        try:
            for operation in operations:
                self._patch(document, operation)
        except (KeyError, ValueError) as error:
            return _error(400, "InvalidObject", str(error).strip("'\""))
        self._store(document, self.now())
        return Response(200, document)

    def _patch(self, document: dict[str, Any], operation: Any) -> None:
        """One JSON-Patch operation on a ticket: `path` names a field ("status", "owner",
        "priority", "board", "type", "summary"); references by id (or identifier)."""
        if not isinstance(operation, dict) or operation.get("op") not in (
            "replace",
            "add",
            "remove",
        ):
            raise ValueError(f"Not a JSON-Patch replace, add or remove: {operation!r}.")
        path = str(operation.get("path", "")).strip("/").casefold().removesuffix("/id")
        value = None if operation["op"] == "remove" else operation.get("value")
        if path == "status":
            self._set_status(document, self._statuses[_id_in(value)])
        elif path == "owner":
            document["owner"] = self._member_ref(_id_in(value) if value else None)
        elif path == "priority":
            document["priority"] = self._priority_ref(_id_in(value))
        elif path == "board":
            self._set_board(document, self._boards[_id_in(value)])
        elif path == "type":
            document["type"] = self._type_ref(document, _id_in(value) if value else "")
        elif path == "summary" and isinstance(value, str) and value:
            document["summary"] = value
        else:
            raise ValueError(f"Cannot patch {operation.get('path')!r} with {value!r}.")

    def _note_list(self, request: Request, match: re.Match[str]) -> Response:
        if int(match[1]) not in self._tickets:
            return _error(404, "NotFound", f"Ticket ID {match[1]} not found.")
        return self._listing(request, self._notes.get(int(match[1]), []))

    def _note_create(self, request: Request, match: re.Match[str]) -> Response:
        ticket = self._tickets.get(int(match[1]))
        body = request.json()
        if ticket is None:
            return _error(404, "NotFound", f"Ticket ID {match[1]} not found.")
        flags = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
        if not isinstance(body, dict) or not str(body.get("text") or "").strip():
            return _error(400, "InvalidObject", "text: a note needs text.")
        if not any(body.get(flag) is True for flag in flags):
            return _error(400, "InvalidObject", "One of the note type flags must be true.")
        note = _note(next(self._row_ids), ticket["id"], body, iso(self.now()))
        self._notes.setdefault(ticket["id"], []).append(note)
        self._store(_copy(ticket), self.now())
        return Response(201, note)

    def _configuration_list(self, request: Request, match: re.Match[str]) -> Response:
        ticket = self._tickets.get(int(match[1]))
        if ticket is None:
            return _error(404, "NotFound", f"Ticket ID {match[1]} not found.")
        hostnames = self._hosts.get(ticket["id"], [])
        return self._listing(request, [self._configurations[name] for name in hostnames])

    def _time_list(self, request: Request, match: re.Match[str]) -> Response:
        return self._listing(request, self._time)

    def _time_create(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json()
        if not isinstance(body, dict) or body.get("chargeToType") != "ServiceTicket":
            return _error(400, "InvalidObject", "chargeToType: only ServiceTicket is simulated.")
        ticket = self._tickets.get(int(body.get("chargeToId") or 0))
        if ticket is None:
            return _error(400, "InvalidObject", "chargeToId: no such ticket.")
        start, end = parse_time(body["timeStart"]), parse_time(body["timeEnd"])
        if end <= start:
            return _error(400, "InvalidObject", "timeEnd must be after timeStart.")
        member = self._member_ref(body.get("member") or {})
        if member is None:
            return _error(400, "InvalidObject", "member: a time entry needs a member.")
        hours = float(body.get("actualHours") or (end - start).total_seconds() / 3600)
        entry = _time_entry(next(self._row_ids), ticket, member, body, hours)
        self._time.append(entry)
        document = _copy(ticket)
        document["actualHours"] = round(float(document["actualHours"] or 0) + hours, 2)
        self._store(document, self.now())
        return Response(201, entry)

    def _board_list(self, request: Request, match: re.Match[str]) -> Response:
        return self._listing(request, list(self._boards.values()))

    def _board_statuses(self, request: Request, match: re.Match[str]) -> Response:
        rows = [row for row in self._statuses.values() if row["board"]["id"] == int(match[1])]
        return self._listing(request, rows) if rows else _error(404, "NotFound", "No such board.")

    def _board_types(self, request: Request, match: re.Match[str]) -> Response:
        rows = [row for row in self._types.values() if row["board"]["id"] == int(match[1])]
        return self._listing(request, rows) if rows else _error(404, "NotFound", "No such board.")

    def _priority_list(self, request: Request, match: re.Match[str]) -> Response:
        return self._listing(request, list(self._priorities.values()))

    def _company_list(self, request: Request, match: re.Match[str]) -> Response:
        return self._listing(request, list(self._companies.values()))

    def _member_list(self, request: Request, match: re.Match[str]) -> Response:
        return self._listing(request, list(self._members.values()))

    def _listing(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        """A list endpoint: conditions, orderBy, then the requested page."""
        condition = parse_conditions(request.arg("conditions"))
        ordered = sort_rows(
            [row for row in rows if condition.test(row)], parse_order(request.arg("orderBy"))
        )
        page, size = _paging(request)
        return self._page(request, ordered[(page - 1) * size : page * size + 1], page, size)

    def _page(self, request: Request, rows: list[dict[str, Any]], page: int, size: int) -> Response:
        """`rows` holds the page and, when there is a next page, one row more."""
        query = {key: values[0] for key, values in request.query.items()}
        links = [f'<{self.url}{request.path}?{urlencode({**query, "page": 1})}>; rel="first"']
        if len(rows) > size:
            links.insert(
                0,
                f'<{self.url}{request.path}?{urlencode({**query, "page": page + 1})}>; rel="next"',
            )
        return Response(200, rows[:size], {"Link": ", ".join(links)})


# conditions -------------------------------------------------------------------------------
TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<date>\[[^\]]*\])|(?P<op><=|>=|!=|<>|=|<|>)"""
    r"""|(?P<punct>[(),])|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w/.]*))"""
)
WORD_OPERATORS = {"contains", "like", "in"}
FIELD_ALIASES = {"lastupdated": "_info/lastUpdated", "dateentered": "_info/dateEntered"}
COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Condition:
    """A parsed `conditions` expression."""

    def test(self, row: dict[str, Any]) -> bool:
        raise NotImplementedError

    def lower_bound(self, path: str) -> dt.datetime | None:
        """A time every matching row's `path` is at or after, when the expression implies one."""
        return None


class Always(Condition):
    def test(self, row: dict[str, Any]) -> bool:
        return True


@dataclass(frozen=True)
class Comparison(Condition):
    path: tuple[str, ...]
    op: str
    value: Any
    negate: bool = False

    def test(self, row: dict[str, Any]) -> bool:
        return compare(resolve(row, self.path), self.op, self.value) != self.negate

    def lower_bound(self, path: str) -> dt.datetime | None:
        same_field = "/".join(self.path).casefold() == path.casefold()
        if (
            same_field
            and not self.negate
            and self.op in (">", ">=", "=")
            and isinstance(self.value, dt.datetime)
        ):
            return self.value
        return None


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def test(self, row: dict[str, Any]) -> bool:
        return all(part.test(row) for part in self.parts)

    def lower_bound(self, path: str) -> dt.datetime | None:
        bounds = [b for part in self.parts if (b := part.lower_bound(path)) is not None]
        return max(bounds, default=None)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def test(self, row: dict[str, Any]) -> bool:
        return any(part.test(row) for part in self.parts)

    def lower_bound(self, path: str) -> dt.datetime | None:
        bounds = [part.lower_bound(path) for part in self.parts]
        known = [b for b in bounds if b is not None]
        return min(known) if len(known) == len(bounds) else None


def parse_conditions(text: str) -> Condition:
    """ConnectWise `conditions`: comparisons joined by `and`/`or` with parentheses; strings
    in double quotes, dates in brackets, operators `= != < <= > >= contains like in` and
    `not` before the word operators. A malformed expression is a ValueError (a 400)."""
    if not text.strip():
        return Always()
    parser = _Parser(_tokens(text))
    condition = parser.either()
    leftover = parser.peek()
    if leftover is not None:
        raise ValueError(f"Unexpected {leftover[1]!r} in conditions.")
    return condition


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise ValueError(f"Cannot read the conditions from {text[position:]!r}.")
        tokens.append((match.lastgroup, match[match.lastgroup]))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens: `or` binds looser than `and`."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("The conditions end too early.")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].casefold() == word:
            self.position += 1
            return True
        return False

    def expect(self, punctuation: str) -> None:
        if self.take() != ("punct", punctuation):
            raise ValueError(f"Expected {punctuation!r} in conditions.")

    def either(self) -> Condition:
        parts = [self.both()]
        while self.keyword("or"):
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def both(self) -> Condition:
        parts = [self.term()]
        while self.keyword("and"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def term(self) -> Condition:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.either()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        kind, field = self.take()
        if kind != "word":
            raise ValueError(f"Expected a field name in conditions, found {field!r}.")
        negate = self.keyword("not")
        kind, op = self.take()
        op = op.casefold()
        if kind != "op" and not (kind == "word" and op in WORD_OPERATORS):
            raise ValueError(f"Expected an operator after {field!r}, found {op!r}.")
        value = self.values() if op == "in" else self.value()
        return Comparison(field_path(field), op, value, negate)

    def values(self) -> tuple[Any, ...]:
        self.expect("(")
        items = [self.value()]
        while self.peek() == ("punct", ","):
            self.take()
            items.append(self.value())
        self.expect(")")
        return tuple(items)

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "date":
            return parse_time(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        literals = {"true": True, "false": False, "null": None}
        if kind == "word" and text.casefold() in literals:
            return literals[text.casefold()]
        raise ValueError(f"Expected a value in conditions, found {text!r}.")


def field_path(name: str) -> tuple[str, ...]:
    return tuple(FIELD_ALIASES.get(name.casefold(), name).split("/"))


def resolve(row: dict[str, Any], path: Sequence[str]) -> Any:
    """A nested field ("company/identifier"); names match regardless of case."""
    value: Any = row
    for part in path:
        if not isinstance(value, dict):
            return None
        if part in value:
            value = value[part]
        else:
            value = next((v for k, v in value.items() if k.casefold() == part.casefold()), None)
    return value


def compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "in":
        return any(compare(actual, "=", item) for item in expected)
    if op in ("contains", "like"):
        if not isinstance(actual, str):
            return False
        text, pattern = actual.casefold(), str(expected).casefold()
        return (
            pattern in text
            if op == "contains"
            else fnmatch.fnmatchcase(text, pattern.replace("%", "*"))
        )
    if actual is None or expected is None:
        return op in ("=", "!=", "<>") and COMPARE[op](actual is None, expected is None)
    if isinstance(expected, dt.datetime):
        moment = _moment(actual)
        return moment is not None and COMPARE[op](moment, expected)
    if isinstance(expected, bool):
        return isinstance(actual, bool) and COMPARE[op](actual, expected)
    if isinstance(expected, int | float):
        number = _number(actual)
        return number is not None and COMPARE[op](number, expected)
    return bool(COMPARE[op](str(actual).casefold(), str(expected).casefold()))


def _moment(value: Any) -> dt.datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_order(text: str) -> list[tuple[str, bool]]:
    """`orderBy=lastUpdated asc, id asc` as (field path, descending) pairs."""
    order = []
    for clause in filter(None, (part.strip() for part in text.split(","))):
        name, _, direction = clause.partition(" ")
        if direction.strip().casefold() not in ("", "asc", "desc"):
            raise ValueError(f"orderBy: {clause!r} is not 'field asc' or 'field desc'.")
        order.append(("/".join(field_path(name)), direction.strip().casefold() == "desc"))
    return order


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable sorts from the last key to the first: the first key decides."""
    for path, descending in reversed(order):
        rows.sort(key=_sort_key(field_path(path)), reverse=descending)
    return rows


def _sort_key(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[bool, float, str]]:
    def key(row: dict[str, Any]) -> tuple[bool, float, str]:
        value = resolve(row, path)
        number = _number(value)
        return (value is None, number or 0.0, "" if number is not None else str(value).casefold())

    return key


# documents --------------------------------------------------------------------------------
def _paging(request: Request) -> tuple[int, int]:
    page = int(request.arg("page", "1"))
    size = int(request.arg("pageSize", str(DEFAULT_PAGE_SIZE)))
    if page < 1 or size < 1:
        raise ValueError("page and pageSize start from 1.")
    return page, min(size, MAX_PAGE_SIZE)


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"code": code, "message": message, "errors": None})


def _ref(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"]}


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    """A ticket to change: nested values are replaced, never changed, so a shallow copy
    (plus `_info`, which is updated in place) leaves the stored one intact."""
    return {**document, "_info": dict(document["_info"])}


def _find(rows: Iterable[dict[str, Any]], value: Any, what: str) -> dict[str, Any]:
    """A row by id, identifier or name (any case); a reference object by its id."""
    if isinstance(value, dict):
        value = next(
            (value[k] for k in ("id", "identifier", "name") if value.get(k) is not None), ""
        )
    wanted = str(value).strip().casefold()
    for row in rows:
        names = (
            str(row["id"]),
            str(row.get("identifier") or "").casefold(),
            str(row.get("name") or "").casefold(),
        )
        if wanted and wanted in names:
            return row
    raise ValueError(f"Unknown {what} {value!r}.")


def _id_in(value: Any) -> Any:
    """The id (or identifier) inside a JSON-Patch value: {"id": 17}, {"identifier": …}, 17."""
    if isinstance(value, dict):
        value = value.get("id", value.get("identifier"))
    if value is None:
        raise ValueError("The patch value names no id.")
    return int(value) if isinstance(value, int) or str(value).isdigit() else value


def _api_identifier(value: Any, rows: dict[int, dict[str, Any]], key: str = "identifier") -> str:
    """A POSTed reference ({"id": n} or {"identifier"/"name": …}) as the label the tenant-side
    setters take; "" when absent."""
    if not isinstance(value, dict):
        return ""
    if value.get("id") is not None:
        return str(rows[int(value["id"])][key])
    return str(value.get(key) or "")


def _status_row(status_id: int, name: str, board_id: int) -> dict[str, Any]:
    return {
        "id": status_id,
        "name": name,
        "board": {"id": board_id, "name": BOARDS[board_id]},
        "sortOrder": status_id % 10,
        "displayOnBoard": True,
        "inactive": False,
        "closedStatus": name == CLOSED_STATUS,
        "defaultFlag": name == "New",
    }


def _preset_statuses() -> list[dict[str, Any]]:
    return [
        _status_row(board_id * 10 + n, name, board_id)
        for board_id in BOARDS
        for n, name in enumerate(STATUSES, start=1)
    ]


def _preset_types() -> list[dict[str, Any]]:
    return [
        {"id": board_id * 100 + n, "name": name, "board": {"id": board_id, "name": board}}
        for board_id, board in BOARDS.items()
        for n, name in enumerate(TYPES, start=1)
    ]


def _configuration(config_id: int, hostname: str) -> dict[str, Any]:
    return {
        "id": config_id,
        "name": hostname,
        "deviceIdentifier": hostname,
        "type": {"id": 1, "name": "Managed Workstation"},
        "status": {"id": 1, "name": "Active"},
    }


def _note(note_id: int, ticket_id: int, body: dict[str, Any], when: str) -> dict[str, Any]:
    flags = (
        "detailDescriptionFlag",
        "internalAnalysisFlag",
        "resolutionFlag",
        "customerUpdatedFlag",
    )
    note = {"id": note_id, "ticketId": ticket_id, "text": str(body["text"])}
    note.update({flag: body.get(flag) is True for flag in flags})
    note.update(
        internalFlag=note["internalAnalysisFlag"],
        externalFlag=note["detailDescriptionFlag"],
        dateCreated=when,
        createdBy=API_MEMBER,
        _info={"lastUpdated": when, "updatedBy": API_MEMBER},
    )
    return note


def _time_entry(
    entry_id: int,
    ticket: dict[str, Any],
    member: dict[str, Any],
    body: dict[str, Any],
    hours: float,
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "company": ticket["company"],
        "chargeToId": ticket["id"],
        "chargeToType": "ServiceTicket",
        "member": member,
        "timeStart": iso(parse_time(body["timeStart"])),
        "timeEnd": iso(parse_time(body["timeEnd"])),
        "actualHours": round(hours, 2),
        "notes": str(body.get("notes") or ""),
        "billableOption": "Billable",
        "ticket": {"id": ticket["id"], "summary": ticket["summary"]},
    }


def _seed_changes(
    n: int, companies: Sequence[str], domain: str, moment: dt.datetime
) -> dict[str, Any]:
    """The n-th seeded ticket: summaries, people, statuses and priorities cycle with
    different periods so that combinations vary."""
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    company = companies[n % len(companies)] if companies else ""
    host = f"{company or 'ws'}-pc{n % 250:03d}"
    template = SUMMARIES[n % len(SUMMARIES)]
    return {
        "summary": template.format(host=host, name=first, n=n % 7 + 1),
        "description": f"{first} wrote in: {template.format(host=host, name='me', n=2)}.",
        "company": company,
        "contact_email": f"{first.lower()}.{n % 500}@{domain}",
        "contact_name": f"{first} {n % 500}",
        "status": SEED_STATUSES[n % len(SEED_STATUSES)],
        "priority": SEED_PRIORITIES[(n // 3) % len(SEED_PRIORITIES)],
        "type": TYPES[n % len(TYPES)],
        "hostnames": (host,) if "{host}" in template else (),
        "opened_at": moment - dt.timedelta(minutes=n % 90),
    }
