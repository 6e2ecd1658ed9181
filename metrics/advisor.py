"""The rollout advisor: which ticket types to automate first, from the MSP's own history.

For each ticket type (and each type at each client) over the last 12 complete weeks:
volume, technician handling time, how consistently the work is done, how well it is
documented, how risky it is, and how sure the classifier is about it — then an estimate of
technician hours a week automation could reclaim at acceptable risk, explained in a sentence.

Estimate = weekly volume × reclaimable minutes × automatable share × documentation factor,
where the reclaimable minutes are the median technician minutes of a ticket a person handled
when a playbook resolves the type end to end, and at most 5 minutes otherwise (without a
playbook, automation saves the triage, routing, acknowledgement and the technician's brief);
the automatable share is the share of technician-handled tickets worked the type's most
common way (the same sequence of steps) among requesters who are neither VIP nor
privileged; the documentation factor is 1 with a knowledge article updated in the last 12
months, 0.75 with only older ones and 0.5 with none. A type is *high risk*
when more than 20% of its tickets involve a high-risk action or a VIP/privileged requester
(automate with approval only), *medium* above 5%.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Avg, Count, F, Max, Q
from django.utils import timezone

from automation.models import TriagePrediction
from automation.playbooks.catalogue import PLAYBOOKS
from governance.kinds import KINDS
from governance.models import Action, AgentPolicy
from metrics.models import AdvisorReport, Path, TicketFact
from metrics.selectors import Median
from tickets.models import Client, KnowledgeArticle, TicketEvent, TicketType

WINDOW_WEEKS = 12
SAMPLE_PER_TYPE = 300
CONFIDENT = 0.8
STALE_AFTER = dt.timedelta(days=365)
HIGH_RISK_SHARE, MEDIUM_RISK_SHARE = 0.2, 0.05
ASSIST_MINUTES = 5.0
MIN_HUMAN_SAMPLE = 10
PLAYBOOK_BY_TYPE = {slug: p.title for p in PLAYBOOKS for slug in p.ticket_types}
WORK_KINDS = frozenset(
    {
        TicketEvent.Kind.REPLY,
        TicketEvent.Kind.NOTE,
        TicketEvent.Kind.STATUS_CHANGED,
        TicketEvent.Kind.ASSIGNMENT_CHANGED,
        TicketEvent.Kind.ACTION,
        TicketEvent.Kind.PLAYBOOK,
        TicketEvent.Kind.REQUESTER_REPLY,
    }
)
RESOLUTION_TEXT_KINDS = (TicketEvent.Kind.REPLY, TicketEvent.Kind.NOTE)
HIGH_RISK_KINDS = sorted(key for key, kind in KINDS.items() if kind.risk == "high")


@dataclass
class Opportunity:
    """One ticket type's case for automation (client None: every client)."""

    type_id: int
    type_name: str
    client_id: int | None
    client_name: str
    resolved: int
    weekly_volume: float
    handling_minutes: float | None
    path_share: float | None
    note_similarity: float | None
    reassignment_rate: float
    reopen_rate: float
    kb_articles: int
    kb_updated: str | None
    kb_factor: float
    vip_share: float
    high_risk_action_share: float
    classifier_confidence: float | None
    classifier_coverage: float | None
    automatable_share: float
    playbook: str
    risk: str
    hours_per_week: float
    policy_id: int | None = None
    rank: int = 0
    sentence: str = ""


def _window(today: dt.date) -> tuple[dt.date, dt.date]:
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(weeks=WINDOW_WEEKS), monday


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _fact_rows(start: dt.datetime, end: dt.datetime, by_client: bool) -> list[dict[str, Any]]:
    keys = ["ticket_type_id", "client_id"] if by_client else ["ticket_type_id"]
    resolved = Q(resolved_at__gte=start, resolved_at__lt=end)
    facts = TicketFact.objects.filter(ticket_type__isnull=False)
    if by_client:
        facts = facts.filter(client__isnull=False)
    return list(
        facts.filter(resolved | Q(opened_at__gte=start, opened_at__lt=end))
        .values(*keys)
        .annotate(
            opened=Count("pk", filter=Q(opened_at__gte=start, opened_at__lt=end)),
            resolved=Count("pk", filter=resolved),
            handling=Median("technician_minutes", filter=resolved & Q(path=Path.HUMAN)),
            reassigned=Count("pk", filter=resolved & Q(reassignments__gt=0)),
            reopened=Count("pk", filter=resolved & Q(reopened_7d=True)),
            vip=Count(
                "pk",
                filter=resolved
                & (Q(ticket__contact__is_vip=True) | Q(ticket__contact__is_privileged=True)),
            ),
        )
        .order_by()
    )


def _risky_tickets(start: dt.datetime, end: dt.datetime) -> dict[tuple[int, int | None], int]:
    """Tickets with a high-risk action proposed, per (type, client)."""
    rows = (
        Action.objects.filter(kind__in=HIGH_RISK_KINDS, created_at__gte=start, created_at__lt=end)
        .values("ticket__type_id", "ticket__client_id")
        .annotate(tickets=Count("ticket_id", distinct=True))
        .order_by()
    )
    return {(r["ticket__type_id"], r["ticket__client_id"]): r["tickets"] for r in rows}


def _articles(today: dt.date) -> dict[int, tuple[int, dt.datetime | None, bool]]:
    """Per type: published articles, the latest update, and whether one is current."""
    recent = timezone.now() - STALE_AFTER
    rows = (
        KnowledgeArticle.objects.filter(is_published=True)
        .values("ticket_types")
        .annotate(
            n=Count("id"),
            latest=Max("updated_at"),
            current=Count("id", filter=Q(updated_at__gte=recent)),
        )
        .order_by()
    )
    return {
        r["ticket_types"]: (r["n"], r["latest"], r["current"] > 0)
        for r in rows
        if r["ticket_types"] is not None
    }


def _classifier(start: dt.datetime, end: dt.datetime) -> dict[int, tuple[float, float]]:
    """Per type: mean confidence of type predictions on its tickets, and the share of its
    tickets predicted correctly at confidence ≥ 0.8."""
    rows = (
        TriagePrediction.objects.filter(
            target="type", created_at__gte=start, created_at__lt=end, ticket__type__isnull=False
        )
        .values("ticket__type_id")
        .annotate(
            mean_confidence=Avg("confidence"),
            n=Count("ticket_id", distinct=True),
            right=Count(
                "ticket_id",
                distinct=True,
                filter=Q(label=F("ticket__type__slug"), confidence__gte=CONFIDENT),
            ),
        )
        .order_by()
    )
    return {
        r["ticket__type_id"]: (r["mean_confidence"], r["right"] / r["n"]) for r in rows if r["n"]
    }


def _signature(events: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The steps a ticket took: work events as kind/actor, repeats collapsed."""
    steps: list[str] = []
    for kind, actor in events:
        if kind not in WORK_KINDS or actor == TicketEvent.ActorKind.SYSTEM:
            continue
        step = f"{kind}:{'person' if actor == TicketEvent.ActorKind.HUMAN else actor}"
        if not steps or steps[-1] != step:
            steps.append(step)
    return tuple(steps)


def _consistency(
    type_id: int, start: dt.datetime, end: dt.datetime
) -> tuple[float | None, float | None]:
    """(share worked the most common way, how alike the resolution texts are: mean cosine to
    their centroid) over a sample of the type's resolved tickets that technicians handled —
    how alike people's work is — or of all of them when too few were (already automated)."""
    facts = TicketFact.objects.filter(
        ticket_type_id=type_id, resolved_at__gte=start, resolved_at__lt=end
    ).order_by("-resolved_at")
    ids = list(facts.filter(path=Path.HUMAN).values_list("ticket_id", flat=True)[:SAMPLE_PER_TYPE])
    if len(ids) < MIN_HUMAN_SAMPLE:
        ids = list(facts.values_list("ticket_id", flat=True)[:SAMPLE_PER_TYPE])
    if not ids:
        return None, None
    events: dict[int, list[tuple[str, str]]] = defaultdict(list)
    texts: dict[int, str] = {}
    rows = (
        TicketEvent.objects.filter(ticket_id__in=ids)
        .order_by("ticket_id", "occurred_at", "id")
        .values_list("ticket_id", "kind", "actor_kind", "body")
    )
    for ticket_id, kind, actor, body in rows:
        events[ticket_id].append((kind, actor))
        if kind in RESOLUTION_TEXT_KINDS and actor != TicketEvent.ActorKind.REQUESTER and body:
            texts[ticket_id] = body  # the last reply or note: how it was resolved
    signatures = Counter(_signature(events[i]) for i in ids)
    path_share = signatures.most_common(1)[0][1] / len(ids)
    return path_share, _similarity(list(texts.values()))


def _similarity(texts: Sequence[str]) -> float | None:
    if len(texts) < 2:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: only when ranking

    try:
        matrix = TfidfVectorizer(min_df=1, sublinear_tf=True).fit_transform(texts)
    except ValueError:  # no words at all
        return None
    centroid = matrix.mean(axis=0).A1
    norm = float((centroid**2).sum() ** 0.5)
    if norm == 0:
        return None
    return float((matrix @ (centroid / norm)).mean())


def _risk(vip_share: float, risky_share: float) -> str:
    worst = max(vip_share, risky_share)
    if worst > HIGH_RISK_SHARE:
        return "high"
    return "medium" if worst > MEDIUM_RISK_SHARE else "low"


def _kb(found: tuple[int, dt.datetime | None, bool] | None) -> tuple[int, str | None, float]:
    if found is None:
        return 0, None, 0.5
    count, latest, current = found
    return count, latest.date().isoformat() if latest else None, 1.0 if current else 0.75


@dataclass(frozen=True)
class _Inputs:
    """What every row's estimate reads besides its own aggregates."""

    names: dict[int, str]
    slugs: dict[int, str]
    clients: dict[int, str]
    risky: dict[tuple[int, int | None], int]
    articles: dict[int, tuple[int, dt.datetime | None, bool]]
    classifier: dict[int, tuple[float, float]]


def _opportunity(
    row: dict[str, Any], inputs: _Inputs, consistency: tuple[float | None, float | None]
) -> Opportunity:
    names, clients, risky = inputs.names, inputs.clients, inputs.risky
    articles, classifier = inputs.articles, inputs.classifier
    type_id, client_id = row["ticket_type_id"], row.get("client_id")
    resolved = row["resolved"]
    if client_id is None:
        risky_count = sum(n for (t, _c), n in risky.items() if t == type_id)
    else:
        risky_count = risky.get((type_id, client_id), 0)
    vip_share = row["vip"] / resolved if resolved else 0.0
    risky_share = min(1.0, risky_count / resolved) if resolved else 0.0
    path_share, similarity = consistency
    kb_count, kb_updated, kb_factor = _kb(articles.get(type_id))
    automatable = (path_share or 0.0) * (1 - vip_share)
    handling = row["handling"]
    weekly = row["opened"] / WINDOW_WEEKS
    playbook = PLAYBOOK_BY_TYPE.get(inputs.slugs.get(type_id, ""), "")
    minutes = (handling or 0.0) if playbook else min(handling or 0.0, ASSIST_MINUTES)
    hours = weekly * minutes / 60 * automatable * kb_factor
    confidence, coverage = classifier.get(type_id, (None, None))
    return Opportunity(
        type_id=type_id,
        type_name=names.get(type_id, str(type_id)),
        client_id=client_id,
        client_name=clients.get(client_id, "") if client_id else "",
        resolved=resolved,
        weekly_volume=round(weekly, 1),
        handling_minutes=round(handling, 1) if handling is not None else None,
        path_share=round(path_share, 3) if path_share is not None else None,
        note_similarity=round(similarity, 3) if similarity is not None else None,
        reassignment_rate=round(row["reassigned"] / resolved, 3) if resolved else 0.0,
        reopen_rate=round(row["reopened"] / resolved, 3) if resolved else 0.0,
        kb_articles=kb_count,
        kb_updated=kb_updated,
        kb_factor=kb_factor,
        vip_share=round(vip_share, 3),
        high_risk_action_share=round(risky_share, 3),
        classifier_confidence=round(confidence, 3) if confidence is not None else None,
        classifier_coverage=round(coverage, 3) if coverage is not None else None,
        automatable_share=round(automatable, 3),
        playbook=playbook,
        risk=_risk(vip_share, risky_share),
        hours_per_week=round(hours, 2),
    )


def explain(o: Opportunity) -> str:
    """The ranking in one sentence a manager can check."""
    parts = [
        f"{o.weekly_volume:g} tickets a week",
        f"{o.handling_minutes:.0f} technician minutes each"
        if o.handling_minutes
        else "no time logged",
    ]
    if o.path_share is not None:
        parts.append(f"{o.path_share:.0%} worked the same way")
    if o.note_similarity is not None:
        parts.append(f"resolution notes {o.note_similarity:.0%} alike")
    parts.append(
        f"{o.kb_articles} KB article{'s' if o.kb_articles != 1 else ''} (updated {o.kb_updated})"
        if o.kb_articles
        else "no KB article"
    )
    risk = {
        "low": "low risk",
        "medium": "some risk",
        "high": "high risk — approval only",
    }[o.risk]
    if o.vip_share or o.high_risk_action_share:
        risk += (
            f" ({o.vip_share:.0%} VIP or privileged,"
            f" {o.high_risk_action_share:.0%} high-risk actions)"
        )
    parts.append(risk)
    if o.classifier_coverage is not None:
        parts.append(f"the classifier is sure and right on {o.classifier_coverage:.0%}")
    parts.append(
        f"the {o.playbook} playbook resolves it end to end"
        if o.playbook
        else "no playbook yet, so automation saves only the triage, routing and acknowledgement"
        f" (about {ASSIST_MINUTES:g} minutes a ticket)"
    )
    return f"{', '.join(parts)}: about {o.hours_per_week:.1f} technician hours a week to reclaim."


def _ranked(items: list[Opportunity]) -> list[Opportunity]:
    """Acceptable risk first, most hours first; high risk after, still by hours."""
    items.sort(key=lambda o: (o.risk == "high", -o.hours_per_week, o.type_name))
    for rank, item in enumerate(items, start=1):
        item.rank = rank
        item.sentence = explain(item)
    return items


def opportunities(*, today: dt.date | None = None) -> tuple[dt.date, dt.date, list[Opportunity]]:
    """Every type's opportunity (client None), then each type at each client."""
    start_day, end_day = _window(today or timezone.localdate())
    start, end = _aware(start_day), _aware(end_day)
    names = dict(TicketType.objects.values_list("id", "name"))
    clients = dict(Client.objects.values_list("id", "name"))
    policies = dict(
        AgentPolicy.objects.filter(client__isnull=True, ticket_type__isnull=False).values_list(
            "ticket_type_id", "id"
        )
    )
    shared = _Inputs(
        names=names,
        slugs=dict(TicketType.objects.values_list("id", "slug")),
        clients=clients,
        risky=_risky_tickets(start, end),
        articles=_articles(end_day),
        classifier=_classifier(start, end),
    )
    overall = _fact_rows(start, end, by_client=False)
    consistency = {
        row["ticket_type_id"]: _consistency(row["ticket_type_id"], start, end) for row in overall
    }
    rows = _ranked(
        [_opportunity(row, shared, consistency[row["ticket_type_id"]]) for row in overall]
    )
    per_client = _ranked(
        [
            _opportunity(row, shared, consistency.get(row["ticket_type_id"], (None, None)))
            for row in _fact_rows(start, end, by_client=True)
        ]
    )
    for item in [*rows, *per_client]:
        item.policy_id = policies.get(item.type_id)
    return start_day, end_day, [*rows, *per_client]


def advisor_report_generate(*, today: dt.date | None = None) -> AdvisorReport:
    """Compute and store the ranking (the scheduled job; the page reads the stored rows)."""
    started = time.perf_counter()
    start, end, rows = opportunities(today=today)
    return AdvisorReport.objects.create(
        generated_at=timezone.now(),
        generation_ms=(time.perf_counter() - started) * 1000,
        window_start=start,
        window_end=end,
        rows=[asdict(row) for row in rows],
    )
