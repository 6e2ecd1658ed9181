"""Running a benchmark's measurement in a child process against its own fresh database, so
settings and connections are the child's and nothing leaks between benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench.ticket_list import _create_database, _database_url_for


def run_in_fresh_database(
    module: str, database: str, size: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Create `database` next to DATABASE_URL's, run `python -m <module> --child <size>`
    against it, and return the JSON object it printed last."""
    base_url = os.environ["DATABASE_URL"]
    _create_database(base_url, database)
    child_env = {
        **os.environ,
        "DATABASE_URL": _database_url_for(base_url, database),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **(env or {}),
    }
    child = subprocess.run(
        [sys.executable, "-m", module, "--child", str(size)],
        env=child_env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def cluster_start() -> subprocess.Popen[bytes]:
    """A django-q2 cluster (`manage.py qcluster`) in its own process group, so a benchmark
    can stop it, or SIGKILL every worker at once."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
