"""A loopback HaloPSA tenant: the OAuth2 token endpoint, `api/Tickets` (paging, the filters
and ordering below, create and update by `POST`), `api/Actions` (notes, time, status changes),
the catalogue lists, and webhook deliveries authenticated by a bearer secret.

`GET api/Tickets` evaluates `lastupdatefromdate` (inclusive), `lastupdatetodate` (inclusive),
`client_id`, `agent_id`, `status_id` (comma list), `tickettype_id`, `team_id`, `open_only`,
`closed_only` and `search` (in the summary); it orders by `order` = `last_update`, `id` or
`datecreated` with `orderdesc`, ties by id, and — with no `order` — by id, newest first.
Halo's real ordering parameter names for the last-updated time are *unverified*.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hmac
import itertools
import json
import secrets
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs

from tickets.psa.simulators.base import Request, Response, Simulator, parse_time

Ticket = dict[str, Any]
Key = tuple[dt.datetime, int]  # (last_update, id): the order a watermark sync reads in

CLOSED_STATUS_ID = 9
_BLANK: dict[str, Any] = {"user_id": 0, "site_id": 0, "sla_id": 1, "category_1": ""}
_LABEL_ALIASES = {"completed": "closed", "complete": "closed", "resolved": "closed"}
_SUMMARIES = (
    "Outlook keeps asking for the password on {host}",
    "VPN drops every few minutes from {host}",
    "Printer on the second floor shows offline",
    "New starter needs a laptop and accounts",
    "Disk C: almost full on {host}",
    "Backup job failed overnight on {host}",
    "Cannot open shared drive after the update",
    "Teams calls drop audio on {host}",
    "Password reset for a locked account",
    "High CPU alert on {host}",
    "Request: install Visio for the finance team",
    "Website certificate expires next week",
)


class HaloSimulator(Simulator):
    """One Halo tenant in memory. Tickets live in a dict by id plus a list of (last_update, id)
    kept sorted, so a last-updated page is a bisect and a slice even at 50,000 tickets."""

    kind = "halopsa"
    token_lifetime_seconds = 3600

    def __init__(
        self,
        *,
        port: int = 0,
        webhook_secret: str = "sim-webhook-secret-0123456789",  # noqa: S107 (a test tenant's)
    ) -> None:
        super().__init__(port=port)
        self.webhook_secret = webhook_secret
        self.credentials: dict[str, str] = {
            "client_id": "sim-halo-client",
            "client_secret": "sim-halo-secret-0123456789abcdef",
            "tenant": "simtenant",
        }
        self.tokens: dict[str, dt.datetime] = {}  # token → expiry on the tenant's clock
        self.statuses = {1: "New", 2: "In Progress", 3: "Waiting Customer", 9: "Closed"}
        self.priorities = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}
        self.ticket_types = {1: "Incident", 2: "Service Request", 3: "Problem"}
        self.teams = {1: "Service Desk", 2: "Projects"}
        self.clients: dict[int, dict[str, Any]] = {}
        self.agents: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, Ticket] = {}
        self.actions: dict[int, list[dict[str, Any]]] = {}
        self._client_ids: dict[str, int] = {}  # identifier → id
        self._agent_ids: dict[str, int] = {}
        self._agent_identifiers: dict[int, str] = {}
        self._asset_ids: dict[str, int] = {}
        self._order: list[Key] = []
        self._ids = itertools.count(1001)
        self._action_ids = itertools.count(1)

    def __enter__(self) -> HaloSimulator:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.url

    def start_ids_at(self, first: int) -> None:
        """Number new tickets from `first` on (a restarted demo must not reuse ids)."""
        with self.lock:
            self._ids = itertools.count(max(first, max(self.tickets, default=0) + 1))

    def revoke_tokens(self) -> None:
        """Every issued token stops working (the client must authenticate again)."""
        with self.lock:
            self.tokens.clear()

    # tenant set-up -------------------------------------------------------------------------
    def add_company(self, identifier: str, name: str) -> str:
        with self.lock:
            client_id = len(self.clients) + 1
            self.clients[client_id] = {"id": client_id, "name": name, "inactive": False}
            self._client_ids[identifier] = client_id
            return str(client_id)

    def add_member(self, identifier: str, name: str) -> str:
        with self.lock:
            agent_id = len(self.agents) + 1
            self.agents[agent_id] = {"id": agent_id, "name": name, "isdisabled": False}
            self._agent_ids[identifier] = agent_id
            self._agent_identifiers[agent_id] = identifier
            return str(agent_id)

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
        with self.lock:
            now = self.now()
            fields = self._new_fields(
                summary=summary,
                description=description,
                company=company,
                contact_email=contact_email,
                contact_name=contact_name,
                status=status,
                priority=priority,
                type=type,
                queue=queue,
                assignee=assignee,
                hostnames=hostnames,
                opened_at=opened_at or now,
            )
            return str(self._insert(fields, now))

    def update_ticket(self, external_id: str, **changes: Any) -> None:
        with self.lock:
            ticket = self.tickets[int(external_id)]
            ticket.update(self._native(**changes))
            self._touch(ticket)

    def seed(
        self,
        count: int,
        *,
        companies: Sequence[str],
        contact_domain: str = "example.test",
        start: dt.datetime | None = None,
    ) -> list[str]:
        """`count` tickets, one a second from `start`, in one sort of the order index."""
        with self.lock:
            first = start or self.now() - dt.timedelta(seconds=count)
            for identifier in companies:
                if identifier not in self._client_ids:
                    self.add_company(identifier, identifier.replace("-", " ").title())
            client_ids = [self._client_ids[identifier] for identifier in companies] or [0]
            agent_ids = sorted(self.agents) or [0]
            ids = []
            for n in range(count):
                moment = first + dt.timedelta(seconds=n)
                fields = self._seeded(n, client_ids, agent_ids, contact_domain, moment)
                ids.append(self._insert(fields, moment, index=False))
            self._order.sort()
            return [str(ticket_id) for ticket_id in ids]

    # reading the tenant --------------------------------------------------------------------
    def ticket_json(self, external_id: str) -> dict[str, Any]:
        with self.lock:
            return self._render(self.tickets[int(external_id)])

    def notes(self, external_id: str) -> list[dict[str, Any]]:
        return [a for a in self._actions_of(external_id) if not a.get("timetaken")]

    def time_entries(self, external_id: str) -> list[dict[str, Any]]:
        return [a for a in self._actions_of(external_id) if a.get("timetaken")]

    def status_label(self, external_id: str) -> str:
        with self.lock:
            return self.statuses[self.tickets[int(external_id)]["status_id"]]

    def assignee_identifier(self, external_id: str) -> str:
        with self.lock:
            agent_id = self.tickets[int(external_id)]["agent_id"]
            return self._agent_identifiers.get(agent_id, "")

    # webhooks ------------------------------------------------------------------------------
    def delivery(
        self, external_id: str, action: str = "updated", *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A Halo-style delivery: an event id, the event, the ticket and its latest action,
        authenticated with `Authorization: Bearer <secret>` (Halo signs nothing)."""
        with self.lock:
            ticket_id = int(external_id)
            ticket = self.tickets.get(ticket_id)
            actions = self.actions.get(ticket_id, [])
            payload = {
                "id": str(uuid.uuid4()),
                "event": action,
                "object_id": ticket_id,
                "ticket": self._render(ticket) if ticket else {"id": ticket_id},
                "action": actions[-1] if actions else None,
            }
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.webhook_secret if secret is None else secret}",
        }
        return json.dumps(payload).encode(), headers

    def deliver(
        self,
        url: str,
        external_id: str,
        action: str = "updated",
        *,
        secret: str | None = None,
        tamper: bool = False,
    ) -> int:
        """POST the delivery. Halo's credential does not cover the body, so `tamper` corrupts
        it in transit (a truncated body that is no longer JSON) rather than re-signing."""
        body, headers = self.delivery(external_id, action, secret=secret)
        if tamper:
            body = body[: len(body) // 2]
        return self.post(url, body, headers)

    # HTTP ----------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        if not request.path.lower().startswith("/api/"):
            return True  # the token endpoint checks the client's credentials itself
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            return expires is not None and self.now() < expires

    def route(self, request: Request) -> Response:
        path = request.path.lower().rstrip("/")
        if path == "/auth/token" and request.method == "POST":
            return self._token(request)
        handler = self._routes().get((request.method, path))
        if handler is not None:
            return handler(request)
        head, _, tail = path.rpartition("/")
        if head == "/api/tickets" and tail.isdigit() and request.method == "GET":
            return self._get_ticket(int(tail))
        return Response(404, {"message": f"No route for {request.method} {request.path}"})

    def _routes(self) -> dict[tuple[str, str], Callable[[Request], Response]]:
        return {
            ("GET", "/api/tickets"): self._list_tickets,
            ("POST", "/api/tickets"): self._post_tickets,
            ("GET", "/api/actions"): self._list_actions,
            ("POST", "/api/actions"): self._post_actions,
            ("GET", "/api/status"): lambda r: self._named_list(self.statuses),
            ("GET", "/api/tickettype"): lambda r: self._named_list(self.ticket_types),
            ("GET", "/api/team"): lambda r: self._named_list(self.teams),
            ("GET", "/api/priority"): self._list_priorities,
            ("GET", "/api/client"): self._list_clients,
            ("GET", "/api/agent"): lambda r: Response(200, list(self.agents.values())),
        }

    def _token(self, request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        offered = (
            form.get("grant_type", ""),
            form.get("client_id", ""),
            form.get("client_secret", ""),
            request.arg("tenant"),
        )
        expected = ("client_credentials", *self._credential_values())
        if not all(hmac.compare_digest(a, b) for a, b in zip(offered, expected, strict=True)):
            return Response(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = self.now() + dt.timedelta(seconds=self.token_lifetime_seconds)
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
        }
        return Response(200, body)

    def _credential_values(self) -> tuple[str, str, str]:
        c = self.credentials
        return c["client_id"], c["client_secret"], c["tenant"]

    def _list_tickets(self, request: Request) -> Response:
        with self.lock:
            keys = self._ordered(self._matching(request), request)
            body: dict[str, Any] = {"record_count": len(keys)}
            if request.arg("pageinate").lower() == "true":
                size = max(1, int(request.arg("page_size", "50")))
                page_no = max(1, int(request.arg("page_no", "1")))
                keys = keys[(page_no - 1) * size : page_no * size]
                body.update(page_no=page_no, page_size=size)
            body["tickets"] = [self._render(self.tickets[ticket_id]) for _, ticket_id in keys]
        return Response(200, body)

    def _get_ticket(self, ticket_id: int) -> Response:
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return Response(404, {"message": f"Ticket {ticket_id} not found"})
            return Response(200, self._render(ticket))

    def _post_tickets(self, request: Request) -> Response:
        with self.lock:
            saved = [self._save_ticket(element) for element in _elements(request.json())]
        return Response(201, saved[0] if len(saved) == 1 else saved)

    def _save_ticket(self, element: dict[str, Any]) -> dict[str, Any]:
        fields = self._checked(element)
        ticket_id = int(element.get("id") or 0)
        if ticket_id:
            ticket = self.tickets[ticket_id]  # an unknown id answers 400
            ticket.update(fields)
            self._touch(ticket)
            return self._render(ticket)
        if not str(element.get("summary") or "").strip():
            raise ValueError("summary is required")
        new = {**self._new_fields(), **fields}
        return self._render(self.tickets[self._insert(new, self.now())])

    def _list_actions(self, request: Request) -> Response:
        actions = self._actions_of(request.arg("ticket_id", "0"))
        return Response(200, {"record_count": len(actions), "actions": actions})

    def _post_actions(self, request: Request) -> Response:
        with self.lock:
            saved = [self._save_action(element) for element in _elements(request.json())]
        return Response(201, saved[0] if len(saved) == 1 else saved)

    def _save_action(self, element: dict[str, Any]) -> dict[str, Any]:
        ticket = self.tickets[int(element["ticket_id"])]
        new_status = int(element.get("new_status") or 0)
        if new_status:
            ticket.update(self._checked({"status_id": new_status}))
        action = {
            "id": next(self._action_ids),
            "ticket_id": ticket["id"],
            "outcome_id": int(element.get("outcome_id") or 0),
            "note_html": str(element.get("note_html") or ""),
            "hiddenfromuser": bool(element.get("hiddenfromuser")),
            "timetaken": float(element.get("timetaken") or 0),
            "new_status": new_status,
            "who_agentid": int(element.get("agent_id") or 0),
            "actionarrivaldate": element.get("actionarrivaldate") or _halo_time(self.now()),
            "actioncompletiondate": element.get("actioncompletiondate") or "",
            "sendemail": bool(element.get("sendemail")),
            "datetime": _halo_time(self.now()),
        }
        self.actions.setdefault(ticket["id"], []).append(action)
        self._touch(ticket)
        return dict(action)

    def _list_priorities(self, request: Request) -> Response:
        """Halo keeps priorities per SLA: the same priority appears once for each."""
        rows = [
            {"priorityid": priority_id, "slaid": sla_id, "name": name}
            for sla_id in (1, 2)
            for priority_id, name in self.priorities.items()
        ]
        return Response(200, rows)

    def _list_clients(self, request: Request) -> Response:
        with self.lock:
            rows = list(self.clients.values())
        body: dict[str, Any] = {"record_count": len(rows)}
        if request.arg("pageinate").lower() == "true":
            size = max(1, int(request.arg("page_size", "50")))
            page_no = max(1, int(request.arg("page_no", "1")))
            rows = rows[(page_no - 1) * size : page_no * size]
            body.update(page_no=page_no, page_size=size)
        body["clients"] = rows
        return Response(200, body)

    @staticmethod
    def _named_list(names: dict[int, str]) -> Response:
        return Response(200, [{"id": key, "name": name} for key, name in names.items()])

    # filters and order ---------------------------------------------------------------------
    def _matching(self, request: Request) -> list[Key]:
        """Keys in last-updated order within the date filters, then the other filters."""
        since, until = request.arg("lastupdatefromdate"), request.arg("lastupdatetodate")
        low = bisect.bisect_left(self._order, (parse_time(since), 0)) if since else 0
        high = (
            bisect.bisect_right(self._order, (parse_time(until), sys.maxsize))
            if until
            else len(self._order)
        )
        keys = self._order[low:high]
        tests = list(self._filters(request))
        if not tests:
            return keys
        return [key for key in keys if all(test(self.tickets[key[1]]) for test in tests)]

    def _filters(self, request: Request) -> Iterable[Callable[[Ticket], bool]]:
        for name in ("client_id", "agent_id", "tickettype_id", "team_id"):
            if request.arg(name):
                yield _equals(name, int(request.arg(name)))
        if request.arg("status_id"):
            statuses = {int(part) for part in request.arg("status_id").split(",")}
            yield lambda ticket: ticket["status_id"] in statuses
        if request.arg("open_only").lower() == "true":
            yield lambda ticket: ticket["status_id"] != CLOSED_STATUS_ID
        if request.arg("closed_only").lower() == "true":
            yield lambda ticket: ticket["status_id"] == CLOSED_STATUS_ID
        if request.arg("search"):
            needle = request.arg("search").lower()
            yield lambda ticket: needle in ticket["summary"].lower()

    def _ordered(self, keys: list[Key], request: Request) -> list[Key]:
        order = request.arg("order").lower()
        descending = request.arg("orderdesc").lower() == "true"
        if order in ("last_update", "lastupdate"):
            return keys[::-1] if descending else keys
        if order == "datecreated":
            return sorted(
                keys,
                key=lambda key: (self.tickets[key[1]]["datecreated"], key[1]),
                reverse=descending,
            )
        return sorted(keys, key=lambda key: key[1], reverse=descending or not order)

    # storage -------------------------------------------------------------------------------
    def _insert(self, fields: Ticket, moment: dt.datetime, *, index: bool = True) -> int:
        ticket_id = next(self._ids)
        moment = parse_time(_halo_time(moment))  # the index holds what the JSON says
        ticket = {**fields, "id": ticket_id, "datecreated": _halo_time(moment)}
        ticket["last_update"] = _halo_time(moment)
        self.tickets[ticket_id] = ticket
        if index:
            bisect.insort(self._order, (moment, ticket_id))
        else:
            self._order.append((moment, ticket_id))
        return ticket_id

    def _touch(self, ticket: Ticket) -> None:
        """Move the ticket to now in the last-updated order."""
        old = (parse_time(ticket["last_update"]), ticket["id"])
        position = bisect.bisect_left(self._order, old)
        if position < len(self._order) and self._order[position] == old:
            del self._order[position]
        now = self.now()
        ticket["last_update"] = _halo_time(now)
        bisect.insort(self._order, (now, ticket["id"]))

    def _render(self, ticket: Ticket) -> dict[str, Any]:
        """The ticket as the API returns it, with the label of each id beside it."""
        agent = self.agents.get(ticket["agent_id"], {})
        return {
            **ticket,
            "status_name": self.statuses.get(ticket["status_id"], ""),
            "priority_name": self.priorities.get(ticket["priority_id"], ""),
            "tickettype_name": self.ticket_types.get(ticket["tickettype_id"], ""),
            "team": self.teams.get(ticket["team_id"], ""),
            "client_name": self.clients.get(ticket["client_id"], {}).get("name", ""),
            "agent_name": agent.get("name", ""),
            "hasbeenclosed": ticket["status_id"] == CLOSED_STATUS_ID,
            "assets": [dict(asset) for asset in ticket["assets"]],
        }

    def _actions_of(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(action) for action in self.actions.get(int(external_id), [])]

    # labels to Halo fields -----------------------------------------------------------------
    def _native(self, **values: Any) -> Ticket:
        """`create_ticket`'s keyword values (labels, identifiers) as Halo's id fields."""
        converters: dict[str, Callable[[Any], Ticket]] = {
            "summary": lambda v: {"summary": str(v)},
            "description": lambda v: {"details": str(v)},
            "company": lambda v: {"client_id": self._client_ids[v] if v else 0},
            "contact_email": lambda v: {"user_email": str(v)},
            "contact_name": lambda v: {"user_name": str(v)},
            "status": lambda v: {"status_id": _label_id(self.statuses, v)},
            "priority": lambda v: {"priority_id": _label_id(self.priorities, v)},
            "type": lambda v: {"tickettype_id": _label_id(self.ticket_types, v) if v else 0},
            "queue": lambda v: {"team_id": _label_id(self.teams, v) if v else 0},
            "assignee": lambda v: {"agent_id": self._agent_ids[v] if v else 0},
            "hostnames": lambda v: {"assets": [self._asset(name) for name in v]},
            "opened_at": lambda v: {"dateoccurred": _halo_time(v)},
        }
        unknown = set(values) - set(converters)
        if unknown:
            raise TypeError(f"Unknown ticket fields: {sorted(unknown)}")
        fields: Ticket = {}
        for name, value in values.items():
            fields.update(converters[name](value))
        return fields

    def _new_fields(self, **values: Any) -> Ticket:
        """A new ticket's fields: the preset defaults, then `values` (as for `_native`)."""
        defaults: dict[str, Any] = {
            "summary": "",
            "description": "",
            "company": "",
            "contact_email": "",
            "contact_name": "",
            "status": "New",
            "priority": "Medium",
            "type": "",
            "queue": "Service Desk",
            "assignee": "",
            "hostnames": (),
            "opened_at": self.now(),
        }
        return {**_BLANK, **self._native(**{**defaults, **values})}

    def _checked(self, element: dict[str, Any]) -> Ticket:
        """The writable fields of an API element, each id checked against the tenant."""
        lookups: dict[str, Any] = {
            "status_id": self.statuses,
            "priority_id": self.priorities,
            "tickettype_id": self.ticket_types,
            "team_id": self.teams,
            "client_id": self.clients,
            "agent_id": self.agents,
        }
        fields: Ticket = {}
        for name, known in lookups.items():
            if name in element:
                value = int(element[name] or 0)
                if value and value not in known:
                    raise ValueError(f"{name} {value} does not exist")
                fields[name] = value
        for name in ("summary", "details", "user_name", "user_email", "category_1"):
            if name in element:
                fields[name] = str(element[name] or "")
        return fields

    def _asset(self, hostname: str) -> dict[str, Any]:
        asset_id = self._asset_ids.setdefault(hostname, len(self._asset_ids) + 1)
        return {"id": asset_id, "inventory_number": hostname, "key_field": hostname}

    def _seeded(
        self,
        n: int,
        client_ids: list[int],
        agent_ids: list[int],
        domain: str,
        moment: dt.datetime,
    ) -> Ticket:
        host = f"WS-{n % 997:03d}"
        status_id = (1, 1, 2, 2, 2, 3, 1, 2, 3, CLOSED_STATUS_ID)[n % 10]
        return {
            "summary": _SUMMARIES[n % len(_SUMMARIES)].format(host=host),
            "details": f"Reported by user{n % 500} via the portal.",
            **_BLANK,
            "client_id": client_ids[n % len(client_ids)],
            "user_email": f"user{n % 500}@{domain}",
            "user_name": f"User {n % 500}",
            "status_id": status_id,
            "priority_id": (3, 3, 4, 2, 3, 1, 4, 3)[n % 8],
            "tickettype_id": (1, 1, 2, 1, 3)[n % 5],
            "team_id": 1 if n % 7 else 2,
            "agent_id": agent_ids[n % len(agent_ids)] if status_id != 1 else 0,
            "assets": [self._asset(host)],
            "dateoccurred": _halo_time(moment),
        }


def _equals(name: str, wanted: int) -> Callable[[Ticket], bool]:
    return lambda ticket: bool(ticket[name] == wanted)


def _elements(body: Any) -> list[dict[str, Any]]:
    """Halo takes a list of objects on POST; a lone object is tolerated."""
    elements = body if isinstance(body, list) else [body]
    if not all(isinstance(element, dict) for element in elements):
        raise ValueError("expected a list of objects")
    return elements


def _label_id(names: dict[int, str], label: str) -> int:
    """The id of a preset label, matched without case (Completed and Resolved mean Closed)."""
    wanted = _LABEL_ALIASES.get(label.strip().lower(), label.strip().lower())
    for key, name in names.items():
        if name.lower() == wanted:
            return key
    raise ValueError(f"No such label: {label!r}")


def _halo_time(moment: dt.datetime) -> str:
    """UTC without a zone suffix, as Halo writes its times."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
