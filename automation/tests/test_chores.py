"""The desk's chores through the gate: acknowledging new requests, chasing and auto-closing
tickets waiting on customers, and escalating tickets near their SLA deadline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_q.conf import Conf

from automation.playbooks.chores import acknowledge, chase_and_close, escalate_sla_risk
from governance.models import Action
from governance.tests.helpers import policy_with
from tests.fixtures import World, make_ticket
from tickets.models import Queue, Ticket, TicketEvent
from tickets.services import Actor, ticket_change, ticket_event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(Conf, "SYNC", True)
    policy_with(world, reply="autonomous", close="autonomous", escalate="autonomous")
    return world


def _new(world: World, key: str) -> Ticket:
    return make_ticket(
        world.client,
        summary="Printer offline",
        external_id=key,
        contact=world.contact,
        type=world.ticket_type,
    )


def test_a_new_request_is_acknowledged_once(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _new(desk, "A-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledge([ticket]) == 1
        assert acknowledge([ticket]) == 1  # the same action again (dedupe), nothing new
    reply = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert f"ticket #{ticket.id}" in reply.body
    assert Action.objects.filter(ticket=ticket, kind="reply").count() == 1
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_no_acknowledgement_unless_the_policy_lets_the_agent_reply(world: World) -> None:
    ticket = _new(world, "A-2")  # no policy: replies are suggestions by default
    assert acknowledge([ticket]) == 0
    assert not Action.objects.exists()


def _waiting(world: World, key: str, asked_days_ago: float) -> Ticket:
    ticket = _new(world, key)
    asked = timezone.now() - dt.timedelta(days=asked_days_ago)
    ticket_event_record(
        ticket=ticket,
        kind=TicketEvent.Kind.REPLY,
        actor_kind=TicketEvent.ActorKind.HUMAN,
        actor_staff=world.tech_in,
        body="Which printer is it?",
        occurred_at=asked,
    )
    ticket_change(
        ticket_id=ticket.id,
        actor=Actor(kind=TicketEvent.ActorKind.HUMAN, staff=world.tech_in),
        changes={"status": Ticket.Status.WAITING_CUSTOMER},
    )
    return ticket


def test_a_silent_customer_is_chased_then_the_ticket_closed(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _waiting(desk, "C-1", asked_days_ago=2.5)
    fresh = _waiting(desk, "C-2", asked_days_ago=0.5)

    with django_capture_on_commit_callbacks(execute=True):
        assert chase_and_close() == 1
    chase = Action.objects.get(ticket=ticket, kind="reply")
    assert chase.status in Action.DONE_OK_STATUSES
    assert "still waiting to hear from you" in chase.params["body"]
    assert not Action.objects.filter(ticket=fresh).exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert chase_and_close() == 0  # chased just now: not yet time to close
    assert not Action.objects.filter(ticket=ticket, kind="close").exists()

    later = timezone.now() + dt.timedelta(days=3, hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        chase_and_close(now=later)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert Action.objects.get(ticket=ticket, kind="close").status == Action.Status.VERIFIED


def test_an_answer_stops_the_chase(desk: World) -> None:
    ticket = _waiting(desk, "C-3", asked_days_ago=3)
    ticket_event_record(
        ticket=ticket,
        kind=TicketEvent.Kind.REQUESTER_REPLY,
        actor_kind=TicketEvent.ActorKind.REQUESTER,
        body="It's the one by the door.",
    )
    assert chase_and_close() == 0


def test_a_ticket_near_its_deadline_is_escalated(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    l2 = Queue.objects.create(name="Escalations L2", slug="escalations-l2")
    ticket = _new(desk, "S-1")
    Ticket.objects.filter(pk=ticket.pk).update(
        sla_resolution_due_at=timezone.now() + dt.timedelta(minutes=10)
    )
    relaxed = _new(desk, "S-2")
    Ticket.objects.filter(pk=relaxed.pk).update(
        sla_resolution_due_at=timezone.now() + dt.timedelta(hours=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_sla_risk() == 1

    ticket.refresh_from_db()
    assert ticket.queue == l2
    action = Action.objects.get(ticket=ticket, kind="escalate")
    assert "due at" in action.params["reason"]
    assert not Action.objects.filter(ticket=relaxed).exists()


def test_vpn_guidance_quotes_and_cites_the_knowledge_base(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    from automation.models import PlaybookRun
    from automation.playbooks.engine import playbook_start
    from governance import services
    from tickets.models import KnowledgeArticle, TicketType

    vpn = TicketType.objects.create(name="VPN and Wi-Fi", slug="vpn-wifi")
    policy = services.policy_create(
        ticket_type=vpn, client=None, staff=desk.manager, shadow_mode=False
    )
    rules = [services.RuleInput(action_kind=k, mode="autonomous") for k in ("reply", "set_status")]
    services.policy_save(policy=policy, staff=desk.manager, shadow_mode=False, rules=rules)
    now = timezone.now()
    article = KnowledgeArticle.objects.create(
        title="VPN keeps disconnecting",
        body=(
            "If the VPN disconnects every few minutes, update the VPN client to version 5.2. "
            "Then restart the laptop and sign in to the VPN again."
        ),
        created_at=now,
        updated_at=now,
    )
    article.ticket_types.add(vpn)
    ticket = make_ticket(
        desk.client,
        summary="VPN disconnects every few minutes",
        external_id="V-1",
        contact=desk.contact,
        type=vpn,
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = playbook_start(ticket)

    assert run is not None
    run.refresh_from_db()
    assert run.status == PlaybookRun.Status.DONE, run.reason
    reply = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    assert "update the VPN client to version 5.2" in reply.body
    assert "Sources:" in reply.body and "[1] VPN keeps disconnecting" in reply.body
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.WAITING_CUSTOMER


def test_no_guidance_without_an_article_for_the_type(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    from automation.models import PlaybookRun
    from automation.playbooks.engine import playbook_start
    from governance import services
    from tickets.models import TicketType

    vpn = TicketType.objects.create(name="VPN and Wi-Fi", slug="vpn-wifi")
    policy = services.policy_create(
        ticket_type=vpn, client=None, staff=desk.manager, shadow_mode=False
    )
    rules = [services.RuleInput(action_kind="reply", mode="autonomous")]
    services.policy_save(policy=policy, staff=desk.manager, shadow_mode=False, rules=rules)
    ticket = make_ticket(
        desk.client, summary="Wi-Fi is slow", external_id="V-2", contact=desk.contact, type=vpn
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = playbook_start(ticket)
    assert run is not None and run.status == PlaybookRun.Status.HANDED_OVER
    assert "No knowledge-base article" in run.reason
    assert not Action.objects.filter(ticket=ticket).exists()


def test_the_brief_gathers_similar_tickets_kb_and_alerts(world: World) -> None:
    from django.urls import reverse

    from tickets.models import KnowledgeArticle

    now = timezone.now()
    KnowledgeArticle.objects.create(
        title="Printer offline",
        body="When a printer shows offline, restart the print spooler and power-cycle it.",
        created_at=now,
        updated_at=now,
    )
    done = make_ticket(
        world.client, summary="Printer offline on floor 2", external_id="B-0", contact=world.contact
    )
    ticket_event_record(
        ticket=done,
        kind=TicketEvent.Kind.REPLY,
        actor_kind=TicketEvent.ActorKind.HUMAN,
        actor_staff=world.tech_in,
        body="Restarted the print spooler on the print server; printing again.",
    )
    ticket_change(
        ticket_id=done.id,
        actor=Actor(kind=TicketEvent.ActorKind.HUMAN, staff=world.tech_in),
        changes={"status": Ticket.Status.RESOLVED},
    )
    alert = make_ticket(world.client, summary="Disk almost full", external_id="B-A")
    Ticket.objects.filter(pk=alert.pk).update(source=Ticket.Source.ALERT)
    alert.assets.add(world.asset)
    ticket = _new(world, "B-1")
    ticket.assets.add(world.asset)

    body = world.login(world.tech_in).get(reverse("ticket_brief", args=[ticket.id])).content
    page = body.decode()

    assert "Restarted the print spooler" in page  # the likely cause
    assert "Printer offline" in page  # the KB passage
    assert f"#{alert.id} Disk almost full" in page
    assert (
        world.login(world.tech_out).get(reverse("ticket_brief", args=[ticket.id])).status_code
        == 404
    )
