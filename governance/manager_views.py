"""Manager pages: policy editor, kill switches, weekly review and the autonomy ladder.

Every staff member may read the policies and the kill switches; only service desk managers
change them (the services refuse anyone else too). The weekly review is for managers and
owners. A refused write is a 403 page that says who may do it, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from config.http import HtmxHttpRequest, forbidden, wants_fragment
from governance import review, selectors, services
from governance.kinds import KIND_CHOICES, KINDS, ActionKind, Mode
from governance.models import AgentPolicy, KillSwitch, PolicyRule
from governance.policy_words import RuleSetting, mode_summary, rule_sentence
from tickets.models import Client, StaffMember, TicketType
from tickets.selectors import clients_visible_to, is_manager, staff_for_user

_STAFF_ONLY = "These pages are for the service desk's staff."
_MANAGERS_ONLY = "Only service desk managers change agent policy."
_SWITCH_MANAGERS_ONLY = "Only service desk managers engage or release the kill switch."
_REVIEW_ROLES = (StaffMember.Role.MANAGER, StaffMember.Role.OWNER)
_MODE_CHOICES = [(mode, Mode.label(mode)) for mode in Mode.ORDER]


def _error_lines(form: forms.Form, prefix: str = "") -> list[str]:
    """Each error as 'Where — Field: message', so a summary names what to fix."""
    lines = []
    for name, errors in form.errors.items():
        label = "" if name == "__all__" else str(form.fields[name].label or name)
        where = " — ".join(part for part in (prefix, label) if part)
        text = " ".join(str(error) for error in errors)
        lines.append(f"{where}: {text}" if where else text)
    return lines


# --- policy list and create ------------------------------------------------------------


class PolicyCreateForm(forms.Form):
    ticket_type = forms.ModelChoiceField(
        queryset=TicketType.objects.filter(is_active=True),
        required=False,
        empty_label="Every ticket type",
        label="Ticket type",
    )
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(), required=False, empty_label="Every client", label="Client"
    )
    shadow_mode = forms.BooleanField(required=False, label="Start in shadow mode")

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PolicyRow:
    policy: AgentPolicy
    summary: list[tuple[str, str, list[str]]]
    defaults: int  # kinds without a rule in this policy


def _policy_list_context(request: HtmxHttpRequest, staff: StaffMember) -> dict[str, Any]:
    policies = list(selectors.policy_list())
    uncovered = (
        TicketType.objects.filter(is_active=True)
        .filter(~Exists(AgentPolicy.objects.filter(ticket_type=OuterRef("pk"))))
        .only("id", "name")
        .order_by("name")
    )
    rows = []
    for policy in policies:
        rules = list(policy.rules.all())
        rows.append(PolicyRow(policy, mode_summary(rules), len(KINDS) - len(rules)))
    return {
        "rows": rows,
        "uncovered": list(uncovered),
        "has_default": any(p.ticket_type_id is None and p.client_id is None for p in policies),
        "clients": list(clients_visible_to(request.user).only("id", "name").order_by("name")),
        "is_manager": is_manager(staff),
        "create_errors": [],
    }


@require_GET
@login_required
def policy_list(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    return render(request, "governance/policy_list.html", _policy_list_context(request, staff))


@require_POST
@login_required
def policy_create(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None or not is_manager(staff):
        return forbidden(request, "Only service desk managers create agent policies.")
    form = PolicyCreateForm(request.POST, clients=clients_visible_to(request.user))
    if form.is_valid():
        data = form.cleaned_data
        try:
            policy = services.policy_create(
                ticket_type=data["ticket_type"],
                client=data["client"],
                staff=staff,
                shadow_mode=data["shadow_mode"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        except IntegrityError:  # created by someone else between the check and the insert
            form.add_error(None, "A policy for this ticket type and client already exists.")
        else:
            url = reverse("policy_edit", args=[policy.id])
            messages.success(request, f"Created “{policy.scope_label}”. Set its rules below.")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = _policy_list_context(request, staff)
    context["create_errors"] = _error_lines(form)
    template = "governance/policy_list.html"
    if wants_fragment(request):
        template += "#create_errors"
    return render(request, template, context, status=400)


# --- policy editor ---------------------------------------------------------------------


class PolicySettingsForm(forms.Form):
    shadow_mode = forms.BooleanField(
        required=False,
        label="Shadow mode",
        help_text="Proposals that would need approval or run on their own are only recorded, "
        "so you can compare them with what technicians did.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RuleForm(forms.Form):
    """One action kind's row in the editor; its fields are prefixed with the kind's key."""

    mode = forms.ChoiceField(label="Mode")
    min_confidence = forms.DecimalField(
        label="Minimum confidence",
        min_value=Decimal(0),
        max_value=Decimal(1),
        max_digits=3,
        decimal_places=2,
    )
    autonomous_hours = forms.ChoiceField(label="Autonomous hours", choices=PolicyRule.Hours.choices)
    limit_per_client_hour = forms.IntegerField(
        label="Limit per client per hour", required=False, min_value=1
    )
    limit_total_hour = forms.IntegerField(
        label="Limit per hour overall", required=False, min_value=1
    )

    def __init__(
        self, *args: Any, kind: ActionKind, has_rule: bool, fallback_mode: str, **kwargs: Any
    ) -> None:
        kwargs["prefix"] = kind.key
        super().__init__(*args, **kwargs)
        self.kind = kind
        mode = self.fields["mode"]
        self.has_rule = has_rule
        # "Default" inherits from broader policies (or the built-in default); choosing it
        # for a kind that has a rule drops the rule.
        default = ("", f"Default ({Mode.label(fallback_mode)})")
        mode.choices = [default, *_MODE_CHOICES]  # type: ignore[attr-defined]
        mode.required = False
        for name, field in self.fields.items():
            field.widget.attrs["aria-label"] = f"{kind.label}: {field.label}"
            if name.startswith("limit"):
                field.widget.attrs["placeholder"] = "no limit"

    def rule_input(self) -> services.RuleInput | None:
        data = self.cleaned_data
        if not data["mode"]:
            if self.has_rule:
                return services.RuleInput(action_kind=self.kind.key, mode=Mode.INHERIT)
            return None
        return services.RuleInput(
            action_kind=self.kind.key,
            mode=data["mode"],
            min_confidence=data["min_confidence"],
            autonomous_hours=data["autonomous_hours"],
            limit_per_client_hour=data["limit_per_client_hour"],
            limit_total_hour=data["limit_total_hour"],
        )


@dataclass(frozen=True)
class RuleRow:
    kind: ActionKind
    form: RuleForm
    has_rule: bool
    sentence: str
    source: str  # where a default comes from


def _setting(rule: PolicyRule) -> RuleSetting:
    return RuleSetting(
        mode=rule.mode,
        min_confidence=Decimal(rule.min_confidence),
        autonomous_hours=rule.autonomous_hours,
        limit_per_client_hour=rule.limit_per_client_hour,
        limit_total_hour=rule.limit_total_hour,
    )


def _broader_policies(policy: AgentPolicy) -> list[AgentPolicy]:
    """The policies the gate falls back on, in its order, where this one has no rule for a
    kind (client defaults of other clients aside: they only apply to their own tickets)."""
    scopes = []
    if policy.ticket_type_id is not None and policy.client_id is not None:
        scopes += [Q(ticket_type_id=policy.ticket_type_id, client__isnull=True)]
        scopes += [Q(ticket_type__isnull=True, client_id=policy.client_id)]
    if policy.ticket_type_id is not None or policy.client_id is not None:
        scopes += [Q(ticket_type__isnull=True, client__isnull=True)]
    if not scopes:
        return []
    query = scopes[0]
    for scope in scopes[1:]:
        query |= scope
    broader = list(
        AgentPolicy.objects.filter(query)
        .select_related("ticket_type", "client")
        .prefetch_related("rules")
    )
    broader.sort(key=lambda p: (p.ticket_type_id is None, p.client_id is None))
    return broader


def _fallbacks(policy: AgentPolicy) -> dict[str, tuple[RuleSetting, str]]:
    """Per kind: what applies where the policy has no rule, and where that comes from."""
    broader = _broader_policies(policy)
    result = {}
    for key, spec in KINDS.items():
        found = next(
            (
                (_setting(rule), f"from “{other.scope_label}”")
                for other in broader
                for rule in other.rules.all()
                if rule.action_kind == key
            ),
            None,
        )
        result[key] = found or (RuleSetting(mode=spec.default_mode), "built-in default")
    return result


def _rule_forms(
    policy: AgentPolicy, data: Any = None, *, editable: bool
) -> dict[str, tuple[RuleForm, PolicyRule | None, RuleSetting, str]]:
    rules = {rule.action_kind: rule for rule in policy.rules.all()}
    fallbacks = _fallbacks(policy)
    result = {}
    for key, spec in KINDS.items():
        rule = rules.get(key)
        fallback, source = fallbacks[key]
        base = _setting(rule) if rule else fallback
        initial = {
            "mode": rule.mode if rule else "",
            "min_confidence": Decimal(base.min_confidence).quantize(Decimal("0.01")),
            "autonomous_hours": base.autonomous_hours,
            "limit_per_client_hour": base.limit_per_client_hour,
            "limit_total_hour": base.limit_total_hour,
        }
        form = RuleForm(
            data, initial=initial, kind=spec, has_rule=rule is not None, fallback_mode=fallback.mode
        )
        if not editable:
            for field in form.fields.values():
                field.disabled = True
        result[key] = (form, rule, fallback, source)
    return result


def _policy_edit_context(
    policy: AgentPolicy,
    staff: StaffMember,
    *,
    data: Any = None,
    settings_form: PolicySettingsForm | None = None,
) -> dict[str, Any]:
    editable = is_manager(staff)
    forms_by_kind = _rule_forms(policy, data, editable=editable)
    rows = []
    for key, (form, rule, fallback, source) in forms_by_kind.items():
        sentence = (
            rule_sentence(_setting(rule), shadow=policy.shadow_mode)
            if rule
            else rule_sentence(fallback, default=True, shadow=policy.shadow_mode)
        )
        rows.append(RuleRow(KINDS[key], form, rule is not None, sentence, source))
    if settings_form is None:
        settings_form = PolicySettingsForm(
            initial={"shadow_mode": policy.shadow_mode, "version": policy.version}
        )
    if not editable:
        settings_form.fields["shadow_mode"].disabled = True
    errors = _error_lines(settings_form)
    for row in rows:
        if row.form.is_bound:
            errors += _error_lines(row.form, prefix=row.kind.label)
    return {
        "policy": policy,
        "rows": rows,
        "settings_form": settings_form,
        "revisions": list(policy.revisions.all()),
        "is_manager": editable,
        "errors": errors,
        "saved_message": "",
    }


def _render_editor(
    request: HtmxHttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    template = "governance/policy_edit.html"
    if wants_fragment(request):
        template += "#editor"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@login_required
def policy_edit(request: HtmxHttpRequest, policy_id: int) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    policy = selectors.policy_get(policy_id=policy_id)
    if request.method != "POST":
        return _render_editor(request, _policy_edit_context(policy, staff))
    if not is_manager(staff):
        return forbidden(request, _MANAGERS_ONLY)
    settings_form = PolicySettingsForm(request.POST)
    context = _policy_edit_context(policy, staff, data=request.POST, settings_form=settings_form)
    rule_forms = [row.form for row in context["rows"]]
    valid = settings_form.is_valid() and all([form.is_valid() for form in rule_forms])
    if valid and settings_form.cleaned_data["version"] != policy.version:
        settings_form.add_error(
            None,
            f"Someone saved version {policy.version} after you opened version "
            f"{settings_form.cleaned_data['version']}. Reload to see their changes, then make "
            "yours again.",
        )
        valid = False
    if valid:
        items = [item for form in rule_forms if (item := form.rule_input()) is not None]
        try:
            saved = services.policy_save(
                policy=policy,
                staff=staff,
                shadow_mode=settings_form.cleaned_data["shadow_mode"],
                rules=items,
                expected_version=settings_form.cleaned_data["version"],
            )
        except ValidationError as error:
            settings_form.add_error(None, error.messages)
        else:
            fresh = selectors.policy_get(policy_id=policy_id)
            context = _policy_edit_context(fresh, staff)
            context["saved_message"] = (
                f"Saved as version {saved.version}."
                if saved.version != policy.version
                else f"Nothing changed; this is still version {saved.version}."
            )
            return _render_editor(request, context)
    context["errors"] = _error_lines(settings_form) + [
        line for form in rule_forms for line in _error_lines(form, prefix=form.kind.label)
    ]
    return _render_editor(request, context, status=400)


# --- kill switches ---------------------------------------------------------------------


class KillSwitchForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(), required=False, empty_label="Every client", label="Client"
    )
    engaged = forms.TypedChoiceField(
        choices=[("1", "Engage"), ("0", "Release")],
        coerce=lambda value: value == "1",
        label="Engage or release",
    )
    reason = forms.CharField(required=False, max_length=300, label="Reason")

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SwitchRow:
    client: Client | None
    switch: KillSwitch | None

    @property
    def key(self) -> str:
        return str(self.client.id) if self.client else ""

    @property
    def engaged(self) -> bool:
        return self.switch is not None and self.switch.engaged


def _switch_rows(request: HtmxHttpRequest) -> list[SwitchRow]:
    clients = list(clients_visible_to(request.user).only("id", "name").order_by("name"))
    switches = {
        switch.client_id: switch
        for switch in KillSwitch.objects.filter(
            Q(client__isnull=True) | Q(client_id__in=[c.id for c in clients])
        ).select_related("changed_by__user")
    }
    rows = [SwitchRow(None, switches.get(None))]
    rows += [SwitchRow(client, switches.get(client.id)) for client in clients]
    return rows


def _render_switches(
    request: HtmxHttpRequest, staff: StaffMember, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {
        "rows": _switch_rows(request),
        "is_manager": is_manager(staff),
        "failed_key": None,
        "errors": [],
        "message": "",
        **extra,
    }
    template = "governance/kill_switch.html"
    if wants_fragment(request):
        template += "#switches"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@login_required
def kill_switch(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None:
        return forbidden(request, _STAFF_ONLY)
    if request.method != "POST":
        return _render_switches(request, staff)
    if not is_manager(staff):
        return forbidden(request, _SWITCH_MANAGERS_ONLY)
    form = KillSwitchForm(request.POST, clients=clients_visible_to(request.user))
    if form.is_valid():
        data = form.cleaned_data
        try:
            switch = services.kill_switch_set(
                client=data["client"], engaged=data["engaged"], reason=data["reason"], staff=staff
            )
        except ValidationError as error:
            form.add_error(None, error)  # {"reason": …} lands on the reason field
        else:
            where = switch.client.name if switch.client else "every client"
            message = (
                f"The agent is stopped for {where}."
                if switch.engaged
                else f"The kill switch for {where} is released."
            )
            if not wants_fragment(request):
                messages.success(request, message)
                return redirect("kill_switch")
            return _render_switches(request, staff, message=message)
    return _render_switches(
        request,
        staff,
        status=400,
        failed_key=request.POST.get("client", ""),
        errors=_error_lines(form),
    )


# --- weekly review and the autonomy ladder ---------------------------------------------


def _ladder_context(request: HtmxHttpRequest, staff: StaffMember) -> dict[str, Any]:
    return {
        "ladder": review.autonomy_ladder(user=request.user, now=timezone.now()),
        "is_manager": is_manager(staff),
        "thresholds": {
            "window_days": review.LADDER_WINDOW_DAYS,
            "promote_min": review.PROMOTE_MIN_DECISIONS,
            "promote_lower": review.PROMOTE_MIN_LOWER_BOUND,
            "demote_min": review.DEMOTE_MIN_EXECUTIONS,
            "demote_override": review.DEMOTE_OVERRIDE_LOWER_BOUND,
            "demote_reopen": review.DEMOTE_REOPEN_SHARE,
        },
        "ladder_message": "",
        "ladder_errors": [],
    }


def _review_context(request: HtmxHttpRequest, week: review.IsoWeek) -> dict[str, Any]:
    now = timezone.now()
    return {
        "review": review.weekly_review(user=request.user, week=week),
        "week": week,
        "next_week": week.next if week.next.start <= now else None,
        "in_progress": week.end > now,
        "min_decisions": review.MIN_DECISIONS_FOR_RATE,
        "baseline_days": review.TIME_BASELINE_DAYS,
        "week_error": "",
    }


@require_GET
@vary_on_headers("HX-Request")
@login_required
def weekly_review(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None or staff.role not in _REVIEW_ROLES:
        return forbidden(request, "The weekly review is for service desk managers and owners.")
    text = request.GET.get("week", "")
    error = ""
    try:
        week = review.week_parse(text) if text else review.last_completed_week(timezone.now())
    except ValidationError as problem:
        error = " ".join(problem.messages)
        week = review.last_completed_week(timezone.now())
    context = _review_context(request, week)
    context["week_error"] = error
    status = 400 if error else 200
    if wants_fragment(request):
        return render(request, "governance/review.html#week", context, status=status)
    context.update(_ladder_context(request, staff))
    return render(request, "governance/review.html", context, status=status)


class LadderApplyForm(forms.Form):
    ticket_type = forms.ModelChoiceField(
        queryset=TicketType.objects.all(), required=False, label="Ticket type"
    )
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Action kind")
    mode = forms.ChoiceField(choices=_MODE_CHOICES, label="New mode")


@require_POST
@login_required
def ladder_apply(request: HtmxHttpRequest) -> HttpResponse:
    staff = staff_for_user(request.user)
    if staff is None or not is_manager(staff):
        return forbidden(request, "Only service desk managers move a kind up or down the ladder.")
    form = LadderApplyForm(request.POST)
    message = ""
    if form.is_valid():
        data = form.cleaned_data
        ticket_type: TicketType | None = data["ticket_type"]
        try:
            before = _version_of(ticket_type)
            policy = services.ladder_step_apply(
                staff=staff, ticket_type=ticket_type, kind=data["kind"], mode=data["mode"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            what = f"{KINDS[data['kind']].label} on {policy.scope_label}"
            message = (
                f"{what} is now {Mode.label(data['mode']).lower()}: saved as version "
                f"{policy.version}."
                if policy.version != before
                else f"{what} was already {Mode.label(data['mode']).lower()}; nothing changed."
            )
    errors = _error_lines(form)
    if not errors and not wants_fragment(request):
        messages.success(request, message)
        return redirect("weekly_review")
    context = _ladder_context(request, staff)
    context.update(ladder_message=message, ladder_errors=errors)
    status = 400 if errors else 200
    if wants_fragment(request):
        return render(request, "governance/review.html#ladder", context, status=status)
    week = review.last_completed_week(timezone.now())
    context.update(_review_context(request, week))
    return render(request, "governance/review.html", context, status=status)


def _version_of(ticket_type: TicketType | None) -> int | None:
    return (
        AgentPolicy.objects.filter(ticket_type=ticket_type, client__isnull=True)
        .values_list("version", flat=True)
        .first()
    )
