"""Matching an arrival to the MSP's records: the client (named by the source, else by the
requester's mail domain), the contact (by address, within that client), assets (hostnames
the source linked or the text mentions), the contract in force, the requester's VIP and
privileged flags, and whether it arrived outside the client's business hours in the client's
own time zone. Each match says how it was made, for the ticket's timeline."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Q

from tickets.intake.types import TicketInput
from tickets.models import Asset, Client, ClientEmailDomain, Contact, Contract

_HOSTNAME = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9-]{2,62}\b")
TEXT_SCAN = 20_000


@dataclass
class Enrichment:
    client: Client | None = None
    contact: Contact | None = None
    assets: list[Asset] = field(default_factory=list)
    contract: Contract | None = None
    after_hours: bool | None = None
    reasons: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        return " ".join(self.reasons)


def enrich(data: TicketInput, *, opened_at: dt.datetime) -> Enrichment:
    found = Enrichment()
    found.client = _client(data, found.reasons)
    if found.client is None:
        return found
    found.contact = _contact(data, found.client, found.reasons)
    found.assets = _assets(data, found.client, found.reasons)
    found.contract = _contract(found.client, opened_at, found.reasons)
    found.after_hours = not found.client.is_business_time(opened_at)
    local = opened_at.astimezone(found.client.tzinfo)
    when = "after" if found.after_hours else "within"
    found.reasons.append(
        f"Arrived {when} {found.client.name}'s business hours "
        f"({local:%a %H:%M} {found.client.timezone})."
    )
    return found


def _client(data: TicketInput, reasons: list[str]) -> Client | None:
    if data.client_identifier:
        client = Client.objects.filter(identifier=data.client_identifier, is_active=True).first()
        if client is not None:
            reasons.append(f"Client {client.name}: named by the source.")
            return client
        reasons.append(f"No active client has the identifier “{data.client_identifier}”.")
    domain = data.requester_email.rpartition("@")[2]
    if domain:
        match = ClientEmailDomain.objects.select_related("client").filter(domain=domain).first()
        if match is not None and match.client.is_active:
            reasons.append(f"Client {match.client.name}: the requester's domain {domain}.")
            return match.client
        reasons.append(f"Client not matched: no client has the mail domain {domain}.")
    elif not data.client_identifier:
        reasons.append("Client not matched: the source named no client and no requester.")
    return None


def _contact(data: TicketInput, client: Client, reasons: list[str]) -> Contact | None:
    if not data.requester_email:
        return None
    contact = Contact.objects.filter(
        client=client, email__iexact=data.requester_email, is_active=True
    ).first()
    if contact is None:
        reasons.append(f"Requester {data.requester_email} is not a contact of {client.name}.")
        return None
    flags = [
        name for name, on in (("VIP", contact.is_vip), ("privileged", contact.is_privileged)) if on
    ]
    extra = f" ({' and '.join(flags)})" if flags else ""
    reasons.append(f"Requester {contact.full_name or contact.email}{extra}: by e-mail address.")
    return contact


def _assets(data: TicketInput, client: Client, reasons: list[str]) -> list[Asset]:
    linked = {h.lower() for h in data.hostnames}
    text = f"{data.summary}\n{data.description[:TEXT_SCAN]}"
    mentioned = {word.lower() for word in _HOSTNAME.findall(text)} - linked
    wanted = linked | mentioned
    if not wanted:
        return []
    query = Q()
    for name in wanted:
        query |= Q(hostname__iexact=name)
    assets = list(Asset.objects.filter(query, client=client, is_active=True)[:20])
    for asset in assets:
        how = "linked by the source" if asset.hostname.lower() in linked else "named in the text"
        reasons.append(f"Asset {asset.hostname}: {how}.")
    return assets


def _contract(client: Client, opened_at: dt.datetime, reasons: list[str]) -> Contract | None:
    day = opened_at.date()
    contract = (
        Contract.objects.filter(client=client, starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .order_by("-starts_on")
        .first()
    )
    if contract is None:
        reasons.append(f"No contract of {client.name} is in force.")
    else:
        reasons.append(f"Contract {contract.name}: in force on {day:%d %b %Y}.")
    return contract
