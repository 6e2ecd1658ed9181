"""Holidays are edited here (they feed business-hours arithmetic); facts, baselines and
reports are derived or frozen, so they are view-only."""

from __future__ import annotations

from django.contrib import admin

from metrics import models
from tickets.admin import ViewOnlyAdmin


@admin.register(models.Holiday)
class HolidayAdmin(admin.ModelAdmin[models.Holiday]):
    list_display = ("date", "name", "client")
    list_filter = ("client",)
    date_hierarchy = "date"
    list_select_related = ("client",)


@admin.register(models.TicketFact)
class TicketFactAdmin(ViewOnlyAdmin[models.TicketFact]):
    list_display = ("ticket", "client", "ticket_type", "path", "resolved_at", "computed_at")
    list_filter = ("path",)
    list_select_related = ("ticket", "client", "ticket_type")
    raw_id_fields = ("ticket",)


@admin.register(models.FactDirty)
class FactDirtyAdmin(ViewOnlyAdmin[models.FactDirty]):
    list_display = ("ticket_id",)


class BaselineValueInline(admin.TabularInline[models.BaselineValue, models.Baseline]):
    model = models.BaselineValue
    extra = 0
    can_delete = False
    readonly_fields = ("metric", "client", "ticket_type", "value", "count")
    fields = readonly_fields

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(models.Baseline)
class BaselineAdmin(ViewOnlyAdmin[models.Baseline]):
    list_display = ("name", "starts_on", "ends_on", "frozen_at", "is_active")
    inlines = (BaselineValueInline,)


@admin.register(models.BaselineValue)
class BaselineValueAdmin(ViewOnlyAdmin[models.BaselineValue]):
    list_display = ("baseline", "metric", "client", "ticket_type", "value", "count")
    list_filter = ("metric",)


@admin.register(models.WeeklyReport)
class WeeklyReportAdmin(ViewOnlyAdmin[models.WeeklyReport]):
    list_display = ("week_starts_on", "generated_at", "sent_at")


@admin.register(models.CsatSurvey)
class CsatSurveyAdmin(ViewOnlyAdmin[models.CsatSurvey]):
    list_display = ("ticket", "email", "sent_at", "answered_at")
    raw_id_fields = ("ticket",)
    exclude = ("token_hash",)


@admin.register(models.AdvisorReport)
class AdvisorReportAdmin(ViewOnlyAdmin[models.AdvisorReport]):
    list_display = ("generated_at", "window_start", "window_end", "generation_ms")


@admin.register(models.HygieneReport)
class HygieneReportAdmin(ViewOnlyAdmin[models.HygieneReport]):
    list_display = ("week_starts_on", "generated_at", "generation_ms")


@admin.register(models.PaybackPlan)
class PaybackPlanAdmin(ViewOnlyAdmin[models.PaybackPlan]):
    list_display = ("created_at", "hourly_cost", "setup_hours", "projected_hours_per_week")
