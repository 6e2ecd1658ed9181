"""A loopback OpenAI-compatible Chat Completions server, for driving the LLM classifier over
real HTTP. Registered as a pytest plugin in conftest.py: a test asks for `llm_server`, which
also points the LLM settings at it.

By default each request gets a valid answer computed from the request itself: for every target
in the JSON schema sent, the first allowed label that appears as a word (hyphens read as
spaces) in the fenced ticket text, or the first allowed label. `script()` queues other
behaviours, one per request, and `requests` holds what the server received.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from automation.llm import FENCE_END, FENCE_START

API_KEY = "sk-loopback-test-key"
MODEL = "loopback-model-1"
PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Answer:
    """A valid-looking answer; `labels` replaces chosen labels (an unknown category),
    `omit` leaves targets out, `confidence` is every target's confidence."""

    labels: dict[str, str] = field(default_factory=dict)
    omit: tuple[str, ...] = ()
    confidence: Any = 0.9
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Content:
    """This exact message content (e.g. text that is not JSON)."""

    text: str


@dataclass(frozen=True)
class Failure:
    """An HTTP error with an OpenAI-style error body."""

    status: int
    message: str = "The server had an error while processing your request."
    retry_after: int | None = None


@dataclass(frozen=True)
class Raw:
    """A response that is not an OpenAI reply at all, e.g. a proxy's error page."""

    body: bytes
    content_type: str = "text/html"
    status: int = 200


@dataclass(frozen=True)
class ToolCalls:
    """An assistant turn that calls tools: (function name, arguments) pairs, in order. The
    arguments may be a dict (sent as JSON) or a string (sent as is, e.g. broken JSON)."""

    calls: tuple[tuple[str, Any], ...]
    content: str = ""


Behaviour = Answer | Content | Failure | Raw | ToolCalls


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any
    status: int = 0  # what the server answered

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages", []) if isinstance(self.body, dict) else []
        return [m for m in messages if isinstance(m, dict)]

    def content_of(self, role: str) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == role)

    @property
    def fenced_text(self) -> str | None:
        """The text between the markers of the user message, if it has exactly one fence."""
        user = self.content_of("user")
        if user.count(FENCE_START) != 1 or user.count(FENCE_END) != 1:
            return None
        start, end = user.index(FENCE_START) + len(FENCE_START), user.index(FENCE_END)
        return user[start:end].strip("\n") if start <= end else None

    @property
    def schema(self) -> dict[str, Any]:
        response_format = self.body.get("response_format") or {}
        schema: dict[str, Any] = response_format.get("json_schema", {}).get("schema", {})
        return schema

    def allowed_labels(self) -> dict[str, list[str]]:
        properties = self.schema.get("properties", {})
        return {
            target: list(spec["properties"]["label"]["enum"]) for target, spec in properties.items()
        }


class LlmServer:
    def __init__(self, *, api_key: str = API_KEY, model: str = MODEL) -> None:
        self.api_key = api_key
        self.model = model
        self.prompt_tokens = 1_234
        self.completion_tokens = 56
        self.requests: list[ReceivedRequest] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes any handler that is waiting out a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else Answer()

    def record(self, received: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(received)

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def answer(self, received: ReceivedRequest, behaviour: Answer) -> str:
        text = (received.fenced_text or "").lower().replace("-", " ")
        reply: dict[str, Any] = {}
        for target, labels in received.allowed_labels().items():
            if target in behaviour.omit:
                continue
            named = [label for label in labels if _mentions(text, label)]
            label = behaviour.labels.get(target, (named or labels)[0])
            reply[target] = {"label": label, "confidence": behaviour.confidence}
        return json.dumps(reply)

    def tool_completion(self, behaviour: ToolCalls) -> dict[str, Any]:
        completion = self.completion("")
        completion["choices"][0]["message"] = _tool_message(behaviour, len(self.requests))
        completion["choices"][0]["finish_reason"] = "tool_calls"
        return completion

    def completion(self, content: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-loopback-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
        }


def _tool_message(behaviour: ToolCalls, turn: int) -> dict[str, Any]:
    calls = [
        {
            "id": f"call_{turn}_{n}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }
        for n, (name, arguments) in enumerate(behaviour.calls)
    ]
    return {
        "role": "assistant",
        "content": behaviour.content or None,
        "refusal": None,
        "tool_calls": calls,
    }


def _mentions(text: str, label: str) -> bool:
    return re.search(rf"\b{re.escape(label.lower().replace('-', ' '))}\b", text) is not None


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _handler(server: LlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            received = ReceivedRequest(self.path, headers, body)
            server.record(received)
            if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                message = "Incorrect API key provided."
                self._send(
                    received, 401, _error(message, "invalid_request_error", "invalid_api_key")
                )
            elif self.path != PATH:
                message = f"Unknown request URL: POST {self.path}."
                self._send(received, 404, _error(message, "invalid_request_error", "unknown_url"))
            elif not isinstance(body, dict):
                message = "We could not parse the JSON body of your request."
                self._send(received, 400, _error(message, "invalid_request_error", None))
            else:
                self._behave(received, server.next_behaviour())

        def _behave(self, received: ReceivedRequest, behaviour: Behaviour) -> None:
            if isinstance(behaviour, Raw):
                received.status = behaviour.status
                self._write(behaviour.status, behaviour.body, behaviour.content_type, {})
                return
            if isinstance(behaviour, Failure):
                kind = "requests" if behaviour.status == 429 else "server_error"
                headers = {}
                if behaviour.retry_after is not None:
                    headers["Retry-After"] = str(behaviour.retry_after)
                error = _error(behaviour.message, kind, None)
                self._send(received, behaviour.status, error, headers)
                return
            if isinstance(behaviour, ToolCalls):
                self._send(received, 200, server.tool_completion(behaviour))
                return
            if isinstance(behaviour, Answer):
                server.wait(behaviour.delay_seconds)
                content = server.answer(received, behaviour)
            else:
                content = behaviour.text
            self._send(received, 200, server.completion(content))

        def _send(
            self,
            received: ReceivedRequest,
            status: int,
            payload: dict[str, Any],
            headers: dict[str, str] | None = None,
        ) -> None:
            received.status = status
            self._write(status, json.dumps(payload).encode(), "application/json", headers or {})

        def _write(
            self, status: int, data: bytes, content_type: str, headers: dict[str, str]
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def llm_server(settings: Settings) -> Iterator[LlmServer]:
    server = LlmServer()
    server.start()
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_API_KEY = server.api_key
    settings.LLM_MODEL = server.model
    settings.LLM_TIMEOUT_SECONDS = 5.0
    try:
        yield server
    finally:
        server.stop()
