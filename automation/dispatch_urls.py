"""Manager pages for dispatch (`automation/dispatch_views.py`)."""

from django.urls import path

from automation import dispatch_views

urlpatterns = [
    path("dispatch/", dispatch_views.dispatch_board, name="dispatch_board"),
    path("dispatch/policy/", dispatch_views.dispatch_policy_save_view, name="dispatch_policy_save"),
]
