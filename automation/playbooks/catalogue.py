"""The quick-win playbooks. Each: the ticket types it handles, its preconditions (requester
verification first), its steps as gated actions, and what it says when done. The account
steps verify themselves (the executor reads the account back)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from automation.playbooks.base import Check, Playbook, Step
from automation.playbooks.verification import account_owner
from tickets.models import Contact, Ticket

_GROUP = re.compile(
    r"\b(?P<verb>add|remove|take)\s+(?P<who>[\w .'-]{1,60}?)\s+(?:to|from|off|out of)\s+"
    r"(?:the\s+)?(?P<group>[A-Za-z0-9][\w .&'()@-]{1,80}?)\s+"
    r"(?:group|distribution list|dl|mailing list|shared mailbox|team)\b",
    re.IGNORECASE | re.DOTALL,
)
_SELF = {"me", "myself", "my account", "my user"}


def _owner_check_for(name_of: Callable[[Contact], str], missing: str) -> Check:
    """A precondition: the verified account owner, who has an account name (`name_of`)."""

    def check(ticket: Ticket, state: dict[str, Any]) -> str:
        owner = account_owner(ticket)
        if owner.refusal:
            return owner.refusal
        assert owner.contact is not None
        if not name_of(owner.contact):
            return f"{owner.contact.full_name} has no {missing} on record."
        state["contact"] = owner.contact.id
        state["owner_how"] = owner.how
        return ""

    return check


_owner_check = _owner_check_for(lambda c: c.directory_username, "directory account name")
_entra_owner_check = _owner_check_for(
    lambda c: c.email or (c.directory_username if "@" in c.directory_username else ""),
    "sign-in name",
)


def _group_check(ticket: Ticket, state: dict[str, Any]) -> str:
    """Which group, which way, and whose account: the requester ("add me"), or a contact of
    the same client the ticket names — never a name we cannot match to a contact."""
    match = _GROUP.search(f"{ticket.summary}\n{ticket.description[:5000]}")
    if match is None:
        return "The ticket does not say which group to change (\u201cadd me to the X group\u201d)."
    who = " ".join(match["who"].lower().split())
    if who not in _SELF:
        owner = account_owner(ticket)
        named = owner.contact
        if named is None or named.pk == (ticket.contact.pk if ticket.contact else None):
            return f"The ticket names {match['who'].strip()}, who is not a contact on record."
    state["group"] = match["group"].strip()
    state["operation"] = "add" if match["verb"].lower() == "add" else "remove"
    return ""


def _contact(ticket: Ticket, state: dict[str, Any]) -> dict[str, Any]:
    return {"contact": state["contact"]}


def _resolve(ticket: Ticket, state: dict[str, Any]) -> dict[str, Any]:
    return {"status": Ticket.Status.RESOLVED}


def _reply(text: str) -> Any:
    def params(ticket: Ticket, state: dict[str, Any]) -> dict[str, Any]:
        name = ticket.contact.first_name if ticket.contact else "there"
        return {"body": text.format(name=name, **state)}

    return params


PASSWORD_RESET = Playbook(
    slug="password-reset",
    title="Password reset",
    ticket_types=("password-reset",),
    checks=(_owner_check,),
    steps=(
        Step(
            "reset_password",
            _contact,
            "The requester may ask for this account; a temporary password goes to them "
            "by one-time link, to be changed at the next sign-in.",
        ),
        Step("set_status", _resolve, "The reset was verified in the directory."),
    ),
    done_note="Password reset, verified in the directory, link sent to the owner.",
)

ACCOUNT_UNLOCK = Playbook(
    slug="account-unlock",
    title="Account unlock",
    ticket_types=("account-unlock",),
    checks=(_owner_check,),
    steps=(
        Step("unlock_account", _contact, "The requester may ask for this account."),
        Step(
            "reply",
            _reply("Hi {name}, the account is unlocked: you can sign in again now."),
            "Tell the requester the account is unlocked.",
        ),
        Step("set_status", _resolve, "The unlock was verified in the directory."),
    ),
    done_note="Account unlocked and verified in the directory; the requester was told.",
)

GROUP_CHANGE = Playbook(
    slug="group-change",
    title="Group or distribution-list change",
    ticket_types=("group-change",),
    checks=(_owner_check, _group_check),
    steps=(
        Step(
            "change_group_membership",
            lambda ticket, state: {
                "contact": state["contact"],
                "group": state["group"],
                "operation": state["operation"],
            },
            "The requester may ask for this account, and the ticket names the group.",
        ),
        Step(
            "reply",
            _reply("Hi {name}, done: the {group} membership is changed as you asked."),
            "Tell the requester it is done.",
        ),
        Step("set_status", _resolve, "The membership was verified in the directory."),
    ),
    done_note="Group membership changed and verified in the directory; the requester was told.",
)


def _software_check(ticket: Ticket, state: dict[str, Any]) -> str:
    """Which catalogue package (by its name or slug in the text) on which of the ticket's
    devices (one linked to the RMM); the requester must be the device's user or authorised."""
    from automation.tools.rmm import SOFTWARE

    text = f"{ticket.summary}\n{ticket.description[:5000]}".lower()
    wanted = [
        spec.slug
        for spec in SOFTWARE.values()
        if spec.title.lower() in text or re.search(rf"\b{re.escape(spec.slug)}\b", text)
    ]
    if len(wanted) != 1:
        names = ", ".join(spec.title for spec in SOFTWARE.values())
        return f"The ticket should name one package from the catalogue ({names})."
    devices = [a for a in ticket.assets.all() if a.rmm_device_id]
    if len(devices) != 1:
        return "The ticket should be linked to exactly one device the RMM manages."
    device = devices[0]
    requester = ticket.contact
    if requester is None or (
        device.primary_contact_id not in (None, requester.pk)
        and not requester.may_request_for_others
    ):
        return f"{device.hostname} is someone else's device: confirm with its user first."
    state["package"], state["asset"] = wanted[0], device.id
    state["owner_how"] = f"{SOFTWARE[wanted[0]].title} on {device.hostname}"
    return ""


MFA_REENROLMENT = Playbook(
    slug="mfa-reenrolment",
    title="MFA re-enrolment",
    ticket_types=("mfa-reenrolment",),
    checks=(_entra_owner_check,),
    steps=(
        Step(
            "reenrol_mfa",
            _contact,
            "The requester may ask for this account; they register again at next sign-in.",
        ),
        Step(
            "reply",
            _reply(
                "Hi {name}, your sign-in methods were reset and you were signed out "
                "everywhere. At your next sign-in you will be asked to set up the "
                "authenticator app again."
            ),
            "Tell the requester what happens next.",
        ),
        Step("set_status", _resolve, "The reset was verified in Entra ID."),
    ),
    done_note="MFA methods removed and sessions revoked, verified in Entra ID.",
)

SOFTWARE_INSTALL = Playbook(
    slug="software-install",
    title="Software install",
    ticket_types=("software-install",),
    checks=(_software_check,),
    steps=(
        Step(
            "install_software",
            lambda ticket, state: {"package": state["package"], "asset": state["asset"]},
            "An allow-listed package on the requester's own device.",
        ),
        Step(
            "reply",
            _reply("Hi {name}, it is installed: you will find it in the Start menu."),
            "Tell the requester it is installed.",
        ),
        Step("set_status", _resolve, "The device's software inventory lists it."),
    ),
    done_note="Installed through the RMM and verified in the device's software inventory.",
)


def _kb_check(ticket: Ticket, state: dict[str, Any]) -> str:
    """An article of the client (or of every client) filed under this ticket type answers
    it; the answer quotes it and cites it."""
    from automation.tools.kb import answer_with_citations, kb_search

    question = f"{ticket.summary}\n{ticket.description[:5000]}"
    passages = kb_search(question, client_id=ticket.client_id, ticket_type_id=ticket.type_id)
    if not passages or not passages[0].covers_type:
        return "No knowledge-base article for this ticket type answers it."
    answer = answer_with_citations(question, passages)
    if not answer:
        return "The knowledge base has nothing close enough to quote."
    state["answer"] = answer
    state["articles"] = sorted({p.article_id for p in passages})
    state["owner_how"] = f"the knowledge base answers it ({passages[0].title})"
    return ""


VPN_WIFI_GUIDANCE = Playbook(
    slug="vpn-wifi-guidance",
    title="VPN and Wi-Fi guidance",
    ticket_types=("vpn-wifi",),
    checks=(_kb_check,),
    steps=(
        Step(
            "reply",
            _reply(
                "Hi {name}, this should sort it:\n\n{answer}\n\nIf it doesn't, reply here "
                "and a technician will pick it up."
            ),
            "A knowledge-base article filed under this type answers it; the reply quotes and "
            "cites it.",
        ),
        Step(
            "set_status",
            lambda ticket, state: {"status": Ticket.Status.WAITING_CUSTOMER},
            "Wait for the requester: an answer reopens it; silence is chased, then closed.",
        ),
    ),
    done_note="Guidance from the knowledge base sent with its sources; waiting on the requester.",
)

PLAYBOOKS: tuple[Playbook, ...] = (
    PASSWORD_RESET,
    ACCOUNT_UNLOCK,
    GROUP_CHANGE,
    MFA_REENROLMENT,
    SOFTWARE_INSTALL,
    VPN_WIFI_GUIDANCE,
)


def playbook_get(slug: str) -> Playbook:
    return next(p for p in PLAYBOOKS if p.slug == slug)
