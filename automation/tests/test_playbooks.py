"""The account playbooks end to end against a real directory (a private OpenLDAP with the
password-policy overlay, `tests/slapd.py`), through the governance gate: requester
verification, each step a gated action, verification by reading the account back, the new
password delivered by one-time link only — and a technician handed the ticket, with the
reason, whenever a playbook must not or cannot finish."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django_q.conf import Conf

from automation.models import PlaybookRun, ToolConnection
from automation.playbooks.engine import playbook_start
from automation.secrets import secret_open
from automation.tests.helpers import type_with_policy
from automation.tools.directory import BindOutcome, Directory
from governance import services
from governance.models import Action
from tests.fixtures import World, make_ticket
from tickets.models import Contact, OutboxItem, Ticket, TicketEvent, TicketType

AUTONOMOUS = {"reply": "autonomous", "set_status": "autonomous"}


@pytest.fixture
def desk(world: World, slapd: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(Conf, "SYNC", True)  # gate tasks run where they are queued
    connection = ToolConnection(
        client=world.client,
        kind=ToolConnection.Kind.LDAP,
        settings={
            "url": slapd.url,
            "bind_dn": slapd.admin_dn,
            "users_base": slapd.people_dn,
            "groups_base": slapd.groups_dn,
            "timeout": 5.0,
        },
    )
    connection.secret = slapd.admin_password
    connection.save()
    return world


def _account(slapd: Any, contact: Contact, password: str | None = None) -> str:
    uid, _, password = slapd.user(contact.first_name.lower(), password)
    contact.directory_username = uid
    contact.save(update_fields=["directory_username"])
    return password


def _run(ticket: Ticket, django_capture_on_commit_callbacks: Any) -> PlaybookRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = playbook_start(Ticket.objects.get(pk=ticket.pk))
    assert run is not None, "no playbook started"
    return PlaybookRun.objects.get(pk=run.pk)


def test_a_password_reset_is_done_verified_and_delivered_by_link_only(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    kind = type_with_policy(desk, "password-reset", {"reset_password": "autonomous", **AUTONOMOUS})
    old = _account(slapd, desk.contact)
    ticket = make_ticket(
        desk.client,
        summary="Forgot my password",
        external_id="PW-1",
        contact=desk.contact,
        type=kind,
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.DONE, run.reason
    steps = list(Action.objects.filter(ticket=ticket).order_by("id").values_list("kind", "status"))
    assert steps == [("reset_password", "verified"), ("set_status", "verified")]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    reply = ticket.events.get(kind=TicketEvent.Kind.REPLY)
    token = re.search(r"/s/([\w-]+)/", reply.body)
    assert token is not None
    password = secret_open(token[1])
    assert password and password not in reply.body
    with Directory(slapd.config()) as directory:
        uid = desk.contact.directory_username
        assert directory.check_password(uid, old) == BindOutcome.INVALID
        assert directory.check_password(uid, password) == BindOutcome.MUST_CHANGE
    # The password is nowhere but the (now erased) one-time secret.
    written = json.dumps(
        [
            list(TicketEvent.objects.values_list("body", "data")),
            list(Action.objects.values_list("params", "result", "error")),
            list(OutboxItem.objects.values_list("payload", flat=True)),
        ],
        default=str,
    )
    assert password not in written
    assert password not in caplog.text
    said = list(ticket.events.filter(kind=TicketEvent.Kind.PLAYBOOK).values_list("body", flat=True))
    assert said[0].startswith("Started: the requester, Dana")
    assert said[-1].startswith("Done. Password reset, verified")


def test_a_vip_account_is_handed_to_a_technician(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "password-reset", {"reset_password": "autonomous", **AUTONOMOUS})
    _account(slapd, desk.contact)
    Contact.objects.filter(pk=desk.contact.pk).update(is_vip=True)
    ticket = make_ticket(
        desk.client, summary="Reset please", external_id="PW-2", contact=desk.contact, type=kind
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.HANDED_OVER
    assert "VIP" in run.reason
    assert not Action.objects.filter(ticket=ticket).exists()
    assert "Handed to a technician" in ticket.events.get(kind=TicketEvent.Kind.PLAYBOOK).body


def test_a_reset_of_someone_elses_account_needs_an_authorised_requester(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "password-reset", {"reset_password": "autonomous", **AUTONOMOUS})
    boss = Contact.objects.create(
        client=desk.client, first_name="Bob", last_name="Stone", email="bob@acme.test"
    )
    _account(slapd, boss)
    ticket = make_ticket(
        desk.client,
        summary="Please reset Bob Stone's password",
        external_id="PW-3",
        contact=desk.contact,
        type=kind,
    )

    refused = _run(ticket, django_capture_on_commit_callbacks)
    assert refused.status == PlaybookRun.Status.HANDED_OVER
    assert "not an authorised contact" in refused.reason

    Contact.objects.filter(pk=desk.contact.pk).update(may_request_for_others=True)
    PlaybookRun.objects.all().delete()
    allowed = _run(ticket, django_capture_on_commit_callbacks)
    assert allowed.status == PlaybookRun.Status.DONE, allowed.reason
    reset = Action.objects.get(ticket=ticket, kind="reset_password")
    assert reset.params["contact"] == boss.id


def test_a_reset_waits_for_approval_then_goes_on(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "password-reset", {"reset_password": "approval", **AUTONOMOUS})
    _account(slapd, desk.contact)
    ticket = make_ticket(
        desk.client, summary="Locked out", external_id="PW-4", contact=desk.contact, type=kind
    )
    run = _run(ticket, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRun.Status.WAITING
    action = Action.objects.get(ticket=ticket)
    assert action.status == Action.Status.PROPOSED

    with django_capture_on_commit_callbacks(execute=True):
        services.action_approve(action=action, staff=desk.tech_in)

    run.refresh_from_db()
    assert run.status == PlaybookRun.Status.DONE, run.reason
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED


def test_an_unlock_is_verified_and_the_requester_told(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "account-unlock", {"unlock_account": "autonomous", **AUTONOMOUS})
    _account(slapd, desk.contact)
    uid = desk.contact.directory_username
    with Directory(slapd.config()) as directory:
        for _ in range(3):
            directory.check_password(uid, "wrong-password")
        assert directory.account(uid).locked
    ticket = make_ticket(
        desk.client, summary="Account locked", external_id="UL-1", contact=desk.contact, type=kind
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.DONE, run.reason
    with Directory(slapd.config()) as directory:
        assert not directory.account(uid).locked
    assert "unlocked" in ticket.events.get(kind=TicketEvent.Kind.REPLY).body


def test_a_group_change_names_its_group_and_is_verified(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(
        desk, "group-change", {"change_group_membership": "autonomous", **AUTONOMOUS}
    )
    _account(slapd, desk.contact)
    other, _, _ = slapd.user("other")
    group, _ = slapd.group([other], name="finance")
    ticket = make_ticket(
        desk.client,
        summary="Access to finance files",
        description=f"Hi, could you add me to the {group} group? Thanks",
        external_id="GR-1",
        contact=desk.contact,
        type=kind,
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.DONE, run.reason
    with Directory(slapd.config()) as directory:
        assert desk.contact.directory_username in directory.members(group)
    action = Action.objects.get(ticket=ticket, kind="change_group_membership")
    assert (action.params["group"], action.params["operation"]) == (group, "add")


def test_a_failing_directory_hands_over_with_the_reason(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "password-reset", {"reset_password": "autonomous", **AUTONOMOUS})
    _account(slapd, desk.contact)
    ToolConnection.objects.filter(client=desk.client).update(
        settings={
            "url": "ldap://127.0.0.1:9",  # nothing listens
            "bind_dn": slapd.admin_dn,
            "users_base": slapd.people_dn,
            "groups_base": slapd.groups_dn,
            "timeout": 2.0,
        }
    )
    ticket = make_ticket(
        desk.client, summary="Forgot password", external_id="PW-5", contact=desk.contact, type=kind
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.HANDED_OVER
    assert run.reason.startswith("Reset a password failed: The directory answered")
    assert Ticket.objects.get(pk=ticket.pk).status != Ticket.Status.RESOLVED


def test_mfa_reenrolment_through_graph(
    desk: World, django_capture_on_commit_callbacks: Any
) -> None:
    from automation.tools.simulators.graph import GraphSimulator

    kind = type_with_policy(desk, "mfa-reenrolment", {"reenrol_mfa": "autonomous", **AUTONOMOUS})
    with GraphSimulator() as graph:
        graph.add_user("dana@acme.test", "Dana", "Initial-Passw0rd!")
        graph.add_method("dana@acme.test", "microsoftAuthenticator")
        graph.add_method("dana@acme.test", "phone")
        entra = ToolConnection(
            client=desk.client,
            kind=ToolConnection.Kind.ENTRA,
            settings={
                "tenant_id": graph.tenant_id,
                "client_id": graph.client_id,
                "graph_base": graph.graph_base,
                "login_base": graph.url,
                "timeout": 5.0,
            },
        )
        entra.secret = graph.client_secret
        entra.save()
        ticket = make_ticket(
            desk.client,
            summary="New phone, MFA",
            external_id="MF-1",
            contact=desk.contact,
            type=kind,
        )

        run = _run(ticket, django_capture_on_commit_callbacks)

        assert run.status == PlaybookRun.Status.DONE, run.reason
        assert graph.methods("dana@acme.test") == ["password"]
        assert graph.sessions_revoked_at("dana@acme.test") is not None
    action = Action.objects.get(ticket=ticket, kind="reenrol_mfa")
    assert action.status == Action.Status.VERIFIED
    assert action.result["methods_removed"] == 2


def test_software_install_through_the_rmm(
    desk: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.account_executors import InstallSoftwareExecutor
    from automation.tools.simulators.rmm import RmmSimulator

    monkeypatch.setattr(InstallSoftwareExecutor, "poll_seconds", 0.01)
    kind = type_with_policy(
        desk, "software-install", {"install_software": "autonomous", **AUTONOMOUS}
    )
    desk.asset.rmm_device_id = "4711"
    desk.asset.primary_contact = desk.contact
    desk.asset.save()
    with RmmSimulator() as rmm:
        rmm.add_device(4711, desk.asset.hostname)
        connection = ToolConnection(
            client=desk.client,
            kind=ToolConnection.Kind.RMM,
            settings={"base_url": rmm.url, "client_id": rmm.client_id, "timeout": 5.0},
        )
        connection.secret = rmm.client_secret
        connection.save()
        ticket = make_ticket(
            desk.client,
            summary="Please install Zoom Workplace",
            external_id="SW-1",
            contact=desk.contact,
            type=kind,
        )
        ticket.assets.add(desk.asset)

        run = _run(ticket, django_capture_on_commit_callbacks)

        assert run.status == PlaybookRun.Status.DONE, run.reason
        assert "Zoom Workplace (64-bit)" in rmm.software(4711)
    action = Action.objects.get(ticket=ticket, kind="install_software")
    assert (action.params["package"], action.status) == ("zoom", Action.Status.VERIFIED)


def test_the_rate_limit_stops_a_burst_of_resets_for_one_client(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from decimal import Decimal

    kind, _ = TicketType.objects.get_or_create(slug="password-reset", defaults={"name": "PR"})
    policy = services.policy_create(
        ticket_type=kind, client=None, staff=desk.manager, shadow_mode=False
    )
    rules = [
        services.RuleInput(
            action_kind="reset_password",
            mode="autonomous",
            min_confidence=Decimal("0.5"),
            limit_per_client_hour=2,
        ),
        services.RuleInput(action_kind="set_status", mode="autonomous"),
    ]
    services.policy_save(policy=policy, staff=desk.manager, shadow_mode=False, rules=rules)
    runs = []
    for number in range(5):
        person = Contact.objects.create(
            client=desk.client, first_name=f"P{number}", email=f"p{number}@acme.test"
        )
        _account(slapd, person)
        ticket = make_ticket(
            desk.client, summary="Reset", external_id=f"RL-{number}", contact=person, type=kind
        )
        runs.append(_run(ticket, django_capture_on_commit_callbacks))

    statuses = [run.status for run in runs]
    assert statuses.count(PlaybookRun.Status.DONE) == 2
    assert statuses.count(PlaybookRun.Status.HANDED_OVER) == 3
    blocked = Action.objects.filter(kind="reset_password", status=Action.Status.BLOCKED)
    assert blocked.count() == 3
    assert all("Limit reached" in a.status_reason for a in blocked)


def test_a_group_change_for_someone_unknown_is_handed_over(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(
        desk, "group-change", {"change_group_membership": "autonomous", **AUTONOMOUS}
    )
    _account(slapd, desk.contact)
    ticket = make_ticket(
        desk.client,
        summary="Add Bob Nobody to the Finance distribution list",
        external_id="GR-2",
        contact=desk.contact,
        type=kind,
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.HANDED_OVER
    assert "Bob Nobody, who is not a contact on record" in run.reason
    assert not Action.objects.filter(ticket=ticket).exists()


def test_a_reset_for_someone_named_but_unknown_is_handed_over(
    desk: World, slapd: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kind = type_with_policy(desk, "password-reset", {"reset_password": "autonomous", **AUTONOMOUS})
    _account(slapd, desk.contact)
    ticket = make_ticket(
        desk.client,
        summary="Password reset please",
        description="Could you reset Priya's password? She is back from leave today.",
        external_id="PW-6",
        contact=desk.contact,
        type=kind,
    )

    run = _run(ticket, django_capture_on_commit_callbacks)

    assert run.status == PlaybookRun.Status.HANDED_OVER
    assert "about Priya's account" in run.reason
    assert not Action.objects.filter(ticket=ticket).exists()  # not the requester's reset
