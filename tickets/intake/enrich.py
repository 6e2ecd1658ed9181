"""Matching an arrival to the MSP's records: the client (named by the source, else by the
requester's mail domain), the contact (by address, within that client), assets (hostnames
the source linked or the text mentions), the contract in force, the requester's VIP and
privileged flags, and whether it arrived outside the client's business hours in the client's
own time zone. Each match says how it was made, for the ticket's timeline."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.functions import Lower

from tickets.intake.types import TicketInput
from tickets.models import Asset, Client, ClientEmailDomain, Contact, Contract

_HOSTNAME = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9-]{2,62}\b")
TEXT_SCAN = 20_000
MAX_ASSETS = 20


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
    return enrich_many([(data, opened_at)])[0]


def enrich_many(items: Sequence[tuple[TicketInput, dt.datetime]]) -> list[Enrichment]:
    """`enrich` for a batch: the clients, contacts, assets and contracts the batch could
    match are read once (a few queries whatever its size), then each arrival is matched."""
    known = _Known.load([data for data, _ in items])
    return [_enrich_one(data, opened_at, known) for data, opened_at in items]


@dataclass
class _Known:
    by_id: dict[int, Client]
    by_identifier: dict[str, Client]
    by_domain: dict[str, Client]
    contacts: dict[tuple[int, str], Contact]  # (client id, lower-case e-mail)
    assets: dict[tuple[int, str], Asset]  # (client id, lower-case hostname)
    contracts: dict[int, list[Contract]]  # newest start first

    @classmethod
    def load(cls, batch: Sequence[TicketInput]) -> _Known:
        identifiers = {d.client_identifier for d in batch if d.client_identifier}
        by_id = {
            c.id: c
            for c in Client.objects.filter(
                pk__in={d.client_id for d in batch if d.client_id}, is_active=True
            )
        }
        domains = {d.requester_email.rpartition("@")[2] for d in batch if d.requester_email}
        by_identifier = {
            c.identifier: c
            for c in Client.objects.filter(identifier__in=identifiers, is_active=True)
        }
        by_domain = {
            m.domain: m.client
            for m in ClientEmailDomain.objects.select_related("client").filter(
                domain__in=domains, client__is_active=True
            )
        }
        clients = {c.id for c in [*by_id.values(), *by_identifier.values(), *by_domain.values()]}
        emails = {d.requester_email for d in batch if d.requester_email}
        contacts = {
            (c.client_id, c.email.lower()): c
            for c in Contact.objects.filter(client_id__in=clients, is_active=True).filter(
                _any_email(emails)
            )
        }
        names = set().union(*(_hostnames(d) for d in batch)) if batch else set()
        assets: dict[tuple[int, str], Asset] = {}
        matching = Asset.objects.annotate(lower_name=Lower("hostname")).filter(
            client_id__in=clients, is_active=True, lower_name__in=names
        )
        for asset in matching:
            if asset.client_id is not None:
                assets[(asset.client_id, asset.hostname.lower())] = asset
        contracts: dict[int, list[Contract]] = {}
        for contract in Contract.objects.filter(client_id__in=clients).order_by("-starts_on"):
            contracts.setdefault(contract.client_id, []).append(contract)
        return cls(by_id, by_identifier, by_domain, contacts, assets, contracts)


def _any_email(emails: set[str]) -> Q:
    query = Q(pk__in=[])
    for email in emails:
        query |= Q(email__iexact=email)
    return query


def _hostnames(data: TicketInput) -> set[str]:
    text = f"{data.summary}\n{data.description[:TEXT_SCAN]}"
    return {h.lower() for h in data.hostnames} | {w.lower() for w in _HOSTNAME.findall(text)}


def _enrich_one(data: TicketInput, opened_at: dt.datetime, known: _Known) -> Enrichment:
    found = Enrichment()
    found.client = _client(data, known, found.reasons)
    if found.client is None:
        return found
    found.contact = _contact(data, found.client, known, found.reasons)
    found.assets = _assets(data, found.client, known, found.reasons)
    found.contract = _contract(found.client, opened_at, known, found.reasons)
    found.after_hours = not found.client.is_business_time(opened_at)
    local = opened_at.astimezone(found.client.tzinfo)
    when = "after" if found.after_hours else "within"
    found.reasons.append(
        f"Arrived {when} {found.client.name}'s business hours "
        f"({local:%a %H:%M} {found.client.timezone})."
    )
    return found


def _client(data: TicketInput, known: _Known, reasons: list[str]) -> Client | None:
    if data.client_id:
        mapped = known.by_id.get(data.client_id)
        if mapped is not None:
            reasons.append(f"Client {mapped.name}: the PSA company, through the mapping.")
            return mapped
    if data.client_identifier:
        client = known.by_identifier.get(data.client_identifier)
        if client is not None:
            reasons.append(f"Client {client.name}: named by the source.")
            return client
        reasons.append(f"No active client has the identifier “{data.client_identifier}”.")
    domain = data.requester_email.rpartition("@")[2]
    if domain:
        match = known.by_domain.get(domain)
        if match is not None:
            reasons.append(f"Client {match.name}: the requester's domain {domain}.")
            return match
        reasons.append(f"Client not matched: no client has the mail domain {domain}.")
    elif not data.client_identifier:
        reasons.append("Client not matched: the source named no client and no requester.")
    return None


def _contact(
    data: TicketInput, client: Client, known: _Known, reasons: list[str]
) -> Contact | None:
    if not data.requester_email:
        return None
    contact = known.contacts.get((client.id, data.requester_email.lower()))
    if contact is None:
        reasons.append(f"Requester {data.requester_email} is not a contact of {client.name}.")
        return None
    pairs = (("VIP", contact.is_vip), ("privileged", contact.is_privileged))
    flags = [name for name, on in pairs if on]
    extra = f" ({' and '.join(flags)})" if flags else ""
    reasons.append(f"Requester {contact.full_name or contact.email}{extra}: by e-mail address.")
    return contact


def _assets(data: TicketInput, client: Client, known: _Known, reasons: list[str]) -> list[Asset]:
    linked = {h.lower() for h in data.hostnames}
    found: list[Asset] = []
    for name in sorted(_hostnames(data)):
        asset = known.assets.get((client.id, name))
        if asset is not None and len(found) < MAX_ASSETS:
            found.append(asset)
            how = "linked by the source" if name in linked else "named in the text"
            reasons.append(f"Asset {asset.hostname}: {how}.")
    return found


def _contract(
    client: Client, opened_at: dt.datetime, known: _Known, reasons: list[str]
) -> Contract | None:
    day = opened_at.date()
    contract = next(
        (
            c
            for c in known.contracts.get(client.id, [])
            if c.starts_on <= day and (c.ends_on is None or c.ends_on >= day)
        ),
        None,
    )
    if contract is None:
        reasons.append(f"No contract of {client.name} is in force.")
    else:
        reasons.append(f"Contract {contract.name}: in force on {day:%d %b %Y}.")
    return contract
