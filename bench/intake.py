"""Intake speed on PostgreSQL (needs DATABASE_URL=postgres://…; `make bench` starts one).

    python -m bench.intake

In a fresh database with the demo MSP's clients, contacts and assets (a small demo history):

1. Acknowledgement: BENCH_INTAKE_EVENTS (2,000) generic-API deliveries, 10% of them repeated
   deliveries of an earlier one, POSTed through Django's full stack in this process (no
   worker running): p50/p99 of the time to store and answer.
2. End to end: a django-q2 cluster (Q_WORKERS workers, ORM broker) processes the stored
   arrivals — parse, enrich, ticket with timeline, then the pipeline task per ticket —
   timed from its start to the last arrival processed (`events_per_second`), and from the
   first arrival processed, leaving out the cluster's start-up
   (`sustained_events_per_second`); then checks that every distinct delivery became exactly
   one ticket (0 lost, 0 duplicated).

3. Burst: BENCH_INTAKE_BURST (10,000) arrivals, 10% repeated, stored at once; the cluster is
   killed with SIGKILL (its whole process group) once about a third is processed, then
   restarted, with the sweep run as its schedule would; checks that every distinct arrival
   became exactly one ticket (0 lost, 0 duplicated).

4. PSA webhooks: BENCH_INTAKE_WEBHOOKS (300) signed deliveries from each PSA simulator,
   verified and stored through Django's full stack: p50/p99 acknowledgement.
5. PSA initial sync: BENCH_INTAKE_SYNC (50,000) tickets seeded in each simulator, synced
   by `psa_sync` (the API's paging, every ticket stored in the inbox): seconds and requests
   used; then the cluster turns one PSA's tickets into enriched tickets (events/s).

The last line of output is one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from typing import Any

from bench.child import cluster_start, run_in_fresh_database
from bench.ticket_list import _percentile

KEY = "bench-intake-key-0123456789abcdef"


def measure(events: int) -> dict[str, Any]:
    """Runs in the child process against its own fresh database."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django.utils import timezone

    from tickets.demo.seed import seed_demo
    from tickets.models import Contact, InboxEvent, Ticket

    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    seed_demo(seed=7, tickets=500, months=1, now=now, progress=False)
    rng = random.Random(7)
    contacts = list(Contact.objects.exclude(email="").values_list("email", flat=True))
    http = HttpClient(HTTP_HOST="localhost")
    bodies: list[tuple[str, str]] = []
    for number in range(events):
        if bodies and rng.random() < 0.10:
            bodies.append(rng.choice(bodies))  # a repeated delivery
            continue
        payload = {
            "external_id": f"bench-{number}",
            "summary": f"Disk space low on server {rng.randint(1, 99)}",
            "description": "Free space under 5%.",
            "requester_email": rng.choice(contacts),
            "priority": rng.choice(["high", "medium", "low"]),
        }
        bodies.append((f"delivery-{number}", json.dumps(payload)))
    latencies = []
    for key, body in bodies:
        started = time.perf_counter()
        response = http.post(
            "/api/intake/tickets/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {KEY}",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 202, response.content
    distinct = len({key for key, _ in bodies})
    stored = InboxEvent.objects.count()
    before = Ticket.objects.count()
    timing = _cluster_timing(expected=stored)
    seconds = timing["seconds"]
    created = Ticket.objects.count() - before
    burst = _burst_with_sigkill(int(os.environ.get("BENCH_INTAKE_BURST", "10000")), contacts)
    webhooks = _psa_webhooks(int(os.environ.get("BENCH_INTAKE_WEBHOOKS", "300")))
    syncs = _psa_initial_syncs(int(os.environ.get("BENCH_INTAKE_SYNC", "50000")))
    return {
        "burst": burst,
        "psa_webhooks": webhooks,
        "psa_initial_sync": syncs,
        "deliveries": len(bodies),
        "distinct_deliveries": distinct,
        "stored": stored,
        "ack_p50_ms": round(_percentile(latencies, 0.50), 2),
        "ack_p99_ms": round(_percentile(latencies, 0.99), 2),
        "cluster_workers": settings.Q_CLUSTER["workers"],
        "process_seconds": round(seconds, 2),
        "events_per_second": round(stored / seconds, 1),
        "sustained_events_per_second": round(timing["sustained_per_second"], 1),
        "tickets_created": created,
        "lost": distinct - created,
        "invalid": InboxEvent.objects.filter(status=InboxEvent.Status.INVALID).count(),
    }


def _burst_with_sigkill(count: int, contacts: list[str]) -> dict[str, Any]:
    import signal

    from tickets.intake.inbox import inbox_store, inbox_sweep
    from tickets.models import InboxEvent, Ticket, TicketEvent

    rng = random.Random(11)
    keys: list[str] = []
    for number in range(count):
        key = rng.choice(keys) if keys and rng.random() < 0.10 else f"burst-{number}"
        keys.append(key)
        body = {
            "external_id": key,
            "summary": "Backup failed",
            "requester_email": rng.choice(contacts),
        }
        inbox_store(channel="api", body=json.dumps(body), delivery_key=key)
    distinct = len(set(keys))
    waiting = InboxEvent.objects.filter(delivery_key__startswith="burst-")
    started = time.perf_counter()
    cluster = cluster_start()
    while waiting.filter(status="processed").count() < distinct // 3:
        time.sleep(0.05)
    os.killpg(cluster.pid, signal.SIGKILL)
    cluster.wait()
    killed_at = waiting.filter(status="processed").count()
    stuck = waiting.filter(status="processing").count()
    cluster = cluster_start()
    try:
        deadline = time.monotonic() + 600
        while waiting.filter(status="processed").count() < distinct:
            if time.monotonic() > deadline:
                raise TimeoutError("the burst was not fully processed after the restart")
            inbox_sweep()  # what the every-minute schedule does, run more often here
            time.sleep(1)
        seconds = time.perf_counter() - started
    finally:
        cluster.terminate()
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
    tickets = Ticket.objects.filter(source="api", external_id__startswith="burst-")
    created = TicketEvent.objects.filter(ticket__in=tickets, kind="created").count()
    return {
        "arrivals": count,
        "distinct": distinct,
        "processed_when_killed": killed_at,
        "claimed_but_unfinished_when_killed": stuck,
        "seconds_including_recovery": round(seconds, 1),
        "tickets": tickets.count(),
        "lost": distinct - tickets.count(),
        "duplicated": created - tickets.count(),
    }


KINDS = ("connectwise", "autotask", "halopsa")


def _psa_connection(sim: Any, purpose: str) -> Any:
    from tickets.models import PsaConnection
    from tickets.psa.services import connection_save

    name = f"Bench {sim.kind} {purpose}"
    connection = PsaConnection(name=name, kind=sim.kind, base_url=sim.base_url)
    return connection_save(
        connection=connection, credentials=dict(sim.credentials), webhook_secret=sim.webhook_secret
    )


def _psa_webhooks(count: int) -> dict[str, Any]:
    """Signed deliveries per PSA, verified and stored (not processed: no worker runs)."""
    from django.test import Client as HttpClient
    from django.urls import reverse

    from tickets.models import Client, InboxEvent
    from tickets.psa.simulators import simulator_class

    http = HttpClient(HTTP_HOST="localhost")
    companies = list(Client.objects.values_list("identifier", flat=True)[:5])
    results: dict[str, Any] = {}
    for kind in KINDS:
        sim = simulator_class(kind)().start()
        try:
            connection = _psa_connection(sim, "webhooks")
            url = reverse("api_psa_webhook", args=[connection.id])
            ids = sim.seed(count, companies=companies)
            latencies = []
            for external_id in ids:
                body, sent = sim.delivery(external_id, "updated")
                headers = {k: v for k, v in sent.items() if k.lower() != "content-type"}
                content_type = next(
                    (v for k, v in sent.items() if k.lower() == "content-type"), "application/json"
                )
                started = time.perf_counter()
                answer = http.post(url, data=body, content_type=content_type, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 202, answer.content
            # Only the acknowledgement is measured here: no simulator stays up to re-fetch.
            InboxEvent.objects.filter(connection=connection).delete()
        finally:
            sim.stop()
        results[kind] = {
            "deliveries": count,
            "ack_p50_ms": round(_percentile(latencies, 0.50), 2),
            "ack_p99_ms": round(_percentile(latencies, 0.99), 2),
        }
    return results


def _psa_initial_syncs(count: int) -> dict[str, Any]:
    """`count` tickets seeded in each simulator, synced into the inbox; the first PSA's are
    then processed into tickets by the cluster."""
    from tickets.models import Client, InboxEvent, Ticket
    from tickets.psa.simulators import simulator_class
    from tickets.psa.sync import psa_sync

    companies = list(Client.objects.values_list("identifier", flat=True))
    results: dict[str, Any] = {}
    for kind in KINDS:
        sim = simulator_class(kind)().start()
        try:
            sim.seed(count, companies=companies, contact_domain="bench.example")
            connection = _psa_connection(sim, "sync")
            started = time.perf_counter()
            run = psa_sync(connection)
            seconds = time.perf_counter() - started
            assert run.status == "done", run.error
            processed = None
            if kind == KINDS[0]:
                mine = InboxEvent.objects.filter(connection=connection)
                waiting = mine.filter(status=InboxEvent.Status.RECEIVED).count()
                done_before = InboxEvent.objects.filter(status=InboxEvent.Status.PROCESSED).count()
                timing = _cluster_timing(expected=done_before + waiting, timeout=1800)
                mirrored = Ticket.objects.filter(source=kind).count()
                processed = {
                    "arrivals": waiting,
                    "seconds": round(timing["seconds"], 1),
                    "events_per_second": round(waiting / timing["seconds"], 1),
                    "sustained_events_per_second": round(timing["sustained_per_second"], 1),
                    "tickets": mirrored,
                    "lost": count - mirrored,
                }
        finally:
            sim.stop()
        results[kind] = {
            "tickets": count,
            "seconds": round(seconds, 1),
            "tickets_per_second": round(count / seconds, 1),
            "requests": run.requests,
            "stored": run.stored,
            **({"processed_by_cluster": processed} if processed else {}),
        }
    return results


def _cluster_timing(*, expected: int, timeout: float = 900) -> dict[str, float]:
    """Start a cluster and wait until `expected` arrivals are processed: the seconds from
    its start, and the sustained rate once the first arrival was done (the cluster's own
    start-up — a few seconds — left out)."""
    from tickets.models import InboxEvent

    processed = InboxEvent.objects.filter(status=InboxEvent.Status.PROCESSED)
    before = processed.count()
    cluster = cluster_start()
    started = time.perf_counter()
    first_at, first_count = None, before
    try:
        deadline = time.monotonic() + timeout
        while (count := processed.count()) < expected:
            if first_at is None and count > before:
                first_at, first_count = time.perf_counter(), count
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not process every arrival in time")
            time.sleep(0.05)
        ended = time.perf_counter()
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)
    steady = ended - (first_at or started)
    return {
        "seconds": ended - started,
        "sustained_per_second": (expected - first_count) / steady if steady > 0 else 0.0,
    }


def main() -> None:
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench.intake needs DATABASE_URL=postgres://… (try `make bench`).")
    os.environ.setdefault("DEBUG", "true")
    events = int(os.environ.get("BENCH_INTAKE_EVENTS", "2000"))
    print(f"bench.intake: {events:,} deliveries…", file=sys.stderr)
    measured = run_in_fresh_database(
        "bench.intake",
        "bench_intake",
        events,
        {"INTAKE_API_KEYS": KEY, "INTAKE_STALE_CLAIM_SECONDS": "5"},
    )
    result = {"bench": "intake", **measured}
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
