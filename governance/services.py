"""Writes for governance: proposing, approving, rejecting, taking over, undoing, correcting,
editing policies and kill switches. Execution itself is `gate.action_execute`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from governance import gate, holdout
from governance.kinds import KINDS, Mode, kind_get, param_display, params_clean
from governance.memo import batch_memo
from governance.models import (
    Action,
    AgentHold,
    AgentPolicy,
    Correction,
    KillSwitch,
    PolicyRevision,
    PolicyRule,
)
from tickets.models import Client, StaffMember, Ticket, TicketEvent, TicketType
from tickets.services import ticket_event_record

_VERDICT_STATUS = {
    Mode.AUTONOMOUS: Action.Status.QUEUED,
    Mode.APPROVAL: Action.Status.PROPOSED,
    Mode.SUGGEST: Action.Status.SUGGESTED,
    gate.Verdict.SHADOW: Action.Status.SHADOW,
    gate.Verdict.REFUSE: Action.Status.REFUSED,
}
_STEP_WORDS = {
    Action.Status.PROPOSED: "proposed (awaiting approval)",
    Action.Status.SUGGESTED: "suggested",
    Action.Status.SHADOW: "proposed in shadow mode (not executed)",
    Action.Status.REFUSED: "refused by policy",
    Action.Status.QUEUED: "queued to execute",
    "approved": "approved",
    "edited": "edited and approved",
    Action.Status.REJECTED: "rejected",
    "executing": "executing",
    Action.Status.SUCCEEDED: "succeeded",
    Action.Status.VERIFIED: "succeeded and verified",
    Action.Status.FAILED: "failed",
    Action.Status.BLOCKED: "blocked at execution",
    Action.Status.EXPIRED: "expired",
    Action.Status.CANCELLED: "cancelled",
    Action.Status.UNDONE: "undone",
}


def _proposal_ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.GOVERNANCE_PROPOSAL_TTL_HOURS)


def _approval_ttl() -> dt.timedelta:
    return dt.timedelta(minutes=settings.GOVERNANCE_APPROVAL_TTL_MINUTES)


# Sent (after the transaction commits) when an action reaches an end: it ran (succeeded,
# verified or failed) or it will not run (blocked, rejected, expired, cancelled). Playbooks
# listen to take their next step or hand over. Arguments: action_id, status.
action_settled = Signal()
SETTLED_STEPS = frozenset(
    {
        Action.Status.SUCCEEDED,
        Action.Status.VERIFIED,
        Action.Status.FAILED,
        Action.Status.BLOCKED,
        Action.Status.REJECTED,
        Action.Status.EXPIRED,
        Action.Status.CANCELLED,
    }
)


def action_timeline(
    action: Action, *, step: str, staff: StaffMember | None = None, note: str = ""
) -> TicketEvent:
    """One lifecycle step on the ticket's timeline, with who did it."""
    event = _step_event(action, step=step, staff=staff, note=note)
    event.save()
    if step in SETTLED_STEPS:
        action_id = action.id
        transaction.on_commit(
            lambda: action_settled.send(sender=Action, action_id=action_id, status=step)
        )
    return event


def _step_event(
    action: Action,
    *,
    step: str,
    staff: StaffMember | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> TicketEvent:
    """The unsaved timeline event for one lifecycle step."""
    if staff is None and action.proposer_kind == Action.Proposer.HUMAN:
        staff = action.proposed_by_staff
    actor_kind = TicketEvent.ActorKind.HUMAN if staff else _actor_kind(action)
    body = f"{KINDS[action.kind].label}: {_STEP_WORDS.get(step, step)}."
    if note:
        body += f" {note}"
    return TicketEvent(
        ticket_id=action.ticket_id,
        kind=TicketEvent.Kind.ACTION,
        actor_kind=actor_kind,
        actor_staff=staff,
        actor_name="" if staff else action.proposer_label,
        new_value=step,
        body=body,
        data={"action_id": action.id, "kind": action.kind, "step": step},
        occurred_at=at or timezone.now(),
    )


def _actor_kind(action: Action) -> str:
    kinds: dict[str, str] = {
        Action.Proposer.RULE: TicketEvent.ActorKind.RULE,
        Action.Proposer.MODEL: TicketEvent.ActorKind.MODEL,
        Action.Proposer.HUMAN: TicketEvent.ActorKind.HUMAN,
    }
    return kinds.get(action.proposer_kind, TicketEvent.ActorKind.AGENT)


def _enqueue(action_id: int) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("governance.tasks.action_execute", action_id, group="governance")
    )


@dataclass(frozen=True)
class Proposal:
    """What a rule, model, playbook or the agent wants done. Evidence items are dicts with
    at least `label` and `detail` (and optionally `kind`, `score`, `url`)."""

    kind: str
    params: dict[str, Any]
    proposer_kind: str
    proposer_name: str
    confidence: float | None = None
    rationale: str = ""
    evidence: Sequence[dict[str, Any]] = ()
    model_version: str = ""
    dedupe_key: str | None = None


def action_propose(*, ticket: Ticket, proposal: Proposal, now: dt.datetime | None = None) -> Action:
    """Record a proposal and the gate's verdict on it. Autonomous ones are queued to execute.

    Raises ValidationError for an unknown kind or bad parameters (nothing is recorded: the
    proposer is our own code or the LLM agent, whose output is validated before it becomes an
    action). A repeated `dedupe_key` returns the existing action.
    """
    [outcome] = actions_propose(items=[(ticket, proposal)], now=now)
    if isinstance(outcome, ValidationError):
        raise outcome
    return outcome


def actions_propose(
    *, items: Sequence[tuple[Ticket, Proposal]], now: dt.datetime | None = None
) -> list[Action | ValidationError]:
    """`action_propose` for many proposals at once — the pipeline's batches. The same checks
    and verdicts; the reads the verdicts share (policies, holds, kill switches, catalogue
    lookups) are made once per batch and the writes go in bulk. Returns, per item, its action
    (new or the earlier one with the same `dedupe_key`) or the ValidationError that kept it
    out; nothing is recorded for an invalid item."""
    moment = now or timezone.now()
    if any(proposal.proposer_kind == Action.Proposer.HUMAN for _, proposal in items):
        raise ValueError("Technicians' own changes use action_perform.")
    # Verdicts and fingerprints must describe the tickets as stored, not callers' copies.
    fresh = Ticket.objects.select_related("client").in_bulk({t.pk for t, _ in items})
    outcomes: list[Action | ValidationError] = []
    with batch_memo(_batch_preset(fresh)):
        for ticket, proposal in items:
            try:
                outcomes.append(_proposed(fresh[ticket.pk], proposal, moment))
            except ValidationError as error:
                outcomes.append(error)
    return _record(outcomes, moment)


def _batch_preset(tickets: dict[int, Ticket]) -> dict[Hashable, Any]:
    """What the verdicts will read, for the whole batch in a few queries: whether each ticket
    is held, and the policies for each ticket type and client in it."""
    held = set(AgentHold.objects.filter(ticket_id__in=tickets).values_list("ticket_id", flat=True))
    preset: dict[Hashable, Any] = {("held", pk): pk in held for pk in tickets}
    preset.update(gate.policies_preset(tickets.values()))
    preset.update(holdout.drawn_preset(tickets))
    return preset


def _proposed(ticket: Ticket, proposal: Proposal, moment: dt.datetime) -> Action:
    """The unsaved action with the gate's verdict (ValidationError for a bad proposal)."""
    spec = kind_get(proposal.kind)
    if proposal.confidence is not None and not 0 <= proposal.confidence <= 1:
        raise ValidationError({"confidence": "Confidence must be between 0 and 1."})
    params = params_clean(spec, proposal.params, ticket=ticket)
    decision = gate.verdict(
        ticket=ticket,
        kind=spec.key,
        params=params,
        confidence=proposal.confidence,
        proposer_kind=proposal.proposer_kind,
        now=moment,
    )
    return Action(
        ticket=ticket,
        client_id=ticket.client_id,
        kind=spec.key,
        params=params,
        proposer_kind=proposal.proposer_kind,
        proposer_name=proposal.proposer_name[:200],
        model_version=proposal.model_version,
        confidence=proposal.confidence,
        rationale=proposal.rationale,
        evidence=[dict(item) for item in proposal.evidence],
        status=_VERDICT_STATUS[decision.mode],
        status_reason=decision.sentence,
        policy_version=decision.rule.version_label if decision.rule else "",
        ticket_fingerprint=gate.ticket_fingerprint(ticket, spec.key),
        dedupe_key=proposal.dedupe_key,
        created_at=moment,
        expires_at=moment + _proposal_ttl(),
    )


def _record(
    outcomes: list[Action | ValidationError], moment: dt.datetime
) -> list[Action | ValidationError]:
    """Save the new actions and their timeline steps in bulk. A proposal whose `dedupe_key`
    already has an action (earlier, or earlier in this batch) returns that action instead."""
    new = [o for o in outcomes if isinstance(o, Action)]
    keys: set[tuple[int, str | None]] = {(a.ticket_id, a.dedupe_key) for a in new if a.dedupe_key}
    existing = _existing(keys)
    results: list[Action | ValidationError] = []
    to_save: list[Action] = []
    for outcome in outcomes:
        if isinstance(outcome, Action) and outcome.dedupe_key:
            key = (outcome.ticket_id, outcome.dedupe_key)
            if key in existing:
                results.append(existing[key])
                continue
            existing[key] = outcome
        if isinstance(outcome, Action):
            to_save.append(outcome)
        results.append(outcome)
    try:
        with transaction.atomic():
            Action.objects.bulk_create(to_save)
            TicketEvent.objects.bulk_create(
                [_step_event(a, step=a.status, note=a.status_reason, at=moment) for a in to_save]
            )
    except IntegrityError:
        # A concurrent run proposed one of these first: decide each one on its own.
        return [_record_one(o, moment) if isinstance(o, Action) else o for o in results]
    for action in to_save:
        if action.status == Action.Status.QUEUED:
            _enqueue(action.id)
    return results


def _existing(keys: set[tuple[int, str | None]]) -> dict[tuple[int, str | None], Action]:
    if not keys:
        return {}
    found = Action.objects.filter(
        ticket_id__in={ticket_id for ticket_id, _ in keys},
        dedupe_key__in={key for _, key in keys},
    )
    return {(a.ticket_id, a.dedupe_key): a for a in found if (a.ticket_id, a.dedupe_key) in keys}


def _record_one(action: Action, moment: dt.datetime) -> Action:
    if action.pk is not None and Action.objects.filter(pk=action.pk).exists():
        return action
    action.pk = None
    try:
        with transaction.atomic():
            action.save()
            action_timeline(action, step=action.status, note=action.status_reason)
    except IntegrityError:
        if action.dedupe_key is None:
            raise
        return Action.objects.get(ticket_id=action.ticket_id, dedupe_key=action.dedupe_key)
    if action.status == Action.Status.QUEUED:
        _enqueue(action.id)
    return action


def action_perform(
    *, ticket: Ticket, staff: StaffMember, kind: str, params: dict[str, Any]
) -> Action:
    """A technician's own change, executed now through the gate (which checks their scope)."""
    if not gate.may_approve(staff, ticket.client_id):
        raise PermissionDenied("Only a technician or manager serving this client can do this.")
    spec = kind_get(kind)
    ticket = _fresh(ticket)
    cleaned = params_clean(spec, params, ticket=ticket)
    moment = timezone.now()
    with transaction.atomic():
        action = Action.objects.create(
            ticket=ticket,
            client_id=ticket.client_id,
            kind=spec.key,
            params=cleaned,
            proposer_kind=Action.Proposer.HUMAN,
            proposer_name=staff.display_name,
            proposed_by_staff=staff,
            status=Action.Status.QUEUED,
            status_reason="A technician asked for it.",
            ticket_fingerprint=gate.ticket_fingerprint(ticket, spec.key),
            created_at=moment,
            expires_at=moment,
            decided_by=staff,
            decided_at=moment,
        )
    return gate.action_execute(action_id=action.id)


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("client").get(pk=ticket.pk)


def _check_approver(action: Action, staff: StaffMember | None) -> StaffMember:
    if staff is None or staff.role == StaffMember.Role.OWNER:
        raise PermissionDenied("Owners see the figures; technicians and managers approve.")
    if not gate.may_approve(staff, action.client_id):
        raise PermissionDenied("You do not serve this client.")
    return staff


def action_approve(
    *,
    action: Action,
    staff: StaffMember | None,
    params: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Action:
    """Approve a proposal as it is, or with edited parameters. Execution follows in a task;
    the gate checks everything again then, and the approval expires if it waits too long."""
    approver = _check_approver(action, staff)
    moment = now or timezone.now()
    spec = KINDS[action.kind]
    cleaned = None
    if params is not None:
        # Compare cleaned values: "1" for a proposed 1 is not an edit.
        cleaned = params_clean(spec, params, ticket=action.ticket)
        if cleaned == action.params:
            cleaned = None
    with transaction.atomic():
        updated = Action.objects.filter(pk=action.pk, status=Action.Status.PROPOSED).update(
            status=Action.Status.QUEUED,
            decided_by=approver,
            decided_at=moment,
            approval_expires_at=moment + _approval_ttl(),
            **({"params": cleaned, "original_params": action.params} if cleaned else {}),
        )
        if updated != 1:
            action.refresh_from_db()
            raise ValidationError(
                f"This action is already {action.get_status_display().lower()}; nothing to approve."
            )
        action.refresh_from_db()
        if cleaned:
            _correction_record(action, staff=approver, agent=action.original_params or {})
        changes = _changes_words(spec.key, action.original_params, cleaned) if cleaned else ""
        action_timeline(
            action, step="edited" if cleaned else "approved", staff=approver, note=changes
        )
    _enqueue(action.id)
    return action


def _changes_words(kind: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    parts = []
    for param in KINDS[kind].params:
        old, new = (before or {}).get(param.name), after.get(param.name)
        if old != new:
            parts.append(
                f"{param.label}: {param_display(param, old)} → {param_display(param, new)}."
            )
    return " ".join(parts)


def _correction_record(action: Action, *, staff: StaffMember, agent: dict[str, Any]) -> None:
    """When a technician changes what the agent chose for a ticket field, keep both values:
    the next training run learns from the technician's."""
    spec = KINDS[action.kind]
    if not spec.field_name or not spec.params:
        return
    name = spec.params[0].name
    if agent.get(name) == action.params.get(name):
        return
    Correction.objects.create(
        source=Correction.Source.EDITED,
        ticket=action.ticket,
        action=action,
        field=spec.field_name,
        agent_value=str(agent.get(name, "")),
        human_value=str(action.params.get(name, "")),
        staff=staff,
        created_at=timezone.now(),
    )


def action_reject(*, action: Action, staff: StaffMember | None, reason: str) -> Action:
    approver = _check_approver(action, staff)
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": "Say why, so the rule, model or playbook can improve."})
    with transaction.atomic():
        updated = Action.objects.filter(
            pk=action.pk, status__in=(Action.Status.PROPOSED, Action.Status.SUGGESTED)
        ).update(
            status=Action.Status.REJECTED,
            decided_by=approver,
            decided_at=timezone.now(),
            rejection_reason=text[:2000],
        )
        action.refresh_from_db()
        if updated != 1:
            raise ValidationError(
                f"This action is already {action.get_status_display().lower()}; nothing to reject."
            )
        action_timeline(action, step=Action.Status.REJECTED, staff=approver, note=f"“{text}”")
    return action


def actions_bulk_approve(*, actions: Sequence[Action], staff: StaffMember | None) -> list[Action]:
    """Approve several identical low-risk proposals in one go (same kind, same parameters)."""
    if not actions:
        raise ValidationError("Select at least one action.")
    first = actions[0]
    if any(a.kind != first.kind or a.params != first.params for a in actions):
        raise ValidationError("Bulk approval is for identical actions: same kind and parameters.")
    if KINDS[first.kind].risk != "low":
        raise ValidationError(f"“{KINDS[first.kind].label}” is not low-risk; approve one by one.")
    approved = []
    for action in actions:
        approved.append(action_approve(action=action, staff=staff))
    return approved


def action_undo(*, action: Action, staff: StaffMember | None) -> Action:
    approver = _check_approver(action, staff)
    with transaction.atomic():
        undone = gate.action_undo(action=action, staff=approver)
        _correction_from_undo(undone, staff=approver)
        action_timeline(undone, step=Action.Status.UNDONE, staff=approver)
    return undone


def _correction_from_undo(action: Action, *, staff: StaffMember) -> None:
    spec = KINDS[action.kind]
    previous = action.result.get("previous", {})
    if spec.field_name and spec.field_name in previous:
        name = spec.params[0].name
        Correction.objects.create(
            source=Correction.Source.UNDONE,
            ticket=action.ticket,
            action=action,
            field=spec.field_name,
            agent_value=str(action.params.get(name, "")),
            human_value="" if previous[spec.field_name] is None else str(previous[spec.field_name]),
            staff=staff,
            created_at=timezone.now(),
        )


def action_correct(*, action: Action, staff: StaffMember | None, value: Any) -> Action:
    """After the fact: set the field the agent chose to what it should have been. Recorded as
    the technician's own action (through the gate) and as a correction for training."""
    approver = _check_approver(action, staff)
    spec = KINDS[action.kind]
    if not spec.field_name or action.status not in Action.DONE_OK_STATUSES:
        raise ValidationError(
            "Only a succeeded type, priority, queue or assignee change can be corrected."
        )
    name = spec.params[0].name
    fixed = action_perform(
        ticket=action.ticket, staff=approver, kind=action.kind, params={name: value}
    )
    if fixed.status in Action.DONE_OK_STATUSES:
        Correction.objects.create(
            source=Correction.Source.CORRECTED,
            ticket=action.ticket,
            action=action,
            field=spec.field_name,
            agent_value=str(action.params.get(name, "")),
            human_value=str(fixed.params.get(name, "")),
            staff=approver,
            created_at=timezone.now(),
        )
    return fixed


def ticket_take_over(*, ticket: Ticket, staff: StaffMember | None, reason: str = "") -> AgentHold:
    """A technician takes the ticket: the agent stops on it, open proposals are cancelled,
    and the ticket is assigned to them."""
    if staff is None or not gate.may_approve(staff, ticket.client_id):
        raise PermissionDenied("Only a technician or manager serving this client can take over.")
    moment = timezone.now()
    with transaction.atomic():
        hold, created = AgentHold.objects.get_or_create(
            ticket=ticket, defaults={"held_by": staff, "held_at": moment, "reason": reason[:300]}
        )
        if not created:
            return hold
        open_actions = Action.objects.filter(
            ticket=ticket,
            status__in=(Action.Status.PROPOSED, Action.Status.QUEUED, Action.Status.SUGGESTED),
        ).exclude(proposer_kind=Action.Proposer.HUMAN)
        for action in open_actions.select_related("ticket"):
            Action.objects.filter(pk=action.pk, status=action.status).update(
                status=Action.Status.CANCELLED,
                status_reason=f"{staff.display_name} took the ticket over.",
                finished_at=moment,
            )
            action_timeline(action, step=Action.Status.CANCELLED, staff=staff)
        ticket_event_record(
            ticket=ticket,
            kind=TicketEvent.Kind.AGENT_HOLD,
            actor_kind=TicketEvent.ActorKind.HUMAN,
            actor_staff=staff,
            new_value="stopped",
            body="Took the ticket over: the agent stops working on it."
            + (f" {reason}" if reason else ""),
        )
    if ticket.assignee_id != staff.id and staff.takes_tickets:
        action_perform(ticket=ticket, staff=staff, kind="assign", params={"assignee": staff.id})
    return hold


def ticket_hand_back(*, ticket: Ticket, staff: StaffMember | None) -> None:
    if staff is None or not gate.may_approve(staff, ticket.client_id):
        raise PermissionDenied("Only a technician or manager serving this client can do this.")
    with transaction.atomic():
        deleted, _ = AgentHold.objects.filter(ticket=ticket).delete()
        if deleted:
            ticket_event_record(
                ticket=ticket,
                kind=TicketEvent.Kind.AGENT_HOLD,
                actor_kind=TicketEvent.ActorKind.HUMAN,
                actor_staff=staff,
                new_value="resumed",
                body="Handed the ticket back to the agent.",
            )


def proposals_expire(*, now: dt.datetime | None = None) -> int:
    """Proposals nobody decided in time expire, so the queue shows only live work."""
    moment = now or timezone.now()
    count = 0
    stale = Action.objects.filter(status=Action.Status.PROPOSED, expires_at__lt=moment)
    for action in stale.select_related("ticket")[:1000]:
        if Action.objects.filter(pk=action.pk, status=Action.Status.PROPOSED).update(
            status=Action.Status.EXPIRED, finished_at=moment
        ):
            action_timeline(action, step=Action.Status.EXPIRED, note="Nobody decided in time.")
            count += 1
    return count


# --- policies and kill switches ---------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    action_kind: str
    mode: str
    min_confidence: Decimal = Decimal("0.90")
    autonomous_hours: str = PolicyRule.Hours.ANY
    limit_per_client_hour: int | None = None
    limit_total_hour: int | None = None


_RULE_FIELDS = (
    "mode",
    "min_confidence",
    "autonomous_hours",
    "limit_per_client_hour",
    "limit_total_hour",
)


def policy_create(
    *,
    ticket_type: TicketType | None,
    client: Client | None,
    staff: StaffMember | None,
    shadow_mode: bool,
) -> AgentPolicy:
    manager = _check_manager(staff)
    duplicate = ValidationError("A policy for this ticket type and client already exists.")
    if AgentPolicy.objects.filter(ticket_type=ticket_type, client=client).exists():
        raise duplicate
    try:
        with transaction.atomic():
            policy = AgentPolicy.objects.create(
                ticket_type=ticket_type, client=client, shadow_mode=shadow_mode, updated_by=manager
            )
    except IntegrityError:  # another manager created it between the check and the insert
        raise duplicate from None
    with transaction.atomic():
        _revision_record(
            policy, staff=manager, changes=[["policy", "", "created"]], summary="Created."
        )
    return policy


def policy_save(
    *,
    policy: AgentPolicy,
    staff: StaffMember | None,
    shadow_mode: bool,
    rules: Iterable[RuleInput],
    expected_version: int | None = None,
) -> AgentPolicy:
    """Replace the policy's settings; records a revision with every change (old → new).
    Kinds left out keep their current rule; `mode=Mode.INHERIT` drops a kind's rule so it
    inherits again; saving without changes records nothing. With `expected_version`, a save
    based on an older version is refused instead of overwriting someone else's change."""
    manager = _check_manager(staff)
    with transaction.atomic():
        locked = AgentPolicy.objects.select_for_update().get(pk=policy.pk)
        if expected_version is not None and expected_version != locked.version:
            raise ValidationError(
                f"Someone saved version {locked.version} after you opened version "
                f"{expected_version}. Reload to see their changes, then make yours again."
            )
        existing = {rule.action_kind: rule for rule in locked.rules.all()}
        changes: list[list[str]] = []
        if locked.shadow_mode != shadow_mode:
            changes.append(["shadow mode", _on(locked.shadow_mode), _on(shadow_mode)])
            locked.shadow_mode = shadow_mode
        for item in rules:
            changes += _rule_apply(locked, existing.get(item.action_kind), item)
        if not changes:
            return locked
        locked.version += 1
        locked.updated_by = manager
        locked.save(update_fields=["shadow_mode", "version", "updated_by", "updated_at"])
        summary = "; ".join(f"{what}: {old or '—'} → {new or '—'}" for what, old, new in changes)
        _revision_record(locked, staff=manager, changes=changes, summary=summary)
    return locked


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _rule_apply(policy: AgentPolicy, rule: PolicyRule | None, item: RuleInput) -> list[list[str]]:
    label = kind_get(item.action_kind).label
    if item.mode == Mode.INHERIT:
        if rule is None:
            return []
        old_mode = rule.mode
        rule.delete()
        return [[f"{label} mode", Mode.label(old_mode), "default"]]
    if item.mode not in Mode.ORDER:
        raise ValidationError({"mode": f"{label}: choose off, suggest, approval or autonomous."})
    if not Decimal(0) <= Decimal(item.min_confidence) <= Decimal(1):
        raise ValidationError({"min_confidence": f"{label}: minimum confidence is 0 to 1."})
    if item.autonomous_hours not in PolicyRule.Hours.values:
        raise ValidationError({"autonomous_hours": f"{label}: unknown hours setting."})
    for limit in (item.limit_per_client_hour, item.limit_total_hour):
        if limit is not None and limit < 1:
            raise ValidationError({"limit": f"{label}: a limit must be at least 1 (or empty)."})
    new = {name: getattr(item, name) for name in _RULE_FIELDS}
    new["min_confidence"] = Decimal(item.min_confidence).quantize(Decimal("0.01"))
    if rule is None:
        PolicyRule.objects.create(policy=policy, action_kind=item.action_kind, **new)
        return [[f"{label} mode", "default", Mode.label(item.mode)]]
    changes = []
    for name in _RULE_FIELDS:
        old = getattr(rule, name)
        if name == "min_confidence":
            old = Decimal(old).quantize(Decimal("0.01"))
        if old != new[name]:
            changes.append(
                [f"{label} {name.replace('_', ' ')}", _words(name, old), _words(name, new[name])]
            )
            setattr(rule, name, new[name])
    if changes:
        rule.save()
    return changes


def _words(name: str, value: Any) -> str:
    if value is None:
        return "no limit" if name.startswith("limit") else ""
    if name == "mode":
        return Mode.label(value)
    if name == "autonomous_hours":
        return str(PolicyRule.Hours(value).label)
    return str(value)


def _revision_record(
    policy: AgentPolicy, *, staff: StaffMember, changes: list[list[str]], summary: str
) -> None:
    PolicyRevision.objects.create(
        policy=policy,
        version=policy.version,
        changed_by=staff,
        changed_at=timezone.now(),
        summary=summary,
        changes=changes,
        snapshot={
            "shadow_mode": policy.shadow_mode,
            "rules": {
                rule.action_kind: {
                    "mode": rule.mode,
                    "min_confidence": str(rule.min_confidence),
                    "autonomous_hours": rule.autonomous_hours,
                    "limit_per_client_hour": rule.limit_per_client_hour,
                    "limit_total_hour": rule.limit_total_hour,
                }
                for rule in policy.rules.all()
            },
        },
    )


def _check_manager(staff: StaffMember | None) -> StaffMember:
    if staff is None or staff.role != StaffMember.Role.MANAGER:
        raise PermissionDenied("Only service desk managers change agent policy.")
    return staff


def ladder_step_apply(
    *, staff: StaffMember, ticket_type: TicketType | None, kind: str, mode: str
) -> AgentPolicy:
    """Set one kind's mode on a ticket type's policy (None: the every-type default), the way
    a manager would in the editor: the rest of the rule is kept, or inherited from the
    default policy when the type gets its own rule for the first time. A type without a
    policy gets one, in shadow mode if the default policy is, so the step changes nothing
    but this kind's mode. PermissionDenied for anyone but a manager."""
    spec = kind_get(kind)
    if mode not in Mode.ORDER:
        raise ValidationError({"mode": "Choose off, suggest, approval or autonomous."})
    with transaction.atomic():
        policies = {
            p.ticket_type_id: p
            for p in AgentPolicy.objects.filter(client__isnull=True)
            .filter(Q(ticket_type__isnull=True) | Q(ticket_type=ticket_type))
            .prefetch_related("rules")
        }
        default = policies.get(None)
        policy = policies.get(ticket_type.id if ticket_type else None)
        if policy is None:
            policy = policy_create(
                ticket_type=ticket_type,
                client=None,
                staff=staff,
                shadow_mode=default.shadow_mode if default else False,
            )
        base = policy.rule_for(kind) or (default.rule_for(kind) if default else None)
        item = RuleInput(action_kind=spec.key, mode=mode)
        if base is not None:
            item = RuleInput(
                action_kind=spec.key,
                mode=mode,
                min_confidence=base.min_confidence,
                autonomous_hours=base.autonomous_hours,
                limit_per_client_hour=base.limit_per_client_hour,
                limit_total_hour=base.limit_total_hour,
            )
        return policy_save(
            policy=policy,
            staff=staff,
            shadow_mode=policy.shadow_mode,
            rules=[item],
        )


def kill_switch_set(
    *, client: Client | None, engaged: bool, reason: str, staff: StaffMember | None
) -> KillSwitch:
    """Engage or release the kill switch. Engaging needs a reason; queued executions are
    blocked by the gate when they come up."""
    manager = _check_manager(staff)
    if engaged and not reason.strip():
        raise ValidationError({"reason": "Say why the agent is being stopped."})
    with transaction.atomic():
        switch, _ = KillSwitch.objects.select_for_update().get_or_create(client=client)
        switch.engaged = engaged
        switch.reason = reason.strip()[:300]
        switch.changed_by = manager
        switch.changed_at = timezone.now()
        switch.save()
    return switch
