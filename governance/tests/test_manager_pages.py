"""The manager pages: policy list and editor, kill switches, and who may change what."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from governance import gate, services
from governance.kinds import KINDS
from governance.models import Action, AgentPolicy, KillSwitch, PolicyRevision
from governance.policy_words import RuleSetting, mode_summary, rule_sentence
from governance.tests.helpers import policy_with, propose
from tests.fixtures import World
from tickets.models import TicketType

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def editor_data(policy: AgentPolicy, **changes: Any) -> dict[str, Any]:
    """What the editor posts when nothing is touched, with `changes` applied
    (`set_priority__mode="autonomous"`, `shadow_mode="on"`)."""
    rules = {rule.action_kind: rule for rule in policy.rules.all()}
    data: dict[str, Any] = {"version": policy.version}
    if policy.shadow_mode:
        data["shadow_mode"] = "on"
    for kind in KINDS:
        rule = rules.get(kind)
        data[f"{kind}-mode"] = rule.mode if rule else ""
        data[f"{kind}-min_confidence"] = str(rule.min_confidence) if rule else "0.90"
        data[f"{kind}-autonomous_hours"] = rule.autonomous_hours if rule else "any"
        data[f"{kind}-limit_per_client_hour"] = (rule.limit_per_client_hour or "") if rule else ""
        data[f"{kind}-limit_total_hour"] = (rule.limit_total_hour or "") if rule else ""
    for name, value in changes.items():
        data[name.replace("__", "-")] = value
    return data


def autonomy_now(world: World, confidence: float = 0.85) -> str:
    return gate.verdict(
        ticket=world.ticket,
        kind="set_priority",
        params={"priority": 1},
        confidence=confidence,
        proposer_kind=Action.Proposer.MODEL,
        now=timezone.now(),
    ).mode


# --- plain-English settings ------------------------------------------------------------


def test_an_autonomous_rule_reads_as_one_sentence() -> None:
    setting = RuleSetting(
        mode="autonomous",
        min_confidence=Decimal("0.9"),
        autonomous_hours="after_hours",
        limit_per_client_hour=5,
        limit_total_hour=20,
    )
    assert rule_sentence(setting) == (
        "Autonomous when confidence ≥ 0.90, only outside the client's business hours, at most "
        "5 per client and 20 overall per hour; VIP and privileged contacts always need approval."
    )


def test_limits_and_hours_are_worded_as_set() -> None:
    only_total = RuleSetting(mode="autonomous", min_confidence=Decimal("0.75"), limit_total_hour=3)
    assert rule_sentence(only_total) == (
        "Autonomous when confidence ≥ 0.75, at any time, at most 3 per hour across all clients; "
        "VIP and privileged contacts always need approval."
    )
    business = RuleSetting(mode="autonomous", autonomous_hours="business")
    assert "only in the client's business hours, with no hourly limit;" in rule_sentence(business)


def test_other_modes_defaults_and_shadow_read_plainly() -> None:
    assert rule_sentence(RuleSetting(mode="off")) == "Off: never proposed."
    assert rule_sentence(RuleSetting(mode="suggest")) == (
        "Suggest only: shown to technicians, never executed."
    )
    assert rule_sentence(RuleSetting(mode="approval")).startswith("Needs approval:")
    assert rule_sentence(RuleSetting(mode="suggest"), default=True) == (
        "Default: suggest only — shown to technicians, never executed."
    )
    assert rule_sentence(RuleSetting(mode="approval"), shadow=True).startswith("Shadow mode:")
    assert not rule_sentence(RuleSetting(mode="off"), shadow=True).startswith("Shadow mode:")


def test_the_mode_summary_groups_kinds_most_autonomous_first(world: World) -> None:
    policy = policy_with(world, set_priority="autonomous", set_queue="autonomous", reply="off")
    summary = mode_summary(policy.rules.all())
    assert summary == [
        ("autonomous", "Autonomous", ["Route to queue", "Set priority"]),
        ("off", "Off", ["Reply to requester"]),
    ]


# --- policy list and create ------------------------------------------------------------


def test_the_list_shows_policies_and_types_without_one(world: World) -> None:
    policy_with(world, shadow=True, set_priority="autonomous")
    TicketType.objects.create(name="Printer jam", slug="printer")
    body = world.login(world.manager).get(reverse("policy_list")).content.decode()
    assert "Password reset" in body and "Shadow" in body and "Set priority" in body
    assert "Printer jam" in body and "Every ticket type" in body
    assert body.count("Create policy") == 2  # the default and the printer type
    assert 'data-hotkey="n"' in body


def test_the_list_has_an_empty_state(world: World) -> None:
    body = world.login(world.tech_in).get(reverse("policy_list")).content.decode()
    assert "No agent policies yet" in body


def test_technicians_and_owners_see_policies_without_edit_controls(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    for staff in (world.tech_in, world.owner):
        http = world.login(staff)
        listing = http.get(reverse("policy_list")).content.decode()
        assert "Password reset" in listing
        assert "Create policy" not in listing and reverse("policy_create") not in listing
        editor = http.get(reverse("policy_edit", args=[policy.id])).content.decode()
        assert "Save policy" not in editor
        assert re.search(r'<select name="set_priority-mode"[^>]*\bdisabled\b', editor)
        assert "read-only view" in editor


def test_a_manager_creates_a_policy_and_lands_on_its_editor(world: World) -> None:
    response = world.login(world.manager).post(
        reverse("policy_create"),
        {"ticket_type": world.ticket_type.id, "client": world.client.id, "shadow_mode": "on"},
    )
    policy = AgentPolicy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("policy_edit", args=[policy.id])
    assert (policy.ticket_type, policy.client, policy.shadow_mode) == (
        world.ticket_type,
        world.client,
        True,
    )
    assert policy.revisions.get().changed_by == world.manager


def test_an_htmx_create_redirects_the_browser(world: World) -> None:
    response = world.login(world.manager).post(reverse("policy_create"), {}, headers=HX)
    policy = AgentPolicy.objects.get(ticket_type=None, client=None)
    assert response["HX-Redirect"] == reverse("policy_edit", args=[policy.id])


def test_a_duplicate_policy_is_a_400_with_the_reason(world: World) -> None:
    policy_with(world)
    response = world.login(world.manager).post(
        reverse("policy_create"), {"ticket_type": world.ticket_type.id}, headers=HX
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="create-errors"')
    assert "already exists" in body
    assert AgentPolicy.objects.count() == 1


def test_a_client_out_of_scope_cannot_be_chosen(world: World) -> None:
    world.manager.all_clients = False
    world.manager.save()
    world.manager.clients.set([world.client])
    response = world.login(world.manager).post(
        reverse("policy_create"), {"client": world.other_client.id}
    )
    assert response.status_code == 400
    assert "Client: Select a valid choice" in response.content.decode()
    assert not AgentPolicy.objects.exists()


# --- the editor ------------------------------------------------------------------------


def test_the_editor_shows_every_kind_its_risk_meaning_and_history(world: World) -> None:
    policy = policy_with(
        world,
        set_priority=(
            "autonomous",
            {"autonomous_hours": "after_hours", "limit_per_client_hour": 5, "limit_total_hour": 20},
        ),
    )
    response = world.login(world.manager).get(reverse("policy_edit", args=[policy.id]))
    body = html.unescape(response.content.decode())
    for kind in KINDS.values():
        assert kind.label in body
    assert 'class="badge gov-risk high"' in body
    assert "only outside the client's business hours, at most 5 per client and 20 overall" in body
    assert "Default: off — never proposed." in body  # reset_password has no rule
    assert "Default (Off)" in body
    assert "v2" in body and "Set priority mode: default → Autonomous" in body
    assert 'data-hotkey="s"' in body


def test_saving_the_editor_records_a_revision_and_the_gate_uses_it(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    assert autonomy_now(world) == "approval"
    data = editor_data(
        policy,
        set_priority__mode="autonomous",
        set_priority__min_confidence="0.80",
        set_priority__limit_total_hour="20",
    )
    response = world.login(world.manager).post(reverse("policy_edit", args=[policy.id]), data)
    assert response.status_code == 200
    assert "Saved as version 3." in response.content.decode()
    policy.refresh_from_db()
    assert policy.version == 3
    rule = policy.rules.get(action_kind="set_priority")
    assert (rule.mode, rule.min_confidence, rule.limit_total_hour) == (
        "autonomous",
        Decimal("0.80"),
        20,
    )
    assert not policy.rules.filter(action_kind="reply").exists()  # left on "Default"
    revision = PolicyRevision.objects.filter(policy=policy).first()
    assert revision is not None and revision.version == 3
    assert revision.changed_by == world.manager
    assert "Set priority min confidence: 0.90 → 0.80" in revision.summary
    assert autonomy_now(world, confidence=0.85) == "autonomous"
    assert autonomy_now(world, confidence=0.75) == "approval"


def test_saving_without_changes_says_so(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    response = world.login(world.manager).post(
        reverse("policy_edit", args=[policy.id]), editor_data(policy), headers=HX
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="editor"')
    assert "Nothing changed; this is still version 2." in body
    assert PolicyRevision.objects.filter(policy=policy).count() == 2


def test_shadow_mode_is_toggled_from_the_editor(world: World) -> None:
    policy = policy_with(world, set_priority="autonomous")
    world.login(world.manager).post(
        reverse("policy_edit", args=[policy.id]), editor_data(policy, shadow_mode="on")
    )
    policy.refresh_from_db()
    assert policy.shadow_mode is True
    assert propose(world.ticket).status == Action.Status.SHADOW


def test_a_confidence_above_one_is_a_400_naming_the_kind_and_field(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    data = editor_data(policy, set_priority__mode="autonomous", set_priority__min_confidence="1.5")
    response = world.login(world.manager).post(reverse("policy_edit", args=[policy.id]), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Set priority — Minimum confidence: Ensure this value is less than or equal to 1." in (
        body
    )
    assert "Nothing was saved" in body
    policy.refresh_from_db()
    assert policy.version == 2
    assert policy.rules.get(action_kind="set_priority").mode == "approval"


def test_a_stale_editor_is_refused(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    stale = editor_data(policy, set_priority__mode="off")
    services.policy_save(
        policy=policy,
        staff=world.manager,
        shadow_mode=False,
        rules=[services.RuleInput(action_kind="set_priority", mode="autonomous")],
    )
    response = world.login(world.manager).post(reverse("policy_edit", args=[policy.id]), stale)
    assert response.status_code == 400
    assert "Someone saved version 3 after you opened version 2" in response.content.decode()
    assert policy.rules.get(action_kind="set_priority").mode == "autonomous"


def test_an_unknown_policy_is_a_404(world: World) -> None:
    assert world.login(world.manager).get(reverse("policy_edit", args=[999])).status_code == 404


# --- kill switches ---------------------------------------------------------------------


def test_the_kill_switch_page_lists_global_and_client_switches(world: World) -> None:
    services.kill_switch_set(
        client=world.client, engaged=True, reason="Audit week", staff=world.manager
    )
    body = world.login(world.manager).get(reverse("kill_switch")).content.decode()
    assert "Every client (global)" in body
    assert "Acme Dental" in body and "Globex Legal" in body
    assert "ENGAGED — agent stopped" in body and "“Audit week”" in body
    assert "by Manager" in body
    assert 'data-hotkey="k"' in body


def test_a_technician_sees_only_their_clients_switches_and_no_controls(world: World) -> None:
    body = world.login(world.tech_in).get(reverse("kill_switch")).content.decode()
    assert "Acme Dental" in body and "Globex Legal" not in body
    assert "Engage</button>" not in body


def test_engaging_without_a_reason_is_a_400(world: World) -> None:
    response = world.login(world.manager).post(
        reverse("kill_switch"), {"client": "", "engaged": "1", "reason": "  "}, headers=HX
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="switches"')
    assert "Reason: Say why the agent is being stopped." in body
    assert not KillSwitch.objects.filter(engaged=True).exists()


def test_an_engaged_global_switch_blocks_queued_and_new_actions(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    queued = propose(world.ticket)
    assert queued.status == Action.Status.QUEUED
    http = world.login(world.manager)
    response = http.post(
        reverse("kill_switch"), {"client": "", "engaged": "1", "reason": "Model misbehaving"}
    )
    assert response.status_code == 302
    page = http.get(reverse("kill_switch")).content.decode()
    assert "The agent is stopped for every client." in page
    blocked = gate.action_execute(action_id=queued.id)
    assert blocked.status == Action.Status.BLOCKED
    assert "Model misbehaving" in blocked.status_reason
    waiting = propose(world.ticket)
    assert waiting.status == Action.Status.PROPOSED
    approved = services.action_approve(action=waiting, staff=world.tech_in)
    assert gate.action_execute(action_id=approved.id).status == Action.Status.BLOCKED

    released = http.post(reverse("kill_switch"), {"client": "", "engaged": "0"}, headers=HX)
    assert released.status_code == 200
    assert "The kill switch for every client is released." in released.content.decode()
    assert propose(world.ticket).status == Action.Status.QUEUED


# --- who may change what ---------------------------------------------------------------


def test_non_managers_cannot_post_to_any_manager_page(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    before = (
        AgentPolicy.objects.count(),
        PolicyRevision.objects.count(),
        KillSwitch.objects.count(),
    )
    posts = [
        (reverse("policy_create"), {"ticket_type": "", "shadow_mode": "on"}),
        (
            reverse("policy_edit", args=[policy.id]),
            editor_data(policy, set_priority__mode="autonomous"),
        ),
        (reverse("kill_switch"), {"client": "", "engaged": "1", "reason": "Because"}),
        (
            reverse("ladder_apply"),
            {"ticket_type": world.ticket_type.id, "kind": "set_priority", "mode": "autonomous"},
        ),
    ]
    for staff in (world.tech_in, world.tech_out, world.owner):
        http = world.login(staff)
        for url, data in posts:
            response = http.post(url, data)
            assert response.status_code == 403, (staff, url)
            assert "managers" in response.content.decode()
    after = (
        AgentPolicy.objects.count(),
        PolicyRevision.objects.count(),
        KillSwitch.objects.count(),
    )
    assert after == before
    assert policy.rules.get(action_kind="set_priority").mode == "approval"


def test_anonymous_visitors_are_sent_to_sign_in(world: World) -> None:
    from django.test import Client as HttpClient

    for name in ("policy_list", "kill_switch", "weekly_review"):
        response = HttpClient().get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]
