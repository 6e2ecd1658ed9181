"""Shared set-up for governance tests: policies built through the real services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from governance import services
from governance.models import Action, AgentPolicy
from tests.fixtures import World
from tickets.models import Ticket


def policy_with(
    world: World, *, shadow: bool = False, client: Any = None, **modes: Any
) -> AgentPolicy:
    """A policy for the world's ticket type: `set_priority="autonomous"` or
    `set_priority=("autonomous", {"min_confidence": Decimal("0.8"), ...})`."""
    policy = services.policy_create(
        ticket_type=world.ticket_type, client=client, staff=world.manager, shadow_mode=shadow
    )
    rules = []
    for kind, setting in modes.items():
        mode, extra = (setting, {}) if isinstance(setting, str) else setting
        rules.append(services.RuleInput(action_kind=kind, mode=mode, **extra))
    return services.policy_save(policy=policy, staff=world.manager, shadow_mode=shadow, rules=rules)


def propose(
    ticket: Ticket, kind: str = "set_priority", params: dict[str, Any] | None = None, **extra: Any
) -> Action:
    proposal = services.Proposal(
        kind=kind,
        params=params if params is not None else {"priority": 1},
        proposer_kind=extra.pop("proposer_kind", Action.Proposer.MODEL),
        proposer_name=extra.pop("proposer_name", "triage"),
        confidence=extra.pop("confidence", 0.97),
        model_version=extra.pop("model_version", "v1"),
        rationale=extra.pop("rationale", "Outage words in the summary."),
        **extra,
    )
    return services.action_propose(ticket=ticket, proposal=proposal)


HIGH = Decimal("0.90")
