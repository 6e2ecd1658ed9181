"""The pipeline for one ticket: triage predicts, and each prediction that would change the
ticket becomes a proposal to the governance gate, which decides whether it is applied on its
own, waits for a technician, or is only shown. Running it twice on the same ticket and model
version proposes nothing new (proposals are keyed by model version and target)."""

from __future__ import annotations

from collections.abc import Sequence

from automation.models import TriagePrediction
from automation.services import triage_predict_many
from governance.kinds import KINDS, ticket_field_value
from governance.models import Action
from governance.services import Proposal, action_propose
from tickets.models import Priority, Queue, Ticket, TicketType

# target -> (action kind, its parameter)
TARGET_ACTIONS = {
    "type": ("set_type", "ticket_type"),
    "priority": ("set_priority", "priority"),
    "queue": ("set_queue", "queue"),
}


def pipeline_run(*, ticket_id: int) -> list[Action]:
    """Triage one open ticket and propose what should change. Finished tickets are left
    alone; a prediction that matches the ticket already proposes nothing."""
    return pipeline_run_many(ticket_ids=[ticket_id]).get(ticket_id, [])


def pipeline_run_many(*, ticket_ids: Sequence[int]) -> dict[int, list[Action]]:
    """The pipeline for a batch of tickets (predictions are made per model in one batch)."""
    tickets = list(
        Ticket.objects.select_related("type", "queue", "client")
        .filter(pk__in=ticket_ids)
        .exclude(status__in=Ticket.DONE_STATUSES)
    )
    predictions = triage_predict_many(tickets=tickets)
    label_ids = _label_ids()
    actions: dict[int, list[Action]] = {}
    for ticket in tickets:
        actions[ticket.id] = []
        for prediction in predictions[ticket.id]:
            proposal = _proposal(ticket, prediction, label_ids)
            if proposal is not None:
                actions[ticket.id].append(action_propose(ticket=ticket, proposal=proposal))
    return actions


def _proposal(
    ticket: Ticket, prediction: TriagePrediction, label_ids: dict[str, dict[str, int]]
) -> Proposal | None:
    kind, param = TARGET_ACTIONS[prediction.target]
    # None when the predicted type or queue no longer exists (or is inactive).
    value = label_ids[prediction.target].get(prediction.label)
    if value is None or value == ticket_field_value(ticket, KINDS[kind].field_name):
        return None
    scores = ", ".join(
        f"{label} {score:.2f}"
        for label, score in [(prediction.label, prediction.confidence), *prediction.alternatives]
    )
    source = "LLM" if prediction.source == TriagePrediction.Source.LLM else "local classifier"
    return Proposal(
        kind=kind,
        params={param: value},
        proposer_kind=Action.Proposer.MODEL,
        proposer_name=f"triage-{prediction.target}",
        model_version=prediction.model_version,
        confidence=prediction.confidence,
        rationale=(
            f"The {source} reads this ticket as {prediction.target} “{prediction.label}” "
            f"with confidence {prediction.confidence:.2f}."
        ),
        evidence=[
            {"kind": "classifier", "label": "Classifier scores", "detail": scores},
            {
                "kind": "model",
                "label": "Model",
                "detail": f"{prediction.model_version} ({prediction.latency_ms:.0f} ms)",
            },
        ],
        dedupe_key=f"triage:{prediction.model_version}:{prediction.target}",
    )


def _label_ids() -> dict[str, dict[str, int]]:
    """Predicted labels to the ids actions take, loaded once per batch: active type and queue
    slugs, and the priority numbers."""
    return {
        "type": dict(TicketType.objects.filter(is_active=True).values_list("slug", "id")),
        "queue": dict(Queue.objects.filter(is_active=True).values_list("slug", "id")),
        "priority": {str(value): value for value in Priority.values},
    }
