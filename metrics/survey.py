"""The satisfaction survey a requester gets after a resolution: one e-mail with five one-click
links (scores 1–5). The link carries a random token of which only a SHA-256 hash is stored;
the first click records the answer (a `CsatResponse` and a `csat_received` event on the
ticket's timeline) and later clicks show it without changing it. For a day after answering,
the requester may add a comment and how likely they are to recommend us (0–10), once.

Sending is a step a scheduled task repeats (`csat_surveys_send`): it asks about resolutions
of the last few days once each, and retries failed mail a few times."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from metrics.models import CsatSurvey
from tickets.models import CsatResponse, Ticket, TicketEvent

log = logging.getLogger(__name__)

ASK_WITHIN = dt.timedelta(days=3)
LINK_LIFETIME = dt.timedelta(days=14)
FOLLOW_UP_WITHIN = dt.timedelta(hours=24)
MAX_ATTEMPTS = 5
COMMENT_MAX_LENGTH = 2000
SCORES = range(1, 6)
NPS_SCORES = range(0, 11)
SCORE_LABELS = {1: "Very poor", 2: "Poor", 3: "OK", 4: "Good", 5: "Great"}

ClosedReason = Literal["expired", "not_answered", "commented", "comment_window"]


class SurveyClosed(Exception):
    """The survey cannot take this answer; `reason` says why."""

    def __init__(self, reason: ClosedReason) -> None:
        super().__init__(reason)
        self.reason: ClosedReason = reason


@dataclass(frozen=True)
class SurveyAnswer:
    """The outcome of a click: `recorded` is False when the survey was answered before, and
    `response` then holds that earlier answer."""

    survey: CsatSurvey
    response: CsatResponse
    recorded: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csat_survey_by_token(*, token: str) -> CsatSurvey | None:
    """The survey a link names, with its ticket and answer; None for an unknown token."""
    return (
        CsatSurvey.objects.select_related("ticket", "response")
        .filter(token_hash=_hash(token))
        .first()
    )


def _tickets_to_ask(moment: dt.datetime) -> QuerySet[Ticket]:
    asked = CsatSurvey.objects.filter(ticket=OuterRef("pk"), resolved_at=OuterRef("resolved_at"))
    answered = CsatResponse.objects.filter(
        ticket=OuterRef("pk"), responded_at__gte=OuterRef("resolved_at")
    )
    return (
        Ticket.objects.filter(
            status__in=Ticket.DONE_STATUSES,
            resolved_at__gte=moment - ASK_WITHIN,
            resolved_at__lte=moment,
            contact__isnull=False,
        )
        .exclude(contact__email="")
        .exclude(Exists(asked))
        .exclude(Exists(answered))
        .select_related("contact")
        .order_by("resolved_at", "id")
    )


def _survey_create(ticket: Ticket, moment: dt.datetime) -> CsatSurvey | None:
    """A survey for the ticket's current resolution; None when a concurrent run made it."""
    assert ticket.contact is not None and ticket.resolved_at is not None
    try:
        with transaction.atomic():
            return CsatSurvey.objects.create(
                ticket=ticket,
                email=ticket.contact.email,
                resolved_at=ticket.resolved_at,
                # The link's token is minted when the mail goes out (`_survey_deliver`); this
                # one is never sent, so the survey answers no link until then.
                token_hash=_hash(secrets.token_urlsafe(32)),
                created_at=moment,
                expires_at=moment + LINK_LIFETIME,
            )
    except IntegrityError:
        return None


def _surveys_due(moment: dt.datetime) -> QuerySet[CsatSurvey]:
    """Unsent surveys still worth sending: not given up on, not expired, and about the
    ticket's current, recent resolution (a reopened ticket is asked after it is resolved
    again)."""
    return CsatSurvey.objects.filter(
        sent_at__isnull=True,
        answered_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
        expires_at__gt=moment,
        resolved_at__gte=moment - ASK_WITHIN,
        ticket__status__in=Ticket.DONE_STATUSES,
        ticket__resolved_at=F("resolved_at"),
    )


def _links(token: str) -> list[tuple[int, str, str]]:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return [
        (score, SCORE_LABELS[score], base + reverse("csat_answer", args=[token, score]))
        for score in SCORES
    ]


def _survey_mail(survey: CsatSurvey, token: str) -> EmailMultiAlternatives:
    ticket = survey.ticket
    summary = " ".join(ticket.summary.split())  # a line break in a header is refused
    context = {
        "ticket": ticket,
        "summary": summary,
        "contact": ticket.contact,
        "links": _links(token),
        "days": LINK_LIFETIME.days,
    }
    mail = EmailMultiAlternatives(
        subject=f"How did we do? [#{ticket.id}] {summary}"[:300],
        body=render_to_string("metrics/survey_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[survey.email],
        # RFC 3834: out-of-office robots should not answer a survey.
        headers={"Auto-Submitted": "auto-generated"},
    )
    mail.attach_alternative(render_to_string("metrics/survey_email.html", context), "text/html")
    return mail


def _survey_deliver(survey_id: int, moment: dt.datetime) -> bool:
    """Send one survey if it is still due and no other run holds it; True when it went out.

    Each attempt mints a new token: the only copy of the token is in the mail, and a failed
    mail never reached anyone. The row stays locked while the mail is sent, so an
    overlapping run skips it rather than sending it twice."""
    with transaction.atomic():
        survey = (
            _surveys_due(moment)
            .filter(pk=survey_id)
            .select_related("ticket__contact")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if survey is None:
            return False
        token = secrets.token_urlsafe(32)
        survey.token_hash, survey.attempts = _hash(token), survey.attempts + 1
        try:
            _survey_mail(survey, token).send()
        except (smtplib.SMTPException, OSError) as error:
            survey.last_error = f"{type(error).__name__}: {error}"[:1000]
            survey.save(update_fields=["token_hash", "attempts", "last_error"])
            if survey.attempts >= MAX_ATTEMPTS:
                log.warning("Survey for ticket %s not sent, giving up: %s", survey.ticket_id, error)
            return False
        survey.sent_at, survey.last_error = moment, ""
        survey.save(update_fields=["token_hash", "attempts", "sent_at", "last_error"])
    return True


def csat_surveys_send(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Ask about recent resolutions: create a survey for each ticket resolved in the last
    three days whose contact has an e-mail address and that was neither asked nor answered
    since that resolution, then send up to `limit` unsent surveys (new ones and failed ones
    with fewer than five attempts). Returns how many mails went out; a re-run sends nothing
    new, and overlapping runs never send one survey twice."""
    moment = now or timezone.now()
    for ticket in _tickets_to_ask(moment)[:limit]:
        _survey_create(ticket, moment)
    due = _surveys_due(moment).order_by("created_at", "id").values_list("pk", flat=True)
    return sum(_survey_deliver(survey_id, moment) for survey_id in list(due[:limit]))


def _requester_event(survey: CsatSurvey, **fields: object) -> TicketEvent:
    ticket = survey.ticket
    # Built here rather than with `ticket_event_record`, which cannot name a contact.
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.CSAT_RECEIVED,
        actor_kind=TicketEvent.ActorKind.REQUESTER,
        actor_contact=ticket.contact,
        **fields,
    )


def _survey_locked(token: str) -> CsatSurvey:
    """The survey behind a link, locked for this transaction; `DoesNotExist` when unknown.

    Its answer and ticket are read after the lock is granted, not joined in the locking
    query: PostgreSQL re-checks only the locked row after a wait, so a joined answer would
    be the one seen before the concurrent click committed (none)."""
    return CsatSurvey.objects.select_for_update().get(token_hash=_hash(token))


def csat_survey_answer(*, token: str, score: int, now: dt.datetime | None = None) -> SurveyAnswer:
    """Record the first click on a survey link: the score as a `CsatResponse` and as a
    `csat_received` event on the ticket's timeline, in one transaction. Later clicks (any
    score, even concurrent ones) change nothing and return the first answer.

    Raises `CsatSurvey.DoesNotExist` for an unknown token, `SurveyClosed("expired")` for an
    unanswered survey past its expiry, and `ValueError` for a score outside 1–5."""
    if score not in SCORES:
        raise ValueError(f"A survey score is 1 to 5, not {score}.")
    moment = now or timezone.now()
    with transaction.atomic():
        survey = _survey_locked(token)
        if survey.response is not None:
            return SurveyAnswer(survey=survey, response=survey.response, recorded=False)
        if survey.expires_at <= moment:
            raise SurveyClosed("expired")
        ticket = survey.ticket
        response = CsatResponse.objects.create(
            ticket=ticket, contact=ticket.contact, score=score, responded_at=moment
        )
        survey.response, survey.answered_at = response, moment
        survey.save(update_fields=["response", "answered_at"])
        _requester_event(
            survey,
            occurred_at=moment,
            new_value=str(score),
            body=f"Rated {score}/5 in the satisfaction survey.",
            data={"score": score, "survey": survey.id, "csat_response": response.id},
            dedupe_key=f"csat-survey:{survey.id}",
        )
    return SurveyAnswer(survey=survey, response=response, recorded=True)


def _follow_up_validate(comment: str, nps: int | None) -> None:
    errors: dict[str, str] = {}
    if len(comment) > COMMENT_MAX_LENGTH:
        errors["comment"] = (
            f"Comment: at most {COMMENT_MAX_LENGTH:,} characters; this has {len(comment):,}."
        )
    if nps is not None and nps not in NPS_SCORES:
        errors["nps"] = "How likely to recommend us: a whole number from 0 to 10."
    if not comment and nps is None:
        errors["comment"] = (
            "Comment: write a few words, or choose how likely you are to recommend us."
        )
    if errors:
        raise ValidationError(errors)


def csat_survey_closed_reason(
    *, survey: CsatSurvey, now: dt.datetime | None = None
) -> ClosedReason | None:
    """Why the requester may not add a comment or a recommendation score now, or None when
    they may: the survey is answered, less than a day ago, and nothing was added yet."""
    moment = now or timezone.now()
    response = survey.response
    if survey.answered_at is None or response is None:
        return "expired" if survey.expires_at <= moment else "not_answered"
    if response.comment or response.nps is not None:
        return "commented"
    if moment >= survey.answered_at + FOLLOW_UP_WITHIN:
        return "comment_window"
    return None


def csat_survey_follow_up(
    *, token: str, comment: str, nps: int | None, now: dt.datetime | None = None
) -> CsatResponse:
    """Add the requester's comment (at most 2,000 characters) and/or recommendation score
    (0–10) to their answer, once, within a day of answering; the addition is recorded as a
    second `csat_received` event. Returns the updated answer.

    Raises `CsatSurvey.DoesNotExist` for an unknown token, `SurveyClosed` when the survey is
    not answered, already has an addition, or was answered more than a day ago, and
    `ValidationError` (by field) for a bad value or an empty submission."""
    text = comment.strip()
    _follow_up_validate(text, nps)
    moment = now or timezone.now()
    with transaction.atomic():
        survey = _survey_locked(token)
        reason = csat_survey_closed_reason(survey=survey, now=moment)
        if reason is not None:
            raise SurveyClosed(reason)
        response = survey.response
        assert response is not None  # csat_survey_closed_reason checked it
        response.comment, response.nps = text, nps
        response.save(update_fields=["comment", "nps"])
        _requester_event(
            survey,
            occurred_at=moment,
            body=text or f"Would recommend us: {nps}/10.",
            data={"nps": nps, "survey": survey.id, "csat_response": response.id},
            dedupe_key=f"csat-survey:{survey.id}:follow-up",
        )
    return response
