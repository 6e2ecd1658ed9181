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
from typing import Any

from django.db.models import Q
from django.db.models.functions import Lower

from tickets.intake.types import TicketInput
from tickets.models import Asset, Client, ClientEmailDomain, Contact, Contract

_HOSTNAME = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9-]{2,62}\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
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
    # What the source named that we could not match (the data-hygiene report lists them).
    unmatched_requester: str = ""
    unmatched_hostnames: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        return " ".join(self.reasons)

    def unmatched(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.unmatched_requester:
            found["requester"] = self.unmatched_requester
        if self.unmatched_hostnames:
            found["hostnames"] = self.unmatched_hostnames
        return found


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
    assets: dict[tuple[int, str], tuple[Asset, str]]  # (client id, token) → (asset, by what)
    contracts: dict[int, list[Contract]]  # newest start first
    covered: dict[int, set[int]]  # contract id → the ticket types it covers

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
        names = set().union(*(_tokens(d) for d in batch)) if batch else set()
        ips = set().union(*(_ips(d) for d in batch)) if batch else set()
        assets: dict[tuple[int, str], tuple[Asset, str]] = {}
        matching = Asset.objects.annotate(
            lower_name=Lower("hostname"), lower_serial=Lower("serial_number")
        ).filter(
            Q(lower_name__in=names) | Q(lower_serial__in=names) | Q(ip_address__in=ips),
            client_id__in=clients,
            is_active=True,
        )
        for asset in matching:
            if asset.client_id is None:
                continue
            if asset.serial_number:
                assets[(asset.client_id, asset.serial_number.lower())] = (asset, "serial number")
            if asset.ip_address:
                assets[(asset.client_id, asset.ip_address)] = (asset, "IP address")
            assets[(asset.client_id, asset.hostname.lower())] = (asset, "hostname")
        contracts: dict[int, list[Contract]] = {}
        for contract in Contract.objects.filter(client_id__in=clients).order_by("-starts_on"):
            contracts.setdefault(contract.client_id, []).append(contract)
        covered: dict[int, set[int]] = {}
        through = Contract.covered_types.through.objects.filter(contract__client_id__in=clients)
        for contract_id, type_id in through.values_list("contract_id", "tickettype_id"):
            covered.setdefault(contract_id, set()).add(type_id)
        return cls(by_id, by_identifier, by_domain, contacts, assets, contracts, covered)


def _any_email(emails: set[str]) -> Q:
    query = Q(pk__in=[])
    for email in emails:
        query |= Q(email__iexact=email)
    return query


def _text(data: TicketInput) -> str:
    return f"{data.summary}\n{data.description[:TEXT_SCAN]}"


def _tokens(data: TicketInput) -> set[str]:
    """Words that may be a hostname or a serial number: the source's links and the text's."""
    linked = {h.lower() for h in data.hostnames}
    return linked | {w.lower() for w in _HOSTNAME.findall(_text(data))}


def _ips(data: TicketInput) -> set[str]:
    return set(_IPV4.findall(_text(data))) | {h for h in data.hostnames if _IPV4.fullmatch(h)}


def _enrich_one(data: TicketInput, opened_at: dt.datetime, known: _Known) -> Enrichment:
    found = Enrichment()
    found.client = _client(data, known, found.reasons)
    if found.client is None:
        return found
    found.contact = _contact(data, found.client, known, found.reasons)
    found.assets = _assets(data, found.client, known, found.reasons)
    if data.requester_email and found.contact is None:
        found.unmatched_requester = data.requester_email
    matched = {
        str(value).lower()
        for asset in found.assets
        for value in (asset.hostname, asset.ip_address, asset.serial_number)
        if value
    }
    found.unmatched_hostnames = sorted({h.lower() for h in data.hostnames} - matched)
    found.contract = _contract(data, found.client, opened_at, known, found.reasons)
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
    for token in sorted(_tokens(data) | _ips(data)):
        match = known.assets.get((client.id, token))
        if match is None or match[0] in found or len(found) >= MAX_ASSETS:
            continue
        asset, by = match
        found.append(asset)
        how = "linked by the source" if token in linked else f"its {by} is in the text"
        reasons.append(f"Asset {asset.hostname}: {how}.")
    return found


def _contract(
    data: TicketInput, client: Client, opened_at: dt.datetime, known: _Known, reasons: list[str]
) -> Contract | None:
    """The contract in force that covers the ticket's type (when the source gave one),
    else the newest in force — saying which."""
    day = opened_at.date()
    in_force = [c for c in known.contracts.get(client.id, []) if c.is_in_force(day)]
    if not in_force:
        reasons.append(f"No contract of {client.name} is in force.")
        return None
    covering = [c for c in in_force if data.type_id in known.covered.get(c.id, set())]
    if covering:
        reasons.append(f"Contract {covering[0].name}: in force and covers the ticket's type.")
        return covering[0]
    contract = in_force[0]
    if data.type_id is not None and known.covered.get(contract.id):
        reasons.append(
            f"Contract {contract.name}: in force on {day:%d %b %Y}, but does not list the "
            "ticket's type."
        )
    else:
        reasons.append(f"Contract {contract.name}: in force on {day:%d %b %Y}.")
    return contract
