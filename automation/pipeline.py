"""The pipeline for one ticket: the manager's triage rules run first, then the classifier
predicts what the rules left open, then dispatch picks a technician for the queue, type and
priority so decided (unless a rule assigned one). Each decision that would change the
ticket becomes a proposal to the governance gate, which decides whether it is applied on its
own, waits for a technician, or is only shown. Every rule that matched is on the ticket's
timeline.

Running it twice on the same ticket proposes nothing new: rule firings and proposals are
keyed by rule version, model version and target, dispatch by the technician chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from automation.classifier import subtype_label
from automation.dispatch import DispatchInput, dispatch_decide_many, dispatch_proposal
from automation.llm import llm_enabled
from automation.models import PlaybookRun, TriagePrediction, TriageRule
from automation.rules import Firing, action_field, choice_names, facts_for, rules_run
from automation.services import triage_predict_many
from governance.kinds import KINDS, names_cached, ticket_field_value
from governance.models import Action
from governance.services import Proposal, actions_propose
from tickets.models import Priority, Queue, Ticket, TicketEvent, TicketSubtype, TicketType

# target -> (action kind, its parameter)
TARGET_ACTIONS = {
    "type": ("set_type", "ticket_type"),
    "subtype": ("set_subtype", "subtype"),
    "priority": ("set_priority", "priority"),
    "queue": ("set_queue", "queue"),
}


def pipeline_run(*, ticket_id: int) -> list[Action]:
    """Triage one open ticket and propose what should change. Finished tickets are left
    alone; a prediction that matches the ticket already proposes nothing."""
    return pipeline_run_many(ticket_ids=[ticket_id]).get(ticket_id, [])


@dataclass(frozen=True)
class _Planned:
    """One proposal the pipeline will make, and the rule firing it came from (if any)."""

    ticket: Ticket
    proposal: Proposal
    firing: Firing | None = None
    rule_action: dict[str, Any] | None = None


def pipeline_run_many(*, ticket_ids: Sequence[int]) -> dict[int, list[Action]]:
    """The pipeline for a batch of tickets: predictions are made per model in one batch and
    every proposal goes to the gate in one `actions_propose` call."""
    with names_cached():  # rule sentences name types, queues and technicians
        return _run_many(ticket_ids)


def _run_many(ticket_ids: Sequence[int]) -> dict[int, list[Action]]:
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
    planned: list[_Planned] = []
    firings: list[tuple[Ticket, Firing]] = []
    to_dispatch: list[DispatchInput] = []
    awaiting = _awaiting_dispatch([ticket.id for ticket in tickets])
    for ticket in tickets:
        ticket_firings = rules_run(rules, facts[ticket.id], names)
        for firing in ticket_firings:
            firings.append((ticket, firing))
            planned += [
                _Planned(ticket, _rule_proposal(firing, action), firing, action)
                for action in firing.actions
            ]
        decided = _rule_decisions(ticket_firings)
        for prediction in _ordered(predictions[ticket.id]):
            if prediction.target in decided:
                continue  # a manager's rule decided this field
            if prediction.target == "subtype" and decided.get("type", ticket.type_id) != (
                ticket.type_id
            ):
                continue  # the type is changing: its subtype waits for the new type
            proposal = _prediction_proposal(ticket, prediction, label_ids)
            if proposal is not None:
                planned.append(_Planned(ticket, proposal))
                decided[prediction.target] = next(iter(proposal.params.values()))
        if "assignee" not in decided and ticket.id not in awaiting:
            to_dispatch.append(_dispatch_input(ticket, decided))
    decisions = dispatch_decide_many(to_dispatch, now=timezone.now()) if to_dispatch else {}
    planned += [
        _Planned(item.ticket, dispatch_proposal(decision))
        for item in to_dispatch
        if (decision := decisions.get(item.ticket.id)) is not None
    ]
    outcomes = actions_propose(items=[(plan.ticket, plan.proposal) for plan in planned])
    actions: dict[int, list[Action]] = {ticket.id: [] for ticket in tickets}
    fired: dict[int, tuple[list[Action], list[str]]] = {id(f): ([], []) for _, f in firings}
    for plan, outcome in zip(planned, outcomes, strict=True):
        if isinstance(outcome, Action):
            actions[plan.ticket.id].append(outcome)
        if plan.firing is None or plan.rule_action is None:
            continue
        proposed, refused = fired[id(plan.firing)]
        if isinstance(outcome, Action):
            proposed.append(outcome)
        else:  # e.g. the technician does not serve this client
            label = KINDS[plan.rule_action["kind"]].label
            refused.append(f"{label}: {' '.join(outcome.messages)}")
    _firings_record([(ticket, firing, *fired[id(firing)]) for ticket, firing in firings])
    _playbooks_start(tickets)
    return actions


def _playbooks_start(tickets: list[Ticket]) -> None:
    """New requests are acknowledged; tickets whose type is known get their playbook (a
    type decided by a proposal starts it when that proposal settles:
    `playbooks.engine.on_action_settled`)."""
    from automation.playbooks.chores import acknowledge
    from automation.playbooks.engine import playbook_for, playbooks_start
    from governance.gate import policies_preset
    from governance.memo import batch_memo

    with batch_memo(policies_preset(tickets)):  # one policy read for the batch
        acknowledge(tickets)
        playbooks_start([ticket for ticket in tickets if ticket.type_id is not None])
    if settings.AGENT_ENABLED and llm_enabled():
        _agent_queue([t for t in tickets if playbook_for(t) is None])


def _agent_queue(tickets: list[Ticket]) -> None:
    """The LLM agent, once per ticket no playbook covers, in the background."""
    from django_q.tasks import async_task

    for ticket in tickets:
        _, created = PlaybookRun.objects.get_or_create(ticket=ticket, playbook="agent")
        if created:
            async_task("automation.tasks.agent_run", ticket.id, group="agent")


def _rule_decisions(firings: list[Firing]) -> dict[str, Any]:
    """Field -> value the ticket's matched rules decided."""
    return {
        action_field(action): next(iter(action["params"].values()))
        for firing in firings
        for action in firing.actions
    }


def _awaiting_dispatch(ticket_ids: list[int]) -> set[int]:
    """Tickets whose earlier dispatch proposal is still open: re-running the pipeline (a
    re-sync, a requester's reply) must not pile up a second choice beside it."""
    return set(
        Action.objects.filter(
            ticket_id__in=ticket_ids,
            kind="assign",
            proposer_name__startswith="dispatch-",
            status__in=(*Action.OPEN_STATUSES, Action.Status.SUGGESTED, Action.Status.SHADOW),
        ).values_list("ticket_id", flat=True)
    )


def _dispatch_input(ticket: Ticket, decided: dict[str, Any]) -> DispatchInput:
    """Dispatch works on the ticket as rules and triage decided it in this run."""
    return DispatchInput(
        ticket=ticket,
        queue_id=decided.get("queue", ticket.queue_id),
        type_id=decided.get("type", ticket.type_id),
        priority=decided.get("priority", ticket.priority),
    )


def _rule_proposal(firing: Firing, action: dict[str, Any]) -> Proposal:
    rule = firing.rule
    return Proposal(
        kind=action["kind"],
        params=action["params"],
        proposer_kind=Action.Proposer.RULE,
        proposer_name=rule.name,
        confidence=1.0,
        rationale=firing.sentence(),
        evidence=[{"kind": "rule", "label": "Conditions", "detail": "; ".join(firing.reasons)}],
        dedupe_key=f"rule:{rule.id}:v{rule.version}:{action_field(action)}",
    )


def _firings_record(firings: list[tuple[Ticket, Firing, list[Action], list[str]]]) -> None:
    """Each matched rule on its ticket's timeline, once per rule version (a re-run of the
    pipeline adds nothing)."""
    events = [
        TicketEvent(
            ticket=ticket,
            kind=TicketEvent.Kind.RULE_MATCHED,
            actor_kind=TicketEvent.ActorKind.RULE,
            actor_name=firing.rule.name,
            body=firing.sentence() + "".join(f" Could not propose {text}" for text in refused),
            data={
                "rule_id": firing.rule.id,
                "rule_version": firing.rule.version,
                "reasons": firing.reasons,
                "actions": firing.actions,
                "overridden": [
                    {"action": action, "by_rule": winner.name}
                    for action, winner in firing.overridden
                ],
                "action_ids": [action.id for action in proposed],
                "refused": refused,
            },
            dedupe_key=f"rule:{firing.rule.id}:v{firing.rule.version}",
            occurred_at=timezone.now(),
        )
        for ticket, firing, proposed, refused in firings
    ]
    TicketEvent.objects.bulk_create(events, ignore_conflicts=True)


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


def _ordered(predictions: list[TriagePrediction]) -> list[TriagePrediction]:
    """The type before its subtype: a subtype is proposed only under an unchanged type."""
    return sorted(predictions, key=lambda p: p.target != "type")


def _label_ids() -> dict[str, dict[str, int]]:
    """Predicted labels to the ids actions take, loaded once per batch: active type and queue
    slugs, subtypes by type slug and name, and the priority numbers."""
    subtypes = TicketSubtype.objects.filter(type__is_active=True).values_list(
        "type__slug", "name", "id"
    )
    return {
        "type": dict(TicketType.objects.filter(is_active=True).values_list("slug", "id")),
        "subtype": {subtype_label(slug, name): pk for slug, name, pk in subtypes},
        "queue": dict(Queue.objects.filter(is_active=True).values_list("slug", "id")),
        "priority": {str(value): value for value in Priority.values},
    }
