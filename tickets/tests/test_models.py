"""The domain model refuses bad data with field-level errors, and the timeline is append-only."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.fixtures import World, make_staff
from tickets.models import (
    AppendOnlyError,
    Client,
    Contact,
    Contract,
    StaffMember,
    TicketEvent,
    TicketSubtype,
    TicketType,
)


def test_the_timeline_refuses_edits_and_deletes(world: World) -> None:
    event = world.ticket.events.get()
    event.body = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        TicketEvent.objects.filter(ticket=world.ticket).update(body="rewritten")
    with pytest.raises(AppendOnlyError):
        TicketEvent.objects.filter(ticket=world.ticket).delete()
    assert world.ticket.events.get().body == ""


def test_a_replayed_source_event_is_rejected_by_its_dedupe_key(world: World) -> None:
    fields = {
        "ticket": world.ticket,
        "kind": TicketEvent.Kind.NOTE,
        "actor_kind": TicketEvent.ActorKind.SYSTEM,
        "occurred_at": world.ticket.opened_at,
        "dedupe_key": "cw-note-991",
    }
    TicketEvent.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketEvent.objects.create(**fields)
    # Events without a source id never collide.
    for _ in range(2):
        TicketEvent.objects.create(**{**fields, "dedupe_key": None})


def test_a_technician_event_must_name_the_technician(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketEvent.objects.create(
            ticket=world.ticket,
            kind=TicketEvent.Kind.NOTE,
            actor_kind=TicketEvent.ActorKind.HUMAN,
            occurred_at=world.ticket.opened_at,
        )


def test_a_ticket_rejects_a_subtype_and_contact_from_elsewhere(world: World) -> None:
    other_type = TicketType.objects.create(name="Printing", slug="printing")
    world.ticket.subtype = TicketSubtype.objects.create(type=other_type, name="Jam")
    world.ticket.contact = Contact.objects.create(client=world.other_client, first_name="Gil")
    with pytest.raises(ValidationError) as error:
        world.ticket.full_clean()
    assert set(error.value.message_dict) >= {"subtype", "contact"}


def test_a_ticket_cannot_be_resolved_before_it_opened(world: World) -> None:
    world.ticket.resolved_at = world.ticket.opened_at - dt.timedelta(minutes=1)
    with pytest.raises(ValidationError) as error:
        world.ticket.full_clean()
    assert "resolved_at" in error.value.message_dict


def test_client_fields_are_validated(db: None) -> None:
    client = Client(
        name="Bad",
        identifier="bad",
        timezone="Mars/Olympus",
        business_days="1289",
        business_start=dt.time(18),
        business_end=dt.time(8),
    )
    with pytest.raises(ValidationError) as error:
        client.full_clean()
    assert {"timezone", "business_days", "business_end"} <= set(error.value.message_dict)


def test_business_time_follows_the_client_zone(db: None) -> None:
    client = Client(name="NY", identifier="ny", timezone="America/New_York")
    utc = zoneinfo.ZoneInfo("UTC")
    # 14:00 UTC on a Wednesday is 09:00 or 10:00 in New York: business time.
    assert client.is_business_time(dt.datetime(2026, 11, 25, 14, 0, tzinfo=utc))
    # 03:00 UTC is late evening in New York.
    assert not client.is_business_time(dt.datetime(2026, 11, 25, 3, 0, tzinfo=utc))
    # Saturday.
    assert not client.is_business_time(dt.datetime(2026, 11, 28, 15, 0, tzinfo=utc))


def test_contracts_check_their_kind_specific_fields(world: World) -> None:
    contract = Contract(
        client=world.client,
        name="Block",
        kind=Contract.Kind.BLOCK_HOURS,
        starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2025, 1, 1),
    )
    with pytest.raises(ValidationError) as error:
        contract.full_clean()
    assert {"block_hours", "ends_on"} <= set(error.value.message_dict)
    with pytest.raises(IntegrityError), transaction.atomic():
        Contract.objects.create(
            client=world.client,
            name="Backwards",
            kind=Contract.Kind.MANAGED,
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2025, 1, 1),
        )


def test_the_admin_shows_field_errors_for_a_bad_client(world: World) -> None:
    admin = make_staff("root", StaffMember.Role.MANAGER, all_clients=True).user
    admin.is_staff = admin.is_superuser = True
    admin.save()
    http = world.login(admin.staff)
    response = http.post(
        reverse("admin:tickets_client_add"),
        {
            "name": "Initech",
            "identifier": "initech",
            "timezone": "Nowhere/Land",
            "business_days": "12345",
            "business_start": "09:00",
            "business_end": "17:00",
            "email_domains-TOTAL_FORMS": "1",
            "email_domains-INITIAL_FORMS": "0",
            "email_domains-0-domain": "Not A Domain",
            "sites-TOTAL_FORMS": "0",
            "sites-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "is not a time zone name" in body
    assert "is not a lower-case e-mail domain" in body
    assert not Client.objects.filter(identifier="initech").exists()


def test_every_model_has_an_admin_page(world: World) -> None:
    from django.apps import apps
    from django.contrib import admin as django_admin

    missing = [
        model.__name__
        for model in apps.get_app_config("tickets").get_models()
        if model not in django_admin.site._registry
    ]
    assert missing == []


def test_a_ticket_with_history_cannot_be_deleted(world: World) -> None:
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        world.ticket.delete()


def test_the_admin_shows_tickets_but_cannot_change_them(world: World) -> None:
    admin = make_staff("root", StaffMember.Role.MANAGER, all_clients=True).user
    admin.is_staff = admin.is_superuser = True
    admin.save()
    http = world.login(admin.staff)
    url = reverse("admin:tickets_ticket_change", args=[world.ticket.id])
    assert http.get(url).status_code == 200
    response = http.post(url, {"status": "closed", "summary": "changed"})
    assert response.status_code == 403
    world.ticket.refresh_from_db()
    assert world.ticket.status == "new" and world.ticket.summary == "Dana cannot sign in"
    delete = reverse("admin:tickets_ticket_delete", args=[world.ticket.id])
    assert http.post(delete, {"post": "yes"}).status_code == 403


@pytest.mark.parametrize(
    ("model", "fields", "error_field"),
    [
        ("Shift", {"weekday": 1, "starts": "17:00", "ends": "09:00"}, "ends"),
        (
            "SlaTarget",
            {"priority": 1, "response_minutes": 60, "resolution_minutes": 30},
            "resolution_minutes",
        ),
    ],
)
def test_ordered_fields_are_reported_on_the_field(world: World, model, fields, error_field) -> None:
    from tickets import models

    owners: dict[str, dict[str, object]] = {
        "Shift": {"staff": world.tech_in},
        "SlaTarget": {"contract": world.contract},
    }
    owner = owners[model]
    instance = getattr(models, model)(**owner, **fields)
    with pytest.raises(ValidationError) as error:
        instance.full_clean()
    assert error_field in error.value.message_dict


def test_open_statuses_are_real_statuses() -> None:
    from tickets.models import Ticket

    assert set(Ticket.OPEN_STATUSES) < set(Ticket.Status.values)
    assert not set(Ticket.OPEN_STATUSES) & set(Ticket.DONE_STATUSES)
    assert set(Ticket.OPEN_STATUSES) | set(Ticket.DONE_STATUSES) == set(Ticket.Status.values)
