"""The live PSA of the demo: a simulator mirroring the demo MSP's clients, contacts and
technicians, connected to the desk, with a trickle of new tickets (and now and then a change
to one) delivered by signed webhook — so a newcomer running `make run` sees tickets arrive."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from tickets.demo import catalogue as cat
from tickets.demo.catalogue import TYPES
from tickets.models import Asset, Client, Contact, StaffMember, Ticket
from tickets.psa.models import PsaConnection
from tickets.psa.services import connection_save
from tickets.psa.simulators import simulator_class

DEMO_NAME = "Demo {kind} (simulator)"


@dataclass(frozen=True)
class Person:
    email: str
    first: str
    last: str
    company: str
    hostname: str


def demo_people(limit: int = 400) -> list[Person]:
    """Contacts of active clients who have an address, each with one of their client's
    machines to mention."""
    hosts: dict[int, list[str]] = {}
    for client_id, hostname in Asset.objects.filter(is_active=True).values_list(
        "client_id", "hostname"
    )[:5000]:
        if client_id is not None:
            hosts.setdefault(client_id, []).append(hostname)
    people = []
    contacts = Contact.objects.select_related("client").filter(
        is_active=True, client__is_active=True
    )
    for contact in contacts.exclude(email="")[:limit]:
        machines = hosts.get(contact.client_id) or [""]
        people.append(
            Person(
                email=contact.email,
                first=contact.first_name,
                last=contact.last_name,
                company=contact.client.identifier,
                hostname=random.choice(machines),
            )
        )
    return people


def demo_simulator(kind: str, *, port: int) -> Any:
    """A started simulator with the demo's clients as companies and its technicians as
    members."""
    sim = simulator_class(kind)(port=port)
    sim.start()
    for identifier, name in Client.objects.filter(is_active=True).values_list("identifier", "name"):
        sim.add_company(identifier, name)
    for staff in StaffMember.objects.select_related("user").filter(takes_tickets=True):
        sim.add_member(staff.user.username, staff.display_name)
    mirrored = Ticket.objects.filter(source=kind).values_list("external_id", flat=True)
    numbers = [int(value) for value in mirrored if value.isdigit()]
    if numbers:
        sim.start_ids_at(max(numbers) + 1)  # a restarted demo must not reuse mirrored ids
    return sim


def demo_connection(sim: Any) -> PsaConnection:
    """The demo's connection to the simulator (created, or pointed at it again)."""
    name = DEMO_NAME.format(kind=sim.kind.replace("psa", "PSA").title())
    connection = PsaConnection.objects.filter(name=name).first() or PsaConnection(
        name=name, kind=sim.kind
    )
    connection.base_url = sim.base_url
    connection.is_active = True
    connection.paused_until = None
    return connection_save(
        connection=connection, credentials=dict(sim.credentials), webhook_secret=sim.webhook_secret
    )


def demo_ticket(sim: Any, people: list[Person], rng: random.Random) -> str:
    """One new ticket in the PSA, written like the demo's own."""
    spec = rng.choices(TYPES, weights=[t.weight for t in TYPES])[0]
    person = rng.choice(people) if people else None
    fields = {
        "first": person.first if person else "Sam",
        "last": person.last if person else "",
        "hostname": (person.hostname if person else "") or "their laptop",
        "site": "the office",
        "client": person.company if person else "",
        "app": rng.choice(cat.APPS),
        "group": rng.choice(cat.GROUPS),
        "service": rng.choice(cat.SERVICES),
        "job": rng.choice(cat.BACKUP_JOBS),
        "other_first": rng.choice(cat.FIRST_NAMES),
        "other_last": rng.choice(cat.LAST_NAMES),
        "n": str(rng.randint(2, 9)),
    }
    summary = rng.choice(spec.summaries).format_map(fields)
    description = rng.choice(spec.descriptions).format_map(fields)
    return str(
        sim.create_ticket(
            summary=summary[:200],
            description=description,
            company=person.company if person else "",
            contact_email=person.email if person else "",
            contact_name=f"{fields['first']} {fields['last']}".strip(),
            priority=rng.choices(["Critical", "High", "Medium", "Low"], spec.priorities)[0],
            hostnames=(person.hostname,) if person and person.hostname else (),
        )
    )


def demo_trickle(
    sim: Any,
    connection: PsaConnection,
    *,
    desk_url: str,
    every_seconds: float,
    count: int | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Every `every_seconds`, a new ticket delivered by webhook (and sometimes a status
    change to an earlier one), until `count` tickets or Ctrl-C."""
    webhook = desk_url.rstrip("/") + reverse("api_psa_webhook", args=[connection.id])
    people = demo_people()
    rng = random.Random()
    made: list[str] = []
    while count is None or len(made) < count:
        external_id = demo_ticket(sim, people, rng)
        made.append(external_id)
        status = sim.deliver(webhook, external_id, "added")
        say(f"New {sim.kind} ticket {external_id}: webhook answered {status}")
        if len(made) > 3 and rng.random() < 0.3:
            earlier = rng.choice(made[:-1])
            sim.update_ticket(earlier, status="In Progress")
            sim.deliver(webhook, earlier, "updated")
            say(f"{sim.kind} ticket {earlier} moved to In Progress")
        time.sleep(every_seconds)
