"""Manager pages for triage rules: the ordered list with conflicts, the editor with its
condition and action rows, and the preview against recent tickets.

Every staff member may read the rules; only service desk managers change them (the services
refuse anyone else too). A refused write is a 403 page that says who may do it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from automation import rule_forms, rule_selectors, rule_services
from automation.models import TriageRule
from automation.rules import ACTION_CHOICES, action_words, choice_names, condition_words
from config.http import HtmxHttpRequest, forbidden
from tickets.models import StaffMember
from tickets.selectors import is_manager, manager_for_user, staff_for_user

_STAFF_ONLY = "These pages are for the service desk's staff."
_MANAGERS_ONLY = "Only service desk managers change triage rules."
PREVIEW_WEEK_CHOICES = (1, 2, 4, 8, 13)


# --- list ------------------------------------------------------------------------------


@require_GET
@login_required
def rule_list(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    rules = list(rule_selectors.rules_ordered())
    names = choice_names(rules, clients=rule_selectors.client_choices(request.user))
    rows = [
        {
            "rule": rule,
            "conditions": [condition_words(c, names=names) for c in rule.conditions],
            "actions": [action_words(a) for a in rule.actions],
        }
        for rule in rules
    ]
    context = {"rows": rows, "is_manager": is_manager(staff)}
    return render(request, "automation/rule_list.html", context)


@require_GET
@login_required
def rule_conflicts(request: HtmxHttpRequest) -> HttpResponse:
    """The conflicts section of the list, loaded after the page (it evaluates every rule on
    recent tickets)."""
    if staff_for_user(request.user) is None:
        return forbidden(request, _STAFF_ONLY)
    rules = list(rule_selectors.rules_ordered())
    found = rule_selectors.rules_conflicts(rules=rules, user=request.user, now=timezone.now())
    unique = {id(c): c for conflicts in found.values() for c in conflicts}
    context = {
        "conflicts": list(unique.values()),
        "weeks": rule_selectors.PREVIEW_WEEKS,
        "limit": rule_selectors.CONFLICT_LIMIT,
    }
    return render(request, "automation/rule_list.html#conflicts", context)


# --- editor ----------------------------------------------------------------------------


def _editor(
    request: HtmxHttpRequest,
    rule: TriageRule | None,
    *,
    data: rule_services.RuleInput | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    errors = errors or {}
    if data is None:
        source: Any = rule or TriageRule(match=TriageRule.Match.ALL, is_active=True)
        conditions, actions = list(source.conditions), list(source.actions)
        values = {
            "name": source.name,
            "description": source.description,
            "match": source.match,
            "stop_processing": source.stop_processing,
            "is_active": source.is_active,
        }
    else:
        conditions, actions = data.conditions, data.actions
        values = {
            "name": data.name,
            "description": data.description,
            "match": data.match,
            "stop_processing": data.stop_processing,
            "is_active": data.is_active,
        }
    if not actions:
        actions = [{"kind": ACTION_CHOICES[0][0], "params": {}}]
    condition_rows, action_rows = rule_forms.rows_for(
        conditions, actions, errors, clients=rule_selectors.client_choices(request.user)
    )
    context = {
        "rule": rule,
        "values": values,
        "condition_rows": condition_rows,
        "action_rows": action_rows,
        "field_choices": rule_forms.FIELD_CHOICES,
        "action_choices": ACTION_CHOICES,
        "tag_names": rule_forms.tag_names(),
        "errors": errors,
        "general_errors": errors.get("__all__", [])
        + errors.get("conditions", [])
        + errors.get("actions", []),
        "is_manager": manager_for_user(request.user) is not None,
        "week_choices": PREVIEW_WEEK_CHOICES,
        "weeks": rule_selectors.PREVIEW_WEEKS,
        "match_choices": TriageRule.Match.choices,
    }
    return render(request, "automation/rule_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def rule_create(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    if request.method == "GET":
        if manager_for_user(request.user) is None:
            return forbidden(request, _MANAGERS_ONLY)
        return _editor(request, None)
    if manager_for_user(request.user) is None:
        return forbidden(request, _MANAGERS_ONLY)
    data = rule_forms.rule_input_from(request.POST)
    try:
        rule = rule_services.rule_create(staff=staff, data=data)
    except ValidationError as error:
        return _editor(request, None, data=data, errors=error.message_dict, status=400)
    messages.success(request, f"Created rule “{rule.name}”. It runs on tickets from now on.")
    return _to_list(request)


def _to_list(request: HtmxHttpRequest) -> HttpResponse:
    url = reverse("rule_list")
    return HttpResponseClientRedirect(url) if request.htmx else redirect("rule_list")


@require_http_methods(["GET", "POST"])
@login_required
def rule_edit(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    rule = get_object_or_404(TriageRule, pk=rule_id)
    if request.method == "GET":
        return _editor(request, rule)
    if manager_for_user(request.user) is None:
        return forbidden(request, _MANAGERS_ONLY)
    data = rule_forms.rule_input_from(request.POST)
    try:
        version = int(request.POST.get("version", "0"))
        rule_services.rule_save(staff=staff, rule=rule, data=data, expected_version=version)
    except (ValueError, ValidationError) as error:
        found = error.message_dict if isinstance(error, ValidationError) else {}
        return _editor(request, rule, data=data, errors=found or _stale(), status=400)
    messages.success(request, f"Saved rule “{data.name.strip()}”.")
    return _to_list(request)


def _stale() -> dict[str, list[str]]:
    return {"__all__": ["The form was incomplete; reload the rule and try again."]}


@require_GET
@login_required
def rule_row(request: HtmxHttpRequest) -> HttpResponse:
    """One condition or action row: a new one ("add"), or the same one re-drawn after its
    field, test or action changed (the value widget depends on them)."""
    if staff_for_user(request.user) is None:
        return forbidden(request, _STAFF_ONLY)
    kind = request.GET.get("row")
    if kind not in ("c", "a"):
        raise Http404("Unknown row kind.")
    index = _row_index(request, kind)
    context: dict[str, Any] = {"is_manager": True, "tag_names": rule_forms.tag_names()}
    context["field_choices"] = rule_forms.FIELD_CHOICES
    context["action_choices"] = ACTION_CHOICES
    if kind == "c":
        found = rule_forms.conditions_from(request.GET)
        condition = found[-1] if found and request.GET.get("add") is None else {}
        clients = rule_selectors.client_choices(request.user)
        context["row"] = rule_forms.condition_row(index, condition, [], clients=clients)
        return render(request, "automation/rule_edit.html#condition_row", context)
    found_actions = rule_forms.actions_from(request.GET)
    action = found_actions[-1] if found_actions and request.GET.get("add") is None else {}
    context["row"] = rule_forms.action_row(index, action, [])
    return render(request, "automation/rule_edit.html#action_row", context)


def _row_index(request: HtmxHttpRequest, kind: str) -> int:
    """The row's own index when re-drawing it; the next free index when adding one."""
    key = "field" if kind == "c" else "kind"
    taken = [
        int(name.split("-")[1])
        for name in request.GET
        if name.startswith(f"{kind}-")
        and name.endswith(f"-{key}")
        and name.count("-") == 2
        and name.split("-")[1].isdigit()
    ]
    if request.GET.get("add") is not None:
        return max(taken, default=-1) + 1
    return taken[-1] if taken else 0


@require_POST
@login_required
def rule_preview(request: HtmxHttpRequest) -> HttpResponse:
    """What the rule in the editor (saved or not) would do to recent tickets."""
    if staff_for_user(request.user) is None:
        return forbidden(request, _STAFF_ONLY)
    data = rule_forms.rule_input_from(request.POST)
    try:
        cleaned = rule_services.rule_clean(data, rule_id=_int(request.POST.get("rule_id")))
    except ValidationError as error:
        context: dict[str, Any] = {"preview_errors": _error_lines(error.message_dict)}
        return render(request, "automation/rule_edit.html#preview", context, status=400)
    draft = _draft(request, cleaned)
    weeks = _int(request.POST.get("weeks")) or rule_selectors.PREVIEW_WEEKS
    if weeks not in PREVIEW_WEEK_CHOICES:
        weeks = rule_selectors.PREVIEW_WEEKS
    preview = rule_selectors.rule_preview(
        draft=draft, user=request.user, weeks=weeks, now=timezone.now()
    )
    context = {"preview": preview, "draft": draft, "limit": rule_selectors.PREVIEW_LIMIT}
    return render(request, "automation/rule_edit.html#preview", context)


def _draft(request: HtmxHttpRequest, cleaned: dict[str, Any]) -> TriageRule:
    """An unsaved rule standing in the saved one's place (or after the last rule)."""
    saved = TriageRule.objects.filter(pk=_int(request.POST.get("rule_id")) or 0).first()
    draft = TriageRule(**cleaned)
    if saved is not None:
        draft.pk, draft.position, draft.version = saved.pk, saved.position, saved.version
    else:
        last = TriageRule.objects.order_by("-position").values_list("position", flat=True).first()
        draft.position = (last or 0) + rule_services.POSITION_STEP
    return draft


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _error_lines(errors: dict[str, list[str]]) -> list[str]:
    lines = []
    for key, texts in errors.items():
        where = "" if key == "__all__" else key.replace("-", " ").capitalize()
        if where[-1:].isdigit():  # condition-0 -> Condition 1
            head, number = where.rsplit(" ", 1)
            where = f"{head} {int(number) + 1}"
        text = " ".join(texts)
        lines.append(f"{where}: {text}" if where else text)
    return lines


# --- ordering, on/off, delete ----------------------------------------------------------


def _write(request: HtmxHttpRequest, rule_id: int) -> tuple[StaffMember, TriageRule] | HttpResponse:
    staff = manager_for_user(request.user)
    if staff is None:
        return forbidden(request, _MANAGERS_ONLY)
    return staff, get_object_or_404(TriageRule, pk=rule_id)


@require_POST
@login_required
def rule_move(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    found = _write(request, rule_id)
    if isinstance(found, HttpResponse):
        return found
    staff, rule = found
    try:
        rule_services.rule_move(staff=staff, rule=rule, direction=request.POST.get("direction", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _to_list(request)


@require_POST
@login_required
def rule_set_active(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    found = _write(request, rule_id)
    if isinstance(found, HttpResponse):
        return found
    staff, rule = found
    active = request.POST.get("active") == "on"
    rule_services.rule_set_active(staff=staff, rule=rule, active=active)
    messages.success(request, f"Rule “{rule.name}” is {'on' if active else 'off'}.")
    return _to_list(request)


@require_POST
@login_required
def rule_delete(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    found = _write(request, rule_id)
    if isinstance(found, HttpResponse):
        return found
    staff, rule = found
    name = rule.name
    rule_services.rule_delete(staff=staff, rule=rule)
    messages.success(request, f"Deleted rule “{name}”. Its past firings stay on the tickets.")
    return _to_list(request)
