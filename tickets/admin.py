from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from tickets import models

M = TypeVar("M", bound=Model)


class ClientEmailDomainInline(admin.TabularInline[models.ClientEmailDomain, models.Client]):
    model = models.ClientEmailDomain
    extra = 0


class SiteInline(admin.TabularInline[models.Site, models.Client]):
    model = models.Site
    extra = 0


@admin.register(models.Client)
class ClientAdmin(admin.ModelAdmin[models.Client]):
    list_display = ["name", "identifier", "timezone", "business_start", "business_end", "is_active"]
    list_filter = ["is_active", "timezone"]
    search_fields = ["name", "identifier", "email_domains__domain"]
    prepopulated_fields = {"identifier": ["name"]}
    inlines = [ClientEmailDomainInline, SiteInline]


@admin.register(models.ClientEmailDomain)
class ClientEmailDomainAdmin(admin.ModelAdmin[models.ClientEmailDomain]):
    list_display = ["domain", "client"]
    search_fields = ["domain", "client__name"]
    autocomplete_fields = ["client"]


@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin[models.Site]):
    list_display = ["name", "client"]
    search_fields = ["name", "client__name"]
    autocomplete_fields = ["client"]


@admin.register(models.Contact)
class ContactAdmin(admin.ModelAdmin[models.Contact]):
    list_display = ["full_name", "email", "client", "is_vip", "is_privileged", "is_active"]
    list_filter = ["is_vip", "is_privileged", "is_active", "client"]
    search_fields = ["first_name", "last_name", "email", "directory_username"]
    autocomplete_fields = ["client", "site"]
    list_select_related = ["client"]


@admin.register(models.Asset)
class AssetAdmin(admin.ModelAdmin[models.Asset]):
    list_display = ["hostname", "kind", "client", "primary_contact", "rmm_device_id"]
    list_filter = ["kind", "client"]
    search_fields = ["hostname", "serial_number", "rmm_device_id"]
    autocomplete_fields = ["client", "site", "primary_contact"]
    list_select_related = ["client", "primary_contact"]


class TicketSubtypeInline(admin.TabularInline[models.TicketSubtype, models.TicketType]):
    model = models.TicketSubtype
    extra = 0


@admin.register(models.TicketType)
class TicketTypeAdmin(admin.ModelAdmin[models.TicketType]):
    list_display = ["name", "is_quick_win", "is_active"]
    list_filter = ["is_quick_win", "is_active"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["skills"]
    inlines = [TicketSubtypeInline]


class TicketItemInline(admin.TabularInline[models.TicketItem, models.TicketSubtype]):
    model = models.TicketItem
    extra = 0


@admin.register(models.TicketSubtype)
class TicketSubtypeAdmin(admin.ModelAdmin[models.TicketSubtype]):
    list_display = ["name", "type"]
    list_filter = ["type"]
    search_fields = ["name", "type__name"]
    inlines = [TicketItemInline]


@admin.register(models.TicketItem)
class TicketItemAdmin(admin.ModelAdmin[models.TicketItem]):
    list_display = ["name", "subtype"]
    search_fields = ["name", "subtype__name"]


@admin.register(models.Queue)
class QueueAdmin(admin.ModelAdmin[models.Queue]):
    list_display = ["name", "slug", "is_active"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Skill)
class SkillAdmin(admin.ModelAdmin[models.Skill]):
    search_fields = ["name"]


@admin.register(models.Tag)
class TagAdmin(admin.ModelAdmin[models.Tag]):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class ShiftInline(admin.TabularInline[models.Shift, models.StaffMember]):
    model = models.Shift
    extra = 0


@admin.register(models.StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[models.StaffMember]):
    list_display = [
        "display_name",
        "role",
        "all_clients",
        "hourly_cost",
        "takes_tickets",
        "capacity",
    ]
    list_filter = ["role", "all_clients", "takes_tickets"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["clients", "skills", "queues"]
    list_select_related = ["user"]
    inlines = [ShiftInline]


@admin.register(models.Shift)
class ShiftAdmin(admin.ModelAdmin[models.Shift]):
    list_display = ["staff", "weekday", "starts", "ends"]
    list_filter = ["weekday"]


@admin.register(models.OnCallPeriod)
class OnCallPeriodAdmin(admin.ModelAdmin[models.OnCallPeriod]):
    list_display = ["staff", "starts_at", "ends_at"]
    date_hierarchy = "starts_at"


class SlaTargetInline(admin.TabularInline[models.SlaTarget, models.Contract]):
    model = models.SlaTarget
    extra = 0


@admin.register(models.Contract)
class ContractAdmin(admin.ModelAdmin[models.Contract]):
    list_display = ["name", "client", "kind", "monthly_revenue", "starts_on", "ends_on"]
    list_filter = ["kind"]
    search_fields = ["name", "client__name"]
    autocomplete_fields = ["client"]
    filter_horizontal = ["covered_types"]
    inlines = [SlaTargetInline]


@admin.register(models.SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin[models.SlaTarget]):
    list_display = ["contract", "priority", "response_minutes", "resolution_minutes"]


class ViewOnlyAdmin(admin.ModelAdmin[M]):
    """Lists and detail pages without add, change or delete: for records whose every change
    must go through a service that writes the ticket timeline."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TicketEventInline(admin.TabularInline[models.TicketEvent, models.Ticket]):
    model = models.TicketEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "kind", "actor_kind", "actor_staff", "old_value", "new_value", "body")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Ticket)
class TicketAdmin(ViewOnlyAdmin[models.Ticket]):
    """View-only: a ticket changes through services that record each change on its timeline
    (every metric is computed from it), and tickets enter through intake, never by hand."""

    list_display = [
        "id",
        "summary",
        "client",
        "status",
        "priority",
        "type",
        "assignee",
        "opened_at",
    ]
    list_filter = ["status", "priority", "source", "type", "queue"]
    search_fields = ["summary", "external_id"]
    date_hierarchy = "opened_at"
    raw_id_fields = ["client", "contact", "site", "contract", "assignee", "assets"]
    list_select_related = ["client", "type", "assignee__user"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [TicketEventInline]
    show_full_result_count = False


@admin.register(models.TicketEvent)
class TicketEventAdmin(ViewOnlyAdmin[models.TicketEvent]):
    """Read-only: the timeline is append-only, corrections are new events."""

    list_display = ["ticket", "kind", "actor_kind", "occurred_at"]
    list_filter = ["kind", "actor_kind"]
    raw_id_fields = ["ticket", "actor_staff", "actor_contact"]
    show_full_result_count = False


@admin.register(models.InboxEvent)
class InboxEventAdmin(ViewOnlyAdmin[models.InboxEvent]):
    """Read-only: arrivals are kept as received; managers correct and replay them on the
    inbox page (Intake › Inbox), which records who did."""

    list_display = ["received_at", "channel", "delivery_key", "status"]
    list_filter = ["status", "channel"]
    search_fields = ["delivery_key"]
    raw_id_fields = ["ticket", "corrected_by"]
    show_full_result_count = False


@admin.register(models.TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin[models.TimeEntry]):
    list_display = ["ticket", "staff", "started_at", "minutes", "billable"]
    list_filter = ["billable"]
    raw_id_fields = ["ticket", "staff"]
    date_hierarchy = "started_at"


@admin.register(models.CsatResponse)
class CsatResponseAdmin(admin.ModelAdmin[models.CsatResponse]):
    list_display = ["ticket", "score", "nps", "responded_at"]
    list_filter = ["score"]
    raw_id_fields = ["ticket", "contact"]


@admin.register(models.KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin[models.KnowledgeArticle]):
    list_display = ["title", "client", "is_published", "updated_at"]
    list_filter = ["is_published", "ticket_types"]
    search_fields = ["title", "body"]
    filter_horizontal = ["ticket_types"]


@admin.register(models.TicketAttachment)
class TicketAttachmentAdmin(ViewOnlyAdmin[models.TicketAttachment]):
    """Read-only, without the bytes: attachments are downloaded from the ticket page, where
    client scope applies."""

    list_display = ["filename", "ticket", "size", "content_type", "truncated", "created_at"]
    exclude = ["content"]
    raw_id_fields = ["ticket", "inbox_event"]
    show_full_result_count = False


@admin.register(models.PsaConnection)
class PsaConnectionAdmin(ViewOnlyAdmin[models.PsaConnection]):
    """Read-only and without the sealed secrets: connections are edited on Intake › PSA,
    which never shows a credential back."""

    list_display = ["name", "kind", "is_active", "watermark", "paused_until"]
    exclude = ["credentials_sealed", "webhook_secrets_sealed"]


@admin.register(models.PsaMapping)
class PsaMappingAdmin(ViewOnlyAdmin[models.PsaMapping]):
    """Read-only: mapped on the connection's mapping page, which checks each value."""

    list_display = ["connection", "field", "label", "external_id", "value", "suggested"]
    list_filter = ["connection", "field", "suggested"]
    search_fields = ["label", "external_id"]


@admin.register(models.PsaSyncRun)
class PsaSyncRunAdmin(ViewOnlyAdmin[models.PsaSyncRun]):
    list_display = ["connection", "started_at", "status", "fetched", "stored", "requests"]
    list_filter = ["status", "connection"]
    show_full_result_count = False


@admin.register(models.OutboxItem)
class OutboxItemAdmin(ViewOnlyAdmin[models.OutboxItem]):
    """Read-only: retried or discarded on Intake › PSA › Write-back."""

    list_display = ["created_at", "connection", "ticket", "operation", "status", "attempts"]
    list_filter = ["status", "operation", "connection"]
    raw_id_fields = ["ticket"]
    show_full_result_count = False


@admin.register(models.MailOutbox)
class MailOutboxAdmin(ViewOnlyAdmin[models.MailOutbox]):
    """Read-only: replies waiting for, or refused by, the mail server."""

    list_display = ["next_attempt_at", "ticket", "to", "status", "attempts"]
    list_filter = ["status"]
    raw_id_fields = ["ticket", "event"]
    show_full_result_count = False
