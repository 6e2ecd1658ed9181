"""Shared set-up for automation tests."""

from __future__ import annotations

from automation.pipeline import pipeline_run, pipeline_run_many
from governance import services
from governance.models import Action
from tests.fixtures import World
from tickets.models import TicketType


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


def type_with_policy(
    world: World, slug: str, modes: dict[str, str], *, shadow: bool = False
) -> TicketType:
    """The ticket type `slug` (made if need be) with an all-clients policy of `modes`."""
    ticket_type, _ = TicketType.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    policy = services.policy_create(
        ticket_type=ticket_type, client=None, staff=world.manager, shadow_mode=shadow
    )
    rules = [services.RuleInput(action_kind=kind, mode=mode) for kind, mode in modes.items()]
    services.policy_save(policy=policy, staff=world.manager, shadow_mode=shadow, rules=rules)
    return ticket_type
