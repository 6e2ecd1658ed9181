"""Requester verification: whose account a ticket is about, and whether its requester may
ask for it. The requester must be the account owner, or an authorised contact of the same
client; privileged and VIP accounts are never changed by a playbook (a technician does it)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from governance.memo import memoized
from tickets.models import Contact, Ticket

TEXT_SCAN = 5_000


@dataclass(frozen=True)
class Owner:
    contact: Contact | None
    how: str  # why we think so, for the timeline
    refusal: str = ""  # non-empty: the playbook must not act


# "Sam's password", "Sam Lee's account": the ticket is about someone's account by name.
_POSSESSIVE = re.compile(
    r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)(?:'|\u2019)s\s+(?:password|account|login|sign-in|mfa|"
    r"authenticator|access|laptop|mailbox)\b"
)


def account_owner(ticket: Ticket) -> Owner:
    """The contact whose account the ticket is about: another contact of the same client
    named in the text (by address, account name or full name), else the requester — unless
    the text plainly speaks of someone else's account ("Sam's password") whom no contact
    matches: then nobody, and a technician finds out."""
    requester = ticket.contact
    if ticket.client is None or requester is None:
        return Owner(None, "", "The requester is not a known contact of a client.")
    named = _named_contact(ticket)
    if named is None:
        other = _someone_else(ticket, requester)
        if other:
            return Owner(
                None, "", f"The ticket is about {other}'s account, who is not a contact on record."
            )
    owner = named or requester
    how = (
        f"the ticket names {owner.full_name}"
        if named and named.pk != requester.pk
        else f"the requester, {owner.full_name}"
    )
    return Owner(owner, how, _refusal(requester, owner))


def _named_contact(ticket: Ticket) -> Contact | None:
    text = f"{ticket.summary}\n{ticket.description[:TEXT_SCAN]}".lower()
    words = set(re.findall(r"[\w.@'-]+", text))
    if ticket.client_id is None:
        return None
    for contact in _active_contacts(ticket.client_id):
        handles = {contact.email.lower(), contact.directory_username.lower()} - {""}
        full = f"{contact.first_name} {contact.last_name}".strip().lower()
        named = bool(handles & words) or bool(contact.last_name and full in text)
        if named and (ticket.contact is None or contact.pk != ticket.contact.pk):
            return contact
    return None


def _active_contacts(client_id: int) -> list[Contact]:
    """The client's active contacts — read once per client in a pipeline batch."""
    return memoized(
        ("active_contacts", client_id),
        lambda: list(Contact.objects.filter(client_id=client_id, is_active=True)),
    )


def _someone_else(ticket: Ticket, requester: Contact) -> str:
    text = f"{ticket.summary}\n{ticket.description[:TEXT_SCAN]}"
    own = {requester.first_name.lower(), requester.full_name.lower()}
    for match in _POSSESSIVE.finditer(text):
        name = match[1]
        if name.lower() not in own and name.split()[0].lower() not in own:
            return name
    return ""


def _refusal(requester: Contact, owner: Contact) -> str:
    if owner.client_id != requester.client_id:
        return "The account belongs to another client."
    if owner.pk != requester.pk and not requester.may_request_for_others:
        return (
            f"{requester.full_name} asked for {owner.full_name}'s account but is not an "
            "authorised contact of the client: confirm with the account owner first."
        )
    if owner.is_privileged:
        return f"{owner.full_name} holds administrative rights: a technician does this one."
    if owner.is_vip:
        return f"{owner.full_name} is a VIP: a technician does this one."
    if not owner.is_active:
        return f"{owner.full_name} is no longer an active contact."
    return ""
