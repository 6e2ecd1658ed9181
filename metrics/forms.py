from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from metrics.definitions import PATH_LABELS
from metrics.selectors import FactFilter
from tickets.models import Client, Queue, StaffMember, TicketType

PERIODS = (
    ("last_week", "Last week"),
    ("this_week", "This week so far"),
    ("last_4_weeks", "Last 4 weeks"),
    ("last_12_weeks", "Last 12 weeks"),
    ("custom", "Custom dates"),
)
MAX_DAYS = 366


def period_bounds(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a named period; weeks start on Monday and "last" means complete."""
    monday = today - dt.timedelta(days=today.weekday())
    weeks = {"last_week": 1, "last_4_weeks": 4, "last_12_weeks": 12}
    if period == "this_week":
        return monday, today + dt.timedelta(days=1)
    return monday - dt.timedelta(weeks=weeks.get(period, 1)), monday


class MetricsFilterForm(forms.Form):
    """The period and dimensions a metrics page shows; every field is optional."""

    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        required=False, label="End (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    client = forms.ModelChoiceField(queryset=Client.objects.none(), required=False)
    ticket_type = forms.ModelChoiceField(
        queryset=TicketType.objects.order_by("name"), required=False, label="Ticket type"
    )
    queue = forms.ModelChoiceField(queryset=Queue.objects.order_by("name"), required=False)
    technician = forms.ModelChoiceField(
        queryset=StaffMember.objects.filter(takes_tickets=True).select_related("user"),
        required=False,
    )
    path = forms.ChoiceField(
        choices=[("", "Any path"), *PATH_LABELS.items()], required=False, label="Resolved by"
    )

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["client"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = clients.order_by("name")
        field.empty_label = "All clients"
        for name, label in (
            ("ticket_type", "All types"),
            ("queue", "All queues"),
            ("technician", "All technicians"),
        ):
            choice = self.fields[name]
            assert isinstance(choice, forms.ModelChoiceField)
            choice.empty_label = label

    SELECTS = ("period", "client", "ticket_type", "queue", "technician", "path")

    @property
    def select_options(self) -> dict[str, list[tuple[str, str, bool]]]:
        """(value, label, selected) for each drop-down, for the page to write plain <option>
        tags: the same choices as the widgets, without a template render per option."""
        found: dict[str, list[tuple[str, str, bool]]] = {}
        for name in self.SELECTS:
            chosen = str(self[name].value() or "")
            found[name] = [
                (str(value), str(label), str(value) == chosen)
                for value, label in self.fields[name].choices  # type: ignore[attr-defined]
            ]
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom period needs a start and an end date.")
            if end < start:
                self.add_error("end", "The end date must be on or after the start date.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("end", f"Choose at most {MAX_DAYS} days at a time.")
        return data

    def to_filters(self, *, today: dt.date | None = None) -> FactFilter:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        today = today or timezone.localdate()
        period = data.get("period") or "last_week"
        if period == "custom":
            start, end = data["start"], data["end"] + dt.timedelta(days=1)
        else:
            start, end = period_bounds(period, today)
        return FactFilter(
            start=start,
            end=end,
            client_id=_pk(data.get("client")),
            type_id=_pk(data.get("ticket_type")),
            queue_id=_pk(data.get("queue")),
            technician_id=_pk(data.get("technician")),
            path=data.get("path") or "",
        )


def _pk(value: Any) -> int | None:
    return value.pk if value is not None else None


class BaselineForm(forms.Form):
    name = forms.CharField(max_length=120, initial="Before automation")
    starts_on = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class HoldoutForm(forms.Form):
    share = forms.DecimalField(
        min_value=Decimal("1"),
        max_value=Decimal("50"),
        decimal_places=0,
        initial=10,
        label="Share kept human-only (%)",
    )
    ticket_types = forms.ModelMultipleChoiceField(
        queryset=TicketType.objects.filter(is_active=True).order_by("name"),
        required=False,
        label="Ticket types (none chosen: every type)",
    )
    note = forms.CharField(required=False, max_length=300)
