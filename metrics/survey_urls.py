"""The satisfaction survey's public pages (`metrics/survey_views.py`): reached from the
survey e-mail by a requester without an account; the token in the path is the credential."""

from django.urls import path

from metrics import survey_views

urlpatterns = [
    path("csat/<str:token>/", survey_views.csat_follow_up, name="csat_follow_up"),
    path("csat/<str:token>/<int:score>/", survey_views.csat_answer, name="csat_answer"),
]
