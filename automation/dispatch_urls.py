"""Manager pages for dispatch (`automation/dispatch_views.py`)."""

from django.urls import path  # noqa: F401

urlpatterns: list[object] = []
