"""The triage rules engine: what a rule may test, what it may do, validation, and evaluation.

A rule is ordered conditions (all or any) and actions. Conditions read `Facts`, a snapshot of
one ticket built in batch (`facts_for`). Actions are governance action kinds with their
parameters, so a rule's decision is a proposal to the gate like any other. Rules run in
order; a later rule sees the fields earlier rules decided (a rule that routes to the Network
queue lets the next rule test "queue is Network"). When two rules set the same field to
different values the earlier one wins and the later one's action is recorded as overridden —
that is what the editor flags as a conflict. A rule with "stop processing" ends the run.

Text tests are case-insensitive and read at most the first `TEXT_LIMIT` characters, so a
huge ticket cannot make a regular expression run away.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from automation.models import TriageRule
from governance.kinds import KINDS, param_display, params_clean
from tickets.models import Asset, Client, Priority, Queue, Tag, Ticket, TicketType

TEXT_LIMIT = 20_000
VALUE_MAX_LENGTH = 500
MAX_CONDITIONS = 20
MAX_ACTIONS = 10


@dataclass(frozen=True)
class Facts:
    """What conditions read about one ticket. `type_id`, `priority` and `queue_id` are the
    values as decided so far in this run (earlier rules may have changed them)."""

    ticket_id: int
    summary: str
    description: str
    client_id: int | None
    contact_email: str
    contact_vip: bool
    contact_privileged: bool
    source: str
    status: str
    type_id: int | None
    priority: int
    queue_id: int | None
    arrived_local: dt.datetime  # opened_at in the client's zone (UTC without a client)
    after_hours: bool
    asset_kinds: frozenset[str]
    tags: frozenset[str]  # slugs


def facts_for(tickets: Iterable[Ticket]) -> dict[int, Facts]:
    """Facts for tickets loaded with select_related("client", "contact") and
    prefetch_related("assets", "tags") — no queries of its own."""
    return {ticket.id: _facts(ticket) for ticket in tickets}


def _facts(ticket: Ticket) -> Facts:
    client = ticket.client
    contact = ticket.contact
    zone = _zone(client.timezone) if client else dt.UTC
    return Facts(
        ticket_id=ticket.id,
        summary=ticket.summary[:TEXT_LIMIT],
        description=ticket.description[:TEXT_LIMIT],
        client_id=ticket.client_id,
        contact_email=contact.email.lower() if contact else "",
        contact_vip=bool(contact and contact.is_vip),
        contact_privileged=bool(contact and contact.is_privileged),
        source=ticket.source,
        status=ticket.status,
        type_id=ticket.type_id,
        priority=ticket.priority,
        queue_id=ticket.queue_id,
        arrived_local=ticket.opened_at.astimezone(zone),
        after_hours=bool(client and not client.is_business_time(ticket.opened_at)),
        asset_kinds=frozenset(asset.kind for asset in ticket.assets.all()),
        tags=frozenset(tag.slug for tag in ticket.tags.all()),
    )


@cache
def _zone(name: str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(name)


# --- What a condition may test ------------------------------------------------------------

OP_LABELS = {
    "contains": "contains",
    "not_contains": "does not contain",
    "regex": "matches the pattern",
    "equals": "is exactly",
    "in": "is one of",
    "not_in": "is not one of",
    "is": "is",
    "between": "is between",
    "is_empty": "is not set",
    "is_set": "is set",
}
_TEXT_OPS = ("contains", "not_contains", "regex", "equals")
_CHOICE_OPS = ("in", "not_in")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    ops: tuple[str, ...]
    read: Callable[[Facts], Any]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    help_text: str = ""


def _model_choices(model: Any, label: str = "name") -> Callable[[], list[tuple[str, str]]]:
    def choices() -> list[tuple[str, str]]:
        rows = model.objects.order_by(label).values_list("pk", label)
        return [(str(pk), str(name)) for pk, name in rows]

    return choices


def _static(pairs: Iterable[tuple[Any, Any]]) -> Callable[[], list[tuple[str, str]]]:
    frozen = [(str(value), str(label)) for value, label in pairs]
    return lambda: frozen


def _clients() -> Callable[[], list[tuple[str, str]]]:
    return _model_choices(Client)


def _tag_choices() -> Callable[[], list[tuple[str, str]]]:
    def choices() -> list[tuple[str, str]]:
        return [(slug, name) for slug, name in Tag.objects.values_list("slug", "name")]

    return choices


_WEEKDAYS = [(1, "Monday"), (2, "Tuesday"), (3, "Wednesday"), (4, "Thursday")]
_WEEKDAYS += [(5, "Friday"), (6, "Saturday"), (7, "Sunday")]

FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in (
        FieldSpec("text", "Summary or description", _TEXT_OPS, lambda f: _text(f)),
        FieldSpec("summary", "Summary", _TEXT_OPS, lambda f: f.summary),
        FieldSpec("description", "Description", _TEXT_OPS, lambda f: f.description),
        FieldSpec(
            "contact_email",
            "Requester's e-mail",
            _TEXT_OPS,
            lambda f: f.contact_email,
            help_text="Use “contains @example.com” for a whole domain.",
        ),
        FieldSpec(
            "client", "Client", (*_CHOICE_OPS, "is_empty"), lambda f: f.client_id, _clients()
        ),
        FieldSpec("contact_vip", "Requester is a VIP", ("is",), lambda f: f.contact_vip),
        FieldSpec(
            "contact_privileged",
            "Requester has a privileged account",
            ("is",),
            lambda f: f.contact_privileged,
        ),
        FieldSpec(
            "source",
            "Arrived through",
            _CHOICE_OPS,
            lambda f: f.source,
            _static(Ticket.Source.choices),
        ),
        FieldSpec(
            "type",
            "Ticket type",
            (*_CHOICE_OPS, "is_empty", "is_set"),
            lambda f: f.type_id,
            _model_choices(TicketType),
        ),
        FieldSpec(
            "priority", "Priority", _CHOICE_OPS, lambda f: f.priority, _static(Priority.choices)
        ),
        FieldSpec(
            "queue",
            "Queue",
            (*_CHOICE_OPS, "is_empty", "is_set"),
            lambda f: f.queue_id,
            _model_choices(Queue),
        ),
        FieldSpec(
            "status", "Status", _CHOICE_OPS, lambda f: f.status, _static(Ticket.Status.choices)
        ),
        FieldSpec(
            "after_hours",
            "Arrived after the client's business hours",
            ("is",),
            lambda f: f.after_hours,
        ),
        FieldSpec(
            "time_of_day",
            "Arrival time (client's time zone)",
            ("between",),
            lambda f: f.arrived_local.time(),
            help_text="HH:MM-HH:MM; a range across midnight such as 22:00-06:00 works.",
        ),
        FieldSpec(
            "weekday",
            "Arrival day (client's time zone)",
            _CHOICE_OPS,
            lambda f: f.arrived_local.isoweekday(),
            _static(_WEEKDAYS),
        ),
        FieldSpec(
            "asset_kind",
            "A linked asset is a",
            _CHOICE_OPS,
            lambda f: f.asset_kinds,
            _static(Asset.Kind.choices),
        ),
        FieldSpec("tag", "Tagged", _CHOICE_OPS, lambda f: f.tags, _tag_choices()),
    )
}


def _text(facts: Facts) -> str:
    return f"{facts.summary}\n{facts.description}"


# --- What a rule may do ------------------------------------------------------------------

# Rule action kind -> the ticket field it decides (for overrides, conflicts and for skipping
# the classifier's proposal on a field a rule already decided).
ACTION_FIELDS = {
    "set_priority": "priority",
    "set_type": "type",
    "set_queue": "queue",
    "assign": "assignee",
    "set_sla": "sla",
    "add_tag": "tag",
}
ACTION_CHOICES = [(kind, KINDS[kind].label) for kind in ACTION_FIELDS]


def action_field(action: dict[str, Any]) -> str:
    """The field an action decides; each tag is its own field, so tags never conflict."""
    name = ACTION_FIELDS[action["kind"]]
    return f"tag:{action['params']['tag'].lower()}" if name == "tag" else name


def action_value(action: dict[str, Any]) -> Any:
    params = action["params"]
    if action["kind"] == "set_sla":
        return (params.get("response_minutes"), params["resolution_minutes"])
    return next(iter(params.values()))


def action_words(action: dict[str, Any]) -> str:
    """“priority High”, “queue Network”, “tag vpn”, “SLA: resolve within 240 minutes”."""
    spec = KINDS[action["kind"]]
    params = action["params"]
    if action["kind"] == "set_sla":
        respond = params.get("response_minutes")
        first = f"respond within {respond} min, " if respond else ""
        return f"SLA {first}resolve within {params['resolution_minutes']} min"
    param = spec.params[0]
    return f"{ACTION_FIELDS[spec.key]} {param_display(param, params[param.name])}"


# --- Validation --------------------------------------------------------------------------


def rule_validate(
    *, conditions: Any, actions: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Normalized conditions and actions, or a ValidationError whose keys name the row:
    "conditions", "condition-<i>", "actions", "action-<i>"."""
    errors: dict[str, list[str]] = {}
    clean_conditions = _rows(conditions, "condition", MAX_CONDITIONS, _condition_clean, errors)
    clean_actions = _rows(actions, "action", MAX_ACTIONS, _action_clean, errors)
    if not errors and not clean_actions:
        errors["actions"] = ["Give the rule at least one action."]
    if not errors:
        fields = [action_field(action) for action in clean_actions]
        if len(set(fields)) != len(fields):
            errors["actions"] = ["Each field can be set only once per rule."]
    if errors:
        raise ValidationError(errors)
    return clean_conditions, clean_actions


def _rows(
    rows: Any,
    name: str,
    limit: int,
    clean: Callable[[Any], dict[str, Any]],
    errors: dict[str, list[str]],
) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        errors[f"{name}s"] = [f"The {name}s must be a list."]
        return []
    if len(rows) > limit:
        errors[f"{name}s"] = [f"At most {limit} {name}s per rule."]
        return []
    cleaned = []
    for index, row in enumerate(rows):
        try:
            cleaned.append(clean(row))
        except ValidationError as error:
            errors[f"{name}-{index}"] = error.messages
    return cleaned


def _condition_clean(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ValidationError("A condition is a field, a test and a value.")
    spec = FIELDS.get(row.get("field", ""))
    if spec is None:
        raise ValidationError("Choose what the condition tests.")
    op = row.get("op", "")
    if op not in spec.ops:
        allowed = ", ".join(f"“{OP_LABELS[o]}”" for o in spec.ops)
        raise ValidationError(f"{spec.label} can be tested with {allowed}.")
    value = _value_clean(spec, op, row.get("value"))
    return {"field": spec.key, "op": op, "value": value}


def _value_clean(spec: FieldSpec, op: str, value: Any) -> Any:
    if op in ("is_empty", "is_set"):
        return None
    if op == "is":
        if value in (True, "true", "yes", "on", "1"):
            return True
        if value in (False, "false", "no", "off", "0"):
            return False
        raise ValidationError("Choose yes or no.")
    if op == "between":
        return _time_range_clean(value)
    if op in _CHOICE_OPS:
        return _choices_clean(spec, value)
    return _text_clean(op, value)


def _text_clean(op: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Give the text to look for.")
    if len(value) > VALUE_MAX_LENGTH:
        raise ValidationError(f"At most {VALUE_MAX_LENGTH} characters.")
    if op == "regex":
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as error:
            raise ValidationError(f"Not a valid regular expression: {error}.") from None
        return value
    return value.strip()


def _choices_clean(spec: FieldSpec, value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    picked = [str(item) for item in values if item not in (None, "")]
    if not picked:
        raise ValidationError("Pick at least one value.")
    known = dict(spec.choices() if spec.choices else [])
    unknown = [item for item in picked if item not in known]
    if unknown:
        raise ValidationError(f"Unknown {spec.label.lower()}: {', '.join(unknown)}.")
    return sorted(set(picked), key=picked.index)


def _time_range_clean(value: Any) -> str:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(value or ""))
    if match is None:
        raise ValidationError("Write the range as HH:MM-HH:MM, e.g. 18:00-08:00.")
    hours = (int(match[1]), int(match[3]))
    minutes = (int(match[2]), int(match[4]))
    if max(hours) > 23 or max(minutes) > 59:
        raise ValidationError("Hours run 00–23 and minutes 00–59.")
    start, end = f"{hours[0]:02}:{minutes[0]:02}", f"{hours[1]:02}:{minutes[1]:02}"
    if start == end:
        raise ValidationError("The range must not start and end at the same minute.")
    return f"{start}-{end}"


def _action_clean(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict) or row.get("kind") not in ACTION_FIELDS:
        raise ValidationError("Choose what the rule does.")
    params = row.get("params")
    try:
        # No ticket yet: ids, numbers and text are checked now; a technician's client scope
        # is checked by the gate when the rule proposes the assignment on a real ticket.
        cleaned = params_clean(KINDS[row["kind"]], params or {}, ticket=Ticket())
    except ValidationError as error:
        raise ValidationError(
            [message for messages in error.message_dict.values() for message in messages]
        ) from None
    return {"kind": row["kind"], "params": cleaned}


# --- Evaluation --------------------------------------------------------------------------


def condition_test(condition: dict[str, Any], facts: Facts) -> bool:
    spec = FIELDS[condition["field"]]
    op, value = condition["op"], condition["value"]
    actual = spec.read(facts)
    if op == "is_empty":
        return actual is None
    if op == "is_set":
        return actual is not None
    if op == "is":
        return bool(actual) is value
    if op == "between":
        return _in_range(actual, value)
    if op in _CHOICE_OPS:
        found = _choice_hit(actual, value)
        return found if op == "in" else not found
    return _text_test(op, value, str(actual or ""))


def _choice_hit(actual: Any, value: list[str]) -> bool:
    if isinstance(actual, frozenset):
        return not actual.isdisjoint(value)
    return actual is not None and str(actual) in value


def _text_test(op: str, value: str, text: str) -> bool:
    if op == "regex":
        return _pattern(value).search(text) is not None
    if op == "equals":
        return text.strip().casefold() == value.casefold()
    found = value.casefold() in text.casefold()
    return found if op == "contains" else not found


@cache
def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(value, re.IGNORECASE)


def _in_range(moment: dt.time, value: str) -> bool:
    start_text, end_text = value.split("-")
    start, end = dt.time.fromisoformat(start_text), dt.time.fromisoformat(end_text)
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # across midnight


def condition_words(condition: dict[str, Any], *, names: dict[str, dict[str, str]]) -> str:
    """“Summary contains “vpn””, “Queue is one of Network, Servers”, “Requester is a VIP”."""
    spec = FIELDS[condition["field"]]
    op, value = condition["op"], condition["value"]
    if op == "is":
        return spec.label if value else f"not: {spec.label}"
    if op in ("is_empty", "is_set"):
        return f"{spec.label} {OP_LABELS[op]}"
    if op in _CHOICE_OPS:
        labels = names.get(spec.key, {})
        return f"{spec.label} {OP_LABELS[op]} {', '.join(labels.get(v, v) for v in value)}"
    return f"{spec.label} {OP_LABELS[op]} “{value}”"


def choice_names(
    rules: Iterable[TriageRule], *, clients: list[tuple[str, str]] | None = None
) -> dict[str, dict[str, str]]:
    """The names behind the ids the rules' conditions hold, one query per field used.
    `clients`: the clients the reader may see (others show as their id); None: all, for
    the pipeline, whose sentences go on each client's own tickets."""
    used = {c["field"] for rule in rules for c in rule.conditions if c["op"] in _CHOICE_OPS}
    names = {key: dict(choices()) for key in used - {"client"} if (choices := FIELDS[key].choices)}
    if "client" in used:
        names["client"] = dict(clients if clients is not None else _model_choices(Client)())
    return names


@dataclass
class Firing:
    """One rule that matched one ticket: why, what it decides, and what it lost to an
    earlier rule (a conflict)."""

    rule: TriageRule
    reasons: list[str]
    actions: list[dict[str, Any]] = field(default_factory=list)
    overridden: list[tuple[dict[str, Any], TriageRule]] = field(default_factory=list)

    def sentence(self) -> str:
        did = "; ".join(action_words(action) for action in self.actions) or "nothing new"
        reasons = " and ".join(self.reasons) if self.reasons else "it has no conditions"
        text = f"Rule “{self.rule.name}” matched because {reasons}: {did}."
        for action, winner in self.overridden:
            text += f" Not applied: {action_words(action)} (rule “{winner.name}” decided it)."
        if self.rule.stop_processing:
            text += " Later rules were not evaluated."
        return text


def rule_matches(
    rule: TriageRule, facts: Facts, names: dict[str, dict[str, str]]
) -> list[str] | None:
    """The conditions that held, in words, or None when the rule does not match."""
    held = [c for c in rule.conditions if condition_test(c, facts)]
    if rule.match == TriageRule.Match.ALL and len(held) < len(rule.conditions):
        return None
    if rule.match == TriageRule.Match.ANY and rule.conditions and not held:
        return None
    return [condition_words(c, names=names) for c in held]


def rules_run(
    rules: Sequence[TriageRule], facts: Facts, names: dict[str, dict[str, str]]
) -> list[Firing]:
    """Run ordered rules over one ticket; see the module docstring for the semantics."""
    firings: list[Firing] = []
    decided: dict[str, tuple[Any, TriageRule]] = {}
    for rule in rules:
        reasons = rule_matches(rule, facts, names)
        if reasons is None:
            continue
        firing = Firing(rule=rule, reasons=reasons)
        for action in rule.actions:
            name = action_field(action)
            earlier = decided.get(name)
            if earlier is None:
                decided[name] = (action_value(action), rule)
                firing.actions.append(action)
                facts = _with_decision(facts, action)
            elif earlier[0] != action_value(action):
                firing.overridden.append((action, earlier[1]))
        firings.append(firing)
        if rule.stop_processing:
            break
    return firings


def _with_decision(facts: Facts, action: dict[str, Any]) -> Facts:
    params = action["params"]
    match action["kind"]:
        case "set_priority":
            return dataclasses.replace(facts, priority=params["priority"])
        case "set_type":
            return dataclasses.replace(facts, type_id=params["ticket_type"])
        case "set_queue":
            return dataclasses.replace(facts, queue_id=params["queue"])
        case "add_tag":
            return dataclasses.replace(facts, tags=facts.tags | {slugify(params["tag"])})
        case _:
            return facts
