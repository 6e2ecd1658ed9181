"""What every tool adapter shares: one error type that says whether a retry can help, and a
retry loop with exponential backoff that honours a server's Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx2

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
    """What the HTTP tool clients share: an httpx2 session, closed when the client is used
    as a context manager and left."""

    _http: httpx2.Client

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
