"""The pipeline for one ticket: the manager's triage rules run first, then the classifier
predicts what the rules left open. Each decision that would change the ticket becomes a
proposal to the governance gate, which decides whether it is applied on its own, waits for a
technician, or is only shown. Every rule that matched is on the ticket's timeline.

Running it twice on the same ticket proposes nothing new: rule firings and proposals are
keyed by rule version, model version and target."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError

from automation.models import TriagePrediction, TriageRule
from automation.rules import Firing, action_field, choice_names, facts_for, rules_run
from automation.services import triage_predict_many
from governance.kinds import KINDS, ticket_field_value
from governance.models import Action
from governance.services import Proposal, action_propose
from tickets.models import Priority, Queue, Ticket, TicketEvent, TicketType
from tickets.services import ticket_event_record_once

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
        Ticket.objects.select_related("type", "queue", "client", "contact")
        .prefetch_related("assets", "tags")
        .filter(pk__in=ticket_ids)
        .exclude(status__in=Ticket.DONE_STATUSES)
    )
    rules = list(TriageRule.objects.filter(is_active=True))
    names = choice_names(rules)
    facts = facts_for(tickets)
    predictions = triage_predict_many(tickets=tickets)
    label_ids = _label_ids()
    actions: dict[int, list[Action]] = {}
    for ticket in tickets:
        firings = rules_run(rules, facts[ticket.id], names)
        actions[ticket.id] = [action for firing in firings for action in _fire(ticket, firing)]
        decided = {action_field(action) for firing in firings for action in firing.actions}
        for prediction in predictions[ticket.id]:
            if prediction.target in decided:
                continue  # a manager's rule decided this field
            proposal = _prediction_proposal(ticket, prediction, label_ids)
            if proposal is not None:
                actions[ticket.id].append(action_propose(ticket=ticket, proposal=proposal))
    return actions


def _fire(ticket: Ticket, firing: Firing) -> list[Action]:
    """Propose a matched rule's actions and put the firing on the ticket's timeline."""
    rule = firing.rule
    proposed: list[Action] = []
    refused: list[str] = []
    for action in firing.actions:
        proposal = Proposal(
            kind=action["kind"],
            params=action["params"],
            proposer_kind=Action.Proposer.RULE,
            proposer_name=rule.name,
            confidence=1.0,
            rationale=firing.sentence(),
            evidence=[{"kind": "rule", "label": "Conditions", "detail": "; ".join(firing.reasons)}],
            dedupe_key=f"rule:{rule.id}:v{rule.version}:{action_field(action)}",
        )
        try:
            proposed.append(action_propose(ticket=ticket, proposal=proposal))
        except ValidationError as error:  # e.g. the technician does not serve this client
            refused.append(f"{KINDS[action['kind']].label}: {' '.join(error.messages)}")
    body = firing.sentence() + "".join(f" Could not propose {text}" for text in refused)
    ticket_event_record_once(
        ticket=ticket,
        dedupe_key=f"rule:{rule.id}:v{rule.version}",
        kind=TicketEvent.Kind.RULE_MATCHED,
        actor_kind=TicketEvent.ActorKind.RULE,
        actor_name=rule.name,
        body=body,
        data={
            "rule_id": rule.id,
            "rule_version": rule.version,
            "reasons": firing.reasons,
            "actions": firing.actions,
            "overridden": [
                {"action": action, "by_rule": winner.name} for action, winner in firing.overridden
            ],
            "action_ids": [action.id for action in proposed],
            "refused": refused,
        },
    )
    return proposed


def _prediction_proposal(
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
