"""The gate: what the policy decides at proposal, and what it re-checks at execution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance import gate, services
from governance.models import Action, AgentHold, Correction
from governance.tests.helpers import policy_with, propose
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import Queue, StaffMember, Ticket, TicketEvent, TicketType

pytestmark = pytest.mark.django_db


def test_an_autonomous_confident_proposal_executes_and_is_on_the_timeline(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    action = propose(world.ticket, confidence=0.97)
    assert action.status == Action.Status.QUEUED
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.VERIFIED, done.status_reason
    world.ticket.refresh_from_db()
    assert world.ticket.priority == 1
    change = TicketEvent.objects.get(ticket=world.ticket, kind=TicketEvent.Kind.PRIORITY_CHANGED)
    assert change.actor_kind == TicketEvent.ActorKind.MODEL
    assert change.data["action_id"] == action.id
    steps = list(
        TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.ACTION).values_list(
            "new_value", flat=True
        )
    )
    assert steps == ["queued", "executing", "verified"]


def test_running_the_execution_twice_changes_nothing_the_second_time(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    action = propose(world.ticket)
    gate.action_execute(action_id=action.id)
    events = TicketEvent.objects.filter(ticket=world.ticket).count()
    again = gate.action_execute(action_id=action.id)
    assert again.status == Action.Status.VERIFIED
    assert TicketEvent.objects.filter(ticket=world.ticket).count() == events


@pytest.mark.parametrize(
    ("setting", "confidence", "status"),
    [
        ("off", 0.99, Action.Status.REFUSED),
        ("suggest", 0.99, Action.Status.SUGGESTED),
        ("approval", 0.99, Action.Status.PROPOSED),
        ("autonomous", 0.5, Action.Status.PROPOSED),
        ("autonomous", None, Action.Status.PROPOSED),
        ("autonomous", 0.95, Action.Status.QUEUED),
    ],
)
def test_the_mode_and_confidence_decide_the_status(
    world: World, setting: str, confidence: float | None, status: str
) -> None:
    policy_with(world, set_priority=setting)
    assert propose(world.ticket, confidence=confidence).status == status


def test_a_kind_without_a_rule_gets_its_safe_default(world: World) -> None:
    assert propose(world.ticket).status == Action.Status.SUGGESTED
    refused = propose(world.ticket, "reset_password", {"contact": world.contact.id})
    assert refused.status == Action.Status.REFUSED
    assert "off" in refused.status_reason


def test_a_client_policy_narrows_the_type_policy(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    policy_with(world, client=world.client, set_priority="approval")
    assert propose(world.ticket).status == Action.Status.PROPOSED


def test_a_vip_contact_always_needs_approval(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    world.contact.is_vip = True
    world.contact.save()
    action = propose(world.ticket)
    assert action.status == Action.Status.PROPOSED
    assert "VIP or privileged" in action.status_reason


def test_autonomy_only_after_hours_waits_for_approval_in_business_hours(world: World) -> None:
    policy_with(world, set_priority=("autonomous", {"autonomous_hours": "after_hours"}))
    world.client.business_days = "1234567"
    world.client.business_start = dt.time(0, 0)
    world.client.business_end = dt.time(23, 59, 59)
    world.client.save()
    action = propose(world.ticket)
    assert action.status == Action.Status.PROPOSED
    assert "outside the client's business hours" in action.status_reason


def test_shadow_mode_records_the_proposal_and_never_executes(world: World) -> None:
    policy_with(world, shadow=True, set_priority="autonomous")
    action = propose(world.ticket)
    assert action.status == Action.Status.SHADOW
    assert gate.action_execute(action_id=action.id).status == Action.Status.SHADOW
    world.ticket.refresh_from_db()
    assert world.ticket.priority != 1


def test_an_approved_action_is_blocked_when_the_policy_tightened(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    action = services.action_approve(action=propose(world.ticket), staff=world.tech_in)
    services.policy_save(
        policy=policy,
        staff=world.manager,
        shadow_mode=False,
        rules=[services.RuleInput(action_kind="set_priority", mode="suggest")],
    )
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.BLOCKED
    assert "no longer allows" in done.status_reason
    world.ticket.refresh_from_db()
    assert world.ticket.priority != 1


def test_the_kill_switch_stops_queued_executions(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    action = propose(world.ticket)
    services.kill_switch_set(client=None, engaged=True, reason="Bad model", staff=world.manager)
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.BLOCKED
    assert "kill switch" in done.status_reason
    assert "Bad model" in done.status_reason


def test_a_client_kill_switch_stops_only_that_client(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    other = make_ticket(world.other_client, summary="x", external_id="T-9", type=world.ticket_type)
    services.kill_switch_set(client=world.client, engaged=True, reason="Audit", staff=world.manager)
    mine, theirs = propose(world.ticket), propose(other)
    assert mine.status == Action.Status.PROPOSED  # waits for a person instead
    assert gate.action_execute(action_id=theirs.id).status == Action.Status.VERIFIED


def test_the_kill_switch_blocks_even_approved_actions(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = services.action_approve(action=propose(world.ticket), staff=world.tech_in)
    services.kill_switch_set(client=world.client, engaged=True, reason="x", staff=world.manager)
    assert gate.action_execute(action_id=action.id).status == Action.Status.BLOCKED


def test_a_changed_ticket_blocks_the_proposal(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    services.action_approve(action=action, staff=world.tech_in)
    Ticket.objects.filter(pk=world.ticket.pk).update(priority=2)
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.BLOCKED
    assert "changed" in done.status_reason


def test_a_requester_reply_blocks_a_pending_reply(world: World) -> None:
    policy_with(world, reply="approval")
    action = propose(world.ticket, "reply", {"body": "Try restarting."})
    services.action_approve(action=action, staff=world.tech_in)
    TicketEvent.objects.create(
        ticket=world.ticket,
        kind=TicketEvent.Kind.REQUESTER_REPLY,
        actor_kind=TicketEvent.ActorKind.REQUESTER,
        body="Never mind, it is fixed.",
        occurred_at=timezone.now(),
    )
    assert gate.action_execute(action_id=action.id).status == Action.Status.BLOCKED


def test_two_triage_proposals_do_not_block_each_other(world: World) -> None:
    policy_with(world, set_priority="autonomous", set_queue="autonomous")
    queue = Queue.objects.create(name="Network", slug="network")
    first = propose(world.ticket)
    second = propose(world.ticket, "set_queue", {"queue": queue.id})
    assert gate.action_execute(action_id=first.id).status == Action.Status.VERIFIED
    assert gate.action_execute(action_id=second.id).status == Action.Status.VERIFIED


def test_an_approval_expires(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = services.action_approve(action=propose(world.ticket), staff=world.tech_in)
    later = timezone.now() + dt.timedelta(hours=2)
    assert gate.action_execute(action_id=action.id, now=later).status == Action.Status.EXPIRED


def test_an_approver_who_lost_the_client_cannot_carry_the_action(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = services.action_approve(action=propose(world.ticket), staff=world.tech_in)
    world.tech_in.clients.clear()
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.BLOCKED
    assert "approver" in done.status_reason


def test_owners_and_outsiders_cannot_approve(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    with pytest.raises(PermissionDenied):
        services.action_approve(action=action, staff=world.owner)
    with pytest.raises(PermissionDenied):
        services.action_approve(action=action, staff=world.tech_out)
    action.refresh_from_db()
    assert action.status == Action.Status.PROPOSED


def test_per_client_limit_blocks_the_next_execution(world: World) -> None:
    policy_with(world, set_priority=("autonomous", {"limit_per_client_hour": 2}))
    outcomes = []
    for number in range(3):
        ticket = make_ticket(
            world.client, summary="x", external_id=f"L-{number}", type=world.ticket_type
        )
        outcomes.append(gate.action_execute(action_id=propose(ticket).id).status)
    assert outcomes == [Action.Status.VERIFIED, Action.Status.VERIFIED, Action.Status.BLOCKED]


def test_overall_limit_counts_every_client(world: World) -> None:
    policy_with(world, set_priority=("autonomous", {"limit_total_hour": 1}))
    mine = make_ticket(world.client, summary="a", external_id="A-1", type=world.ticket_type)
    theirs = make_ticket(world.other_client, summary="b", external_id="B-1", type=world.ticket_type)
    assert gate.action_execute(action_id=propose(mine).id).status == Action.Status.VERIFIED
    blocked = gate.action_execute(action_id=propose(theirs).id)
    assert blocked.status == Action.Status.BLOCKED
    assert "Limit reached" in blocked.status_reason


def test_an_edit_before_approval_is_a_correction_for_training(world: World) -> None:
    policy_with(world, set_type="approval")
    right = TicketType.objects.create(name="Account lockout", slug="lockout")
    action = propose(world.ticket, "set_type", {"ticket_type": world.ticket_type.id})
    approved = services.action_approve(
        action=action, staff=world.tech_in, params={"ticket_type": right.id}
    )
    assert approved.original_params == {"ticket_type": world.ticket_type.id}
    gate.action_execute(action_id=action.id)
    world.ticket.refresh_from_db()
    assert world.ticket.type_id == right.id
    correction = Correction.objects.get(ticket=world.ticket)
    assert (correction.field, correction.human_value) == ("type", str(right.id))


def test_bad_parameters_name_the_field(world: World) -> None:
    with pytest.raises(ValidationError) as error:
        propose(world.ticket, "set_priority", {"priority": 9})
    assert "priority" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        propose(world.ticket, "reset_password", {"contact": world.contact.id, "sudo": True})
    assert "params" in error.value.message_dict
    with pytest.raises(ValidationError):
        propose(world.ticket, "format_disk", {})
    assert not Action.objects.exists()


def test_a_contact_of_another_client_is_not_a_valid_target(world: World) -> None:
    from tickets.models import Contact

    stranger = Contact.objects.create(client=world.other_client, first_name="Eve")
    with pytest.raises(ValidationError) as error:
        propose(world.ticket, "unlock_account", {"contact": stranger.id})
    assert "contact" in error.value.message_dict


def test_undo_restores_the_previous_value_and_records_a_correction(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    before = world.ticket.priority
    action = gate.action_execute(action_id=propose(world.ticket).id)
    undone = services.action_undo(action=action, staff=world.tech_in)
    assert undone.status == Action.Status.UNDONE
    world.ticket.refresh_from_db()
    assert world.ticket.priority == before
    assert Correction.objects.filter(ticket=world.ticket, field="priority").exists()
    with pytest.raises(ValidationError):
        services.action_undo(action=undone, staff=world.tech_in)


def test_take_over_cancels_proposals_assigns_and_stops_the_agent(world: World) -> None:
    policy_with(world, set_priority="approval")
    pending = propose(world.ticket)
    services.ticket_take_over(ticket=world.ticket, staff=world.tech_in, reason="VIP")
    pending.refresh_from_db()
    assert pending.status == Action.Status.CANCELLED
    world.ticket.refresh_from_db()
    assert world.ticket.assignee_id == world.tech_in.id
    assert AgentHold.objects.filter(ticket=world.ticket).exists()
    assert propose(world.ticket).status == Action.Status.REFUSED
    services.ticket_hand_back(ticket=world.ticket, staff=world.tech_in)
    assert propose(world.ticket).status == Action.Status.PROPOSED


def test_a_kind_with_no_tool_fails_with_a_clear_message(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance import executors

    monkeypatch.delitem(executors._REGISTRY, "unlock_account")  # as before a tool is wired
    policy_with(world, unlock_account=("autonomous", {"min_confidence": Decimal("0.5")}))
    action = propose(world.ticket, "unlock_account", {"contact": world.contact.id})
    done = gate.action_execute(action_id=action.id)
    assert done.status == Action.Status.FAILED
    assert "No tool is connected" in done.status_reason


def test_a_repeated_dedupe_key_returns_the_same_action(world: World) -> None:
    first = propose(world.ticket, dedupe_key="triage:v1:priority")
    second = propose(world.ticket, dedupe_key="triage:v1:priority")
    assert first.id == second.id
    assert Action.objects.count() == 1


def test_rejecting_needs_a_reason(world: World) -> None:
    policy_with(world, set_priority="approval")
    action = propose(world.ticket)
    with pytest.raises(ValidationError):
        services.action_reject(action=action, staff=world.tech_in, reason="  ")
    rejected = services.action_reject(action=action, staff=world.tech_in, reason="Not urgent")
    assert rejected.status == Action.Status.REJECTED
    assert gate.action_execute(action_id=action.id).status == Action.Status.REJECTED


def test_policy_changes_are_versioned_with_who_and_what(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    policy = services.policy_save(
        policy=policy,
        staff=world.manager,
        shadow_mode=True,
        rules=[services.RuleInput(action_kind="set_priority", mode="autonomous")],
    )
    latest = policy.revisions.first()
    assert latest is not None
    assert latest.changed_by == world.manager
    assert latest.version == policy.version
    assert "shadow mode: off → on" in latest.summary
    assert "Needs approval → Autonomous" in latest.summary


def test_only_managers_edit_policy(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.policy_create(
            ticket_type=world.ticket_type, client=None, staff=world.tech_in, shadow_mode=False
        )


def test_human_actions_skip_policy_but_not_scope(world: World) -> None:
    other_tech = make_staff("other", StaffMember.Role.TECHNICIAN, clients=[world.client])
    done = services.action_perform(
        ticket=world.ticket, staff=world.tech_in, kind="assign", params={"assignee": other_tech.id}
    )
    assert done.status == Action.Status.VERIFIED
    with pytest.raises(PermissionDenied):
        services.action_perform(
            ticket=world.ticket, staff=world.tech_out, kind="set_priority", params={"priority": 4}
        )


def test_the_agent_cannot_get_a_kind_the_policy_turns_off(world: World) -> None:
    policy_with(world, reset_password="off", unlock_account="approval")
    allowed = gate.allowed_kinds(world.ticket)
    assert "unlock_account" in allowed and "reset_password" not in allowed
    refused = propose(
        world.ticket,
        "reset_password",
        {"contact": world.contact.id},
        proposer_kind=Action.Proposer.AGENT,
        proposer_name="llm-agent",
    )
    assert refused.status == Action.Status.REFUSED
    with pytest.raises(ValidationError):
        services.action_approve(action=refused, staff=world.tech_in)
    assert gate.action_execute(action_id=refused.id).status == Action.Status.REFUSED


def test_a_held_ticket_offers_the_agent_nothing(world: World) -> None:
    services.ticket_take_over(ticket=world.ticket, staff=world.tech_in)
    assert gate.allowed_kinds(world.ticket) == []


def test_choosing_default_drops_a_rule_and_inherits_again(world: World) -> None:
    policy = policy_with(world, set_priority="autonomous")
    services.policy_save(
        policy=policy,
        staff=world.manager,
        shadow_mode=False,
        rules=[services.RuleInput(action_kind="set_priority", mode="inherit")],
    )
    assert propose(world.ticket).status == Action.Status.SUGGESTED  # the built-in default
    latest = policy.revisions.first()
    assert latest is not None and "Autonomous → default" in latest.summary


def test_a_save_based_on_an_old_version_is_refused(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    with pytest.raises(ValidationError):
        services.policy_save(
            policy=policy,
            staff=world.manager,
            shadow_mode=True,
            rules=[],
            expected_version=policy.version - 1,
        )


def test_every_demo_proposal_can_be_approved_and_executed(world: World) -> None:
    """The demo's pending proposals are consistent with its policies: approving any of them
    executes it."""
    from governance.demo import seed_governance_demo

    world.ticket_type.is_quick_win = True
    world.ticket_type.save()
    report = seed_governance_demo(pending=5, history_tickets=0)
    assert report.pending >= 1
    for action in Action.objects.filter(status=Action.Status.PROPOSED):
        services.action_approve(action=action, staff=world.manager)
        assert gate.action_execute(action_id=action.id).status == Action.Status.VERIFIED


def test_a_stale_ticket_object_does_not_poison_the_fingerprint(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    stale = Ticket.objects.get(pk=world.ticket.pk)
    Ticket.objects.filter(pk=world.ticket.pk).update(priority=4)  # changed since it was read
    action = propose(stale, params={"priority": 2})
    assert gate.action_execute(action_id=action.id).status == Action.Status.VERIFIED
