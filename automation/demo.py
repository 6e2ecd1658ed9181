"""Demo automation set-up on top of the demo MSP: a handful of triage rules of the kind an MSP
writes first, created through the same service a manager's editor uses. A second run adds
nothing."""

from __future__ import annotations

from typing import Any

from automation.models import TriageRule
from automation.rule_services import RuleInput, rule_create
from tickets.demo.catalogue import L2, NOC
from tickets.models import Priority, Queue, StaffMember, TicketType


def _rules(queues: dict[str, int], types: dict[str, int]) -> list[RuleInput]:
    def c(field: str, op: str, value: Any = None) -> dict[str, Any]:
        return {"field": field, "op": op, "value": value}

    return [
        RuleInput(
            name="Security words are critical",
            description="Phishing, ransomware and breaches go straight to L2, whatever else.",
            match="any",
            conditions=[c("text", "regex", r"phish|ransom|malware|breach|compromised")],
            actions=[
                {"kind": "set_priority", "params": {"priority": Priority.CRITICAL}},
                {"kind": "set_type", "params": {"ticket_type": types["security-incident"]}},
                {"kind": "set_queue", "params": {"queue": queues[L2]}},
            ],
            stop_processing=True,
        ),
        RuleInput(
            name="Backup failures to the NOC",
            description="Backup alerts are the NOC's, not L1's.",
            match="all",
            conditions=[c("text", "regex", r"backup\W+(job\W+)?(failed|failure|error)")],
            actions=[
                {"kind": "set_type", "params": {"ticket_type": types["backup-failure"]}},
                {"kind": "set_queue", "params": {"queue": queues[NOC]}},
            ],
            stop_processing=False,
        ),
        RuleInput(
            name="VIP requesters are high priority",
            description="Partners and directors never wait in the normal queue.",
            match="all",
            conditions=[c("contact_vip", "is", True)],
            actions=[
                {"kind": "set_priority", "params": {"priority": Priority.HIGH}},
                {"kind": "add_tag", "params": {"tag": "VIP"}},
            ],
            stop_processing=False,
        ),
        RuleInput(
            name="After-hours outages get a 4-hour SLA",
            description="Something is down outside the client's hours: the on-call SLA applies.",
            match="all",
            conditions=[c("after_hours", "is", True), c("text", "regex", r"\bdown\b|outage")],
            actions=[
                {"kind": "add_tag", "params": {"tag": "after-hours"}},
                {"kind": "set_sla", "params": {"resolution_minutes": 240}},
            ],
            stop_processing=False,
        ),
    ]


def seed_rules_demo() -> int:
    """Create the demo rules that are missing; returns how many were created."""
    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    queues = dict(Queue.objects.values_list("slug", "id"))
    types = dict(TicketType.objects.values_list("slug", "id"))
    existing = set(TriageRule.objects.values_list("name", flat=True))
    created = 0
    for data in _rules(queues, types):
        if data.name not in existing:
            rule_create(staff=manager, data=data)
            created += 1
    return created
