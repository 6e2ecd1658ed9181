"""Governance records in the admin are read-only: policies change through the policy editor
(which versions every change), actions through the gate, and the log is never rewritten."""

from __future__ import annotations

from django.contrib import admin

from governance import models
from tickets.admin import ViewOnlyAdmin


class PolicyRuleInline(admin.TabularInline[models.PolicyRule, models.AgentPolicy]):
    model = models.PolicyRule
    extra = 0
    can_delete = False
    readonly_fields = (
        "action_kind",
        "mode",
        "min_confidence",
        "autonomous_hours",
        "limit_per_client_hour",
        "limit_total_hour",
    )

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(models.AgentPolicy)
class AgentPolicyAdmin(ViewOnlyAdmin[models.AgentPolicy]):
    list_display = ("scope_label", "shadow_mode", "version", "updated_by", "updated_at")
    list_select_related = ("ticket_type", "client", "updated_by__user")
    inlines = (PolicyRuleInline,)


@admin.register(models.PolicyRevision)
class PolicyRevisionAdmin(ViewOnlyAdmin[models.PolicyRevision]):
    list_display = ("policy", "version", "changed_by", "changed_at", "summary")
    list_select_related = ("policy__ticket_type", "policy__client", "changed_by__user")


@admin.register(models.Action)
class ActionAdmin(ViewOnlyAdmin[models.Action]):
    list_display = ("id", "kind", "status", "ticket", "client", "proposer_name", "confidence")
    list_filter = ("status", "kind", "proposer_kind")
    list_select_related = ("ticket", "client")
    search_fields = ("=id", "=ticket__id", "proposer_name")
    raw_id_fields = ("ticket",)


@admin.register(models.KillSwitch)
class KillSwitchAdmin(ViewOnlyAdmin[models.KillSwitch]):
    list_display = ("__str__", "engaged", "reason", "changed_by", "changed_at")


@admin.register(models.AgentHold)
class AgentHoldAdmin(ViewOnlyAdmin[models.AgentHold]):
    list_display = ("ticket", "held_by", "held_at", "reason")


@admin.register(models.Correction)
class CorrectionAdmin(ViewOnlyAdmin[models.Correction]):
    list_display = ("ticket", "field", "agent_value", "human_value", "staff", "created_at")


@admin.register(models.Holdout)
class HoldoutAdmin(ViewOnlyAdmin[models.Holdout]):
    list_display = ("__str__", "share", "starts_at", "ends_at", "created_by")
    list_select_related = ("created_by__user",)


@admin.register(models.HoldoutTicket)
class HoldoutTicketAdmin(ViewOnlyAdmin[models.HoldoutTicket]):
    list_display = ("ticket", "holdout", "arm", "drawn_at")
    list_filter = ("arm",)
    raw_id_fields = ("ticket",)
