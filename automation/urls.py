"""Manager pages for triage rules (`automation/rule_views.py`), and the one-time link a
requester opens to see a new password (`automation/secret_views.py`)."""

from django.urls import path

from automation import brief_views, rule_views, secret_views

urlpatterns = [
    path("s/<str:token>/", secret_views.one_time_secret, name="one_time_secret"),
    path("tickets/<int:ticket_id>/brief/", brief_views.ticket_brief, name="ticket_brief"),
    path("rules/", rule_views.rule_list, name="rule_list"),
    path("rules/conflicts/", rule_views.rule_conflicts, name="rule_conflicts"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/row/", rule_views.rule_row, name="rule_row"),
    path("rules/preview/", rule_views.rule_preview, name="rule_preview"),
    path("rules/<int:rule_id>/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/move/", rule_views.rule_move, name="rule_move"),
    path("rules/<int:rule_id>/active/", rule_views.rule_set_active, name="rule_set_active"),
    path("rules/<int:rule_id>/delete/", rule_views.rule_delete, name="rule_delete"),
]
