"""The quick-win playbooks. Each: the ticket types it handles, its preconditions (requester
verification first), its steps as gated actions, and what it says when done. The account
steps verify themselves (the executor reads the account back)."""

from __future__ import annotations

import re
from typing import Any

from automation.playbooks.base import Playbook, Step
from automation.playbooks.verification import account_owner
from tickets.models import Ticket

_GROUP = re.compile(
    r"\b(?P<verb>add|remove|take)\b.*?\b(?:to|from|off|of)\s+(?:the\s+)?"
    r"(?P<group>[A-Za-z0-9][\w .&'()@-]{1,80}?)\s+"
    r"(?:group|distribution list|dl|mailing list|team)\b",
    re.IGNORECASE | re.DOTALL,
)


def _owner_check(ticket: Ticket, state: dict[str, Any]) -> str:
    owner = account_owner(ticket)
    if owner.refusal:
        return owner.refusal
    assert owner.contact is not None
    if not owner.contact.directory_username:
        return f"{owner.contact.full_name} has no directory account name on record."
    state["contact"] = owner.contact.id
    state["owner_how"] = owner.how
    return ""


def _group_check(ticket: Ticket, state: dict[str, Any]) -> str:
    match = _GROUP.search(f"{ticket.summary}\n{ticket.description[:5000]}")
    if match is None:
        return "The ticket does not say which group to change (\u201cadd me to the X group\u201d)."
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

PLAYBOOKS: tuple[Playbook, ...] = (PASSWORD_RESET, ACCOUNT_UNLOCK, GROUP_CHANGE)


def playbook_get(slug: str) -> Playbook:
    return next(p for p in PLAYBOOKS if p.slug == slug)
