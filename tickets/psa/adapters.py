"""The adapter module of each PSA kind, behind one typed face."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from typing import Any, Protocol, cast

from tickets.psa.base import ConnectionSettings, Delivery, PsaClient, PsaRecord


class Adapter(Protocol):
    KIND: str

    def client(self, settings: ConnectionSettings, *, timeout: float = ...) -> PsaClient: ...

    def normalize(self, raw: dict[str, Any]) -> PsaRecord: ...

    def verify_webhook(
        self,
        settings: ConnectionSettings,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
    ) -> Delivery: ...


MODULES = {"connectwise": "connectwise", "autotask": "autotask", "halopsa": "halopsa"}


def adapter(kind: str) -> Adapter:
    if kind not in MODULES:
        raise ValueError(f"No PSA adapter for {kind!r}.")
    return cast(Adapter, importlib.import_module(f"tickets.psa.{MODULES[kind]}"))


def client_for(connection: Any) -> PsaClient:
    """A client for a `PsaConnection`, with the configured time-out."""
    from django.conf import settings

    return adapter(connection.kind).client(
        connection.settings(), timeout=settings.PSA_TIMEOUT_SECONDS
    )
