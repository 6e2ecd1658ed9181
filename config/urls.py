from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tickets.urls")),
    path("", include("governance.urls")),
    path("", include("automation.urls")),
    path("", include("automation.dispatch_urls")),
    path("", include("metrics.urls")),
    path("", include("metrics.survey_urls")),
    path("api/", include("governance.api_urls")),
]
