"""Background entry points for the pipeline."""

from __future__ import annotations

from automation import pipeline
from automation.classifier import NotEnoughHistory
from automation.models import TriageModel
from automation.services import triage_model_train


def triage_retrain() -> dict[str, str]:
    """Weekly: a new version of each target's classifier from the latest history."""
    outcome = {}
    for target in TriageModel.Target.values:
        try:
            outcome[target] = triage_model_train(target=target).version
        except NotEnoughHistory as error:
            outcome[target] = f"not trained: {error}"
    return outcome


def pipeline_run(ticket_id: int) -> int:
    """Triage one ticket and propose its changes to the gate; returns how many proposals."""
    return len(pipeline.pipeline_run(ticket_id=ticket_id))


def pipeline_run_batch(ticket_ids: list[int]) -> int:
    """The pipeline for many tickets (a sync or a burst): one prediction batch per model."""
    return sum(
        len(actions) for actions in pipeline.pipeline_run_many(ticket_ids=ticket_ids).values()
    )


def desk_chores() -> dict[str, int]:
    """Chase and auto-close tickets waiting on customers; escalate SLA risks."""
    from automation.playbooks.chores import chase_and_close, escalate_sla_risk

    return {"chased_or_closed": chase_and_close(), "escalated": escalate_sla_risk()}


def secrets_purge() -> int:
    """Erase one-time secrets that expired unopened."""
    from automation.secrets import secrets_purge as purge

    return purge()


def agent_run(ticket_id: int) -> str:
    """The LLM agent on one ticket no playbook covers."""
    from automation.agent import agent_run as run
    from automation.models import PlaybookRun
    from tickets.models import Ticket

    ticket = Ticket.objects.select_related("client", "type").get(pk=ticket_id)
    if ticket.status in Ticket.DONE_STATUSES:
        return "done already"
    outcome = run(ticket)
    PlaybookRun.objects.filter(ticket=ticket, playbook="agent").update(
        status=PlaybookRun.Status.HANDED_OVER, reason=outcome.summary[:2000] or outcome.stopped
    )
    return outcome.stopped
