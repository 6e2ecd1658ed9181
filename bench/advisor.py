"""The rollout advisor and the data hygiene report at a million tickets (issue 8).

    python -m bench.advisor                      # 1,000,000 tickets, in its own database
    python -m bench.advisor --tickets 50000      # a quicker run
    python -m bench.advisor --from-dashboards    # reuse bench.dashboards' database (seeded,
                                                 # facts computed), skipping 15 minutes of setup

Needs PostgreSQL. In a fresh database (`bench_advisor`) it seeds the same history as
`bench.dashboards` (COPY, ~10 events a ticket) and computes every ticket's facts, then:

1. generates the advisor's ranking (`advisor_report_generate`) and the hygiene counts
   (`hygiene_report_generate`) three times each — the nightly jobs (target: under 30 s);
2. times the pages that read their stored results through Django's full stack, an owner
   logged in, after a warm-up: the advisor (all clients, then each of 14 clients; it also
   projects payback against the measured hours), the hygiene report, and the first page of
   each finding's records (target: p95 under 300 ms).

Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.child import run_in_fresh_database
from bench.ticket_list import _database_url_for, _percentile

DATABASE = "bench_advisor"
DASHBOARDS_DATABASE = "bench_dashboards"
DEFAULT_TICKETS = int(os.environ.get("BENCH_ADVISOR_TICKETS", "1000000"))
TARGET_MS, TARGET_SECONDS = 300.0, 30.0
RUNS = 3


def _say(message: str) -> None:
    print(f"bench.advisor: {message}", file=sys.stderr, flush=True)


def _prepare(tickets: int) -> dict[str, Any]:
    """Seed and compute facts unless the database already has them (reused)."""
    from django.utils import timezone

    from bench.dashboards import seed
    from metrics.facts import facts_rebuild
    from metrics.models import TicketFact
    from tickets.models import Ticket

    found: dict[str, Any] = {}
    if not Ticket.objects.exists():
        _say(f"seeding {tickets:,} tickets…")
        found.update(seed(tickets, timezone.now()))
    if TicketFact.objects.count() < Ticket.objects.count():
        _say("computing facts…")
        started = time.perf_counter()
        facts_rebuild(on_batch=_progress)
        found["facts_seconds"] = round(time.perf_counter() - started, 1)
    found["tickets"] = Ticket.objects.count()
    return found


def _progress(done: int, total: int) -> None:
    if done % 100_000 < 2_000 or done == total:
        _say(f"facts {done:,}/{total:,}")


def _timed(job: Any) -> list[float]:
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        job()
        seconds.append(round(time.perf_counter() - started, 2))
    return seconds


def _pages(urls: list[str]) -> dict[str, float]:
    from django.test import Client as HttpClient

    from tickets.models import StaffMember

    owner = StaffMember.objects.filter(role=StaffMember.Role.OWNER).select_related("user").first()
    if owner is None:
        owner = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    assert owner is not None, "the seeded desk has an owner or a manager"
    http = HttpClient()
    http.force_login(owner.user)
    samples = []
    for url in urls:
        http.get(url)  # warm-up: the first request of a page pays for imports and templates
        started = time.perf_counter()
        response = http.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    ordered = sorted(samples)
    return {
        "p50_ms": round(_percentile(ordered, 0.5), 1),
        "p95_ms": round(_percentile(ordered, 0.95), 1),
        "max_ms": round(ordered[-1], 1),
        "requests": len(samples),
    }


def measure(tickets: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    from metrics.advisor import advisor_report_generate
    from metrics.hygiene import CHECKS, hygiene_report_generate
    from tickets.models import Client

    setup_test_environment()
    result: dict[str, Any] = {"bench": "advisor", "target_ms": TARGET_MS}
    result.update(_prepare(tickets))
    _say("ranking ticket types…")
    result["advisor_seconds"] = _timed(advisor_report_generate)
    _say("counting hygiene findings…")
    result["hygiene_seconds"] = _timed(hygiene_report_generate)
    clients = list(Client.objects.order_by("id").values_list("id", flat=True)[:14])
    _say("timing pages…")
    result["advisor_page"] = _pages(
        ["/metrics/advisor/", *(f"/metrics/advisor/?client={c}" for c in clients)]
    )
    result["hygiene_page"] = _pages(["/metrics/hygiene/"] * 15)
    result["hygiene_records_page"] = _pages([f"/metrics/hygiene/{check.key}/" for check in CHECKS])
    result["generation_under_target"] = (
        max(result["advisor_seconds"] + result["hygiene_seconds"]) < TARGET_SECONDS
    )
    result["pages_under_target"] = all(
        result[page]["p95_ms"] < TARGET_MS
        for page in ("advisor_page", "hygiene_page", "hygiene_records_page")
    )
    result["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.advisor", description=__doc__)
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument(
        "--from-dashboards",
        action="store_true",
        help="measure on bench.dashboards' database (already seeded, facts computed)",
    )
    arguments = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench.advisor needs PostgreSQL: set DATABASE_URL=postgres://…", file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("DEBUG", "true")
    if arguments.from_dashboards:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url_for(base_url, DASHBOARDS_DATABASE),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        child = subprocess.run(
            [sys.executable, "-m", "bench.advisor", "--child", str(arguments.tickets)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    else:
        result = run_in_fresh_database("bench.advisor", DATABASE, arguments.tickets)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
