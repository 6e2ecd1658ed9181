"""Template helpers for action cards."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone

from governance.kinds import KINDS, param_display, ticket_field_value
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
    raw = ticket_field_value(action.ticket, spec.field_name)
    return param_display(spec.params[0], raw) if raw not in (None, "") else "—"


@register.filter
def ago(moment: dt.datetime | None) -> str:
    """'5 min ago', 'in 3 h', '2 d ago': a compact relative time. Cheaper than humanize's
    naturaltime, which runs translations for every call on a page of 25 cards."""
    if moment is None:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    future, span = seconds > 0, abs(seconds)
    if span < 60:
        return "just now"
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if span >= size:
            amount = f"{int(span // size)} {unit}"
            break
    return f"in {amount}" if future else f"{amount} ago"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.filter
def confidence_level(value: float | None) -> str:
    if value is None:
        return "none"
    return "high" if value >= 0.9 else "medium" if value >= 0.7 else "low"
