"""Every route proves that a technician outside a client's scope cannot see or change it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, get_resolver, reverse

from tests.fixtures import World
from tickets.models import TicketEvent

# Routes that hold no client data, so scope does not apply to them.
UNSCOPED_ROUTES = {"login", "logout", "healthz"}
# Every other named route of the product must appear in SCOPE_TESTED (see the test below).
SCOPE_TESTED = {
    "home",
    "ticket_list",
    "ticket_detail",
    "ticket_note_add",
    "client_list",
    "client_detail",
}


def _product_route_names() -> set[str]:
    names: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
        for sub in getattr(pattern, "url_patterns", []):
            if getattr(pattern, "namespace", None) is None and sub.name:
                names.add(sub.name)
    return names


def test_every_route_has_an_out_of_scope_test() -> None:
    missing = _product_route_names() - UNSCOPED_ROUTES - SCOPE_TESTED
    assert not missing, f"add out-of-scope tests for: {sorted(missing)}"


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


@pytest.mark.parametrize("name", sorted(SCOPE_TESTED - {"ticket_note_add"}))
def test_anonymous_visitors_are_sent_to_login(world: World, client, name: str) -> None:
    args = {"ticket_detail": [world.ticket.id], "client_detail": [world.client.id]}.get(name, [])
    response = client.get(reverse(name, args=args))
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
