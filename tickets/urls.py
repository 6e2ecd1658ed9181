from django.contrib.auth import views as auth_views
from django.urls import path

from tickets import attachment_views, inbox_views, portal_views, views
from tickets.psa import views as psa_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("portal/", portal_views.portal, name="portal"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:ticket_id>/notes/", views.ticket_note_add, name="ticket_note_add"),
    path("tickets/<int:ticket_id>/time/", views.ticket_time_add, name="ticket_time_add"),
    path("clients/", views.client_list, name="client_list"),
    path("clients/<int:client_id>/", views.client_detail, name="client_detail"),
    path("attachments/<int:pk>/", attachment_views.attachment_download, name="attachment_download"),
    path("intake/inbox/", inbox_views.inbox_list, name="inbox_list"),
    path("intake/inbox/<int:event_id>/", inbox_views.inbox_detail, name="inbox_detail"),
    path("intake/inbox/<int:event_id>/replay/", inbox_views.inbox_replay, name="inbox_replay"),
    path("intake/connections/", psa_views.connection_list, name="psa_connection_list"),
    path("intake/connections/new/", psa_views.connection_edit, name="psa_connection_new"),
    path(
        "intake/connections/<int:connection_id>/",
        psa_views.connection_edit,
        name="psa_connection_edit",
    ),
    path(
        "intake/connections/<int:connection_id>/check/",
        psa_views.connection_check,
        name="psa_connection_check",
    ),
    path(
        "intake/connections/<int:connection_id>/sync/",
        psa_views.connection_sync,
        name="psa_connection_sync",
    ),
    path(
        "intake/connections/<int:connection_id>/runs/",
        psa_views.connection_runs,
        name="psa_connection_runs",
    ),
    path("intake/connections/<int:connection_id>/mapping/", psa_views.mapping, name="psa_mapping"),
    path(
        "intake/connections/<int:connection_id>/mapping/load/",
        psa_views.mapping_load,
        name="psa_mapping_load",
    ),
    path(
        "intake/connections/<int:connection_id>/mapping/confirm/",
        psa_views.mapping_confirm,
        name="psa_mapping_confirm",
    ),
    path(
        "intake/connections/<int:connection_id>/mapping/<int:row_id>/",
        psa_views.mapping_row,
        name="psa_mapping_row",
    ),
    path("intake/outbox/", psa_views.outbox_list, name="psa_outbox"),
    path(
        "intake/outbox/<int:item_id>/<str:verb>/",
        psa_views.outbox_act,
        name="psa_outbox_act",
    ),
]
