"""Ticket list latency and query count at 15,000 and 200,000 tickets, and seeding speed.

    python -m bench.ticket_list            # sizes 15000,200000 (set BENCH_SIZES to change)

Needs DATABASE_URL pointing at PostgreSQL (`make bench` starts a throwaway cluster). Each size
runs in a fresh database of its own, in a child process: migrate, seed the demo MSP with that
many tickets, then time 50 requests of the list page through Django's full request stack, for a
manager (all clients) and for a technician scoped to a few clients — unfiltered (the target),
then the common filters, search, home and clients pages. The last line of output is one JSON
object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlparse, urlunparse

REQUESTS = 50
PAGE_SIZES = (25, 50, 100)


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _time_requests(http: Any, url: str, **headers: str) -> dict[str, float]:
    http.get(url, headers=headers)  # warm caches and the connection
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = http.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(_percentile(samples, 0.95), 2),
    }


def _query_counts(http: Any, settings: Any) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for size in PAGE_SIZES:
        settings.TICKETS_PAGE_SIZE = size
        with CaptureQueriesContext(connection) as captured:
            http.get("/tickets/")
        counts[str(size)] = len(captured)
    settings.TICKETS_PAGE_SIZE = 50
    return counts


def measure_one_size(tickets: int) -> dict[str, Any]:
    """Runs inside the child process, against its own fresh database."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from tickets.demo.seed import seed_demo
    from tickets.models import StaffMember, Ticket

    setup_test_environment()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    report = seed_demo(seed=7, tickets=tickets, months=6, now=now, progress=sys.stderr.isatty())
    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    technician = (
        StaffMember.objects.filter(role=StaffMember.Role.TECHNICIAN, all_clients=False)
        .order_by("id")
        .first()
    )
    assert manager is not None and technician is not None
    result: dict[str, Any] = {
        "tickets": Ticket.objects.count(),
        "seed_tickets_per_second": round(tickets / report.tickets_seconds, 1),
        "seed_tickets_seconds": round(report.tickets_seconds, 2),
        "technician_clients": technician.clients.count(),
    }
    for label, staff in (("manager", manager), ("technician", technician)):
        http = HttpClient()
        http.force_login(staff.user)
        result[label] = _time_requests(http, "/tickets/")
        result[label]["queries_by_page_size"] = _query_counts(http, settings)
        result[label]["other_pages"] = {
            url: _time_requests(http, url) for url in _other_pages(staff)
        }
    return result


def _other_pages(staff: Any) -> list[str]:
    """The filtered lists people use most, and the pages linking to them."""
    from tickets.models import TicketType

    password_reset = TicketType.objects.get(slug="password-reset").pk
    return [
        "/tickets/?status=open",
        "/tickets/?assignee=me&status=open",
        "/tickets/?status=open&assignee=none",
        f"/tickets/?type={password_reset}",
        "/tickets/?q=printer",
        "/tickets/?q=DEMO-0001234",
        "/",
        "/clients/",
    ]


def _database_url_for(base_url: str, name: str) -> str:
    parts = urlparse(base_url)
    return urlunparse(parts._replace(path=f"/{name}"))


def _create_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench.ticket_list needs DATABASE_URL=postgres://… (try `make bench`).")
    os.environ.setdefault("DEBUG", "true")
    sizes = [int(size) for size in os.environ.get("BENCH_SIZES", "15000,200000").split(",")]
    results = []
    for size in sizes:
        name = f"bench_ticket_list_{size}"
        _create_database(base_url, name)
        env = {**os.environ, "DATABASE_URL": _database_url_for(base_url, name)}
        print(f"bench.ticket_list: seeding and measuring {size:,} tickets…", file=sys.stderr)
        child = subprocess.run(
            [sys.executable, "-m", "bench.ticket_list", "--child", str(size)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(json.dumps({"bench": "ticket_list", "requests": REQUESTS, "sizes": results}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure_one_size(int(sys.argv[2]))))
    else:
        main()
