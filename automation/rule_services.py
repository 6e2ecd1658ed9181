"""Writes for triage rules: create, edit (with a stale-edit check), reorder, switch on or
off, delete. Only service desk managers may; django-auditlog keeps the history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max

from automation.models import TriageRule
from automation.rules import rule_validate
from tickets.models import StaffMember
from tickets.selectors import is_manager

_MANAGERS_ONLY = "Only service desk managers change triage rules."
POSITION_STEP = 10


@dataclass(frozen=True)
class RuleInput:
    name: str
    description: str
    match: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    stop_processing: bool
    is_active: bool = True


def _check_manager(staff: StaffMember | None) -> StaffMember:
    if staff is None or not is_manager(staff):
        raise PermissionDenied(_MANAGERS_ONLY)
    return staff


def rule_clean(data: RuleInput, *, rule_id: int | None) -> dict[str, Any]:
    """The model fields for `data`, or a ValidationError keyed like `rule_validate`'s plus
    "name" and "match". The preview uses it on drafts that are never saved."""
    errors: dict[str, list[str]] = {}
    name = " ".join(data.name.split())
    if not name:
        errors["name"] = ["Give the rule a name managers will recognise on the timeline."]
    elif TriageRule.objects.filter(name__iexact=name).exclude(pk=rule_id or 0).exists():
        errors["name"] = ["Another rule already has this name."]
    if data.match not in TriageRule.Match.values:
        errors["match"] = ["Choose whether all or any conditions must hold."]
    try:
        conditions, actions = rule_validate(conditions=data.conditions, actions=data.actions)
    except ValidationError as error:
        errors.update(error.message_dict)
        conditions, actions = [], []
    if errors:
        raise ValidationError(errors)
    return {
        "name": name[:120],
        "description": data.description.strip(),
        "match": data.match,
        "conditions": conditions,
        "actions": actions,
        "stop_processing": data.stop_processing,
        "is_active": data.is_active,
    }


def rule_create(*, staff: StaffMember | None, data: RuleInput) -> TriageRule:
    """A new rule, placed after the existing ones."""
    manager = _check_manager(staff)
    fields = rule_clean(data, rule_id=None)
    with transaction.atomic():
        last = TriageRule.objects.select_for_update().aggregate(last=Max("position"))["last"]
        return TriageRule.objects.create(
            **fields,
            position=(last or 0) + POSITION_STEP,
            created_by=manager,
            updated_by=manager,
        )


def rule_save(
    *, staff: StaffMember | None, rule: TriageRule, data: RuleInput, expected_version: int
) -> TriageRule:
    """Save an edit. Refused when someone else saved the rule since the editor was opened,
    so one manager's edit never silently replaces another's. A new version re-fires on
    tickets the pipeline runs on again (its firings are keyed by rule version)."""
    manager = _check_manager(staff)
    fields = rule_clean(data, rule_id=rule.pk)
    with transaction.atomic():
        locked = TriageRule.objects.select_for_update().get(pk=rule.pk)
        if locked.version != expected_version:
            raise ValidationError(
                {
                    "__all__": [
                        f"{locked.updated_by or 'Someone'} saved this rule after you opened it "
                        f"(now version {locked.version}). Reload to see their change."
                    ]
                }
            )
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.version += 1
        locked.updated_by = manager
        locked.save()
    return locked


def rule_move(*, staff: StaffMember | None, rule: TriageRule, direction: str) -> None:
    """Swap a rule with its neighbour ("up" runs it earlier, "down" later)."""
    _check_manager(staff)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move a rule up or down."})
    with transaction.atomic():
        rules = list(TriageRule.objects.select_for_update().order_by("position", "id"))
        index = next(i for i, candidate in enumerate(rules) if candidate.pk == rule.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(rules):
            return
        rules[index], rules[other] = rules[other], rules[index]
        for position, item in enumerate(rules, start=1):
            if item.position != position * POSITION_STEP:
                item.position = position * POSITION_STEP
                item.save(update_fields=["position", "updated_at"])


def rule_set_active(*, staff: StaffMember | None, rule: TriageRule, active: bool) -> TriageRule:
    manager = _check_manager(staff)
    rule.is_active = active
    rule.updated_by = manager
    rule.save(update_fields=["is_active", "updated_by", "updated_at"])
    return rule


def rule_delete(*, staff: StaffMember | None, rule: TriageRule) -> None:
    """Delete a rule. Its past firings stay on the tickets' timelines and its proposals in
    the action log (they carry the rule's name, not a link)."""
    _check_manager(staff)
    rule.delete()
