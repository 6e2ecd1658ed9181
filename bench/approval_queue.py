"""Approval queue latency with 5,000 pending actions across 25 clients, and gate speed.

    python -m bench.approval_queue        # BENCH_PENDING=5000 by default

Needs DATABASE_URL pointing at PostgreSQL (`make bench` starts a throwaway cluster). Runs in a
fresh database in a child process: migrate, seed the demo MSP (25 clients) and its governance
data with BENCH_PENDING proposals awaiting approval, then times 50 requests of the approval
queue through Django's full request stack for a manager (all clients) and a technician
(some clients), sorted by SLA risk (the default), by confidence, filtered, and as the HTMX
fragment the page polls. Then measures the gate: verdicts per second (policy resolution and
every proposal-time check), proposals per second (validation + verdict + row + timeline event)
and executions per second (claim, re-check, execute, verify, timeline). The last line of output
is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from bench.child import run_in_fresh_database
from bench.ticket_list import REQUESTS, _time_requests

GATE_SAMPLES = 500


def _queries(http: Any, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        http.get(url)
    return len(captured)


def _per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else 0.0


def _gate_speed() -> dict[str, float]:
    from django.utils import timezone

    from governance import gate, services
    from governance.models import Action
    from tickets.models import StaffMember, Ticket

    now = timezone.now()
    pending = list(
        Action.objects.filter(status=Action.Status.PROPOSED)
        .select_related("ticket__client")
        .order_by("id")[:GATE_SAMPLES]
    )
    started = time.perf_counter()
    for action in pending:
        gate.verdict(
            ticket=action.ticket,
            kind=action.kind,
            params=action.params,
            confidence=action.confidence,
            proposer_kind=action.proposer_kind,
            now=now,
        )
    verdict_seconds = time.perf_counter() - started

    # Notes run on their own on every type, so every proposal below is executed.
    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    default = services.policy_create(
        ticket_type=None, client=None, staff=manager, shadow_mode=False
    )
    services.policy_save(
        policy=default,
        staff=manager,
        shadow_mode=False,
        rules=[services.RuleInput(action_kind="add_note", mode="autonomous")],
    )
    tickets = list(
        Ticket.objects.filter(client__isnull=False)
        .exclude(agent_hold__isnull=False)
        .select_related("client")
        .order_by("-id")[:GATE_SAMPLES]
    )
    started = time.perf_counter()
    proposed = [
        services.action_propose(
            ticket=ticket,
            proposal=services.Proposal(
                kind="add_note",
                params={"body": "Bench: checked the device's last check-in."},
                proposer_kind=Action.Proposer.AGENT,
                proposer_name="bench",
                confidence=0.95,
                dedupe_key=f"bench-{ticket.id}",
            ),
        )
        for ticket in tickets
    ]
    propose_seconds = time.perf_counter() - started

    queued = [action.id for action in proposed if action.status == Action.Status.QUEUED]
    started = time.perf_counter()
    outcomes = [gate.action_execute(action_id=action_id).status for action_id in queued]
    execute_seconds = time.perf_counter() - started
    return {
        "verdicts_per_second": _per_second(len(pending), verdict_seconds),
        "proposals_per_second": _per_second(len(proposed), propose_seconds),
        "executions_per_second": _per_second(len(queued), execute_seconds),
        "executions_measured": len(queued),
        "executions_succeeded": sum(1 for s in outcomes if s in Action.DONE_OK_STATUSES),
    }


def measure(pending: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django.utils import timezone

    from governance.demo import seed_governance_demo
    from governance.models import Action
    from tickets.demo.seed import seed_demo
    from tickets.models import Client, StaffMember

    # No setup_test_environment(): its template instrumentation copies the context on every
    # {% include %} (one per card), a cost production does not have.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    seed_demo(seed=7, tickets=15_000, months=6, now=now, progress=sys.stderr.isatty())
    clients = list(Client.objects.order_by("id").values_list("id", flat=True)[:25])
    started = time.perf_counter()
    report = seed_governance_demo(
        seed=7, pending=pending, history_tickets=2_000, client_ids=clients
    )
    seed_seconds = time.perf_counter() - started
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    technician = (
        StaffMember.objects.filter(role=StaffMember.Role.TECHNICIAN, all_clients=False)
        .order_by("id")
        .first()
    )
    assert manager is not None and technician is not None
    result: dict[str, Any] = {
        "pending_actions": Action.objects.filter(status=Action.Status.PROPOSED).count(),
        "clients_with_pending": Action.objects.filter(status=Action.Status.PROPOSED)
        .values("client_id")
        .distinct()
        .count(),
        "history_actions": report.history,
        "seed_seconds": round(seed_seconds, 2),
        "technician_clients": technician.clients.count(),
    }
    pages = {
        "sla": "/approvals/",
        "confidence": "/approvals/?sort=confidence",
        "kind_filter": "/approvals/?kind=set_queue",
        "page_10": "/approvals/?page=10",
    }
    for label, staff in (("manager", manager), ("technician", technician)):
        http = HttpClient()
        http.force_login(staff.user)
        timings = {name: _time_requests(http, url) for name, url in pages.items()}
        timings["htmx_poll"] = _time_requests(http, "/approvals/", **{"HX-Request": "true"})
        result[label] = {
            "pending_in_scope": _pending_in_scope(staff),
            "pages": timings,
            "queries": _queries(http, "/approvals/"),
        }
    result["gate"] = _gate_speed()
    return result


def _pending_in_scope(staff: Any) -> int:
    from governance.models import Action
    from governance.selectors import actions_visible_to

    return actions_visible_to(staff.user).filter(status=Action.Status.PROPOSED).count()


def main() -> None:
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench.approval_queue needs DATABASE_URL=postgres://… (try `make bench`).")
    os.environ.setdefault("DEBUG", "true")
    pending = int(os.environ.get("BENCH_PENDING", "5000"))
    print(f"bench.approval_queue: seeding {pending:,} pending actions…", file=sys.stderr)
    result = run_in_fresh_database("bench.approval_queue", "bench_approval_queue", pending)
    print(json.dumps({"bench": "approval_queue", "requests": REQUESTS, **result}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
