"""Template helpers for the busiest pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def filter_select(field: BoundField) -> SafeString:
    """A <select> for a flat choice field, rendered in Python.

    Django's widget templates render every <option> through the template engine, which on the
    ticket list cost more than the database; the markup here is the same.
    """
    current = "" if field.value() is None else str(field.value())
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (str(value), " selected" if str(value) == current else "", label)
            for value, label in field.field.choices  # type: ignore[attr-defined]
        ),
    )
    return format_html(
        '<select name="{}" id="{}">{}</select>', field.html_name, field.auto_id, options
    )


@register.filter
def lookup(mapping: Mapping[str, Any], key: str) -> Any:
    """`mapping[key]` in a template (empty when missing)."""
    return mapping.get(key, ()) if hasattr(mapping, "get") else ()
