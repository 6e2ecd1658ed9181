"""The triage rules engine: conditions, validation, ordering and conflicts, and rules in the
pipeline — proposals through the gate, firings on the timeline, re-runs that change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from automation.models import TriageModel, TriageRule
from automation.pipeline import pipeline_run
from automation.rule_services import RuleInput, rule_create, rule_move, rule_save
from automation.rules import facts_for, rule_validate, rules_run
from automation.services import triage_model_train
from automation.tests.helpers import triage_run
from automation.tests.test_triage import _history
from governance.models import Action
from governance.tests.helpers import policy_with
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import Asset, Client, Queue, StaffMember, Tag, Ticket, TicketEvent

UTC = dt.UTC


def _rule(
    world: World, name: str, conditions: list[Any], actions: list[Any], **extra: Any
) -> TriageRule:
    data = RuleInput(
        name=name,
        description=extra.pop("description", ""),
        match=extra.pop("match", "all"),
        conditions=conditions,
        actions=actions,
        stop_processing=extra.pop("stop_processing", False),
        is_active=extra.pop("is_active", True),
    )
    return rule_create(staff=world.manager, data=data)


def _facts(ticket: Ticket) -> Any:
    fresh = (
        Ticket.objects.select_related("client", "contact")
        .prefetch_related("assets", "tags")
        .get(pk=ticket.pk)
    )
    return facts_for([fresh])[fresh.pk]


def _matches(world: World, ticket: Ticket, *conditions: dict[str, Any], match: str = "all") -> bool:
    rule = TriageRule(name="probe", match=match, conditions=list(conditions), actions=[])
    return bool(rules_run([rule], _facts(ticket), {}))


def _c(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


PRIORITY_HIGH = {"kind": "set_priority", "params": {"priority": 2}}


# --- conditions --------------------------------------------------------------------------


@pytest.mark.django_db
def test_text_tests_are_case_insensitive_and_regex_searches(world: World) -> None:
    ticket = make_ticket(
        world.client, summary="VPN drops every hour", description="Error 809", external_id="X"
    )
    assert _matches(world, ticket, _c("summary", "contains", "vpn"))
    assert not _matches(world, ticket, _c("summary", "not_contains", "VPN"))
    assert _matches(world, ticket, _c("text", "contains", "error 809"))
    assert not _matches(world, ticket, _c("summary", "contains", "error 809"))
    assert _matches(world, ticket, _c("description", "regex", r"error\s+8\d\d"))
    assert not _matches(world, ticket, _c("description", "regex", r"^809"))
    assert _matches(world, ticket, _c("summary", "equals", "vpn drops EVERY hour"))
    assert not _matches(world, ticket, _c("summary", "equals", "vpn drops"))


@pytest.mark.django_db
def test_choice_vip_source_asset_and_tag_tests(world: World) -> None:
    world.contact.is_vip = True
    world.contact.save()
    ticket = world.ticket  # has the contact, the laptop, queue L1 and type Password reset
    assert _matches(world, ticket, _c("contact_vip", "is", True))
    assert not _matches(world, ticket, _c("contact_privileged", "is", True))
    assert _matches(world, ticket, _c("client", "in", [str(world.client.id)]))
    assert not _matches(world, ticket, _c("client", "not_in", [str(world.client.id)]))
    assert _matches(world, ticket, _c("source", "in", ["api", "email"]))
    assert _matches(world, ticket, _c("asset_kind", "in", [Asset.Kind.LAPTOP]))
    assert not _matches(world, ticket, _c("asset_kind", "in", [Asset.Kind.SERVER]))
    assert _matches(world, ticket, _c("queue", "is_set"))
    assert not _matches(world, ticket, _c("type", "is_empty"))
    assert _matches(world, ticket, _c("contact_email", "contains", "@acme.test"))
    assert not _matches(world, ticket, _c("tag", "in", ["urgent"]))
    ticket.tags.add(Tag.objects.create(name="Urgent", slug="urgent"))
    assert _matches(world, ticket, _c("tag", "in", ["urgent"]))


@pytest.mark.django_db
def test_time_of_day_and_after_hours_use_the_clients_zone(world: World) -> None:
    ny = Client.objects.create(name="NY Dental", identifier="ny", timezone="America/New_York")
    # 02:30 UTC on a Wednesday is 21:30 on Tuesday in New York: after hours, late evening.
    ticket = make_ticket(
        ny, summary="x", external_id="NY-1", opened_at=dt.datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    )
    assert _matches(world, ticket, _c("after_hours", "is", True))
    assert _matches(world, ticket, _c("time_of_day", "between", "21:00-22:00"))
    assert _matches(world, ticket, _c("time_of_day", "between", "18:00-08:00"))  # over midnight
    assert not _matches(world, ticket, _c("time_of_day", "between", "08:00-18:00"))
    assert _matches(world, ticket, _c("weekday", "in", ["2"]))  # Tuesday there
    # 15:00 UTC is 10:00 in New York on a weekday: business hours.
    day = make_ticket(
        ny, summary="x", external_id="NY-2", opened_at=dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    )
    assert _matches(world, day, _c("after_hours", "is", False))


@pytest.mark.django_db
def test_all_and_any(world: World) -> None:
    ticket = make_ticket(world.client, summary="printer jam", external_id="P")
    yes, no = _c("summary", "contains", "printer"), _c("summary", "contains", "vpn")
    assert not _matches(world, ticket, yes, no)
    assert _matches(world, ticket, yes, no, match="any")
    assert not _matches(world, ticket, no, match="any")


@pytest.mark.django_db
def test_huge_and_non_english_text(world: World) -> None:
    huge = make_ticket(
        world.client, summary="x", description="a" * 500_000 + " vpn", external_id="H"
    )
    assert not _matches(world, huge, _c("description", "contains", "vpn"))  # past the limit
    german = make_ticket(world.client, summary="Drucker druckt nicht, Störung", external_id="G")
    assert _matches(world, german, _c("summary", "contains", "STÖRUNG"))
    assert _matches(world, german, _c("summary", "regex", r"dr[uü]cker"))


# --- validation --------------------------------------------------------------------------


def _errors(conditions: Any, actions: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        rule_validate(conditions=conditions, actions=actions)
    return caught.value.message_dict


@pytest.mark.django_db
def test_a_bad_regex_is_an_error_on_its_row(world: World) -> None:
    errors = _errors(
        [_c("summary", "contains", "ok"), _c("summary", "regex", "disk (full")], [PRIORITY_HIGH]
    )
    assert list(errors) == ["condition-1"]
    assert "Not a valid regular expression" in errors["condition-1"][0]


@pytest.mark.django_db
def test_validation_names_what_is_wrong(world: World) -> None:
    assert (
        "Choose what the condition tests"
        in _errors([_c("nope", "is", True)], [PRIORITY_HIGH])["condition-0"][0]
    )
    assert (
        "can be tested with"
        in _errors([_c("contact_vip", "contains", "x")], [PRIORITY_HIGH])["condition-0"][0]
    )
    assert (
        "HH:MM-HH:MM"
        in _errors([_c("time_of_day", "between", "late")], [PRIORITY_HIGH])["condition-0"][0]
    )
    assert (
        "Unknown queue"
        in _errors([_c("queue", "in", ["999999"])], [PRIORITY_HIGH])["condition-0"][0]
    )
    assert "at least one action" in _errors([], [])["actions"][0]
    bad_staff = {"kind": "assign", "params": {"assignee": 999999}}
    assert "No technician" in _errors([], [bad_staff])["action-0"][0]
    twice = [PRIORITY_HIGH, {"kind": "set_priority", "params": {"priority": 1}}]
    assert "only once" in _errors([], twice)["actions"][0]
    assert (
        "Choose what the rule does"
        in _errors([], [{"kind": "reset_password", "params": {}}])["action-0"][0]
    )


@pytest.mark.django_db
def test_a_stale_edit_is_refused_and_names_must_be_unique(world: World) -> None:
    rule = _rule(world, "VIP first", [_c("contact_vip", "is", True)], [PRIORITY_HIGH])
    data = RuleInput("VIP first", "", "all", rule.conditions, rule.actions, False)
    saved = rule_save(staff=world.manager, rule=rule, data=data, expected_version=1)
    assert saved.version == 2
    with pytest.raises(ValidationError, match="saved this rule after you opened it"):
        rule_save(staff=world.manager, rule=rule, data=data, expected_version=1)
    with pytest.raises(ValidationError, match="already has this name"):
        _rule(world, "vip FIRST", [], [PRIORITY_HIGH])


@pytest.mark.django_db
def test_only_managers_write_rules(world: World) -> None:
    from django.core.exceptions import PermissionDenied

    data = RuleInput("x", "", "all", [], [PRIORITY_HIGH], False)
    for staff in (world.tech_in, world.owner, None):
        with pytest.raises(PermissionDenied):
            rule_create(staff=staff, data=data)
    assert not TriageRule.objects.exists()


# --- order, chaining, conflicts ----------------------------------------------------------


@pytest.mark.django_db
def test_rules_chain_the_first_to_set_a_field_wins_and_stop_ends_the_run(world: World) -> None:
    servers = Queue.objects.create(name="Servers", slug="servers")
    route = _rule(
        world,
        "Disk to servers",
        [_c("summary", "regex", "disk (full|space)")],
        [{"kind": "set_queue", "params": {"queue": servers.id}}],
    )
    urgent = _rule(
        world,
        "Servers are urgent",
        [_c("queue", "in", [str(servers.id)])],
        [{"kind": "set_priority", "params": {"priority": 1}}],
        stop_processing=True,
    )
    low = _rule(
        world,
        "Disk is low",
        [_c("summary", "contains", "disk")],
        [{"kind": "set_priority", "params": {"priority": 4}}],
    )
    ticket = make_ticket(world.client, summary="Disk full on FS01", external_id="D")
    rules = list(TriageRule.objects.all())
    firings = rules_run(rules, _facts(ticket), {})
    assert [f.rule for f in firings] == [route, urgent]  # the second sees the decided queue
    assert "Later rules were not evaluated" in firings[1].sentence()

    urgent.stop_processing = False
    urgent.save()
    firings = rules_run(list(TriageRule.objects.all()), _facts(ticket), {})
    assert [f.rule for f in firings] == [route, urgent, low]
    assert firings[2].actions == [] and firings[2].overridden[0][1] == urgent
    assert "rule “Servers are urgent” decided it" in firings[2].sentence()

    rule_move(staff=world.manager, rule=low, direction="up")
    rule_move(staff=world.manager, rule=low, direction="up")
    assert list(TriageRule.objects.values_list("name", flat=True)) == [
        "Disk is low",
        "Disk to servers",
        "Servers are urgent",
    ]


# --- the pipeline ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rule_proposes_through_the_gate_and_is_on_the_timeline(world: World) -> None:
    policy_with(world, set_priority="autonomous", add_tag="autonomous")
    _rule(
        world,
        "Sign-in trouble is urgent",
        [_c("summary", "contains", "sign in")],
        [PRIORITY_HIGH, {"kind": "add_tag", "params": {"tag": "Sign-in"}}],
    )
    actions = triage_run(ticket_id=world.ticket.id)
    by_kind = {a.kind: a for a in actions}
    assert set(by_kind) == {"set_priority", "add_tag"}
    priority = by_kind["set_priority"]
    assert (
        priority.proposer_kind == Action.Proposer.RULE
        and priority.proposer_name == "Sign-in trouble is urgent"
    )
    assert priority.confidence == 1.0 and "Summary contains “sign in”" in priority.rationale
    # Autonomous: executed by the gate (the test runs tasks synchronously after commit).
    from governance.gate import action_execute

    for action in actions:
        action_execute(action_id=action.id)
    world.ticket.refresh_from_db()
    assert world.ticket.priority == 2
    assert list(world.ticket.tags.values_list("name", flat=True)) == ["Sign-in"]
    [fired] = TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.RULE_MATCHED)
    assert (
        fired.actor_kind == TicketEvent.ActorKind.RULE
        and fired.actor_name == "Sign-in trouble is urgent"
    )
    assert (
        "Rule “Sign-in trouble is urgent” matched because Summary contains “sign in”" in fired.body
    )
    assert sorted(fired.data["action_ids"]) == sorted(a.id for a in actions)
    assert (
        TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.TAGGED).count() == 1
    )

    # Running again changes nothing: no new proposals, no second firing.
    again = triage_run(ticket_id=world.ticket.id)
    assert sorted(a.id for a in again) == sorted(a.id for a in actions)
    assert (
        TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.RULE_MATCHED).count()
        == 1
    )
    assert (
        Action.objects.filter(
            ticket=world.ticket, proposer_name="Sign-in trouble is urgent"
        ).count()
        == 2
    )


@pytest.mark.django_db
def test_a_rules_decision_replaces_the_classifiers(world: World) -> None:
    types = _history(world)
    triage_model_train(target=TriageModel.Target.TYPE)
    policy_with(world, set_type="approval")
    ticket = make_ticket(
        world.client, summary="printer toner empty and a paper jam", external_id="P-9"
    )
    [by_model] = triage_run(ticket_id=ticket.id)
    assert by_model.proposer_kind == Action.Proposer.MODEL
    _rule(
        world,
        "Printers are network work",
        [_c("summary", "contains", "printer")],
        [{"kind": "set_type", "params": {"ticket_type": types["network"].id}}],
    )
    other = make_ticket(
        world.client, summary="printer toner empty and a paper jam", external_id="P-10"
    )
    [by_rule] = triage_run(ticket_id=other.id)
    assert by_rule.proposer_kind == Action.Proposer.RULE
    assert by_rule.params == {"ticket_type": types["network"].id}


@pytest.mark.django_db
def test_an_assignment_the_gate_refuses_is_recorded_with_the_reason(world: World) -> None:
    _rule(
        world,
        "Globex expert",
        [_c("summary", "contains", "sign in")],
        [{"kind": "assign", "params": {"assignee": world.tech_out.id}}],
    )
    assert triage_run(ticket_id=world.ticket.id) == []
    [fired] = TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.RULE_MATCHED)
    assert "does not serve this ticket's client" in fired.body


@pytest.mark.django_db
def test_an_edited_rule_fires_again_as_its_new_version(world: World) -> None:
    policy_with(world, set_sla="autonomous")
    sla = {"kind": "set_sla", "params": {"resolution_minutes": 240, "response_minutes": 30}}
    rule = _rule(world, "Fast SLA", [], [sla])
    [first] = triage_run(ticket_id=world.ticket.id)
    from governance.gate import action_execute

    action_execute(action_id=first.id)
    world.ticket.refresh_from_db()
    assert world.ticket.sla_resolution_due_at == world.ticket.opened_at + dt.timedelta(minutes=240)
    assert world.ticket.sla_response_due_at == world.ticket.opened_at + dt.timedelta(minutes=30)
    data = RuleInput(
        "Fast SLA",
        "",
        "all",
        [],
        [{"kind": "set_sla", "params": {"resolution_minutes": 120}}],
        False,
    )
    rule_save(staff=world.manager, rule=rule, data=data, expected_version=1)
    [second] = triage_run(ticket_id=world.ticket.id)
    assert second.id != first.id and second.dedupe_key == f"rule:{rule.id}:v2:sla"
    assert (
        TicketEvent.objects.filter(ticket=world.ticket, kind=TicketEvent.Kind.RULE_MATCHED).count()
        == 2
    )


@pytest.mark.django_db
def test_inactive_rules_do_not_run(world: World) -> None:
    _rule(world, "Off", [], [PRIORITY_HIGH], is_active=False)
    assert triage_run(ticket_id=world.ticket.id) == []
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.RULE_MATCHED).exists()


@pytest.mark.django_db
def test_assignment_rule_for_a_technician_in_scope(world: World) -> None:
    policy_with(world, assign="approval")
    helper = make_staff("helper", StaffMember.Role.TECHNICIAN, clients=[world.client])
    _rule(
        world,
        "Acme to helper",
        [_c("client", "in", [str(world.client.id)])],
        [{"kind": "assign", "params": {"assignee": helper.id}}],
    )
    [action] = triage_run(ticket_id=world.ticket.id)
    assert action.kind == "assign" and action.status == Action.Status.PROPOSED
    assert triage_run(ticket_id=world.other_ticket.id) == []


@pytest.mark.django_db
def test_the_demo_rules_are_created_once_and_fire(world: World) -> None:
    from automation.demo import seed_rules_demo
    from tickets.demo.catalogue import L2, NOC
    from tickets.models import TicketType

    for slug in ("security-incident", "backup-failure"):
        TicketType.objects.create(name=slug.replace("-", " ").title(), slug=slug)
    for slug in (L2, NOC):
        Queue.objects.create(name=slug, slug=slug)
    assert seed_rules_demo() == 4
    assert seed_rules_demo() == 0
    ticket = make_ticket(
        world.client, summary="Backup job failed on FS01", external_id="B", contact=world.contact
    )
    names = [f.rule.name for f in rules_run(list(TriageRule.objects.all()), _facts(ticket), {})]
    assert names == ["Backup failures to the NOC"]


@pytest.mark.django_db
def test_tickets_from_intake_run_the_pipeline_in_the_background(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from django_q.conf import Conf

    from tickets.signals import tickets_arrived_send

    monkeypatch.setattr(Conf, "SYNC", True)  # the task runs where it is queued
    _rule(world, "Tag everything", [], [{"kind": "add_tag", "params": {"tag": "seen"}}])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        tickets_arrived_send([world.ticket.id])
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.RULE_MATCHED).exists()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()
    assert TicketEvent.objects.filter(
        ticket=world.ticket, kind=TicketEvent.Kind.RULE_MATCHED
    ).exists()


@pytest.mark.django_db
def test_dispatch_follows_the_queue_a_rule_decided_unless_a_rule_assigned(world: World) -> None:
    network = Queue.objects.create(name="Network", slug="network")
    netadmin = make_staff("netadmin", StaffMember.Role.TECHNICIAN, clients=[world.client])
    netadmin.queues.add(network)
    world.tech_in.queues.add(world.queue)
    _rule(
        world,
        "VPN to network",
        [_c("summary", "contains", "vpn")],
        [{"kind": "set_queue", "params": {"queue": network.id}}],
    )
    ticket = make_ticket(world.client, summary="VPN drops", external_id="V", queue=world.queue)
    assign = [a for a in pipeline_run(ticket_id=ticket.id) if a.kind == "assign"]
    assert [a.params["assignee"] for a in assign] == [netadmin.id]
    assert assign[0].proposer_name.startswith("dispatch-")
    assert assign[0].rationale.startswith("Assigned to Netadmin")

    _rule(
        world,
        "Sign-in to insider",
        [_c("summary", "contains", "sign in")],
        [{"kind": "assign", "params": {"assignee": world.tech_in.id}}],
    )
    assigned = [a for a in pipeline_run(ticket_id=world.ticket.id) if a.kind == "assign"]
    assert [a.proposer_name for a in assigned] == ["Sign-in to insider"]


@pytest.mark.django_db
def test_an_open_dispatch_proposal_is_not_joined_by_a_second_choice(world: World) -> None:
    from governance.services import action_reject

    policy_with(world, assign="approval")
    StaffMember.objects.filter(pk__in=[world.manager.pk, world.owner.pk]).update(
        takes_tickets=False
    )
    other = make_staff("second", StaffMember.Role.TECHNICIAN, clients=[world.client])
    [first] = [a for a in pipeline_run(ticket_id=world.ticket.id) if a.kind == "assign"]
    busy = first.params["assignee"]
    free = other.id if busy != other.id else world.tech_in.id
    # The first choice gets busy (past their capacity): while their proposal is open, a
    # re-run proposes nobody else.
    for number in range(20):
        make_ticket(world.client, summary="x", external_id=f"L{number}", assignee_id=busy)
    assert [a for a in pipeline_run(ticket_id=world.ticket.id) if a.kind == "assign"] == []
    # Once a technician rejects it, dispatch chooses again — now the free technician.
    action_reject(action=first, staff=world.manager, reason="Too busy this week.")
    [second] = [a for a in pipeline_run(ticket_id=world.ticket.id) if a.kind == "assign"]
    assert second.params["assignee"] == free
