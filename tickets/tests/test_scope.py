"""Every route proves that a technician outside a client's scope cannot see or change it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, get_resolver, reverse

from tests.fixtures import World
from tickets.models import TicketEvent

# Routes that hold no client data, so scope does not apply to them.
# The portal is for end users without an account; it shows no client data back.
UNSCOPED_ROUTES = {"login", "logout", "healthz", "portal"}
# Routes naming one object: each is checked below to be a 404 for a technician outside the
# object's client. Value: (HTTP method, which object the URL names: a World attribute, or
# "action" for an agent proposal on the world's ticket).
OBJECT_ROUTES = {
    "ticket_detail": ("get", "ticket"),
    "ticket_note_add": ("post", "ticket"),
    "ticket_time_add": ("post", "ticket"),
    "ticket_brief": ("get", "ticket"),
    "client_detail": ("get", "client"),
    "ticket_actions": ("get", "ticket"),
    "ticket_take_over": ("post", "ticket"),
    "ticket_hand_back": ("post", "ticket"),
    "action_detail": ("get", "action"),
    "action_approve": ("post", "action"),
    "action_edit": ("post", "action"),
    "action_reject": ("post", "action"),
    "action_undo": ("post", "action"),
    "action_correct": ("post", "action"),
    "api_action_detail": ("get", "action"),
    "api_action_approve": ("post", "action"),
    "api_action_reject": ("post", "action"),
    "attachment_download": ("get", "attachment"),
}
# Agent policies are desk-wide configuration, not client data: any staff member may read
# them, only managers may change them (tested in governance/tests/test_manager_pages.py).
MANAGER_CONFIG_ROUTES = {
    "policy_edit",
    "api_policy_detail",
    # Triage rules likewise (automation/tests/test_rule_pages.py); their previews and
    # conflicts list only tickets the user may see.
    "rule_edit",
    "rule_move",
    "rule_set_active",
    "rule_delete",
    # The intake inbox: managers only, any client's raw arrivals (test_inbox_pages.py).
    "inbox_detail",
    "inbox_replay",
    # PSA connections, their mapping and write-back: managers only (tickets/psa/tests).
    "psa_connection_edit",
    "psa_connection_check",
    "psa_connection_sync",
    "psa_connection_runs",
    "psa_mapping",
    "psa_mapping_load",
    "psa_mapping_row",
    "psa_mapping_confirm",
    "psa_outbox_act",
    # Baselines are chosen by managers; weekly reports cover every client, so they are open
    # to owners and managers who see all clients (metrics/tests/test_pages.py).
    "metrics_baseline_activate",
    "metrics_report",
    # The rollout advisor's draft policy (managers) and the data hygiene records (owners and
    # managers; the findings are desk-wide configuration: contacts, assets, KB, mappings).
    "metrics_draft_policy",
    "metrics_hygiene_records",
}
# Machine-to-machine with a signature or credential checked per connection; they store
# deliveries and read nothing back (tickets/psa/tests/test_psa_flow.py).
# The one-time password link: its 256-bit token is the credential, for a requester without
# an account; it shows one secret once (automation/tests/test_secrets.py). The satisfaction
# survey links likewise: the token is the credential, and the page shows only that ticket's
# number and summary (metrics/tests/test_survey.py).
SIGNED_ROUTES = {"api_psa_webhook", "one_time_secret", "csat_answer", "csat_follow_up"}
# Collection routes: each has hand-written tests (here or in the app's tests) showing foreign
# rows left out, or is manager configuration.
COLLECTION_ROUTES = {
    "home",
    "ticket_list",
    "client_list",
    "approval_queue",
    "actions_bulk_approve",
    "action_log",
    "action_log_csv",
    "policy_list",
    "policy_create",
    "kill_switch",
    "weekly_review",
    "ladder_apply",
    "api_schema",
    "api_approval_queue",
    "api_policy_list",
    # Machine-to-machine (an intake key, no user): stores arrivals, reads nothing back.
    "api_intake_ticket",
    "api_intake_alertmanager",
    "api_intake_ninjaone",
    "api_intake_email",
    "rule_list",
    "rule_conflicts",
    "rule_create",
    "rule_row",
    "rule_preview",
    "dispatch_board",
    "dispatch_policy_save",
    "inbox_list",
    "psa_connection_list",
    "psa_connection_new",
    "psa_outbox",
    # Metrics: every figure, drill-down, export and chart is computed within the user's
    # clients (metrics/tests/test_pages.py); baselines and the holdout are manager settings.
    "metrics_owner",
    "metrics_operations",
    "metrics_tickets",
    "metrics_export",
    "metrics_trend",
    "metrics_baselines",
    "metrics_holdout",
    "metrics_reports",
    "metrics_advisor",
    "metrics_refresh",
    "metrics_hygiene",
}


def _product_routes() -> dict[str, URLPattern]:
    routes: dict[str, URLPattern] = {}
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            routes[pattern.name] = pattern
        for sub in getattr(pattern, "url_patterns", []):
            if getattr(pattern, "namespace", None) is None and sub.name:
                routes[sub.name] = sub
    return routes


def test_every_route_has_an_out_of_scope_test() -> None:
    routes = _product_routes()
    with_params = {name for name, route in routes.items() if route.pattern.converters}
    without = set(routes) - with_params - UNSCOPED_ROUTES
    config = MANAGER_CONFIG_ROUTES | SIGNED_ROUTES
    assert with_params - config == set(OBJECT_ROUTES), "list them in OBJECT_ROUTES"
    assert without == COLLECTION_ROUTES, "add out-of-scope tests for new collection routes"


def _target(world: World, what: str) -> Any:
    if what == "attachment":
        from tickets.models import TicketAttachment

        return TicketAttachment.objects.create(
            ticket=world.ticket, filename="a.txt", size=1, sha256="0" * 64, content=b"x"
        )
    if what != "action":
        return getattr(world, what)
    from governance.tests.helpers import policy_with, propose

    policy_with(world, set_priority="approval")
    return propose(world.ticket)


def _state(world: World) -> tuple[Any, ...]:
    from governance.models import Action, AgentHold

    return (
        TicketEvent.objects.count(),
        list(Action.objects.order_by("id").values_list("id", "status", "params")),
        AgentHold.objects.count(),
    )


@pytest.mark.parametrize("name", sorted(OBJECT_ROUTES))
def test_an_object_route_is_a_404_outside_scope(world: World, name: str) -> None:
    method, what = OBJECT_ROUTES[name]
    target = _target(world, what)
    url = reverse(name, args=[target.id])
    data = {"body": "x", "reason": "x", "priority": "2"} if method == "post" else {}
    before = _state(world)
    response = getattr(world.login(world.tech_out), method)(url, data)
    assert response.status_code == 404
    assert _state(world) == before
    inside = getattr(world.login(world.tech_in), method)(url, data)
    assert inside.status_code != 404


def test_it_hides_a_foreign_ticket_detail(world: World) -> None:
    url = reverse("ticket_detail", args=[world.ticket.id])
    assert world.login(world.tech_out).get(url).status_code == 404
    response = world.login(world.tech_in).get(url)
    assert response.status_code == 200
    assert "Dana cannot sign in" in response.content.decode()


def test_it_refuses_a_note_on_a_foreign_ticket(world: World) -> None:
    url = reverse("ticket_note_add", args=[world.ticket.id])
    response = world.login(world.tech_out).post(url, {"body": "sneaky", "public": "on"})
    assert response.status_code == 404
    assert not TicketEvent.objects.filter(ticket=world.ticket, body="sneaky").exists()
    world.ticket.refresh_from_db()
    assert world.ticket.first_response_at is None


def test_it_leaves_foreign_tickets_out_of_the_list(world: World) -> None:
    url = reverse("ticket_list")
    outsider = world.login(world.tech_out).get(url).content.decode()
    assert "Dana cannot sign in" not in outsider
    assert "Globex printer jam" in outsider
    insider = world.login(world.tech_in).get(url).content.decode()
    assert "Dana cannot sign in" in insider
    assert "Globex printer jam" not in insider


def test_it_ignores_a_foreign_client_filter_on_the_list(world: World) -> None:
    url = reverse("ticket_list") + f"?client={world.client.id}"
    response = world.login(world.tech_out).get(url)
    # The foreign client is not a valid choice for this user: a field error, no rows.
    assert response.status_code == 400
    assert "Dana cannot sign in" not in response.content.decode()


def test_it_hides_a_foreign_client_detail(world: World) -> None:
    url = reverse("client_detail", args=[world.client.id])
    assert world.login(world.tech_out).get(url).status_code == 404
    assert world.login(world.tech_in).get(url).status_code == 200


def test_it_leaves_foreign_clients_out_of_the_client_list(world: World) -> None:
    url = reverse("client_list")
    outsider = world.login(world.tech_out).get(url).content.decode()
    assert "Acme Dental" not in outsider and "Globex Legal" in outsider


def test_home_counts_only_clients_in_scope(world: World) -> None:
    outsider = world.login(world.tech_out).get(reverse("home"))
    insider = world.login(world.tech_in).get(reverse("home"))
    manager = world.login(world.manager).get(reverse("home"))
    assert outsider.context["summary"].open_tickets == 1
    assert insider.context["summary"].open_tickets == 1
    assert manager.context["summary"].open_tickets == 2


def test_a_user_without_a_staff_profile_sees_nothing(world: World, django_user_model) -> None:
    from django.test import Client as HttpClient

    user = django_user_model.objects.create_user(username="stranger", password="x")
    http = HttpClient()
    http.force_login(user)
    assert http.get(reverse("ticket_detail", args=[world.ticket.id])).status_code == 404
    assert http.get(reverse("client_detail", args=[world.client.id])).status_code == 404
    assert "Dana cannot sign in" not in http.get(reverse("ticket_list")).content.decode()


POST_ONLY_ROUTES = {
    "actions_bulk_approve",
    "policy_create",
    "ladder_apply",
    "rule_preview",
    "dispatch_policy_save",
    "metrics_holdout",
    "metrics_refresh",
}
PAGES = COLLECTION_ROUTES - POST_ONLY_ROUTES


@pytest.mark.parametrize("name", sorted(PAGES | {"ticket_detail", "client_detail"}))
def test_anonymous_visitors_are_sent_to_login(world: World, client, name: str) -> None:
    args = {"ticket_detail": [world.ticket.id], "client_detail": [world.client.id]}.get(name, [])
    response = client.get(reverse(name, args=args))
    if name.startswith("api_"):
        assert response.status_code in (401, 403)  # an API answers; it does not redirect
        return
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", sorted(POST_ONLY_ROUTES))
def test_anonymous_posts_are_sent_to_login(world: World, client, name: str) -> None:
    response = client.post(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_admin_is_closed_to_staff_scoped_to_some_clients(world: World) -> None:
    for staff in (world.tech_out, world.manager):
        staff.user.is_staff = True
        staff.user.save()
        for codename in ("view_ticket", "change_ticket", "view_client"):
            staff.user.user_permissions.add(Permission.objects.get(codename=codename))
    url = reverse("admin:tickets_ticket_change", args=[world.ticket.id])
    outsider = world.login(world.tech_out).get(url)
    assert outsider.status_code == 302 and reverse("admin:login") in outsider["Location"]
    assert world.login(world.tech_out).get(reverse("admin:index")).status_code == 302
    assert world.login(world.manager).get(url).status_code == 200


def test_searching_a_foreign_psa_reference_finds_nothing(world: World) -> None:
    body = world.login(world.tech_out).get(reverse("ticket_list") + "?q=T-1").content.decode()
    assert "Dana cannot sign in" not in body
    body = world.login(world.tech_in).get(reverse("ticket_list") + "?q=T-1").content.decode()
    assert "Dana cannot sign in" in body


def test_home_totals_leave_out_foreign_clients(world: World) -> None:
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from tests.fixtures import make_staff
    from tickets.models import Contract, CsatResponse, StaffMember, TimeEntry

    now = timezone.now()
    other = world.other_ticket
    other.status, other.resolved_at = "resolved", now - dt.timedelta(hours=1)
    other.save()
    Contract.objects.create(
        client=world.other_client,
        name="Big",
        kind="managed",
        monthly_revenue=Decimal("9000"),
        starts_on=dt.date(2026, 1, 1),
    )
    TimeEntry.objects.create(ticket=other, staff=world.tech_out, started_at=now, minutes=120)
    CsatResponse.objects.create(ticket=other, score=1, responded_at=now)
    scoped_owner = make_staff("owner2", StaffMember.Role.OWNER, clients=[world.client])
    business = world.login(scoped_owner).get(reverse("home")).context["business"]
    assert business.monthly_revenue == Decimal("0")
    assert business.technician_hours_30d == 0 and business.csat_responses_30d == 0
    assert business.resolved_30d == 0
    summary = world.login(world.tech_in).get(reverse("home")).context["summary"]
    assert (summary.opened_7d, summary.resolved_7d, summary.open_tickets) == (1, 0, 1)
    everyone = world.login(world.owner).get(reverse("home")).context["business"]
    assert everyone.monthly_revenue == Decimal("9000") and everyone.resolved_30d == 1


def test_the_client_list_counts_only_open_tickets_of_that_client(world: World) -> None:
    world.other_ticket.status = "closed"
    world.other_ticket.save()
    clients = world.login(world.manager).get(reverse("client_list")).context["clients"]
    counts = {client.name: client.open_tickets for client in clients}
    assert counts == {"Acme Dental": 1, "Globex Legal": 0}
