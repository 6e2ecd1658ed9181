"""Shared set-up for automation tests."""

from __future__ import annotations

from automation.pipeline import pipeline_run, pipeline_run_many
from governance.models import Action


def by_dispatch(action: Action) -> bool:
    return action.proposer_name.startswith("dispatch-")


def triage_run(*, ticket_id: int) -> list[Action]:
    """The pipeline's proposals other than dispatch's (dispatch has its own tests)."""
    return [a for a in pipeline_run(ticket_id=ticket_id) if not by_dispatch(a)]


def triage_run_many(*, ticket_ids: list[int]) -> dict[int, list[Action]]:
    return {
        ticket_id: [a for a in actions if not by_dispatch(a)]
        for ticket_id, actions in pipeline_run_many(ticket_ids=ticket_ids).items()
    }
