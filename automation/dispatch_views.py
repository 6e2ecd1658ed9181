"""Manager pages for dispatch: each queue's strategy (and the default), the technicians as
dispatch sees them now, and a "try it" panel that ranks technicians for one open ticket
without assigning anything.

Every staff member may read the page; only service desk managers change a policy (the
service refuses anyone else too). A refused write is a 403 page and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from automation import dispatch_selectors as selectors
from automation.dispatch import STRATEGY_HELP, DispatchOutcome, Technician, policy_sentence
from automation.dispatch_services import (
    PolicySettings,
    dispatch_policy_clear,
    dispatch_policy_save,
)
from automation.models import DISPATCH_FALLBACKS, DispatchPolicy
from config.http import HtmxHttpRequest, forbidden, wants_fragment
from tickets.models import StaffMember, Ticket
from tickets.selectors import is_manager, manager_for_user, staff_for_user

_STAFF_ONLY = "These pages are for the service desk's staff."
_MANAGERS_ONLY = "Only service desk managers change how tickets are dispatched."
_FOLLOW_DEFAULT = ""


class PolicyForm(forms.Form):
    """One queue's (or the default's) settings; fields are prefixed with the row's key."""

    strategy = forms.ChoiceField(label="Strategy", required=False)
    fallback = forms.ChoiceField(
        label="Fallback",
        choices=[c for c in DispatchPolicy.Strategy.choices if c[0] in DISPATCH_FALLBACKS],
        help_text="Decides when the strategy has nothing to go on.",
    )
    require_skills = forms.BooleanField(label="Require the type's skills", required=False)
    require_available = forms.BooleanField(label="Require at work now", required=False)
    respect_capacity = forms.BooleanField(label="Respect capacity", required=False)

    def __init__(self, *args: Any, row: selectors.PolicyRow, editable: bool, **kwargs: Any) -> None:
        kwargs["prefix"] = row.key
        policy = row.applied
        kwargs.setdefault(
            "initial",
            {
                "strategy": policy.strategy if row.own or row.queue is None else _FOLLOW_DEFAULT,
                "fallback": policy.fallback,
                "require_skills": policy.require_skills,
                "require_available": policy.require_available,
                "respect_capacity": policy.respect_capacity,
            },
        )
        super().__init__(*args, **kwargs)
        self.row = row
        choices = list(DispatchPolicy.Strategy.choices)
        if row.queue is not None:
            choices.insert(0, (_FOLLOW_DEFAULT, "Same as the default"))
        self.fields["strategy"].choices = choices  # type: ignore[attr-defined]
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = f"{row.name}: {field.label}"
            field.disabled = not editable

    def clean_strategy(self) -> str:
        value = str(self.cleaned_data["strategy"])
        if value == _FOLLOW_DEFAULT and self.row.queue is None:
            raise forms.ValidationError("Choose the default strategy.")
        return value

    def settings(self) -> PolicySettings:
        data = self.cleaned_data
        return PolicySettings(
            strategy=data["strategy"],
            fallback=data["fallback"],
            require_skills=data["require_skills"],
            require_available=data["require_available"],
            respect_capacity=data["respect_capacity"],
        )


@dataclass(frozen=True)
class PolicyCard:
    row: selectors.PolicyRow
    form: PolicyForm
    sentence: str
    message: str = ""


def _card(row: selectors.PolicyRow, editable: bool, message: str = "") -> PolicyCard:
    form = PolicyForm(row=row, editable=editable)
    return PolicyCard(row, form, policy_sentence(row.applied), message)


def _try_context(request: HtmxHttpRequest) -> dict[str, Any]:
    """The "try it" panel: the ticket chosen in ?ticket= (404 outside scope) and its ranking."""
    chosen: Ticket | None = None
    outcome: DispatchOutcome | None = None
    text = request.GET.get("ticket", "")
    if text:
        if not text.isdigit():
            raise Http404("No such ticket in your clients.")
        chosen = selectors.try_ticket(user=request.user, ticket_id=int(text))
        outcome = selectors.dispatch_try(ticket=chosen, now=timezone.now())
    choices = list(selectors.try_choices(user=request.user))
    if chosen is not None and all(ticket.id != chosen.id for ticket in choices):
        choices.insert(0, chosen)
    return {"try_choices": choices, "chosen": chosen, "outcome": outcome}


def _board_context(request: HtmxHttpRequest, staff: StaffMember) -> dict[str, Any]:
    now = timezone.now()
    technicians = selectors.board_technicians(now=now)
    editable = is_manager(staff)
    return {
        "cards": [_card(row, editable) for row in selectors.policy_rows(technicians)],
        "technicians": selectors.technician_rows(technicians),
        "is_manager": editable,
        "strategy_help": [
            (label, STRATEGY_HELP[key]) for key, label in DispatchPolicy.Strategy.choices
        ],
        **_try_context(request),
    }


@require_GET
@vary_on_headers("HX-Request")
@login_required
def dispatch_board(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    if wants_fragment(request):
        return render(request, "automation/dispatch_board.html#try", _try_context(request))
    return render(request, "automation/dispatch_board.html", _board_context(request, staff))


def _row_for(key: str, technicians: list[Technician]) -> selectors.PolicyRow:
    rows = selectors.policy_rows(technicians)
    row = next((row for row in rows if row.key == key), None)
    if row is None:
        raise Http404("No such active queue.")
    return row


@require_POST
@login_required
def dispatch_policy_save_view(request: HtmxHttpRequest) -> HttpResponse:
    staff = manager_for_user(request.user)
    if staff is None:
        return forbidden(request, _MANAGERS_ONLY)
    technicians = selectors.board_technicians(now=timezone.now())
    row = _row_for(request.POST.get("queue", ""), technicians)
    form = PolicyForm(request.POST, row=row, editable=True)
    if not form.is_valid():
        card = PolicyCard(row, form, policy_sentence(row.applied))
        return _render_card(request, staff, card, status=400)
    settings = form.settings()
    if settings.strategy == _FOLLOW_DEFAULT and row.queue is not None:
        dispatch_policy_clear(staff=staff, queue=row.queue)
        message = f"{row.name} now follows the default."
    else:
        dispatch_policy_save(staff=staff, queue=row.queue, settings=settings)
        message = f"Saved: {row.name} uses {DispatchPolicy.Strategy(settings.strategy).label}."
    if not wants_fragment(request):
        messages.success(request, message)
        return redirect("dispatch_board")
    return _render_card(request, staff, _card(_row_for(row.key, technicians), True, message))


def _render_card(
    request: HtmxHttpRequest, staff: StaffMember, card: PolicyCard, *, status: int = 200
) -> HttpResponse:
    if wants_fragment(request):
        fragment = {"card": card, "is_manager": True}
        return render(request, "automation/dispatch_board.html#policy", fragment, status=status)
    page = _board_context(request, staff)
    page["cards"] = [card if c.row.key == card.row.key else c for c in page["cards"]]
    return render(request, "automation/dispatch_board.html", page, status=status)
