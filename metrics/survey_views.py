"""The pages a requester reaches from the satisfaction survey e-mail. No account is needed
(the requester has none); the 256-bit token in the link is the credential. A click on a
score records it once (`metrics.survey.csat_survey_answer`); the page then offers an
optional comment and recommendation score, posted back once. Only the ticket's number and
summary are shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from metrics.models import CsatSurvey
from metrics.survey import (
    COMMENT_MAX_LENGTH,
    NPS_SCORES,
    SCORE_LABELS,
    SCORES,
    ClosedReason,
    SurveyClosed,
    csat_survey_answer,
    csat_survey_by_token,
    csat_survey_closed_reason,
    csat_survey_follow_up,
)

CLOSED_STATUS: dict[ClosedReason, int] = {
    "expired": 410,
    "comment_window": 410,
    "not_answered": 409,
    "commented": 409,
}
NPS_ERROR = "How likely to recommend us: choose a whole number from 0 to 10."


class FollowUpForm(forms.Form):
    comment = forms.CharField(
        label="Anything you would like to tell us? (optional)",
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "max_length": "Comment: at most %(limit_value)d characters; this has %(show_value)d."
        },
    )
    nps = forms.TypedChoiceField(
        label="How likely are you to recommend us to a colleague? (0 = not at all, 10 = very)",
        choices=[(n, str(n)) for n in NPS_SCORES],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": NPS_ERROR},
    )


def _page(request: HttpRequest, state: str, *, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, "metrics/survey.html", {"state": state, **context}, status=status)
    # The page is reached through a secret link: keep it out of caches, referrers and indexes.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _unknown(request: HttpRequest) -> HttpResponse:
    return _page(request, "unknown", status=404)


def _closed(
    request: HttpRequest, token: str, survey: CsatSurvey, reason: ClosedReason
) -> HttpResponse:
    links = [(score, SCORE_LABELS[score]) for score in SCORES]
    context = {"survey": survey, "response": survey.response, "token": token, "links": links}
    return _page(request, reason, status=CLOSED_STATUS[reason], **context)


def _answered(
    request: HttpRequest, token: str, survey: CsatSurvey, *, state: str, form: FollowUpForm
) -> HttpResponse:
    open_ = csat_survey_closed_reason(survey=survey) is None
    context = {"survey": survey, "response": survey.response, "token": token}
    status = 400 if form.is_bound else 200
    return _page(request, state, status=status, form=form if open_ else None, **context)


@require_GET
def csat_answer(request: HttpRequest, token: str, score: int) -> HttpResponse:
    if score not in SCORES:
        return _unknown(request)
    try:
        answer = csat_survey_answer(token=token, score=score)
    except CsatSurvey.DoesNotExist:
        return _unknown(request)
    except SurveyClosed as closed:
        survey = csat_survey_by_token(token=token)
        assert survey is not None
        return _closed(request, token, survey, closed.reason)
    state = "recorded" if answer.recorded else "answered"
    return _answered(request, token, answer.survey, state=state, form=FollowUpForm())


@require_POST
def csat_follow_up(request: HttpRequest, token: str) -> HttpResponse:
    survey = csat_survey_by_token(token=token)
    if survey is None:
        return _unknown(request)
    reason = csat_survey_closed_reason(survey=survey)
    if reason is not None:
        return _closed(request, token, survey, reason)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            response = csat_survey_follow_up(
                token=token, comment=form.cleaned_data["comment"], nps=form.cleaned_data["nps"]
            )
        except CsatSurvey.DoesNotExist:
            return _unknown(request)
        except SurveyClosed as closed:
            return _closed(request, token, survey, closed.reason)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _page(request, "thanked", survey=survey, response=response)
    return _answered(request, token, survey, state="answered", form=form)
