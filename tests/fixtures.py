"""The shared test world: two clients, and people inside and outside the first one's scope.

`world.tech_in` serves `world.client` (may see), `world.tech_out` serves only
`world.other_client` (may not see), `world.manager` and `world.owner` see every client.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient
from django.utils import timezone

from tickets.models import (
    Asset,
    Client,
    Contact,
    Contract,
    Queue,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
)
from tickets.services import ticket_event_record

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    client: Client
    other_client: Client
    contact: Contact
    asset: Asset
    contract: Contract
    ticket_type: TicketType
    queue: Queue
    ticket: Ticket
    other_ticket: Ticket
    tech_in: StaffMember
    tech_out: StaffMember
    manager: StaffMember
    owner: StaffMember

    def login(self, staff: StaffMember) -> HttpClient:
        http = HttpClient()
        http.force_login(staff.user)
        return http


def make_staff(
    username: str, role: str, *, clients: list[Client] | None = None, all_clients: bool = False
) -> StaffMember:
    user = User.objects.create_user(
        username=username, password=PASSWORD, first_name=username.title()
    )
    staff = StaffMember.objects.create(user=user, role=role, all_clients=all_clients)
    if clients:
        staff.clients.set(clients)
    return staff


def make_ticket(client: Client, *, summary: str, external_id: str, **fields: Any) -> Ticket:
    opened = fields.pop("opened_at", timezone.now() - dt.timedelta(hours=2))
    ticket = Ticket.objects.create(
        source=Ticket.Source.API,
        external_id=external_id,
        summary=summary,
        client=client,
        opened_at=opened,
        **fields,
    )
    ticket_event_record(
        ticket=ticket,
        kind=TicketEvent.Kind.CREATED,
        actor_kind=TicketEvent.ActorKind.SYSTEM,
        occurred_at=opened,
    )
    return ticket


@pytest.fixture
def world(db: None) -> World:
    client = Client.objects.create(name="Acme Dental", identifier="acme-dental")
    other = Client.objects.create(name="Globex Legal", identifier="globex-legal")
    contact = Contact.objects.create(client=client, first_name="Dana", email="dana@acme.test")
    asset = Asset.objects.create(client=client, hostname="ACME-LT-0001", kind=Asset.Kind.LAPTOP)
    contract = Contract.objects.create(
        client=client, name="Managed", kind=Contract.Kind.MANAGED, starts_on=dt.date(2026, 1, 1)
    )
    ticket_type = TicketType.objects.create(name="Password reset", slug="password-reset")
    queue = Queue.objects.create(name="Service Desk L1", slug="l1")
    tech_in = make_staff("insider", StaffMember.Role.TECHNICIAN, clients=[client])
    ticket = make_ticket(
        client,
        summary="Dana cannot sign in",
        external_id="T-1",
        contact=contact,
        type=ticket_type,
        queue=queue,
        contract=contract,
    )
    ticket.assets.add(asset)
    other_ticket = make_ticket(other, summary="Globex printer jam", external_id="T-2")
    return World(
        client=client,
        other_client=other,
        contact=contact,
        asset=asset,
        contract=contract,
        ticket_type=ticket_type,
        queue=queue,
        ticket=ticket,
        other_ticket=other_ticket,
        tech_in=tech_in,
        tech_out=make_staff("outsider", StaffMember.Role.TECHNICIAN, clients=[other]),
        manager=make_staff("manager", StaffMember.Role.MANAGER, all_clients=True),
        owner=make_staff("owner", StaffMember.Role.OWNER, all_clients=True),
    )
