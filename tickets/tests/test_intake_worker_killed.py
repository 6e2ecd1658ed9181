"""Killing the worker (SIGKILL, every process of the cluster) in the middle of a burst: after
a restart every arrival is processed exactly once — nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from tests.fixtures import World
from tickets.intake.inbox import inbox_store, inbox_sweep
from tickets.models import ClientEmailDomain, InboxEvent, Ticket, TicketEvent

BURST = 1_200


def _database_url() -> str:
    db = connection.settings_dict
    user, password = quote(db["USER"] or ""), quote(db["PASSWORD"] or "")
    return f"postgres://{user}:{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _cluster() -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "INTAKE_STALE_CLAIM_SECONDS": "5",
        "Q_WORKERS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait(condition: Any, *, seconds: float, during: Any = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the cluster did not get there in time")
        if during is not None:
            during()
        time.sleep(0.05)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a cluster needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_burst_loses_and_duplicates_nothing(
    world: World, settings: Any
) -> None:
    settings.INTAKE_STALE_CLAIM_SECONDS = 5
    ClientEmailDomain.objects.create(client=world.client, domain="acme.test")
    keys: list[str] = []
    for number in range(BURST):
        key = keys[number // 2] if number % 10 == 9 else f"burst-{number}"  # 10% repeated
        keys.append(key)
        body = {"external_id": key, "summary": f"Backup failed ({key})"}
        inbox_store(channel="api", body=json.dumps(body), delivery_key=key)
    distinct = len(set(keys))
    arrivals = InboxEvent.objects.filter(delivery_key__startswith="burst-")
    assert arrivals.count() == distinct  # repeats were not stored twice

    cluster = _cluster()
    try:
        _wait(lambda: arrivals.filter(status="processed").count() >= distinct // 3, seconds=180)
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
    processed_when_killed = arrivals.filter(status="processed").count()
    assert processed_when_killed < distinct  # killed mid-burst, not after it

    time.sleep(5.5)  # whatever the dead workers had claimed is now stale
    cluster = _cluster()
    try:
        _wait(
            lambda: arrivals.filter(status="processed").count() == distinct,
            seconds=300,
            during=inbox_sweep,  # what the every-minute schedule does
        )
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)

    tickets = Ticket.objects.filter(source="api", external_id__startswith="burst-")
    assert tickets.count() == distinct
    created = TicketEvent.objects.filter(ticket__in=tickets, kind=TicketEvent.Kind.CREATED)
    assert created.count() == distinct  # no ticket was made twice
    assert not arrivals.exclude(status="processed").exists()
