from django.urls import path

from governance import manager_views, views

urlpatterns = [
    # Technicians: the approval queue and what they do with an action.
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("approvals/bulk-approve/", views.actions_bulk_approve, name="actions_bulk_approve"),
    path("actions/<int:action_id>/", views.action_detail, name="action_detail"),
    path("actions/<int:action_id>/approve/", views.action_approve, name="action_approve"),
    path("actions/<int:action_id>/edit/", views.action_edit, name="action_edit"),
    path("actions/<int:action_id>/reject/", views.action_reject, name="action_reject"),
    path("actions/<int:action_id>/undo/", views.action_undo, name="action_undo"),
    path("actions/<int:action_id>/correct/", views.action_correct, name="action_correct"),
    path("tickets/<int:ticket_id>/actions/", views.ticket_actions, name="ticket_actions"),
    path("tickets/<int:ticket_id>/take-over/", views.ticket_take_over, name="ticket_take_over"),
    path("tickets/<int:ticket_id>/hand-back/", views.ticket_hand_back, name="ticket_hand_back"),
    # Everyone: the plain-English action log.
    path("governance/log/", views.action_log, name="action_log"),
    path("governance/log.csv", views.action_log_csv, name="action_log_csv"),
    # Managers: policy, kill switches, weekly review and the autonomy ladder.
    path("governance/policies/", manager_views.policy_list, name="policy_list"),
    path("governance/policies/new/", manager_views.policy_create, name="policy_create"),
    path("governance/policies/<int:policy_id>/", manager_views.policy_edit, name="policy_edit"),
    path("governance/kill-switch/", manager_views.kill_switch, name="kill_switch"),
    path("governance/review/", manager_views.weekly_review, name="weekly_review"),
    path("governance/review/apply/", manager_views.ladder_apply, name="ladder_apply"),
]
