"""Limits and claims hold when several workers execute at once (real PostgreSQL, threads
with their own connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from governance import gate, services
from governance.models import Action
from governance.tests.helpers import policy_with, propose
from tests.fixtures import World, make_ticket

pytestmark = pytest.mark.django_db(transaction=True)


def _run_concurrently(action_ids: list[int]) -> list[str]:
    barrier = threading.Barrier(len(action_ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(action_id: int) -> None:
        try:
            barrier.wait()
            status = gate.action_execute(action_id=action_id).status
            with lock:
                outcomes.append(status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(action_id,)) for action_id in action_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_a_per_client_limit_holds_under_concurrent_approvals(world: World) -> None:
    policy_with(world, set_priority=("approval", {"limit_per_client_hour": 3}))
    actions = []
    for number in range(8):
        ticket = make_ticket(
            world.client, summary=f"c{number}", external_id=f"C-{number}", type=world.ticket_type
        )
        actions.append(services.action_approve(action=propose(ticket), staff=world.tech_in))
    outcomes = _run_concurrently([action.id for action in actions])
    assert sorted(outcomes).count(Action.Status.VERIFIED) == 3
    assert sorted(outcomes).count(Action.Status.BLOCKED) == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_one_action_executed_by_many_workers_runs_once(world: World) -> None:
    policy_with(world, reply="autonomous")
    action = propose(world.ticket, "reply", {"body": "On it."})
    _run_concurrently([action.id] * 6)
    from tickets.models import TicketEvent

    assert TicketEvent.objects.filter(ticket=world.ticket, kind="reply").count() == 1
    action.refresh_from_db()
    assert action.status == Action.Status.VERIFIED
