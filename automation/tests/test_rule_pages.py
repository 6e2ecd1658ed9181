"""The rules pages: who may read and write, the editor's rows and field errors, the preview
(what would change, conflicts, client scope), ordering and switching rules on and off."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from automation.models import TriageRule
from automation.rule_services import RuleInput, rule_create
from tests.fixtures import World, make_ticket
from tickets.models import Priority, Queue


def _post(world: World, **fields: Any) -> dict[str, Any]:
    data = {"name": "VIP first", "match": "all", "is_active": "on"}
    data.update(fields)
    return data


def _rule(world: World, name: str, conditions: list[Any], actions: list[Any]) -> TriageRule:
    data = RuleInput(name, "", "all", conditions, actions, False)
    return rule_create(staff=world.manager, data=data)


@pytest.mark.django_db
def test_everyone_reads_only_managers_write(world: World) -> None:
    rule = _rule(
        world,
        "Urgent words",
        [{"field": "summary", "op": "contains", "value": "down"}],
        [{"kind": "set_priority", "params": {"priority": 1}}],
    )
    tech = world.login(world.tech_in)
    page = tech.get(reverse("rule_list"))
    assert page.status_code == 200 and "Urgent words" in page.content.decode()
    assert "Summary contains “down”" in page.content.decode()
    assert "New rule" not in page.content.decode()
    assert tech.get(reverse("rule_edit", args=[rule.id])).status_code == 200
    assert tech.get(reverse("rule_create")).status_code == 403
    for name in ("rule_move", "rule_set_active", "rule_delete"):
        assert tech.post(reverse(name, args=[rule.id]), {"direction": "up"}).status_code == 403
    refused = tech.post(reverse("rule_edit", args=[rule.id]), _post(world, version=1))
    assert refused.status_code == 403
    assert refused.content.decode().count("Only service desk managers change triage rules") == 1
    rule.refresh_from_db()
    assert rule.version == 1 and rule.is_active
    assert world.login(world.owner).post(reverse("rule_create"), _post(world)).status_code == 403


@pytest.mark.django_db
def test_a_manager_creates_a_rule_from_the_form(world: World) -> None:
    http = world.login(world.manager)
    assert http.get(reverse("rule_create")).status_code == 200
    response = http.post(
        reverse("rule_create"),
        _post(
            world,
            **{
                "c-0-field": "contact_vip",
                "c-0-op": "is",
                "c-0-value": "true",
                "c-3-field": "queue",
                "c-3-op": "in",
                "c-3-value": [str(world.queue.id)],
                "a-0-kind": "set_priority",
                "a-0-priority": "2",
                "a-1-kind": "set_sla",
                "a-1-resolution_minutes": "240",
                "a-1-response_minutes": "",
                "stop_processing": "on",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = TriageRule.objects.get()
    assert rule.conditions == [
        {"field": "contact_vip", "op": "is", "value": True},
        {"field": "queue", "op": "in", "value": [str(world.queue.id)]},
    ]
    assert rule.actions == [
        {"kind": "set_priority", "params": {"priority": 2}},
        {"kind": "set_sla", "params": {"resolution_minutes": 240}},
    ]
    assert rule.stop_processing and rule.created_by == world.manager


@pytest.mark.django_db
def test_a_bad_regex_comes_back_as_a_field_error_with_the_form_kept(world: World) -> None:
    http = world.login(world.manager)
    response = http.post(
        reverse("rule_create"),
        _post(
            world,
            **{
                "c-0-field": "summary",
                "c-0-op": "regex",
                "c-0-value": "disk (full",
                "a-0-kind": "set_priority",
                "a-0-priority": "1",
            },
        ),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Not a valid regular expression" in page and "Nothing was saved" in page
    assert 'value="disk (full"' in page and 'aria-invalid="true"' in page
    assert not TriageRule.objects.exists()


@pytest.mark.django_db
def test_a_stale_save_is_refused(world: World) -> None:
    rule = _rule(world, "Old", [], [{"kind": "set_priority", "params": {"priority": 3}}])
    http = world.login(world.manager)
    fields = {"a-0-kind": "set_priority", "a-0-priority": "2"}
    ok = http.post(
        reverse("rule_edit", args=[rule.id]), _post(world, name="Old", version=1, **fields)
    )
    assert ok.status_code == 302
    stale = http.post(
        reverse("rule_edit", args=[rule.id]), _post(world, name="Old", version=1, **fields)
    )
    assert (
        stale.status_code == 400 and "saved this rule after you opened it" in stale.content.decode()
    )


@pytest.mark.django_db
def test_rows_are_added_and_redrawn_for_their_field(world: World) -> None:
    http = world.login(world.manager)
    added = http.get(
        reverse("rule_row"), {"row": "c", "add": "1", "c-0-field": "text", "c-4-field": "text"}
    )
    assert added.status_code == 200 and 'name="c-5-field"' in added.content.decode()
    redrawn = http.get(
        reverse("rule_row"), {"row": "c", "c-2-field": "priority", "c-2-op": "contains"}
    )
    html = redrawn.content.decode()
    assert 'name="c-2-value" multiple' in html and "P1 Critical" in html
    action = http.get(reverse("rule_row"), {"row": "a", "a-1-kind": "set_queue"})
    assert (
        'name="a-1-queue"' in action.content.decode()
        and world.queue.name in action.content.decode()
    )


@pytest.mark.django_db
def test_preview_shows_what_would_change_and_the_conflicts(world: World) -> None:
    servers = Queue.objects.create(name="Servers", slug="servers")
    _rule(
        world,
        "Disk to L1",
        [{"field": "summary", "op": "contains", "value": "disk"}],
        [{"kind": "set_queue", "params": {"queue": world.queue.id}}],
    )
    for number in range(3):
        make_ticket(world.client, summary=f"Disk full on FS0{number}", external_id=f"D{number}")
    make_ticket(world.other_client, summary="Disk full at Globex", external_id="G1")
    make_ticket(world.client, summary="Printer jam", external_id="P1")
    fields = {
        "c-0-field": "summary",
        "c-0-op": "regex",
        "c-0-value": r"disk (full|space)",
        "a-0-kind": "set_queue",
        "a-0-queue": str(servers.id),
        "weeks": "4",
        "name": "Disk to servers",
    }

    manager = world.login(world.manager).post(reverse("rule_preview"), fields)
    page = manager.content.decode()
    assert manager.status_code == 200
    assert "<strong>4</strong> matched, <strong>0</strong> would change" in page
    assert "“Disk to L1” overrides “Disk to servers” on 4 tickets" in page
    assert "earlier rules decide what it would set" in page
    assert not TriageRule.objects.filter(name="Disk to servers").exists()  # nothing saved

    TriageRule.objects.filter(name="Disk to L1").update(is_active=False)
    page = world.login(world.manager).post(reverse("rule_preview"), fields).content.decode()
    assert "<strong>4</strong> matched, <strong>4</strong> would change" in page
    assert "Queue: (none) → Servers" in page and "overrides" not in page

    # A technician previews only the tickets of clients they serve.
    tech = world.login(world.tech_in).post(reverse("rule_preview"), fields).content.decode()
    assert "<strong>3</strong> matched" in tech and "Globex" not in tech


@pytest.mark.django_db
def test_preview_of_an_invalid_draft_says_what_to_fix(world: World) -> None:
    response = world.login(world.manager).post(
        reverse("rule_preview"),
        {"name": "x", "match": "all", "c-0-field": "summary", "c-0-op": "regex", "c-0-value": "("},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        "Condition 1: Not a valid regular expression" in page
        and "Give the rule at least one action" not in page
    )


@pytest.mark.django_db
def test_the_list_flags_conflicting_rules(world: World) -> None:
    _rule(
        world,
        "Sign-in is high",
        [{"field": "summary", "op": "contains", "value": "sign in"}],
        [{"kind": "set_priority", "params": {"priority": Priority.HIGH}}],
    )
    _rule(
        world,
        "Acme is low",
        [{"field": "client", "op": "in", "value": [str(world.client.id)]}],
        [{"kind": "set_priority", "params": {"priority": Priority.LOW}}],
    )
    page = world.login(world.manager).get(reverse("rule_conflicts")).content.decode()
    assert "Sign-in is high" in page and "Acme is low" in page and f"#{world.ticket.id}" in page
    nobody = world.login(world.tech_out).get(reverse("rule_conflicts")).content.decode()
    assert "No conflicts" in nobody  # the only conflicting ticket is outside their clients


@pytest.mark.django_db
def test_move_switch_off_and_delete(world: World) -> None:
    first = _rule(world, "First", [], [{"kind": "set_priority", "params": {"priority": 3}}])
    second = _rule(world, "Second", [], [{"kind": "add_tag", "params": {"tag": "seen"}}])
    http = world.login(world.manager)
    assert http.post(reverse("rule_move", args=[second.id]), {"direction": "up"}).status_code == 302
    assert list(TriageRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    http.post(reverse("rule_set_active", args=[first.id]), {"active": "off"})
    first.refresh_from_db()
    assert not first.is_active
    http.post(reverse("rule_delete", args=[first.id]))
    assert list(TriageRule.objects.values_list("name", flat=True)) == ["Second"]


@pytest.mark.django_db
def test_empty_states(world: World) -> None:
    page = world.login(world.manager).get(reverse("rule_list")).content.decode()
    assert "No triage rules yet" in page and "New rule" in page
    preview = (
        world.login(world.manager)
        .post(
            reverse("rule_preview"),
            {
                "name": "x",
                "match": "all",
                "c-0-field": "summary",
                "c-0-op": "contains",
                "c-0-value": "nothing like this",
                "a-0-kind": "set_priority",
                "a-0-priority": "1",
            },
        )
        .content.decode()
    )
    assert "No ticket in this period matches" in preview


@pytest.mark.django_db
def test_the_editor_names_only_the_clients_the_reader_serves(world: World) -> None:
    both = [str(world.client.id), str(world.other_client.id)]
    rule = _rule(
        world,
        "Two clients",
        [{"field": "client", "op": "in", "value": both}],
        [{"kind": "set_priority", "params": {"priority": 2}}],
    )
    tech = world.login(world.tech_in)
    for url in (reverse("rule_list"), reverse("rule_edit", args=[rule.id])):
        page = tech.get(url).content.decode()
        assert "Acme Dental" in page and "Globex Legal" not in page
    manager = world.login(world.manager).get(reverse("rule_list")).content.decode()
    assert "Acme Dental" in manager and "Globex Legal" in manager
