"""Triage by the optional LLM, on top of the local classifier's predictions."""

from __future__ import annotations

from django.conf import settings

from automation.classifier import subtype_label, ticket_text
from automation.llm import llm_classify, llm_enabled
from automation.models import TriageModel, TriagePrediction
from tickets.models import Priority, Queue, Ticket, TicketSubtype, TicketType


def triage_taxonomy() -> dict[str, list[str]]:
    """The labels the LLM may choose from, as the local models name them."""
    return {
        TriageModel.Target.TYPE.value: list(
            TicketType.objects.filter(is_active=True)
            .order_by("slug")
            .values_list("slug", flat=True)
        ),
        TriageModel.Target.SUBTYPE.value: [
            subtype_label(type_slug, name)
            for type_slug, name in TicketSubtype.objects.filter(type__is_active=True)
            .order_by("type__slug", "name")
            .values_list("type__slug", "name")
        ],
        TriageModel.Target.PRIORITY.value: [str(value) for value in Priority.values],
        TriageModel.Target.QUEUE.value: list(
            Queue.objects.filter(is_active=True).order_by("slug").values_list("slug", flat=True)
        ),
    }


def llm_triage_predict(
    *,
    ticket: Ticket,
    local: list[TriagePrediction],
    taxonomy: dict[str, list[str]] | None = None,
) -> list[TriagePrediction]:
    """When an LLM is configured, ask it to triage the ticket and record one prediction per
    target it answered; the local prediction of a target it was not asked about (no labels)
    stays. Without an LLM, or when it falls back, `local` is returned unchanged."""
    if not llm_enabled():
        return local
    outcome = llm_classify(
        ticket_text=ticket_text(ticket), taxonomy=taxonomy or triage_taxonomy(), ticket=ticket
    )
    call = outcome.call
    if outcome.fallback or call is None:
        return local
    predicted = TriagePrediction.objects.bulk_create(
        [
            TriagePrediction(
                ticket=ticket,
                source=TriagePrediction.Source.LLM,
                model=None,
                model_version=settings.LLM_MODEL,
                target=target,
                label=prediction.label,
                confidence=round(prediction.confidence, 4),
                alternatives=[],
                latency_ms=call.latency_ms,
                created_at=call.created_at,
            )
            for target, prediction in outcome.predictions.items()
        ]
    )
    kept = [p for p in local if p.target not in outcome.predictions]
    return predicted + kept
