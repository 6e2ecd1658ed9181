from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView

from governance import api
from tickets.api import (
    AlertmanagerIntakeApi,
    EmailIntakeApi,
    NinjaOneIntakeApi,
    TicketIntakeApi,
)
from tickets.psa.webhooks import psa_webhook

urlpatterns: list[URLPattern] = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("intake/tickets/", TicketIntakeApi.as_view(), name="api_intake_ticket"),
    path("intake/alertmanager/", AlertmanagerIntakeApi.as_view(), name="api_intake_alertmanager"),
    path("intake/ninjaone/", NinjaOneIntakeApi.as_view(), name="api_intake_ninjaone"),
    path("intake/email/", EmailIntakeApi.as_view(), name="api_intake_email"),
    path("intake/psa/<int:connection_id>/webhook/", psa_webhook, name="api_psa_webhook"),
    path("governance/approvals/", api.ApprovalQueueApi.as_view(), name="api_approval_queue"),
    path(
        "governance/actions/<int:action_id>/",
        api.ActionDetailApi.as_view(),
        name="api_action_detail",
    ),
    path(
        "governance/actions/<int:action_id>/approve/",
        api.ActionApproveApi.as_view(),
        name="api_action_approve",
    ),
    path(
        "governance/actions/<int:action_id>/reject/",
        api.ActionRejectApi.as_view(),
        name="api_action_reject",
    ),
    path("governance/policies/", api.PolicyListApi.as_view(), name="api_policy_list"),
    path(
        "governance/policies/<int:policy_id>/",
        api.PolicyDetailApi.as_view(),
        name="api_policy_detail",
    ),
]
