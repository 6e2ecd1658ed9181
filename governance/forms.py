"""Forms for the technician pages: queue and log filters, parameter edits, rejections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from governance.kinds import KIND_CHOICES, KINDS, ActionKind
from governance.models import Action
from governance.selectors import SORTS, LogFilters, QueueFilters
from tickets.models import Asset, Client, Contact, Priority, Queue, StaffMember, Ticket, TicketType

_SORT_LABELS = {
    "sla": "SLA risk",
    "oldest": "Oldest first",
    "newest": "Newest first",
    "confidence": "Most confident",
}


class _ClientChoiceMixin:
    fields: dict[str, forms.Field]

    def _set_clients(self, clients: list[Client]) -> None:
        self.fields["client"].choices = [("", "Any client")] + [  # type: ignore[attr-defined]
            (str(c.id), c.name) for c in clients
        ]


class QueueFilterForm(_ClientChoiceMixin, forms.Form):
    sort = forms.ChoiceField(required=False, choices=[(k, _SORT_LABELS[k]) for k in SORTS])
    kind = forms.ChoiceField(required=False, choices=[("", "Any action"), *KIND_CHOICES])
    client = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, clients: list[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_clients(clients)

    def to_filters(self) -> QueueFilters:
        data = self.cleaned_data
        return QueueFilters(
            sort=data.get("sort") or "sla", kind=data.get("kind") or "", client_id=data["client"]
        )


class LogFilterForm(_ClientChoiceMixin, forms.Form):
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Up to and including this day.",
    )
    kind = forms.ChoiceField(required=False, choices=[("", "Any action"), *KIND_CHOICES])
    status = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *Action.Status.choices]
    )
    client = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    ticket_type = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, clients: list[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_clients(clients)
        self.fields["ticket_type"].choices = [("", "Any type")] + [  # type: ignore[attr-defined]
            (str(t.id), t.name) for t in TicketType.objects.order_by("name")
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def to_filters(self) -> LogFilters:
        data = self.cleaned_data
        return LogFilters(
            since=_day_start(data.get("since")),
            until=_day_start(data["until"] + dt.timedelta(days=1)) if data.get("until") else None,
            kind=data.get("kind") or "",
            status=data.get("status") or "",
            client_id=data.get("client"),
            ticket_type_id=data.get("ticket_type"),
        )


def _day_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why? It helps the rule or model."}),
        error_messages={"required": "Say why, so the rule, model or playbook can improve."},
    )


class ParamsForm(forms.Form):
    """One field per parameter of the action's kind, with choices limited to the ticket's
    client where the parameter names a person or a device."""

    def __init__(self, *args: Any, kind: ActionKind, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in kind.params:
            self.fields[param.name] = _field_for(param.kind, param.label, ticket)

    def params(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}


def _field_for(kind: str, label: str, ticket: Ticket) -> forms.Field:
    if kind == "text":
        return forms.CharField(label=label, widget=forms.Textarea(attrs={"rows": 4}))
    choices = _choices_for(kind, ticket)
    if choices is None:
        return forms.CharField(label=label, max_length=200)
    coerce: Any = str if kind in ("status", "membership_op") else int
    return forms.TypedChoiceField(label=label, choices=choices, coerce=coerce)


def _choices_for(kind: str, ticket: Ticket) -> list[tuple[Any, str]] | None:
    if kind == "ticket_type":
        return [(t.id, t.name) for t in TicketType.objects.filter(is_active=True).order_by("name")]
    if kind == "queue":
        return [(q.id, q.name) for q in Queue.objects.filter(is_active=True).order_by("name")]
    if kind == "priority":
        return [(value, str(label)) for value, label in Priority.choices]
    if kind == "status":
        return list(Ticket.Status.choices)
    if kind == "membership_op":
        return [("add", "Add"), ("remove", "Remove")]
    if kind == "staff":
        staff = StaffMember.objects.filter(takes_tickets=True).select_related("user")
        if ticket.client_id:
            staff = staff.filter(all_clients=True) | staff.filter(clients=ticket.client_id)
        return [(s.id, s.display_name) for s in staff.distinct().order_by("user__first_name")]
    if ticket.client_id is None:
        return [] if kind in ("contact", "asset") else None
    if kind == "contact":
        contacts = Contact.objects.filter(client_id=ticket.client_id, is_active=True)
        return [(c.id, f"{c.full_name} <{c.email}>") for c in contacts.order_by("first_name")[:500]]
    if kind == "asset":
        assets = Asset.objects.filter(client_id=ticket.client_id, is_active=True)
        return [(a.id, a.hostname) for a in assets.order_by("hostname")[:500]]
    return None


def params_form(action: Action, data: Any = None) -> ParamsForm:
    return ParamsForm(data, kind=KINDS[action.kind], ticket=action.ticket, initial=action.params)
