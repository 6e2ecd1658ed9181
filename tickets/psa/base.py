"""What every PSA adapter provides, in PSA-neutral terms.

An adapter module (`tickets.psa.connectwise`, `.autotask`, `.halopsa`) exposes:

- `KIND` — the `PsaConnection.Kind` value;
- `client(settings: ConnectionSettings, *, timeout: float = 10.0) -> PsaClient`;
- `normalize(raw: dict) -> PsaRecord` — a pure function of the PSA's ticket JSON;
- `verify_webhook(settings, headers, body, *, now) -> Delivery` — raises `WebhookRejected`
  with the reason when the signature or credential does not match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class PsaError(Exception):
    """A PSA request failed. `transient` errors (429, 5xx, time-outs, refused connections)
    are retried; others (400, 401, 403, 404) are not. `retry_after` is the PSA's own
    `Retry-After` in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


class WebhookRejected(Exception):
    """A delivery that must not be acted on; the message says why (for the log)."""


@dataclass(frozen=True)
class ConnectionSettings:
    """What a client needs to talk to one PSA tenant, decrypted."""

    kind: str
    base_url: str  # e.g. http://127.0.0.1:8101 — the adapter adds its API path
    credentials: Mapping[str, str]
    webhook_secrets: Sequence[str] = ()  # current first; a second one during rotation


@dataclass(frozen=True)
class Ref:
    """A PSA value: its id (as text) and its label. Board-specific values carry the board in
    the id ("board 3, status 17" → "3:17") so that the mapping can tell them apart."""

    id: str
    label: str = ""


@dataclass(frozen=True)
class PsaRecord:
    """One PSA ticket, read. Values stay the PSA's own (`Ref`s); the connection's mapping
    turns them into ours."""

    external_id: str
    summary: str
    updated_at: dt.datetime
    description: str = ""
    opened_at: dt.datetime | None = None
    status: Ref | None = None
    closed: bool = False  # the PSA itself says the ticket is done
    priority: Ref | None = None
    type: Ref | None = None
    subtype: Ref | None = None
    queue: Ref | None = None  # ConnectWise board, Autotask queue, Halo team
    company: Ref | None = None
    company_identifier: str = ""  # ConnectWise company.identifier, when given
    contact_email: str = ""
    contact_name: str = ""
    assignee: Ref | None = None
    assets: tuple[str, ...] = ()  # hostnames or ids the PSA linked
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of tickets, oldest last-updated first. `next_cursor` is opaque to the sync
    (a page number, a next-page URL) and None on the last page."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None  # how many match, when the PSA says


@dataclass(frozen=True)
class Budget:
    """Autotask's request threshold: requests used in the current window and the limit."""

    used: int
    limit: int
    window_seconds: int = 3600


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery: its id (for de-duplication), the ticket it concerns and
    what happened ("added", "updated", "deleted")."""

    delivery_id: str
    external_id: str
    action: str


class PsaClient(Protocol):
    """One PSA tenant's API."""

    @property
    def requests_made(self) -> int:
        """Every HTTP request sent so far, failed ones included."""
        ...

    def close(self) -> None: ...

    def check(self) -> str:
        """A cheap authenticated call; returns a line for the manager ("Connected to …")."""
        ...

    def count_updated_since(self, since: dt.datetime | None) -> int | None: ...

    def tickets_page(self, *, updated_since: dt.datetime | None, cursor: str | None) -> Page:
        """Tickets updated at or after `updated_since` (all when None), oldest first."""
        ...

    def ticket(self, external_id: str) -> dict[str, Any]: ...

    def add_note(self, external_id: str, *, text: str, public: bool) -> str:
        """Returns the PSA's id of the note."""
        ...

    def update_ticket(
        self, external_id: str, *, status: str | None = None, assignee: str | None = None
    ) -> None:
        """Set the status and/or the assignee, given as PSA ids (from the mapping)."""
        ...

    def add_time(
        self,
        external_id: str,
        *,
        member: str,
        started_at: dt.datetime,
        minutes: int,
        notes: str,
    ) -> str:
        """Returns the PSA's id of the time entry."""
        ...

    def budget(self) -> Budget | None:
        """The PSA's request budget (Autotask); None where the PSA publishes none."""
        ...

    def catalogue(self) -> dict[str, list[Ref]]:
        """The values managers map: keys among status, priority, type, queue, company,
        member."""
        ...
