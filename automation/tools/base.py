"""What every tool adapter shares: one error type that says whether a retry can help, and a
retry loop with exponential backoff that honours a server's Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx2

from tickets.psa.http import send

T = TypeVar("T")


class ToolError(Exception):
    """A tool call failed. `transient` failures (time-outs, 429, 5xx, refused connections)
    may succeed when retried; the message is shown to technicians, so it never contains a
    secret."""

    def __init__(
        self, message: str, *, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


def with_retries(
    call: Callable[[], T], *, attempts: int = 3, sleep: Callable[[float], object] = time.sleep
) -> T:
    """`call()`, retried on transient ToolErrors: waits Retry-After or 1, 2, 4 … seconds."""
    for attempt in range(attempts):
        try:
            return call()
        except ToolError as error:
            if not error.transient or attempt == attempts - 1:
                raise
            sleep(min(30.0, error.retry_after if error.retry_after is not None else 2.0**attempt))
    raise AssertionError("unreachable")


class HttpTool:
    """What the HTTP tool clients share: an httpx2 session (closed when the client is used as
    a context manager and left), sending a request with transport failures turned into the
    client's transient error, and an OAuth token kept until shortly before it expires."""

    _http: httpx2.Client
    _clock: Callable[[], float]
    _token: str
    _token_expires: float
    requests_made: int
    token_margin_seconds = 60.0

    def _transport(
        self, method: str, url: str, *, error: type[ToolError], label: str, **kwargs: Any
    ) -> httpx2.Response:
        """The answer, or `error` (transient) when the request timed out or failed."""
        self.requests_made += 1
        return send(self._http, method, url, error=error, label=label, **kwargs)

    def _keep_token(self, data: object, *, error: type[ToolError], issuer: str) -> None:
        """Remember a token answer (`access_token`, `expires_in`)."""
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise error(f"{issuer} token endpoint answered without an access_token.")
        assert isinstance(data, dict)
        lifetime = float(data.get("expires_in") or 3600)
        self._token = token
        margin = self.token_margin_seconds
        self._token_expires = self._clock() + max(lifetime - margin, lifetime / 2)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
