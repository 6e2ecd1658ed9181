from django.urls import path

from metrics import advisor_views, views

urlpatterns = [
    path("metrics/", views.owner_dashboard, name="metrics_owner"),
    path("metrics/operations/", views.operations_dashboard, name="metrics_operations"),
    path("metrics/tickets/", views.metric_tickets, name="metrics_tickets"),
    path("metrics/export.csv", views.metrics_export, name="metrics_export"),
    path("metrics/trend.json", views.trend_data, name="metrics_trend"),
    path("metrics/baselines/", views.baselines, name="metrics_baselines"),
    path(
        "metrics/baselines/<int:baseline_id>/activate/",
        views.baseline_activate,
        name="metrics_baseline_activate",
    ),
    path("metrics/holdout/", views.holdout_change, name="metrics_holdout"),
    path("metrics/reports/", views.report_list, name="metrics_reports"),
    path("metrics/reports/<int:report_id>/", views.report_detail, name="metrics_report"),
]

urlpatterns += [
    path("metrics/advisor/", advisor_views.advisor, name="metrics_advisor"),
    path(
        "metrics/advisor/types/<int:type_id>/draft-policy/",
        advisor_views.advisor_draft_policy,
        name="metrics_draft_policy",
    ),
    path("metrics/refresh/", advisor_views.reports_refresh, name="metrics_refresh"),
    path("metrics/hygiene/", advisor_views.hygiene, name="metrics_hygiene"),
    path(
        "metrics/hygiene/<slug:key>/", advisor_views.hygiene_records, name="metrics_hygiene_records"
    ),
]
