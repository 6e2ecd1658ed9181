from django.contrib.auth import views as auth_views
from django.urls import path

from tickets import inbox_views, portal_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("portal/", portal_views.portal, name="portal"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:ticket_id>/notes/", views.ticket_note_add, name="ticket_note_add"),
    path("clients/", views.client_list, name="client_list"),
    path("clients/<int:client_id>/", views.client_detail, name="client_detail"),
    path("intake/inbox/", inbox_views.inbox_list, name="inbox_list"),
    path("intake/inbox/<int:event_id>/", inbox_views.inbox_detail, name="inbox_detail"),
    path("intake/inbox/<int:event_id>/replay/", inbox_views.inbox_replay, name="inbox_replay"),
]
