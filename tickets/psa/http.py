"""One HTTP session per PSA client (httpx2, the HTTP library the `openai` client already
brings), with every failure turned into a `PsaError` that says whether a retry can help."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx2

from tickets.psa.base import PsaError

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class Http:
    """`request()` returns the decoded JSON (None for an empty body) or raises `PsaError`.
    `requests_made` counts every request sent, failed ones included."""

    def __init__(self, *, timeout: float, headers: dict[str, str] | None = None) -> None:
        self.session = httpx2.Client(timeout=timeout, headers=headers or {})
        self.requests_made = 0
        self.last_headers: httpx2.Headers | None = None

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.requests_made += 1
        answer = send(self.session, method, url, error=PsaError, **kwargs)
        self.last_headers = answer.headers
        if answer.status_code >= 400:
            raise PsaError(
                f"{method} {_path(url)} answered {answer.status_code}: {_reason(answer)}",
                status=answer.status_code,
                transient=answer.status_code in TRANSIENT_STATUSES,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise PsaError(f"{method} {_path(url)} answered with a non-JSON body.") from None


class HttpBacked:
    """What every PSA client shares: its `Http` session, the count of requests it sent, and
    closing it."""

    http: Http

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def close(self) -> None:
        self.http.close()


def send(
    session: httpx2.Client,
    method: str,
    url: str,
    *,
    error: Callable[..., Exception],
    label: str = "",
    **kwargs: Any,
) -> httpx2.Response:
    """One request; a time-out or a failed connection becomes `error` (transient), named
    by `label` ("Microsoft Graph: GET /v1.0/users timed out.")."""
    where = f"{label}: " if label else ""
    where += f"{method} {_path(url)}"
    try:
        return session.request(method, url, **kwargs)
    except httpx2.TimeoutException:
        raise error(f"{where} timed out.", transient=True) from None
    except httpx2.TransportError as failure:
        raise error(f"{where} failed ({failure.__class__.__name__}).", transient=True) from None


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _path(url: str) -> str:
    return httpx2.URL(url).path


def _reason(answer: httpx2.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "Message", "error_description", "error", "errors"):
            if data.get(key):
                return str(data[key])[:200]
    return str(data)[:200]
