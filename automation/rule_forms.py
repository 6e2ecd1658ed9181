"""The rules editor's form: condition and action rows posted as `c-<i>-field/op/value` and
`a-<i>-kind/<param>`, turned into the JSON the engine validates, and back into rows (with
their choices and errors) for the page."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from automation.models import TriageRule
from automation.rule_services import RuleInput
from automation.rules import ACTION_CHOICES, FIELDS, OP_LABELS, FieldSpec
from governance.kinds import KINDS, Param
from tickets.models import Priority, Queue, StaffMember, Tag, TicketType

_ROW_KEY = re.compile(r"^([ca])-(\d{1,3})-(field|kind)$")
_MULTI_OPS = ("in", "not_in")


@dataclass
class ConditionRow:
    index: int
    field: str
    op: str
    value: Any
    ops: list[tuple[str, str]]
    choices: list[tuple[str, str]]
    help_text: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def widget(self) -> str:
        if self.op in ("is_empty", "is_set"):
            return "none"
        if self.op == "is":
            return "yesno"
        if self.op in _MULTI_OPS:
            return "multi"
        return "text"

    @property
    def text_value(self) -> str:
        return self.value if isinstance(self.value, str) else ""

    @property
    def selected(self) -> list[str]:
        return [str(v) for v in self.value] if isinstance(self.value, list) else []


@dataclass
class ParamInput:
    name: str
    label: str
    widget: str  # select, text, number
    value: Any
    choices: list[tuple[str, str]]
    required: bool


@dataclass
class ActionRow:
    index: int
    kind: str
    inputs: list[ParamInput]
    errors: list[str] = dataclasses.field(default_factory=list)


FIELD_CHOICES = [(spec.key, spec.label) for spec in FIELDS.values()]


def _indices(data: QueryDict, prefix: str) -> list[int]:
    found = {int(m[2]) for key in data if (m := _ROW_KEY.match(key)) and m[1] == prefix}
    return sorted(found)


def conditions_from(data: QueryDict) -> list[dict[str, Any]]:
    rows = []
    for index in _indices(data, "c"):
        spec = FIELDS.get(data.get(f"c-{index}-field", ""))
        op = data.get(f"c-{index}-op", "")
        key = f"c-{index}-value"
        value: Any = data.getlist(key) if op in _MULTI_OPS else data.get(key, "")
        rows.append({"field": spec.key if spec else "", "op": op, "value": value})
    return rows


def actions_from(data: QueryDict) -> list[dict[str, Any]]:
    rows = []
    for index in _indices(data, "a"):
        kind = data.get(f"a-{index}-kind", "")
        params: dict[str, Any] = {}
        if kind in KINDS:
            for param in KINDS[kind].params:
                value = data.get(f"a-{index}-{param.name}", "").strip()
                if value:
                    params[param.name] = value
        rows.append({"kind": kind, "params": params})
    return rows


def rule_input_from(data: QueryDict) -> RuleInput:
    return RuleInput(
        name=data.get("name", ""),
        description=data.get("description", ""),
        match=data.get("match", TriageRule.Match.ALL),
        conditions=conditions_from(data),
        actions=actions_from(data),
        stop_processing=data.get("stop_processing") == "on",
        is_active=data.get("is_active") == "on",
    )


def condition_row(
    index: int,
    condition: dict[str, Any],
    errors: list[str],
    *,
    clients: list[tuple[str, str]],
) -> ConditionRow:
    """One condition's row; `clients` are the clients the editor may offer (the viewer's)."""
    spec: FieldSpec = FIELDS.get(condition.get("field", "")) or FIELDS["text"]
    op = condition.get("op", "")
    if op not in spec.ops:
        op = spec.ops[0]
    return ConditionRow(
        index=index,
        field=spec.key,
        op=op,
        value=condition.get("value"),
        ops=[(o, OP_LABELS[o]) for o in spec.ops],
        choices=clients if spec.key == "client" else spec.choices() if spec.choices else [],
        help_text=spec.help_text,
        errors=errors,
    )


def action_row(index: int, action: dict[str, Any], errors: list[str]) -> ActionRow:
    kind = action.get("kind") if action.get("kind") in KINDS else ACTION_CHOICES[0][0]
    params = action.get("params") or {}
    inputs = [_param_input(param, params.get(param.name)) for param in KINDS[str(kind)].params]
    return ActionRow(index=index, kind=str(kind), inputs=inputs, errors=errors)


def _param_input(param: Param, value: Any) -> ParamInput:
    choices = _PARAM_CHOICES.get(param.kind)
    if choices is not None:
        widget = "select"
    elif param.kind == "minutes":
        widget = "number"
    else:
        widget = "text"
    return ParamInput(
        name=param.name,
        label=param.label,
        widget=widget,
        value="" if value is None else str(value),
        choices=choices() if choices else [],
        required=param.required,
    )


def _types() -> list[tuple[str, str]]:
    return [
        (str(pk), name)
        for pk, name in TicketType.objects.filter(is_active=True).values_list("pk", "name")
    ]


def _queues() -> list[tuple[str, str]]:
    return [
        (str(pk), name)
        for pk, name in Queue.objects.filter(is_active=True).values_list("pk", "name")
    ]


def _technicians() -> list[tuple[str, str]]:
    staff = StaffMember.objects.filter(takes_tickets=True).select_related("user")
    return [(str(member.pk), member.display_name) for member in staff]


_PARAM_CHOICES = {
    "priority": lambda: [(str(value), str(label)) for value, label in Priority.choices],
    "ticket_type": _types,
    "queue": _queues,
    "staff": _technicians,
}


def tag_names() -> list[str]:
    return list(Tag.objects.values_list("name", flat=True)[:200])


def rows_for(
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    errors: dict[str, list[str]],
    *,
    clients: list[tuple[str, str]],
) -> tuple[list[ConditionRow], list[ActionRow]]:
    return (
        [
            condition_row(i, c, errors.get(f"condition-{i}", []), clients=clients)
            for i, c in enumerate(conditions)
        ],
        [action_row(i, a, errors.get(f"action-{i}", [])) for i, a in enumerate(actions)],
    )
