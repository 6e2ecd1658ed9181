"""What the private test servers (Dovecot, OpenLDAP slapd) share: finding their binaries,
a free port, and one session fixture body that fails loudly when a server is missing (the
test command installs it), starts it once per xdist worker and always cleans up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar


class Server(Protocol):
    base: Path

    def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise FileNotFoundError(name)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    *,
    title: str,
    answers: Callable[[], bool],
    logs: Callable[[], str],
    stop: Callable[[], None],
    seconds: float,
) -> None:
    """Poll `answers()` until the server answers; a server that exits or stays silent is an
    error carrying its log (and a silent one is stopped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{title} exited at start-up:\n{logs()}")
        if answers():
            return
        time.sleep(0.05)
    stop()
    raise RuntimeError(f"{title} did not answer within {seconds:.0f} s:\n{logs()}")


def private_server(
    *, program: str, title: str, installer: str, why_root: str, start: Callable[[], S]
) -> Iterator[S]:
    """The body of a session fixture: yields a started server, then stops it and removes
    its directory. Without the program, the test fails (skips with ALLOW_MISSING_SERVERS=1)."""
    import pytest

    try:
        binary(program)
    except FileNotFoundError:
        reason = f"{title} is not installed ({installer} installs it)"
        if os.environ.get("ALLOW_MISSING_SERVERS") == "1":
            pytest.skip(f"{reason}; skipped because ALLOW_MISSING_SERVERS=1")
        pytest.fail(f"{reason}; set ALLOW_MISSING_SERVERS=1 to skip these tests instead")
    if os.geteuid() != 0:
        pytest.fail(f"The test {title} needs root ({why_root}).")
    server = start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
