"""The plumbing every PSA simulator shares: a threaded HTTP server on 127.0.0.1, a lock
around the in-memory tenant, a request log, scripted faults (an HTTP status with an optional
Retry-After, a delay that outlasts the client's time-out, a dropped connection), and signed
webhook deliveries. Each PSA subclass implements `authorized` and `route` in its own shapes.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of its answer: `status` (with an optional
    `retry_after` header), or a `delay` before answering normally (longer than the client's
    time-out: a time-out), or `drop` the connection without an answer. `path` limits it to
    requests whose path contains it; `after` lets that many of them through first."""

    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    path: str = ""
    after: int = 0  # let this many matching requests through first


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str = "") -> str:
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return default


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialised unless bytes
    headers: dict[str, str] = field(default_factory=dict)


def iso(moment: dt.datetime) -> str:
    """UTC, seconds, with Z — how the PSAs write timestamps."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.strip().strip("[]").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Simulator:
    """Subclasses set `kind` and implement `authorized(request)` and `route(request)`;
    they keep their tenant in attributes guarded by `self.lock`."""

    kind = ""

    def __init__(self, *, port: int = 0) -> None:
        self.lock = threading.RLock()
        self.faults: deque[Fault] = deque()
        self.log: list[tuple[str, str]] = []  # (method, path) of every request answered
        self.request_count = 0
        self._clock_offset = 0.0
        self._frozen_at: dt.datetime | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Simulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # time and faults -------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The tenant's clock (a test may move it forward with `advance`, or `freeze` it)."""
        wall = self._frozen_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
        return wall + dt.timedelta(seconds=self._clock_offset)

    def advance(self, seconds: float) -> None:
        self._clock_offset += seconds

    def freeze(self) -> None:
        """Stop the wall clock: only `advance` moves time, so a test that needs several
        records on the same second gets them even when a second boundary passes meanwhile."""
        self._frozen_at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def fail(self, *faults: Fault) -> None:
        """Queue faults; each is used by the next request it matches."""
        with self.lock:
            self.faults.extend(faults)

    def _fault_for(self, path: str) -> Fault | None:
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault.path not in path:
                    continue
                if fault.after:
                    self.faults[index] = replace(fault, after=fault.after - 1)
                    return None
                del self.faults[index]
                return fault
        return None

    # to implement ----------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    # webhooks --------------------------------------------------------------------------
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST a delivery to the desk; returns the HTTP status it answered (0: the desk
        could not be reached — the PSA's next sync brings the ticket anyway)."""
        try:
            return httpx2.post(url, content=body, headers=headers, timeout=10).status_code
        except httpx2.TransportError:
            return 0

    # HTTP plumbing ---------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=method,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                fault = simulator._fault_for(parts.path)
                with simulator.lock:
                    simulator.request_count += 1
                if fault is not None and fault.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status:
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(fault.retry_after)
                    answer = Response(fault.status, {"message": "simulated fault"}, headers)
                elif not simulator.authorized(request):
                    answer = Response(401, {"message": "Unauthorized"})
                else:
                    try:
                        answer = simulator.route(request)
                    except (ValueError, KeyError, TypeError) as error:
                        answer = Response(400, {"message": f"Bad request: {error}"})
                with simulator.lock:
                    simulator.log.append((method, parts.path))
                self._send(answer)

            def _send(self, answer: Response) -> None:
                if isinstance(answer.body, bytes):
                    payload = answer.body
                else:
                    payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler


def paged(items: list[Any], page: int, size: int) -> Iterator[Any]:
    start = (page - 1) * size
    yield from items[start : start + size]
