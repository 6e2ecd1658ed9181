"""The governance REST API: the approval queue, approving and rejecting, policies, the schema."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance import services
from governance.models import Action, AgentPolicy, PolicyRevision
from governance.tests.helpers import policy_with, propose
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import Queue, StaffMember, Ticket

pytestmark = pytest.mark.django_db

QUEUE_URL = "/api/governance/approvals/"
JSON = "application/json"


def action_url(action: Action, step: str = "") -> str:
    name = f"api_action_{step}" if step else "api_action_detail"
    return reverse(name, kwargs={"action_id": action.id})


def policy_url(policy: AgentPolicy) -> str:
    return reverse("api_policy_detail", kwargs={"policy_id": policy.id})


def foreign_ticket(world: World, external_id: str = "T-3") -> Ticket:
    """A ticket of the other client, of the type the world's policies cover."""
    return make_ticket(
        world.other_client,
        summary="Globex VPN down",
        external_id=external_id,
        type=world.ticket_type,
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def snapshot(action: Action) -> tuple[Any, ...]:
    action.refresh_from_db()
    return (action.status, action.params, action.original_params, action.decided_by_id)


@pytest.fixture
def proposals(world: World) -> tuple[Action, Action]:
    """One proposal waiting for approval on each client's ticket."""
    policy_with(world, set_priority="approval")
    mine = propose(world.ticket)
    theirs = propose(foreign_ticket(world))
    assert mine.status == theirs.status == Action.Status.PROPOSED
    return mine, theirs


# --- the approval queue ------------------------------------------------------------------


def test_the_queue_lists_only_actions_of_clients_the_caller_serves(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, theirs = proposals
    assert ids(world.login(world.tech_in).get(QUEUE_URL)) == [mine.id]
    assert ids(world.login(world.tech_out).get(QUEUE_URL)) == [theirs.id]
    assert sorted(ids(world.login(world.manager).get(QUEUE_URL))) == sorted([mine.id, theirs.id])


def test_a_queue_item_says_what_who_why_and_on_which_ticket(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    body = world.login(world.tech_in).get(QUEUE_URL).json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["ticket"] == {
        "id": world.ticket.id,
        "external_id": "T-1",
        "summary": "Dana cannot sign in",
        "client": {"id": world.client.id, "name": "Acme Dental"},
        "priority": world.ticket.priority,
        "priority_label": world.ticket.get_priority_display(),
        "sla_resolution_due_at": None,
    }
    assert item["kind"] == "set_priority"
    assert item["kind_label"] == "Set priority"
    assert item["risk"] == "low"
    assert item["params"] == {"priority": 1}
    assert item["what"] == mine.what()
    assert "Critical" in item["what"]
    assert item["proposer"] == {
        "kind": "model",
        "name": "triage",
        "model_version": "v1",
        "label": mine.proposer_label,
    }
    assert item["confidence"] == pytest.approx(0.97)
    assert item["rationale"] == "Outage words in the summary."
    assert item["status"] == "proposed"
    assert item["status_reason"] == mine.status_reason
    assert {"evidence", "created_at", "expires_at"} <= set(item)


def test_the_queue_filters_by_kind_and_client(world: World) -> None:
    policy_with(world, set_priority="approval", set_queue="approval")
    priority = propose(world.ticket)
    queue = propose(world.ticket, "set_queue", {"queue": world.queue.id})
    theirs = propose(foreign_ticket(world))
    http = world.login(world.manager)
    assert ids(http.get(QUEUE_URL, {"kind": "set_queue"})) == [queue.id]
    assert sorted(ids(http.get(QUEUE_URL, {"client": world.client.id}))) == sorted(
        [priority.id, queue.id]
    )
    assert ids(http.get(QUEUE_URL, {"client": world.other_client.id})) == [theirs.id]
    assert ids(world.login(world.tech_out).get(QUEUE_URL, {"client": world.client.id})) == []


def test_the_queue_sorts_by_confidence_or_age(world: World) -> None:
    policy_with(world, set_priority="approval")
    unsure = propose(world.ticket, confidence=0.6)
    sure = propose(world.ticket, confidence=0.99)
    http = world.login(world.tech_in)
    assert ids(http.get(QUEUE_URL, {"sort": "confidence"})) == [sure.id, unsure.id]
    assert ids(http.get(QUEUE_URL, {"sort": "oldest"})) == [unsure.id, sure.id]
    assert ids(http.get(QUEUE_URL, {"sort": "newest"})) == [sure.id, unsure.id]


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("sort", "urgent", "sla, oldest, newest, confidence"),
        ("kind", "format_disk", "set_priority"),
        ("client", "acme", ""),
        ("client", "0", ""),
    ],
)
def test_a_bad_queue_filter_is_a_400_naming_the_field(
    world: World, field: str, value: str, accepted: str
) -> None:
    response = world.login(world.tech_in).get(QUEUE_URL, {field: value})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert accepted in body[field][0]


def test_the_queue_makes_as_many_queries_for_many_rows_as_for_few(
    world: World, django_assert_max_num_queries: Any
) -> None:
    policy_with(world, set_priority="approval", set_queue="approval", assign="approval")

    def one_of_each(n: int) -> None:
        ticket = make_ticket(
            world.client, summary=f"Ticket {n}", external_id=f"T-1{n}", type=world.ticket_type
        )
        queue = Queue.objects.create(name=f"Queue {n}", slug=f"queue-{n}")
        tech = make_staff(f"tech{n}", StaffMember.Role.TECHNICIAN, clients=[world.client])
        propose(ticket, "set_priority", {"priority": 1 + n % 4})
        propose(ticket, "set_queue", {"queue": queue.id})
        propose(ticket, "assign", {"assignee": tech.id})

    http = world.login(world.tech_in)
    one_of_each(0)
    with CaptureQueriesContext(connection) as few:
        assert len(ids(http.get(QUEUE_URL))) == 3
    for n in range(1, 6):
        one_of_each(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = http.get(QUEUE_URL)
    items = response.json()["results"]
    assert len(items) == 18
    # Names come from one look-up per catalogue; the words are the same as each action's own.
    words = {action.id: action.what() for action in Action.objects.select_related("ticket")}
    assert {item["id"]: item["what"] for item in items} == words
    assert any("Queue 5" in item["what"] for item in items)
    assert any("Tech5" in item["what"] for item in items)


# --- one action: detail, approve, reject -------------------------------------------------


def test_the_detail_shows_the_decision_fields(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    response = world.login(world.tech_in).get(action_url(mine))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == mine.id
    assert body["decided_by"] is None
    assert body["original_params"] is None
    assert {"decided_at", "rejection_reason", "result", "error"} <= set(body)


@pytest.mark.parametrize(
    ("step", "body"),
    [("", None), ("approve", {}), ("reject", {"reason": "Not this one."})],
)
def test_a_foreign_action_is_not_found_and_nothing_changes(
    world: World, proposals: tuple[Action, Action], step: str, body: dict[str, Any] | None
) -> None:
    _, theirs = proposals
    before = snapshot(theirs)
    http = world.login(world.tech_in)
    url = action_url(theirs, step)
    response = http.get(url) if body is None else http.post(url, body, JSON)
    assert response.status_code == 404
    assert snapshot(theirs) == before


def test_an_owner_may_not_approve_and_nothing_changes(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    before = snapshot(mine)
    response = world.login(world.owner).post(action_url(mine, "approve"), content_type=JSON)
    assert response.status_code == 403
    assert "approve" in response.json()["detail"]
    assert snapshot(mine) == before


def test_approving_queues_the_action_as_proposed(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    response = world.login(world.tech_in).post(action_url(mine, "approve"), content_type=JSON)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["decided_by"] == {"id": world.tech_in.id, "name": "Insider"}
    assert body["original_params"] is None
    assert snapshot(mine) == (Action.Status.QUEUED, {"priority": 1}, None, world.tech_in.id)


def test_approving_with_edited_params_keeps_the_original(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    response = world.login(world.tech_in).post(
        action_url(mine, "approve"), {"params": {"priority": 3}}, JSON
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["params"] == {"priority": 3}
    assert body["original_params"] == {"priority": 1}
    assert snapshot(mine) == (
        Action.Status.QUEUED,
        {"priority": 3},
        {"priority": 1},
        world.tech_in.id,
    )


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"priority": 9}, "priority", "1 (critical) to 4 (low)"),
        ({"priority": 2, "colour": "red"}, "non_field_errors", "it takes: priority"),
        ({}, "params", "empty"),
    ],
)
def test_approving_with_invalid_params_is_a_400_naming_the_param(
    world: World,
    proposals: tuple[Action, Action],
    params: dict[str, Any],
    field: str,
    words: str,
) -> None:
    mine, _ = proposals
    before = snapshot(mine)
    response = world.login(world.tech_in).post(
        action_url(mine, "approve"), {"params": params}, JSON
    )
    assert response.status_code == 400
    errors = response.json()["params"]
    messages = errors if isinstance(errors, list) else errors[field]
    assert words in " ".join(messages)
    assert snapshot(mine) == before


def test_approving_a_decided_action_is_a_400_saying_so(
    world: World, proposals: tuple[Action, Action]
) -> None:
    mine, _ = proposals
    services.action_reject(action=mine, staff=world.tech_in, reason="Wrong ticket.")
    response = world.login(world.tech_in).post(action_url(mine, "approve"), content_type=JSON)
    assert response.status_code == 400
    assert "already rejected" in response.json()["non_field_errors"][0]


def test_rejecting_records_the_reason(world: World, proposals: tuple[Action, Action]) -> None:
    mine, _ = proposals
    response = world.login(world.tech_in).post(
        action_url(mine, "reject"), {"reason": "The customer asked for P3."}, JSON
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    mine.refresh_from_db()
    assert mine.status == Action.Status.REJECTED
    assert mine.rejection_reason == "The customer asked for P3."


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_rejecting_without_a_reason_is_a_400(
    world: World, proposals: tuple[Action, Action], body: dict[str, Any]
) -> None:
    mine, _ = proposals
    before = snapshot(mine)
    response = world.login(world.tech_in).post(action_url(mine, "reject"), body, JSON)
    assert response.status_code == 400
    assert "Say why" in response.json()["reason"][0]
    assert snapshot(mine) == before


# --- policies ----------------------------------------------------------------------------

RULES = [{"action_kind": "set_priority", "mode": "autonomous", "min_confidence": "0.85"}]


def test_policies_are_listed_with_their_rules(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    body = world.login(world.tech_in).get(reverse("api_policy_list")).json()
    assert [item["id"] for item in body["results"]] == [policy.id]
    assert body["results"][0]["rules"][0]["action_kind"] == "set_priority"
    assert body["results"][0]["rules"][0]["mode"] == "approval"


def test_a_policy_shows_its_rules_and_revisions(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    body = world.login(world.manager).get(policy_url(policy)).json()
    assert body["version"] == policy.version == 2
    assert body["ticket_type"] == {"id": world.ticket_type.id, "name": "Password reset"}
    assert body["client"] is None
    assert [rule["mode"] for rule in body["rules"]] == ["approval"]
    assert [revision["version"] for revision in body["revisions"]] == [2, 1]
    assert body["revisions"][0]["changed_by"] == {"id": world.manager.id, "name": "Manager"}


def test_an_unknown_policy_is_not_found(world: World) -> None:
    assert world.login(world.manager).get("/api/governance/policies/999999/").status_code == 404


@pytest.mark.parametrize("who", ["tech_in", "owner"])
def test_only_managers_change_a_policy(world: World, who: str) -> None:
    policy = policy_with(world, set_priority="approval")
    response = world.login(getattr(world, who)).put(
        policy_url(policy), {"shadow_mode": True, "rules": RULES}, JSON
    )
    assert response.status_code == 403
    assert "managers" in response.json()["detail"]
    policy.refresh_from_db()
    assert (policy.version, policy.shadow_mode) == (2, False)
    assert policy.rules.get().mode == "approval"


def test_a_manager_changes_a_policy_and_a_revision_is_recorded(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    response = world.login(world.manager).put(
        policy_url(policy), {"shadow_mode": True, "rules": RULES}, JSON
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 3
    assert body["shadow_mode"] is True
    assert body["rules"][0]["mode"] == "autonomous"
    assert body["rules"][0]["min_confidence"] == "0.85"
    assert body["revisions"][0]["version"] == 3
    revision = PolicyRevision.objects.get(policy=policy, version=3)
    assert revision.changed_by == world.manager
    assert "Autonomous" in revision.summary
    rule = policy.rules.get()
    assert (rule.mode, rule.min_confidence) == ("autonomous", Decimal("0.85"))


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"action_kind": "set_priority", "mode": "yolo"}, "mode", "off, suggest, approval"),
        ({"action_kind": "format_disk", "mode": "off"}, "action_kind", "set_priority"),
        (
            {"action_kind": "set_priority", "mode": "off", "min_confidence": "1.5"},
            "min_confidence",
            "1",
        ),
        (
            {"action_kind": "set_priority", "mode": "off", "limit_total_hour": 0},
            "limit_total_hour",
            "1",
        ),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(
    world: World, rule: dict[str, Any], field: str, words: str
) -> None:
    policy = policy_with(world, set_priority="approval")
    response = world.login(world.manager).put(
        policy_url(policy), {"shadow_mode": False, "rules": [rule]}, JSON
    )
    assert response.status_code == 400
    errors = response.json()["rules"]["0"]  # errors of the first rule
    assert list(errors) == [field]
    assert words in errors[field][0]
    policy.refresh_from_db()
    assert policy.version == 2


def test_a_kind_given_twice_is_a_400(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    rules = [{"action_kind": "set_priority", "mode": "off"}] * 2
    response = world.login(world.manager).put(
        policy_url(policy), {"shadow_mode": False, "rules": rules}, JSON
    )
    assert response.status_code == 400
    assert "set_priority appears twice" in response.json()["rules"][0]


# --- signing in and the schema -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "api_approval_queue"),
        ("get", "api_action_detail"),
        ("post", "api_action_approve"),
        ("post", "api_action_reject"),
        ("get", "api_policy_list"),
        ("get", "api_policy_detail"),
        ("put", "api_policy_detail"),
    ],
)
def test_anonymous_callers_are_refused(
    world: World, proposals: tuple[Action, Action], method: str, name: str
) -> None:
    mine, _ = proposals
    kwargs: dict[str, int] = {}
    if name.startswith("api_action_"):
        kwargs = {"action_id": mine.id}
    elif name == "api_policy_detail":
        kwargs = {"policy_id": AgentPolicy.objects.get().id}
    before = snapshot(mine)
    response = getattr(HttpClient(), method)(reverse(name, kwargs=kwargs))
    assert response.status_code in (401, 403)
    assert snapshot(mine) == before


API_PATHS = {
    "/api/governance/approvals/",
    "/api/governance/actions/{action_id}/",
    "/api/governance/actions/{action_id}/approve/",
    "/api/governance/actions/{action_id}/reject/",
    "/api/governance/policies/",
    "/api/governance/policies/{policy_id}/",
}


def test_the_schema_is_for_signed_in_people_only() -> None:
    assert HttpClient().get(reverse("api_schema")).status_code in (401, 403)


def test_the_schema_describes_every_endpoint_and_validates_without_warnings(
    world: World, tmp_path: Path
) -> None:
    response = world.login(world.tech_in).get(reverse("api_schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Service desk automation API"
    assert set(schema["paths"]) >= API_PATHS
    assert set(schema["paths"]["/api/governance/policies/{policy_id}/"]) == {"get", "put"}

    out = tmp_path / "schema.yaml"
    # Raises on any warning or on a schema that does not validate against OpenAPI 3.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in API_PATHS:
        assert f"{path}:" in text


def test_a_signed_in_user_without_a_staff_profile_cannot_read_policies(world: World) -> None:
    from django.contrib.auth.models import User
    from django.test import Client as HttpClient

    from governance.tests.helpers import policy_with

    policy = policy_with(world, set_priority="approval")
    http = HttpClient()
    http.force_login(User.objects.create_user(username="visitor", password="x"))
    assert http.get("/api/governance/policies/").status_code == 403
    assert http.get(f"/api/governance/policies/{policy.id}/").status_code == 403
