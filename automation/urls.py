"""Manager pages for triage rules (`automation/rule_views.py`)."""

from django.urls import path  # noqa: F401

urlpatterns: list[object] = []
