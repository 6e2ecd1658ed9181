"""Policy settings in plain English, for the policy pages: what a rule means for the agent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from governance.kinds import KINDS, Mode
from governance.models import PolicyRule

_HOURS_WORDS: dict[str, str] = {
    PolicyRule.Hours.ANY: "at any time",
    PolicyRule.Hours.BUSINESS: "only in the client's business hours",
    PolicyRule.Hours.AFTER_HOURS: "only outside the client's business hours",
}
_MODE_DETAIL = {
    Mode.OFF: "never proposed",
    Mode.SUGGEST: "shown to technicians, never executed",
    Mode.APPROVAL: "a technician approves each one before it runs",
}
# The gate asks a technician whenever the ticket's contact or the action's target is VIP or
# privileged, whatever the rule says: an autonomous sentence must not promise otherwise.
_VIP_WORDS = "VIP and privileged contacts always need approval"


@dataclass(frozen=True)
class RuleSetting:
    """One kind's setting as the sentence needs it (a PolicyRule, a form's data, a default)."""

    mode: str
    min_confidence: Decimal = Decimal("0.90")
    autonomous_hours: str = PolicyRule.Hours.ANY
    limit_per_client_hour: int | None = None
    limit_total_hour: int | None = None


def limits_words(per_client: int | None, total: int | None) -> str:
    """'at most 5 per client and 20 overall per hour', or 'with no hourly limit'."""
    if per_client is not None and total is not None:
        return f"at most {per_client} per client and {total} overall per hour"
    if per_client is not None:
        return f"at most {per_client} per client per hour"
    if total is not None:
        return f"at most {total} per hour across all clients"
    return "with no hourly limit"


def _autonomous_detail(setting: RuleSetting) -> str:
    confidence = Decimal(setting.min_confidence).quantize(Decimal("0.01"))
    hours = _HOURS_WORDS.get(setting.autonomous_hours, setting.autonomous_hours)
    limits = limits_words(setting.limit_per_client_hour, setting.limit_total_hour)
    return f"when confidence ≥ {confidence}, {hours}, {limits}; {_VIP_WORDS}"


def rule_sentence(setting: RuleSetting, *, default: bool = False, shadow: bool = False) -> str:
    """What the setting means, in one sentence.

    `default`: the policy has no rule for the kind, so this (inherited) setting applies.
    `shadow`: the policy is in shadow mode, so approval and autonomous proposals are only
    recorded (off and suggest behave as usual).
    """
    mode = setting.mode
    if mode == Mode.AUTONOMOUS:
        label, detail = "Autonomous", _autonomous_detail(setting)
    else:
        label, detail = Mode.label(mode), _MODE_DETAIL[mode]
    if default:
        sentence = f"Default: {label.lower()} — {detail}."
    elif mode == Mode.AUTONOMOUS:
        sentence = f"{label} {detail}."
    else:
        sentence = f"{label}: {detail}."
    if shadow and mode in (Mode.APPROVAL, Mode.AUTONOMOUS):
        sentence = "Shadow mode: recorded for comparison, never executed. " + sentence
    return sentence


def mode_summary(rules: Iterable[PolicyRule]) -> list[tuple[str, str, list[str]]]:
    """The policy's rules grouped by mode, most autonomous first:
    [(mode, mode label, [kind labels])], modes without rules left out."""
    by_mode: dict[str, list[str]] = {mode: [] for mode in Mode.ORDER}
    for rule in rules:
        spec = KINDS.get(rule.action_kind)
        by_mode.setdefault(rule.mode, []).append(spec.label if spec else rule.action_kind)
    return [
        (mode, Mode.label(mode), sorted(by_mode[mode]))
        for mode in reversed(Mode.ORDER)
        if by_mode.get(mode)
    ]
