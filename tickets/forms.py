from __future__ import annotations

from django import forms

from tickets.models import Priority, Ticket
from tickets.selectors import FilterChoices, TicketFilters

_STATUS_CHOICES = [("", "Any status"), ("open", "Open (any)"), *Ticket.Status.choices]
_PRIORITY_CHOICES = [("", "Any priority"), *[(str(v), label) for v, label in Priority.choices]]


class TicketFilterForm(forms.Form):
    """The ticket list's filters. Unknown or malformed values become field errors."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(required=False, choices=_STATUS_CHOICES)
    priority = forms.TypedChoiceField(
        required=False, choices=_PRIORITY_CHOICES, coerce=int, empty_value=None
    )
    client = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    type = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    queue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args: object, choices: FilterChoices, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["client"].choices = [("", "Any client")] + [  # type: ignore[attr-defined]
            (str(c.id), c.name) for c in choices.clients
        ]
        self.fields["type"].choices = [("", "Any type")] + [  # type: ignore[attr-defined]
            (str(t.id), t.name) for t in choices.types
        ]
        self.fields["queue"].choices = [("", "Any queue")] + [  # type: ignore[attr-defined]
            (str(q.id), q.name) for q in choices.queues
        ]
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", "Anyone"),
            ("me", "Assigned to me"),
            ("none", "Unassigned"),
        ] + [(str(s.id), s.display_name) for s in choices.assignees]

    def clean_q(self) -> str:
        term = str(self.cleaned_data.get("q") or "").strip()
        # Fewer than three characters match too much to be useful, and cannot use the
        # trigram index, so they would scan every ticket.
        if term and len(term.lstrip("#")) < 3 and not term.lstrip("#").isdigit():
            raise forms.ValidationError("Search for at least 3 characters, or a ticket number.")
        return term

    def to_filters(self) -> TicketFilters:
        data = self.cleaned_data
        return TicketFilters(
            q=data.get("q") or "",
            status=data.get("status") or "",
            priority=data.get("priority"),
            client_id=data.get("client"),
            type_id=data.get("type"),
            queue_id=data.get("queue"),
            assignee=data.get("assignee") or "",
        )


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)
    public = forms.BooleanField(
        required=False, label="Send to the requester (otherwise an internal note)"
    )


class TimeForm(forms.Form):
    minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, label="Minutes", widget=forms.NumberInput(attrs={"size": 4})
    )
    notes = forms.CharField(required=False, max_length=2000, label="What was done")
    billable = forms.BooleanField(required=False, initial=True, label="Billable")
