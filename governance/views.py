"""Technician pages: the approval queue, the action card and what a technician does with it,
take-over, and the plain-English action log. Thin: parse, call a selector or service, render."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest, querystring_without_page, wants_fragment
from governance import log, selectors, services
from governance.forms import LogFilterForm, QueueFilterForm, RejectForm, params_form
from governance.kinds import KINDS, names_cached
from governance.models import Action
from tickets.pagination import CappedPaginator
from tickets.selectors import clients_visible_to, staff_for_user, ticket_get

QUEUE_PAGE_SIZE = 25
LOG_PAGE_SIZE = 50
LOG_COUNT_CAP = 5_000


@require_GET
@vary_on_headers("HX-Request")
@login_required
@names_cached()
def approval_queue(request: HtmxHttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None, clients=list(clients_visible_to(request.user)))
    page = None
    if not form.is_bound or form.is_valid():
        filters = form.to_filters() if form.is_bound else selectors.QueueFilters()
        ids = selectors.approval_queue_ids(user=request.user, filters=filters)
        page = CappedPaginator(ids, QUEUE_PAGE_SIZE, cap=LOG_COUNT_CAP).get_page(
            request.GET.get("page")
        )
        page.object_list = selectors.actions_for_cards(list(page.object_list))
    context = {
        "form": form,
        "page": page,
        "groups": _identical_groups(page.object_list if page else []),
        "switches": selectors.kill_switches_engaged(user=request.user),
        "querystring": querystring_without_page(request),
        "can_decide": _can_decide(request),
        "now": timezone.now(),
    }
    template = "governance/approval_queue.html"
    if wants_fragment(request):
        template += "#queue"
    return render(request, template, context, status=200 if page is not None else 400)


def _identical_groups(actions: Any) -> list[dict[str, Any]]:
    """Low-risk proposals on this page that are identical (kind and parameters), for bulk
    approval: two or more of the same."""
    groups: dict[tuple[str, str], list[Action]] = defaultdict(list)
    for action in actions:
        if KINDS[action.kind].risk == "low":
            groups[(action.kind, json.dumps(action.params, sort_keys=True))].append(action)
    return [
        {"kind": KINDS[kind].label, "example": members[0], "ids": [a.id for a in members]}
        for (kind, _), members in groups.items()
        if len(members) > 1
    ]


def _can_decide(request: HtmxHttpRequest) -> bool:
    staff = staff_for_user(request.user)
    return staff is not None and staff.role != staff.Role.OWNER


@require_GET
@login_required
@names_cached()
def action_detail(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    action = selectors.action_get(user=request.user, action_id=action_id)
    context = _card_context(request, action)
    context["others"] = selectors.ticket_actions(user=request.user, ticket_id=action.ticket_id)
    context["sentence"] = log.action_sentence(action)
    template = "governance/action_detail.html"
    if wants_fragment(request) and request.GET.get("card"):
        template = "governance/_card.html"
    return render(request, template, context)


def _card_context(request: HtmxHttpRequest, action: Action, **extra: Any) -> dict[str, Any]:
    spec = KINDS[action.kind]
    context: dict[str, Any] = {
        "action": action,
        "spec": spec,
        "can_decide": _can_decide(request),
        "now": timezone.now(),
    }
    if spec.field_name and action.status in Action.DONE_OK_STATUSES:
        context["correct_form"] = params_form(action)
    context.update(extra)
    return context


def _card(
    request: HtmxHttpRequest, action: Action, status: int = 200, **extra: Any
) -> HttpResponse:
    action = selectors.action_get(user=request.user, action_id=action.id)
    return render(
        request, "governance/_card.html", _card_context(request, action, **extra), status=status
    )


def _after_post(request: HtmxHttpRequest, action: Action, **extra: Any) -> HttpResponse:
    """HTMX gets the updated card; a plain form post goes back to where it came from."""
    if wants_fragment(request):
        return _card(request, action, **extra)
    return redirect("action_detail", action_id=action.id)


@require_POST
@login_required
@names_cached()
def action_approve(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    action = selectors.action_get(user=request.user, action_id=action_id)
    try:
        action = services.action_approve(action=action, staff=staff_for_user(request.user))
    except ValidationError as error:
        return _card(request, action, status=409, problem=" ".join(error.messages))
    return _after_post(request, action)


@require_http_methods(["GET", "POST"])
@login_required
@names_cached()
def action_edit(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    """GET: the parameter form inside the card. POST: approve with the edited parameters."""
    action = selectors.action_get(user=request.user, action_id=action_id)
    form = params_form(action, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            action = services.action_approve(
                action=action, staff=staff_for_user(request.user), params=form.params()
            )
            return _after_post(request, action)
        except ValidationError as error:
            _errors_to_form(form, error)
    status = 400 if form.is_bound else 200
    if wants_fragment(request):
        return _card(request, action, status=status, edit_form=form)
    context = _card_context(request, action, edit_form=form)
    context["sentence"] = log.action_sentence(action)
    return render(request, "governance/action_detail.html", context, status=status)


def _errors_to_form(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


@require_POST
@login_required
@names_cached()
def action_reject(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    action = selectors.action_get(user=request.user, action_id=action_id)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            action = services.action_reject(
                action=action,
                staff=staff_for_user(request.user),
                reason=form.cleaned_data["reason"],
            )
            return _after_post(request, action)
        except ValidationError as error:
            _errors_to_form(form, error)
    if wants_fragment(request):
        return _card(request, action, status=400, reject_form=form)
    context = _card_context(request, action, reject_form=form)
    context["sentence"] = log.action_sentence(action)
    return render(request, "governance/action_detail.html", context, status=400)


@require_POST
@login_required
@names_cached()
def actions_bulk_approve(request: HtmxHttpRequest) -> HttpResponse:
    try:
        ids = [int(value) for value in request.POST.getlist("action")]
    except ValueError:
        ids = []
    actions = selectors.actions_get_many(user=request.user, action_ids=ids)
    try:
        approved = services.actions_bulk_approve(
            actions=actions, staff=staff_for_user(request.user)
        )
    except ValidationError as error:
        return HttpResponse(" ".join(error.messages), status=400)
    if wants_fragment(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({"queue-changed": {"approved": len(approved)}})
        return response
    return redirect("approval_queue")


@require_POST
@login_required
@names_cached()
def action_undo(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    action = selectors.action_get(user=request.user, action_id=action_id)
    try:
        action = services.action_undo(action=action, staff=staff_for_user(request.user))
    except ValidationError as error:
        return _card(request, action, status=409, problem=" ".join(error.messages))
    return _after_post(request, action)


@require_POST
@login_required
@names_cached()
def action_correct(request: HtmxHttpRequest, action_id: int) -> HttpResponse:
    """Set the field the agent chose to the right value; feeds the next training run."""
    action = selectors.action_get(user=request.user, action_id=action_id)
    form = params_form(action, request.POST)
    if form.is_valid():
        value = next(iter(form.params().values()), None)
        try:
            services.action_correct(action=action, staff=staff_for_user(request.user), value=value)
            return _after_post(request, action)
        except ValidationError as error:
            _errors_to_form(form, error)
    return _card(request, action, status=400, correct_form=form)


@require_POST
@login_required
@names_cached()
def ticket_take_over(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get(user=request.user, ticket_id=ticket_id)
    services.ticket_take_over(
        ticket=ticket, staff=staff_for_user(request.user), reason=request.POST.get("reason", "")
    )
    card = request.POST.get("card", "")
    if card.isdigit() and wants_fragment(request):
        # Taken over from an approval card: show that card, now cancelled.
        action = selectors.action_get(user=request.user, action_id=int(card))
        return _card(request, action)
    return _ticket_panel_or_redirect(request, ticket_id)


@require_POST
@login_required
@names_cached()
def ticket_hand_back(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get(user=request.user, ticket_id=ticket_id)
    services.ticket_hand_back(ticket=ticket, staff=staff_for_user(request.user))
    return _ticket_panel_or_redirect(request, ticket_id)


def _ticket_panel_or_redirect(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    if wants_fragment(request):
        return ticket_actions(request, ticket_id)
    return redirect("ticket_detail", ticket_id=ticket_id)


@require_GET
@login_required
@names_cached()
def ticket_actions(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    """The agent panel on a ticket page: its actions, and take over / hand back."""
    ticket = ticket_get(user=request.user, ticket_id=ticket_id)
    context = {
        "ticket": ticket,
        "actions": selectors.ticket_actions(user=request.user, ticket_id=ticket_id)[:20],
        "hold": getattr(ticket, "agent_hold", None),
        "can_decide": _can_decide(request),
    }
    return render(request, "governance/_ticket_actions.html", context)


@require_GET
@vary_on_headers("HX-Request")
@login_required
@names_cached()
def action_log(request: HtmxHttpRequest) -> HttpResponse:
    form = LogFilterForm(request.GET or None, clients=list(clients_visible_to(request.user)))
    page = None
    if not form.is_bound or form.is_valid():
        filters = form.to_filters() if form.is_bound else selectors.LogFilters()
        actions = selectors.action_log(user=request.user, filters=filters)
        page = CappedPaginator(actions, LOG_PAGE_SIZE, cap=LOG_COUNT_CAP).get_page(
            request.GET.get("page")
        )
    rows = [(action, log.action_sentence(action)) for action in (page.object_list if page else [])]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "querystring": querystring_without_page(request),
    }
    template = "governance/action_log.html"
    if wants_fragment(request):
        template += "#results"
    return render(request, template, context, status=200 if page is not None else 400)


@require_GET
@login_required
@names_cached()
def action_log_csv(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = LogFilterForm(request.GET or None, clients=list(clients_visible_to(request.user)))
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            "Invalid filters: " + json.dumps(form.errors.get_json_data()),
            status=400,
            content_type="text/plain",
        )
    filters = form.to_filters() if form.is_bound else selectors.LogFilters()
    actions = selectors.action_log(user=request.user, filters=filters).iterator(chunk_size=1000)
    response = StreamingHttpResponse(log.csv_rows(actions), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="action-log-{stamp}.csv"'
    return response
