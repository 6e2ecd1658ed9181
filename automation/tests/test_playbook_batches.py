"""The pipeline starts playbooks a batch at a time (`playbooks_start`): runs created, first
notes written and first steps proposed in bulk — with exactly the runs, statuses, reasons,
notes and proposals that starting each ticket's playbook on its own gives."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from automation.models import PlaybookRun
from automation.pipeline import pipeline_run_many
from automation.playbooks.engine import playbook_start, playbooks_start
from automation.tests.helpers import type_with_policy
from governance.models import Action
from tests.fixtures import World, make_ticket
from tickets.models import Contact, KnowledgeArticle, Ticket, TicketEvent, TicketType

pytestmark = pytest.mark.django_db


def _desk(world: World) -> dict[str, Any]:
    """Four kinds of start: one waits for approval, one is refused (a VIP), one lacks an
    account name, one runs every step in shadow mode; and a type with no playbook."""
    world.contact.directory_username = "dana"
    world.contact.save(update_fields=["directory_username"])
    vip = Contact.objects.create(
        client=world.client, first_name="Vic", last_name="Ip", email="vic@acme.test", is_vip=True
    )
    vip.directory_username = "vic"
    vip.save(update_fields=["directory_username"])
    nameless = Contact.objects.create(
        client=world.client, first_name="Nora", last_name="Name", email="nora@acme.test"
    )
    vpn = type_with_policy(
        world, "vpn-wifi", {"reply": "autonomous", "set_status": "autonomous"}, shadow=True
    )
    now = timezone.now()
    article = KnowledgeArticle.objects.create(
        title="Slow office Wi-Fi",
        body="If the office Wi-Fi is slow, move closer to an access point and reconnect. "
        "Then forget the network and join it again.",
        created_at=now,
        updated_at=now,
    )
    article.ticket_types.add(vpn)
    return {
        "reset": type_with_policy(world, "password-reset", {"reset_password": "approval"}),
        "unlock": type_with_policy(world, "account-unlock", {"unlock_account": "approval"}),
        "vpn": vpn,
        "printing": TicketType.objects.create(name="Printing", slug="printing"),
        "vip": vip,
        "nameless": nameless,
    }


def _tickets(world: World, desk: dict[str, Any], tag: str) -> list[Ticket]:
    def ticket(n: int, summary: str, contact: Contact, kind: TicketType) -> Ticket:
        return make_ticket(
            world.client, summary=summary, external_id=f"{tag}-{n}", contact=contact, type=kind
        )

    return [
        ticket(1, "Forgot my password", world.contact, desk["reset"]),
        ticket(2, "Forgot my password", desk["vip"], desk["reset"]),
        ticket(3, "Account locked out", desk["nameless"], desk["unlock"]),
        ticket(4, "Wi-Fi is slow in the office", world.contact, desk["vpn"]),
        ticket(5, "Printer jammed", world.contact, desk["printing"]),
    ]


def _story(ticket: Ticket) -> dict[str, Any]:
    """What a ticket's playbook did, without ids that differ between tickets."""
    run = PlaybookRun.objects.filter(ticket=ticket).first()
    actions = Action.objects.filter(ticket=ticket, proposer_kind=Action.Proposer.PLAYBOOK)
    notes = ticket.events.filter(kind=TicketEvent.Kind.PLAYBOOK).order_by("occurred_at", "id")
    return {
        "run": None if run is None else (run.playbook, run.status, run.step, run.reason),
        "waits_on": None if run is None else run.state.get("action") is not None,
        "actions": list(actions.order_by("id").values_list("kind", "status", "params")),
        "notes": list(notes.values_list("body", flat=True)),
    }


def test_a_batch_does_what_one_at_a_time_does(world: World) -> None:
    desk = _desk(world)
    alone = _tickets(world, desk, "ONE")
    batch = _tickets(world, desk, "BATCH")

    for ticket in alone:
        playbook_start(Ticket.objects.get(pk=ticket.pk))
    runs = playbooks_start(list(Ticket.objects.filter(pk__in=[t.pk for t in batch])))

    assert len(runs) == 4
    assert [_story(t) for t in batch] == [_story(t) for t in alone]
    # And the stories are the ones each kind of start should tell.
    waiting, vip, nameless, shadow, printer = (_story(t) for t in batch)
    assert waiting["run"] == ("password-reset", "waiting", 0, "")
    assert waiting["waits_on"] is True
    assert waiting["actions"] == [("reset_password", "proposed", {"contact": world.contact.id})]
    assert waiting["notes"] == ["Started: the requester, Dana."]
    reason = "Vic Ip is a VIP: a technician does this one."
    assert vip["run"] == ("password-reset", "handed_over", 0, reason)
    assert vip["notes"] == [f"Handed to a technician: {reason}"] and vip["actions"] == []
    assert nameless["run"] is not None and nameless["run"][1] == "handed_over"
    assert "Nora Name has no directory account name" in nameless["run"][3]
    assert shadow["run"] is not None and shadow["run"][1] == "shadow"
    assert [kind for kind, _, _ in shadow["actions"]] == ["reply", "set_status"]
    assert {status for _, status, _ in shadow["actions"]} == {"shadow"}
    assert shadow["notes"][-1] == "Shadow run complete: every step recorded, none executed."
    assert printer == {"run": None, "waits_on": None, "actions": [], "notes": []}
    # The waiting run names its action, so the gate's settling finds the run.
    run = PlaybookRun.objects.get(ticket=batch[0])
    assert Action.objects.get(pk=run.state["action"]).dedupe_key == f"playbook:{run.id}:0"


def test_the_pipeline_starts_playbooks_once(world: World) -> None:
    desk = _desk(world)
    tickets = _tickets(world, desk, "P")
    ids = [t.pk for t in tickets]

    pipeline_run_many(ticket_ids=ids)
    started = _counts(tickets)
    pipeline_run_many(ticket_ids=ids)

    assert started["runs"] == 4
    assert _counts(tickets) == started
    assert PlaybookRun.objects.get(ticket=tickets[0]).status == PlaybookRun.Status.WAITING


def _counts(tickets: list[Ticket]) -> dict[str, int]:
    playbook = Q(ticket__in=tickets, proposer_kind=Action.Proposer.PLAYBOOK)
    return {
        "runs": PlaybookRun.objects.filter(ticket__in=tickets).count(),
        "actions": Action.objects.filter(playbook).count(),
        "notes": TicketEvent.objects.filter(
            ticket__in=tickets, kind=TicketEvent.Kind.PLAYBOOK
        ).count(),
    }
