"""The data problems the demo plants on purpose, check by check: what the data-hygiene report
(`metrics.hygiene`) must find in a freshly seeded demo MSP, and all it may find.

Pure, like `generate.py`: the manifest is read from the plan, so it holds for a seed and a
`now` whatever the database. Records are named by natural keys (`contact_key`,
`mapping_key`, a ticket's external id, an asset's hostname, a client's identifier, a type's
slug, an article's title, a technician's username) so that a test can compare them with what
each check lists.

What is planted (a handful each):
- contacts without an e-mail address (about 2%, never a VIP);
- two outsiders on file at two clients each under one address;
- recent arrivals intake could not match: a client, a requester, a device;
- a few devices the RMM knows that nobody filed under a client;
- one client with no contract, two whose contract lapsed;
- the ticket types no article is filed under (alerts, "other");
- stale articles, and those the guidance playbook quoted on a ticket later reopened;
- the new starter, who has no skills recorded yet;
- a PSA connection with statuses and types nobody has mapped.
"""

from __future__ import annotations

import datetime as dt

from tickets.demo import catalogue as cat
from tickets.demo.generate import TECHNICIAN, DemoPlan

# `metrics.hygiene` keeps these apart: a check's 12-month and 30-day windows.
STALE_AFTER = dt.timedelta(days=365)
MAPPED_FIELDS = ("status", "type")

CHECK_KEYS = (
    "contacts_without_email",
    "contacts_duplicated",
    "tickets_client_unmatched",
    "tickets_contact_unmatched",
    "tickets_asset_unmatched",
    "assets_without_client",
    "clients_without_contract",
    "clients_contract_expired",
    "types_without_article",
    "stale_articles",
    "technicians_without_skills",
    "psa_mapping_gaps",
)
# Which planted arrivals each intake check lists, by what intake could not match.
UNMATCHED_CHECKS = {
    "client": "tickets_client_unmatched",
    "requester": "tickets_contact_unmatched",
    "device": "tickets_asset_unmatched",
}


def contact_key(client_identifier: str, directory_username: str, email: str) -> str:
    """A contact by client and account name, and address (an outsider has no account)."""
    return f"{client_identifier}/{directory_username}/{email}"


def mapping_key(field: str, external_id: str) -> str:
    return f"{field}/{external_id}"


def hygiene_manifest(plan: DemoPlan) -> dict[str, frozenset[str]]:
    """For each hygiene check, the natural keys of the records the demo planted for it."""
    today = plan.now.date()  # as the generator dates contracts (their ends are weeks away)
    shared = {person.email for person in cat.SHARED_CONTACTS}
    contracted = {contract.client for contract in plan.contracts}
    in_force = {contract.client for contract in plan.contracts if contract.in_force(today)}
    cited = set(plan.guidance.articles) if plan.guidance is not None else set()
    manifest: dict[str, set[str]] = {key: set() for key in CHECK_KEYS}
    for contact in plan.contacts:
        key = contact_key(
            plan.clients[contact.client].identifier, contact.directory_username, contact.email
        )
        if not contact.email:
            manifest["contacts_without_email"].add(key)
        if contact.email in shared:
            manifest["contacts_duplicated"].add(key)
    for gap in plan.intake_gaps:
        manifest[UNMATCHED_CHECKS[gap.seed.unmatched]].add(gap.external_id)
    manifest["assets_without_client"] = {a.hostname for a in plan.assets if a.client is None}
    for index, client in enumerate(plan.clients):
        if index not in contracted:
            manifest["clients_without_contract"].add(client.identifier)
        elif index not in in_force:
            manifest["clients_contract_expired"].add(client.identifier)
    manifest["types_without_article"] = set(cat.TYPES_WITHOUT_ARTICLES)
    manifest["stale_articles"] = {
        article.title
        for index, article in enumerate(plan.articles)
        if article.is_published and (article.updated_at < plan.now - STALE_AFTER or index in cited)
    }
    manifest["technicians_without_skills"] = {
        person.username
        for person in plan.staff
        if person.role == TECHNICIAN and person.takes_tickets and not person.skills
    }
    manifest["psa_mapping_gaps"] = {
        mapping_key(row.field, row.external_id)
        for row in plan.psa_mappings
        if row.field in MAPPED_FIELDS and not row.value
    }
    return {key: frozenset(keys) for key, keys in manifest.items()}
