"""The demo's live PSA: a simulator mirroring the desk's clients and technicians, connected
to it, delivering new tickets by signed webhook over real HTTP to a running server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import World
from tickets.intake.inbox import inbox_drain
from tickets.models import InboxEvent, Ticket
from tickets.psa.demo import demo_connection, demo_simulator, demo_trickle
from tickets.psa.intake import psa_refetch


@pytest.mark.django_db(transaction=True)
def test_the_demo_psa_trickles_tickets_into_the_desk(world: World, live_server: Any) -> None:
    sim = demo_simulator("connectwise", port=0)
    lines: list[str] = []
    try:
        connection = demo_connection(sim)
        assert demo_connection(sim).id == connection.id  # a restart reuses the connection
        demo_trickle(
            sim, connection, desk_url=live_server.url, every_seconds=0, count=3, say=lines.append
        )
        inbox_drain(budget_seconds=30)
        waiting = InboxEvent.objects.filter(status=InboxEvent.Status.PROCESSING)
        psa_refetch(list(waiting.values_list("id", flat=True)), sleep=lambda s: None)
    finally:
        sim.stop()

    assert [line.endswith("webhook answered 202") for line in lines] == [True] * 3
    tickets = Ticket.objects.filter(source="connectwise")
    assert tickets.count() == 3
    assert all(t.client == world.client and t.contact == world.contact for t in tickets)
    assert all("{" not in t.summary for t in tickets)  # every placeholder filled
