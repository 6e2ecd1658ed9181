"""Template helpers for action cards."""

from __future__ import annotations

from typing import Any

from django import template

from governance.kinds import KINDS, param_display
from governance.models import Action

register = template.Library()


@register.filter
def param_rows(action: Action) -> list[tuple[str, str]]:
    """(label, value in words) for each parameter of the action."""
    spec = KINDS[action.kind]
    return [(p.label, param_display(p, action.params.get(p.name))) for p in spec.params]


@register.filter
def text_params(action: Action) -> list[str]:
    """Free-text parameters (a reply, a note, a resolution) shown in full on the card."""
    spec = KINDS[action.kind]
    return [
        str(action.params[p.name])
        for p in spec.params
        if p.kind == "text" and action.params.get(p.name)
    ]


@register.filter
def current_value(action: Action) -> str:
    """For a field-setting action, the ticket's value of that field now, in words."""
    spec = KINDS[action.kind]
    if not spec.field_name or not spec.params:
        return ""
    ticket = action.ticket
    raw: Any = getattr(ticket, f"{spec.field_name}_id", None)
    if raw is None and spec.field_name in ("priority", "status"):
        raw = getattr(ticket, spec.field_name)
    return param_display(spec.params[0], raw) if raw not in (None, "") else "—"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.filter
def confidence_level(value: float | None) -> str:
    if value is None:
        return "none"
    return "high" if value >= 0.9 else "medium" if value >= 0.7 else "low"
