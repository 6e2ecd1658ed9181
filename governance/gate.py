"""The gate: the one code path that performs a side effect.

`verdict` decides what the policy allows for a proposal; `action_execute` re-checks all of it
at execution time (policy, confidence, hours, VIP and privileged contacts, approver's scope,
approval expiry, blast-radius limits, kill switches, take-overs, and that the ticket has not
changed under the proposal), claims the action with a conditional update, and only then
calls the executor registered for the kind. Nothing else in the codebase calls an executor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from governance.executors import ExecutionError, executor_for
from governance.holdout import CONTROL_REASON, ticket_in_control
from governance.kinds import KINDS, Mode, params_clean, ticket_field_value
from governance.memo import memoized
from governance.models import Action, AgentHold, AgentPolicy, KillSwitch, PolicyRule
from tickets.models import Contact, StaffMember, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# A worker that died mid-execution leaves the action "executing"; after this long the sweeper
# marks it failed so a technician looks at it (the tool's idempotency key makes a retry safe).
EXECUTION_STALE_AFTER = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class ResolvedRule:
    """The policy setting that applies to one kind on one ticket, and where it came from."""

    kind: str
    mode: str
    min_confidence: Decimal
    autonomous_hours: str
    limit_per_client_hour: int | None
    limit_total_hour: int | None
    shadow_mode: bool
    source: str  # "Password reset · Acme policy v3", or "catalogue default"
    policy_id: int | None = None
    policy_version: int | None = None

    @property
    def version_label(self) -> str:
        return f"{self.policy_id}:{self.policy_version}" if self.policy_id else "default"


@dataclass(frozen=True)
class Verdict:
    mode: str  # a Mode, or "shadow" / "refuse"
    reasons: list[str] = field(default_factory=list)
    rule: ResolvedRule | None = None

    SHADOW = "shadow"
    REFUSE = "refuse"

    @property
    def sentence(self) -> str:
        return " ".join(self.reasons)


def policies_for(ticket: Ticket) -> list[AgentPolicy]:
    """Policies that apply to the ticket, most specific first."""
    return memoized(("policies", ticket.type_id, ticket.client_id), lambda: _policies(ticket))


def policies_preset(tickets: Iterable[Ticket]) -> dict[Hashable, Any]:
    """A batch memo's preset with the policies of every (type, client) in `tickets`, read
    in one query — for callers that resolve rules for many tickets at once."""
    pairs = {(t.type_id, t.client_id) for t in tickets}
    return {
        ("policies", type_id, client_id): policies
        for (type_id, client_id), policies in policies_for_pairs(pairs).items()
    }


def policies_for_pairs(
    pairs: set[tuple[int | None, int | None]],
) -> dict[tuple[int | None, int | None], list[AgentPolicy]]:
    """`policies_for` for many (ticket type, client) pairs from one query."""
    type_ids = {type_id for type_id, _ in pairs if type_id is not None}
    client_ids = {client_id for _, client_id in pairs if client_id is not None}
    candidates = list(
        AgentPolicy.objects.filter(
            Q(ticket_type__isnull=True) | Q(ticket_type_id__in=type_ids),
            Q(client__isnull=True) | Q(client_id__in=client_ids),
        )
        .select_related("ticket_type", "client")
        .prefetch_related("rules")
    )
    found = {}
    for type_id, client_id in pairs:
        policies = [
            p
            for p in candidates
            if p.ticket_type_id in (None, type_id) and p.client_id in (None, client_id)
        ]
        policies.sort(key=lambda p: (p.ticket_type_id is None, p.client_id is None))
        found[(type_id, client_id)] = policies
    return found


def _policies(ticket: Ticket) -> list[AgentPolicy]:
    key = (ticket.type_id, ticket.client_id)
    return policies_for_pairs({key})[key]


def rule_resolve(ticket: Ticket, kind: str) -> ResolvedRule:
    """The most specific policy with a rule for `kind` wins; shadow mode comes from the most
    specific policy of all, so a type in shadow stays in shadow whatever a default says."""
    policies = policies_for(ticket)
    shadow = policies[0].shadow_mode if policies else False
    for policy in policies:
        rule = policy.rule_for(kind)
        if rule is not None:
            return ResolvedRule(
                kind=kind,
                mode=rule.mode,
                min_confidence=Decimal(rule.min_confidence),
                autonomous_hours=rule.autonomous_hours,
                limit_per_client_hour=rule.limit_per_client_hour,
                limit_total_hour=rule.limit_total_hour,
                shadow_mode=shadow,
                source=f"Policy “{policy.scope_label}” v{policy.version}",
                policy_id=policy.id,
                policy_version=policy.version,
            )
    return ResolvedRule(
        kind=kind,
        mode=KINDS[kind].default_mode,
        min_confidence=Decimal("0.90"),
        autonomous_hours=PolicyRule.Hours.ANY,
        limit_per_client_hour=None,
        limit_total_hour=None,
        shadow_mode=shadow,
        source="The built-in default (no policy sets this kind)",
    )


def allowed_kinds(ticket: Ticket) -> list[str]:
    """Action kinds the policy lets the agent propose on this ticket (mode is not off). The
    LLM agent offers only these as tools; anything else it names is refused by `verdict`."""
    if AgentHold.objects.filter(ticket_id=ticket.id).exists():
        return []
    return [kind for kind in KINDS if rule_resolve(ticket, kind).mode != Mode.OFF]


def ticket_held(ticket_id: int) -> bool:
    """Whether a technician has taken the ticket over (the agent must not act on it)."""
    return memoized(
        ("held", ticket_id), lambda: AgentHold.objects.filter(ticket_id=ticket_id).exists()
    )


def kill_switch_reason(client_id: int | None) -> str | None:
    return memoized(("kill", client_id), lambda: _kill_switch_reason(client_id))


def _kill_switch_reason(client_id: int | None) -> str | None:
    switches = KillSwitch.objects.filter(engaged=True).filter(
        Q(client__isnull=True) | Q(client_id=client_id)
    )
    switch = switches.order_by("client_id").first()
    if switch is None:
        return None
    where = "for every client" if switch.client_id is None else "for this client"
    why = f": {switch.reason}" if switch.reason else ""
    return f"The kill switch is engaged {where}{why}."


def verdict(
    *,
    ticket: Ticket,
    kind: str,
    params: dict[str, Any],
    confidence: float | None,
    proposer_kind: str,
    now: dt.datetime,
) -> Verdict:
    """What the policy allows for this proposal right now."""
    if proposer_kind == Action.Proposer.HUMAN:
        return Verdict(Mode.AUTONOMOUS, ["A technician asked for it."])
    rule = rule_resolve(ticket, kind)
    if ticket_held(ticket.id):
        return Verdict(Verdict.REFUSE, ["A technician has taken this ticket over."], rule)
    if ticket.pk and ticket_in_control(ticket, now=now):
        return Verdict(Verdict.REFUSE, [CONTROL_REASON], rule)
    if rule.mode == Mode.OFF:
        return Verdict(Verdict.REFUSE, [f"{rule.source}: “{KINDS[kind].label}” is off."], rule)
    if rule.mode == Mode.SUGGEST:
        return Verdict(Mode.SUGGEST, [f"{rule.source} allows suggestions only."], rule)
    if rule.shadow_mode:
        return Verdict(Verdict.SHADOW, [f"{rule.source} is in shadow mode."], rule)
    if rule.mode == Mode.APPROVAL:
        return Verdict(Mode.APPROVAL, [f"{rule.source} needs approval."], rule)
    downgrades = _autonomy_downgrades(ticket, params, confidence, rule, now)
    if downgrades:
        return Verdict(Mode.APPROVAL, downgrades, rule)
    return Verdict(Mode.AUTONOMOUS, [f"{rule.source} allows it on its own."], rule)


def _autonomy_downgrades(
    ticket: Ticket,
    params: dict[str, Any],
    confidence: float | None,
    rule: ResolvedRule,
    now: dt.datetime,
) -> list[str]:
    """Reasons an autonomous rule still needs a technician here (empty: none)."""
    reasons = []
    if confidence is None or Decimal(str(confidence)) < rule.min_confidence:
        shown = "no confidence" if confidence is None else f"confidence {confidence:.2f}"
        reasons.append(f"Needs approval: {shown} is below the minimum {rule.min_confidence}.")
    if rule.autonomous_hours != PolicyRule.Hours.ANY and ticket.client is not None:
        in_hours = ticket.client.is_business_time(now)
        wanted = rule.autonomous_hours == PolicyRule.Hours.BUSINESS
        if in_hours != wanted:
            label = PolicyRule.Hours(rule.autonomous_hours).label.lower()
            reasons.append(f"Needs approval: autonomous {label} only.")
    flagged = _flagged_contacts(ticket, params)
    if flagged:
        reasons.append(f"Needs approval: {flagged} is VIP or privileged.")
    if kill_switch_reason(ticket.client_id):
        reasons.append("Needs approval: the kill switch is engaged.")
    return reasons


def _flagged_contacts(ticket: Ticket, params: dict[str, Any]) -> str:
    ids = tuple(i for i in (ticket.contact_id, params.get("contact")) if isinstance(i, int))
    if not ids:
        return ""
    return memoized(("flagged", ids), lambda: _flagged_names(ids))


def _flagged_names(ids: tuple[int, ...]) -> str:
    flagged = Contact.objects.filter(id__in=ids).filter(Q(is_vip=True) | Q(is_privileged=True))
    return ", ".join(contact.full_name or contact.email for contact in flagged)


def ticket_fingerprint(ticket: Ticket, kind: str) -> str:
    """A digest of what the proposal depends on. A field-setting action depends on that field
    (two triage proposals on one ticket do not invalidate each other); anything that talks
    to the requester or acts on an account also depends on the conversation and status."""
    spec = KINDS[kind]
    parts: list[Any] = [ticket.client_id]
    if spec.field_name:
        parts.append(ticket_field_value(ticket, spec.field_name))
    else:
        last = memoized(("last_conversation", ticket.id), lambda: _last_conversation(ticket.id))
        parts += [ticket.status, ticket.contact_id, ticket.queue_id, last]
    # str(), not repr(): an unsaved ticket holds Priority.MEDIUM where a loaded one holds 3.
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _last_conversation(ticket_id: int) -> int | None:
    """The latest event a person (technician or requester) added to the conversation."""
    return (
        TicketEvent.objects.filter(
            ticket_id=ticket_id,
            actor_kind__in=(TicketEvent.ActorKind.HUMAN, TicketEvent.ActorKind.REQUESTER),
        )
        .exclude(kind__in=(TicketEvent.Kind.ACTION, TicketEvent.Kind.AGENT_HOLD))
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


@dataclass
class _Outcome:
    status: str
    reason: str = ""


def action_execute(*, action_id: int, now: dt.datetime | None = None) -> Action:
    """Execute one queued action if every check still passes. Safe to call twice: only the
    caller whose conditional update claims the action runs it."""
    moment = now or timezone.now()
    outcome = _claim(action_id, moment)
    action = Action.objects.select_related("ticket", "client").get(pk=action_id)
    if outcome is None:
        return action  # not queued (someone else has it, or it was decided otherwise)
    from governance import services  # the timeline writer; imported here to avoid a cycle

    if outcome.status != Action.Status.EXECUTING:
        services.action_timeline(action, step=outcome.status, note=outcome.reason)
        return action
    return _run(action, moment)


def _claim(action_id: int, now: dt.datetime) -> _Outcome | None:
    with transaction.atomic():
        action = (
            Action.objects.select_for_update(of=("self",))
            .select_related("ticket__client", "decided_by__user")
            .filter(pk=action_id, status=Action.Status.QUEUED)
            .first()
        )
        if action is None:
            return None
        _lock_kind(action.kind)
        outcome = _checks(action, now)
        updated = Action.objects.filter(pk=action_id, status=Action.Status.QUEUED).update(
            status=outcome.status,
            status_reason=outcome.reason or action.status_reason,
            started_at=now if outcome.status == Action.Status.EXECUTING else None,
            finished_at=None if outcome.status == Action.Status.EXECUTING else now,
        )
        return outcome if updated == 1 else None


def _lock_kind(kind: str) -> None:
    """Serialize limit checks for one kind so concurrent approvals cannot both squeeze under
    a limit. PostgreSQL: a transaction-scoped advisory lock. SQLite: the claim's write lock
    already serializes writers."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"governance.action:{kind}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _checks(action: Action, now: dt.datetime) -> _Outcome:
    blocked = Action.Status.BLOCKED
    ticket = action.ticket
    current: Verdict | None = None
    if action.approval_expires_at is not None and action.approval_expires_at < now:
        return _Outcome(Action.Status.EXPIRED, "The approval expired before it could run.")
    if action.is_agent:
        reason = kill_switch_reason(action.client_id)
        if reason:
            return _Outcome(blocked, f"Stopped: {reason}")
        current = verdict(
            ticket=ticket,
            kind=action.kind,
            params=action.params,
            confidence=action.confidence,
            proposer_kind=action.proposer_kind,
            now=now,
        )
        allowed = {Mode.AUTONOMOUS, Mode.APPROVAL} if action.decided_by_id else {Mode.AUTONOMOUS}
        if current.mode not in allowed:
            return _Outcome(blocked, f"The policy no longer allows it: {current.sentence}")
    if action.decided_by_id and not may_approve(action.decided_by, action.client_id):
        return _Outcome(blocked, "The approver no longer serves this client.")
    if ticket_fingerprint(ticket, action.kind) != action.ticket_fingerprint:
        return _Outcome(blocked, "The ticket changed after the proposal; propose it again.")
    try:
        params_clean(KINDS[action.kind], action.params, ticket=ticket)
    except ValidationError as error:
        return _Outcome(blocked, f"Its parameters are no longer valid: {error.messages}")
    if action.is_agent:
        over = _over_limit(action, now, current.rule if current else None)
        if over:
            return _Outcome(blocked, over)
    if executor_for(action.kind) is None:
        label = KINDS[action.kind].label
        return _Outcome(Action.Status.FAILED, f"No tool is connected for “{label}” yet.")
    return _Outcome(Action.Status.EXECUTING)


def may_approve(staff: StaffMember | None, client_id: int | None) -> bool:
    if staff is None or not staff.user.is_active:
        return False
    if staff.role not in (StaffMember.Role.TECHNICIAN, StaffMember.Role.MANAGER):
        return False
    if staff.all_clients:
        return True
    if client_id is None:
        return False
    return staff.clients.filter(id=client_id).exists()


def _over_limit(action: Action, now: dt.datetime, rule: ResolvedRule | None) -> str:
    if rule is None:
        rule = rule_resolve(action.ticket, action.kind)
    if rule.limit_per_client_hour is None and rule.limit_total_hour is None:
        return ""
    recent = Action.objects.filter(
        kind=action.kind,
        status__in=Action.EXECUTED_STATUSES,
        started_at__gte=now - dt.timedelta(hours=1),
        proposer_kind__in=[p for p in Action.Proposer.values if p != Action.Proposer.HUMAN],
    ).exclude(pk=action.pk)
    label = KINDS[action.kind].label
    if rule.limit_per_client_hour is not None:
        same_client = (
            Q(client__isnull=True) if action.client_id is None else Q(client_id=action.client_id)
        )
        count = recent.filter(same_client).count()
        if count >= rule.limit_per_client_hour:
            return f"Limit reached: {label} ran {count} times for this client in the last hour."
    if rule.limit_total_hour is not None:
        count = recent.count()
        if count >= rule.limit_total_hour:
            return f"Limit reached: {label} ran {count} times in the last hour."
    return ""


def _run(action: Action, now: dt.datetime) -> Action:
    from governance import services

    executor = executor_for(action.kind)
    assert executor is not None  # checked in _claim
    services.action_timeline(action, step="executing")
    try:
        result = executor.execute(action)
    except ExecutionError as error:
        return _finish(action, Action.Status.FAILED, error=str(error))
    except Exception as error:  # a tool bug must not leave the action "executing" forever
        logger.exception("Executor for %s failed on action %s", action.kind, action.id)
        message = f"The tool failed unexpectedly ({type(error).__name__}); see the server log."
        return _finish(action, Action.Status.FAILED, error=message)
    action.result = result
    status = Action.Status.SUCCEEDED
    try:
        verified = executor.verify(action)
    except ExecutionError as error:
        return _finish(action, Action.Status.FAILED, result=result, error=f"Verify: {error}")
    if verified is True:
        status = Action.Status.VERIFIED
    elif verified is False:
        return _finish(
            action,
            Action.Status.FAILED,
            result=result,
            error="It ran, but the check afterwards did not see the change. Look at it by hand.",
        )
    return _finish(action, status, result=result)


def _finish(
    action: Action, status: str, *, result: dict[str, Any] | None = None, error: str = ""
) -> Action:
    from governance import services

    moment = timezone.now()
    Action.objects.filter(pk=action.pk, status=Action.Status.EXECUTING).update(
        status=status, result=result or {}, error=error, finished_at=moment
    )
    # In memory rather than refresh_from_db(), which would drop the loaded ticket.
    action.status, action.result, action.error, action.finished_at = (
        status,
        result or {},
        error,
        moment,
    )
    services.action_timeline(action, step=status, note=error)
    return action


def action_undo(*, action: Action, staff: StaffMember) -> Action:
    """Reverse an executed action through its executor. Scope is checked by the caller's
    selector; here: only a technician or manager serving the client, only once."""
    if not may_approve(staff, action.client_id):
        raise ValidationError("Only a technician or manager serving this client can undo.")
    executor = executor_for(action.kind)
    if executor is None or not executor.undoable:
        raise ValidationError(f"“{KINDS[action.kind].label}” cannot be undone automatically.")
    moment = timezone.now()
    claimed = Action.objects.filter(pk=action.pk, status__in=Action.DONE_OK_STATUSES).update(
        status=Action.Status.UNDONE, undone_by=staff, undone_at=moment
    )
    if claimed != 1:
        raise ValidationError("Only a succeeded action can be undone, and only once.")
    try:
        undo_result = executor.undo(action, staff=staff)
    except ExecutionError as error:
        Action.objects.filter(pk=action.pk).update(
            status=action.status, undone_by=None, undone_at=None
        )
        raise ValidationError(f"Undo failed: {error}") from error
    Action.objects.filter(pk=action.pk).update(result={**action.result, "undo": undo_result})
    action.refresh_from_db()
    return action


def stale_executions_fail(*, now: dt.datetime | None = None) -> int:
    """Mark actions whose worker died mid-execution as failed, for a person to check."""
    moment = now or timezone.now()
    stale = Action.objects.filter(
        status=Action.Status.EXECUTING, started_at__lt=moment - EXECUTION_STALE_AFTER
    )
    return stale.update(
        status=Action.Status.FAILED,
        finished_at=moment,
        error="The worker stopped while executing; check whether the change took effect.",
    )
