"""The catalogue of action kinds: what the agent may ever want to do, with typed parameters.

Each kind says how risky it is, the mode it gets when no policy mentions it, which
parameters it takes and how to say it in plain English. Validation resolves every id against
the database and the ticket's client, so an action can only name things that exist and that
belong to the ticket it acts on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from governance.memo import memoized
from tickets.models import (
    Contact,
    Priority,
    Queue,
    StaffMember,
    Ticket,
    TicketSubtype,
    TicketType,
)


class Mode:
    OFF = "off"
    SUGGEST = "suggest"
    APPROVAL = "approval"
    AUTONOMOUS = "autonomous"

    CHOICES = (
        (OFF, "Off — never propose"),
        (SUGGEST, "Suggest only — shown to technicians, never executed"),
        (APPROVAL, "Needs approval — a technician approves each one"),
        (AUTONOMOUS, "Autonomous — executes on its own within the limits below"),
    )
    ORDER = (OFF, SUGGEST, APPROVAL, AUTONOMOUS)
    # Only in a policy edit: drop this policy's rule so the kind inherits again.
    INHERIT = "inherit"

    @classmethod
    def label(cls, mode: str) -> str:
        return dict(cls.CHOICES)[mode].split(" — ")[0]


@dataclass(frozen=True)
class Param:
    """One typed parameter. `kind` picks the validator in `_CLEANERS`."""

    name: str
    label: str
    kind: str
    required: bool = True
    help_text: str = ""


@dataclass(frozen=True)
class ActionKind:
    key: str
    label: str
    risk: str  # "low", "medium" or "high": bulk approval is offered for low risk only
    default_mode: str
    params: tuple[Param, ...] = ()
    touches_account: bool = False  # acts on a person's account: VIP/privileged need approval
    undoable: bool = False
    sentence: str = ""  # what it did, past tense, with params; see describe()
    plan: str = ""  # what it will do, for proposals
    field_name: str = ""  # ticket field it sets, for corrections that feed training
    extra: dict[str, Any] = field(default_factory=dict)


_STATUS_CHOICES = {value for value, _ in Ticket.Status.choices}
_GROUP_RE = re.compile(r"^[\w .@'&()-]{1,200}$")
_TAG_RE = re.compile(r"^[\w .-]{1,60}$")
MINUTES_MAX = 525_600
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

KINDS: dict[str, ActionKind] = {
    kind.key: kind
    for kind in (
        ActionKind(
            "set_type",
            "Set ticket type",
            "low",
            Mode.SUGGEST,
            (Param("ticket_type", "Ticket type", "ticket_type"),),
            undoable=True,
            sentence="set the type of ticket {ticket} to {ticket_type}",
            plan="set the type of ticket {ticket} to {ticket_type}",
            field_name="type",
        ),
        ActionKind(
            "set_subtype",
            "Set ticket subtype",
            "low",
            Mode.SUGGEST,
            (Param("subtype", "Subtype", "subtype"),),
            undoable=True,
            sentence="set the subtype of ticket {ticket} to {subtype}",
            plan="set the subtype of ticket {ticket} to {subtype}",
            field_name="subtype",
        ),
        ActionKind(
            "set_priority",
            "Set priority",
            "low",
            Mode.SUGGEST,
            (Param("priority", "Priority", "priority"),),
            undoable=True,
            sentence="set the priority of ticket {ticket} to {priority}",
            plan="set the priority of ticket {ticket} to {priority}",
            field_name="priority",
        ),
        ActionKind(
            "set_queue",
            "Route to queue",
            "low",
            Mode.SUGGEST,
            (Param("queue", "Queue", "queue"),),
            undoable=True,
            sentence="routed ticket {ticket} to {queue}",
            plan="route ticket {ticket} to {queue}",
            field_name="queue",
        ),
        ActionKind(
            "assign",
            "Assign technician",
            "low",
            Mode.SUGGEST,
            (Param("assignee", "Technician", "staff"),),
            undoable=True,
            sentence="assigned ticket {ticket} to {assignee}",
            plan="assign ticket {ticket} to {assignee}",
            field_name="assignee",
        ),
        ActionKind(
            "add_tag",
            "Tag ticket",
            "low",
            Mode.SUGGEST,
            (Param("tag", "Tag", "tag"),),
            sentence="tagged ticket {ticket} “{tag}”",
            plan="tag ticket {ticket} “{tag}”",
        ),
        ActionKind(
            "set_sla",
            "Set SLA",
            "low",
            Mode.SUGGEST,
            (
                Param("resolution_minutes", "Resolve within (minutes)", "minutes"),
                Param("response_minutes", "Respond within (minutes)", "minutes", required=False),
            ),
            undoable=True,
            sentence=(
                "set the SLA of ticket {ticket} to resolution within {resolution_minutes} minutes"
            ),
            plan="set the SLA of ticket {ticket} to resolution within {resolution_minutes} minutes",
        ),
        ActionKind(
            "add_note",
            "Add internal note",
            "low",
            Mode.SUGGEST,
            (Param("body", "Note", "text"),),
            sentence="added an internal note to ticket {ticket}",
            plan="add an internal note to ticket {ticket}",
        ),
        ActionKind(
            "reply",
            "Reply to requester",
            "medium",
            Mode.SUGGEST,
            (Param("body", "Message", "text"),),
            sentence="replied to the requester on ticket {ticket}",
            plan="reply to the requester on ticket {ticket}",
        ),
        ActionKind(
            "set_status",
            "Change status",
            "medium",
            Mode.SUGGEST,
            (Param("status", "Status", "status"),),
            undoable=True,
            sentence="changed the status of ticket {ticket} to {status}",
            plan="change the status of ticket {ticket} to {status}",
            field_name="status",
        ),
        ActionKind(
            "escalate",
            "Escalate",
            "medium",
            Mode.SUGGEST,
            (
                Param("queue", "Escalation queue", "queue"),
                Param("reason", "Reason", "text"),
            ),
            undoable=True,
            sentence="escalated ticket {ticket} to {queue}",
            plan="escalate ticket {ticket} to {queue}",
        ),
        ActionKind(
            "close",
            "Resolve and close",
            "medium",
            Mode.SUGGEST,
            (Param("resolution", "Resolution note", "text"),),
            undoable=True,
            sentence="resolved ticket {ticket}",
            plan="resolve ticket {ticket}",
        ),
        ActionKind(
            "reset_password",
            "Reset a password",
            "high",
            Mode.OFF,
            (Param("contact", "Account owner", "contact"),),
            touches_account=True,
            sentence="reset the password of {contact} on ticket {ticket}",
            plan="reset the password of {contact} on ticket {ticket}",
        ),
        ActionKind(
            "unlock_account",
            "Unlock an account",
            "medium",
            Mode.OFF,
            (Param("contact", "Account owner", "contact"),),
            touches_account=True,
            sentence="unlocked the account of {contact} on ticket {ticket}",
            plan="unlock the account of {contact} on ticket {ticket}",
        ),
        ActionKind(
            "reenrol_mfa",
            "Re-enrol MFA",
            "high",
            Mode.OFF,
            (Param("contact", "Account owner", "contact"),),
            touches_account=True,
            sentence="reset the MFA methods of {contact} on ticket {ticket}",
            plan="reset the MFA methods of {contact} on ticket {ticket}",
        ),
        ActionKind(
            "change_group_membership",
            "Change group membership",
            "high",
            Mode.OFF,
            (
                Param("contact", "Member", "contact"),
                Param("group", "Group or distribution list", "group"),
                Param("operation", "Add or remove", "membership_op"),
            ),
            touches_account=True,
            undoable=True,
            sentence=(
                "{operation_verb} {contact} {operation_preposition} {group} on ticket {ticket}"
            ),
            plan="{operation_plan} {contact} {operation_preposition} {group} on ticket {ticket}",
        ),
        ActionKind(
            "run_script",
            "Run an RMM script",
            "high",
            Mode.OFF,
            (
                Param("script", "Script (from the allow-list)", "slug"),
                Param("asset", "Device", "asset"),
            ),
            sentence="ran script {script} on {asset} for ticket {ticket}",
            plan="run script {script} on {asset} for ticket {ticket}",
        ),
        ActionKind(
            "install_software",
            "Install software",
            "high",
            Mode.OFF,
            (
                Param("package", "Package (from the catalogue)", "slug"),
                Param("asset", "Device", "asset"),
            ),
            sentence="installed {package} on {asset} for ticket {ticket}",
            plan="install {package} on {asset} for ticket {ticket}",
        ),
    )
}

KIND_CHOICES = [(kind.key, kind.label) for kind in KINDS.values()]
TEXT_MAX_LENGTH = 10_000


# Ticket fields a kind can set, stored as a value (the rest are foreign keys, compared by id).
_VALUE_FIELDS = ("priority", "status")


def ticket_field_value(ticket: Ticket, field_name: str) -> Any:
    """The ticket's current value of a field an action sets, in the form the action's
    parameter holds it: a priority number or status code, else the related object's id."""
    attname = field_name if field_name in _VALUE_FIELDS else f"{field_name}_id"
    return getattr(ticket, attname)


def kind_get(key: str) -> ActionKind:
    try:
        return KINDS[key]
    except KeyError:
        known = ", ".join(KINDS)
        message = f"Unknown action kind {key!r}; known kinds: {known}."
        raise ValidationError({"kind": message}) from None


def _clean_ticket_type(value: Any, ticket: Ticket) -> int:
    type_id = _as_id(value)
    exists = memoized(
        ("ticket_type", type_id),
        lambda: TicketType.objects.filter(id=type_id, is_active=True).exists(),
    )
    if not exists:
        raise ValidationError("No active ticket type has this id.")
    return type_id


def _clean_subtype(value: Any, ticket: Ticket) -> int:
    subtype_id = _as_id(value)
    type_id = memoized(
        ("subtype", subtype_id),
        lambda: (
            TicketSubtype.objects.filter(id=subtype_id).values_list("type_id", flat=True).first()
        ),
    )
    if type_id is None:
        raise ValidationError("No subtype has this id.")
    if ticket.type_id is not None and type_id != ticket.type_id:
        raise ValidationError("The subtype belongs to a different ticket type.")
    return subtype_id


def _clean_queue(value: Any, ticket: Ticket) -> int:
    queue_id = _as_id(value)
    exists = memoized(
        ("queue", queue_id), lambda: Queue.objects.filter(id=queue_id, is_active=True).exists()
    )
    if not exists:
        raise ValidationError("No active queue has this id.")
    return queue_id


def _clean_staff(value: Any, ticket: Ticket) -> int:
    staff_id = _as_id(value)
    staff = memoized(
        ("staff", staff_id),
        lambda: (
            StaffMember.objects.select_related("user")
            .filter(id=staff_id, takes_tickets=True)
            .first()
        ),
    )
    if staff is None:
        raise ValidationError("No technician who takes tickets has this id.")
    if ticket.client_id and not (
        staff.all_clients
        or ticket.client_id
        in memoized(
            ("staff_clients", staff_id), lambda: set(staff.clients.values_list("id", flat=True))
        )
    ):
        raise ValidationError(f"{staff.display_name} does not serve this ticket's client.")
    return staff_id


def _clean_contact(value: Any, ticket: Ticket) -> int:
    contact_id = _as_id(value)
    if (
        ticket.client_id is None
        or not Contact.objects.filter(id=contact_id, client_id=ticket.client_id).exists()
    ):
        raise ValidationError("No contact of this ticket's client has this id.")
    return contact_id


def _clean_asset(value: Any, ticket: Ticket) -> int:
    from tickets.models import Asset

    asset_id = _as_id(value)
    if (
        ticket.client_id is None
        or not Asset.objects.filter(id=asset_id, client_id=ticket.client_id).exists()
    ):
        raise ValidationError("No device of this ticket's client has this id.")
    return asset_id


def _clean_priority(value: Any, ticket: Ticket) -> int:
    number = _as_id(value)
    if number not in Priority.values:
        raise ValidationError("Priority must be 1 (critical) to 4 (low).")
    return number


def _clean_status(value: Any, ticket: Ticket) -> str:
    if value not in _STATUS_CHOICES:
        raise ValidationError(f"Status must be one of: {', '.join(sorted(_STATUS_CHOICES))}.")
    return str(value)


def _clean_text(value: Any, ticket: Ticket) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Write some text.")
    if len(value) > TEXT_MAX_LENGTH:
        raise ValidationError(f"At most {TEXT_MAX_LENGTH:,} characters.")
    return value.strip()


def _clean_group(value: Any, ticket: Ticket) -> str:
    if not isinstance(value, str) or not _GROUP_RE.match(value.strip()):
        raise ValidationError("Give the group's name (letters, digits, spaces, . @ ' & ( ) -).")
    return value.strip()


def _clean_slug(value: Any, ticket: Ticket) -> str:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        raise ValidationError("Use the catalogue name: lower-case letters, digits, . _ -.")
    return value


def _clean_membership_op(value: Any, ticket: Ticket) -> str:
    if value not in ("add", "remove"):
        raise ValidationError("Operation must be 'add' or 'remove'.")
    return str(value)


def _clean_tag(value: Any, ticket: Ticket) -> str:
    if not isinstance(value, str) or not _TAG_RE.match(value.strip()):
        raise ValidationError("A tag is 1–60 letters, digits, spaces or - _ . characters.")
    return " ".join(value.split())


def _clean_minutes(value: Any, ticket: Ticket) -> int:
    minutes = _as_id(value)
    if minutes > MINUTES_MAX:
        raise ValidationError(f"At most {MINUTES_MAX:,} minutes (a year).")
    return minutes


def _as_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError("Expected a number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError("Expected a number.") from None
    if number < 1:
        raise ValidationError("Expected a positive number.")
    return number


_CLEANERS: dict[str, Callable[[Any, Ticket], Any]] = {
    "ticket_type": _clean_ticket_type,
    "subtype": _clean_subtype,
    "queue": _clean_queue,
    "staff": _clean_staff,
    "contact": _clean_contact,
    "asset": _clean_asset,
    "priority": _clean_priority,
    "status": _clean_status,
    "text": _clean_text,
    "group": _clean_group,
    "slug": _clean_slug,
    "membership_op": _clean_membership_op,
    "tag": _clean_tag,
    "minutes": _clean_minutes,
}


def params_clean(kind: ActionKind, params: dict[str, Any], *, ticket: Ticket) -> dict[str, Any]:
    """Validated, normalized parameters, or a ValidationError keyed by parameter name."""
    if not isinstance(params, dict):
        raise ValidationError({"params": "Parameters must be an object."})
    known = {param.name for param in kind.params}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(params) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        errors["params"] = [
            f"{kind.label} takes no parameter {', '.join(unknown)}; it takes: {allowed}."
        ]
    cleaned: dict[str, Any] = {}
    for param in kind.params:
        value = params.get(param.name)
        if value in (None, ""):
            if param.required:
                errors[param.name] = [f"{param.label} is required."]
            continue
        try:
            cleaned[param.name] = _CLEANERS[param.kind](value, ticket)
        except ValidationError as error:
            errors[param.name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def param_display(param: Param, value: Any) -> str:
    """A parameter value in words: names rather than ids."""
    if value in (None, ""):
        return "—"
    lookups: dict[str, Callable[[Any], str]] = {
        "ticket_type": lambda v: _name(TicketType, v, "name"),
        "subtype": lambda v: _name(TicketSubtype, v, "name"),
        "queue": lambda v: _name(Queue, v, "name"),
        "staff": _staff_name,
        "contact": _contact_name,
        "asset": _asset_name,
        "priority": lambda v: str(Priority(int(v)).label) if int(v) in Priority.values else str(v),
        "status": lambda v: str(dict(Ticket.Status.choices).get(v, v)),
    }
    lookup = lookups.get(param.kind)
    return lookup(value) if lookup else str(value)


# Names by (model, id) for one page render: a page of 25 action cards would otherwise query
# a type, queue or technician name per card. Small catalogues are loaded whole on first use.
_NAMES: ContextVar[dict[tuple[str, Any], str] | None] = ContextVar("action_names", default=None)


@contextmanager
def names_cached() -> Iterator[None]:
    token = _NAMES.set({})
    try:
        yield
    finally:
        _NAMES.reset(token)


def _cached(
    model_key: str,
    pk: Any,
    load_all: Callable[[], dict[Any, str]] | None,
    load_one: Callable[[Any], str],
) -> str:
    cache = _NAMES.get()
    if cache is None:
        return load_one(pk)
    if (model_key, pk) not in cache:
        if load_all is not None and (model_key, "*") not in cache:
            cache[(model_key, "*")] = ""
            cache.update({(model_key, key): name for key, name in load_all().items()})
        if (model_key, pk) not in cache:
            cache[(model_key, pk)] = load_one(pk)
    return cache[(model_key, pk)]


def _name(model: Any, pk: Any, attr: str) -> str:
    def one(key: Any) -> str:
        obj = model.objects.filter(pk=key).only(attr).first()
        return str(getattr(obj, attr)) if obj else f"#{key} (deleted)"

    def everything() -> dict[Any, str]:
        return {key: str(value) for key, value in model.objects.values_list("pk", attr)}

    return _cached(
        model.__name__,
        _int_or(pk),
        everything if model in (TicketType, TicketSubtype, Queue) else None,
        one,
    )


def _int_or(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _staff_name(pk: Any) -> str:
    def one(key: Any) -> str:
        staff = StaffMember.objects.select_related("user").filter(pk=key).first()
        return staff.display_name if staff else f"#{key} (deleted)"

    def everything() -> dict[Any, str]:
        members = StaffMember.objects.select_related("user")
        return {member.pk: member.display_name for member in members}

    return _cached("StaffMember", _int_or(pk), everything, one)


def _contact_name(pk: Any) -> str:
    def one(key: Any) -> str:
        contact = Contact.objects.filter(pk=key).first()
        if contact is None:
            return f"#{key} (deleted)"
        return contact.email or contact.full_name

    return _cached("Contact", _int_or(pk), None, one)


def _asset_name(pk: Any) -> str:
    from tickets.models import Asset

    return _name(Asset, pk, "hostname")


def describe(
    kind: ActionKind, params: dict[str, Any], *, ticket_ref: str, planned: bool = False
) -> str:
    """What the action did ('routed ticket 4812 to Network'), or with `planned` what it will
    do ('route ticket 4812 to Network'), naming things rather than ids."""
    words = {param.name: param_display(param, params.get(param.name)) for param in kind.params}
    words["ticket"] = ticket_ref
    operation = params.get("operation")
    words["operation_verb"] = "removed" if operation == "remove" else "added"
    words["operation_preposition"] = "from" if operation == "remove" else "to"
    words["operation_plan"] = "remove" if operation == "remove" else "add"
    return (kind.plan if planned else kind.sentence).format(**words)
