"""The payback projection: what a rollout should save, from the advisor's estimates and the
manager's costs — and, once automation runs, what the metrics measured instead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from automation.models import LlmCall
from metrics.models import Baseline, PaybackPlan
from metrics.selectors import FactFilter, baseline_active, hours_reclaimed
from tickets.models import StaffMember

WEEKS_PER_MONTH = Decimal(52) / Decimal(12)
MEASURE_WEEKS = 4
CENT, TENTH = Decimal("0.01"), Decimal("0.1")


@dataclass(frozen=True)
class PaybackInputs:
    hourly_cost: Decimal
    product_monthly: Decimal
    llm_monthly: Decimal
    setup_hours: Decimal
    hours_per_week: Decimal


@dataclass(frozen=True)
class Payback:
    hours_per_week: Decimal
    hours_per_month: Decimal
    gross_monthly: Decimal
    costs_monthly: Decimal
    net_monthly: Decimal
    setup_cost: Decimal
    payback_months: Decimal | None

    @property
    def pays(self) -> bool:
        return self.payback_months is not None


def payback_project(inputs: PaybackInputs) -> Payback:
    """Hours a month = hours a week × 52 / 12; savings = hours × cost per hour; net = savings
    minus the product's and the LLM's monthly cost; payback = setup hours × cost per hour ÷
    net monthly savings (None when the rollout does not save money at these costs)."""
    per_month = inputs.hours_per_week * WEEKS_PER_MONTH
    gross = per_month * inputs.hourly_cost
    costs = inputs.product_monthly + inputs.llm_monthly
    net = gross - costs
    setup = inputs.setup_hours * inputs.hourly_cost
    months = (setup / net).quantize(TENTH, ROUND_HALF_UP) if net > 0 else None
    return Payback(
        hours_per_week=inputs.hours_per_week.quantize(TENTH, ROUND_HALF_UP),
        hours_per_month=per_month.quantize(TENTH, ROUND_HALF_UP),
        gross_monthly=gross.quantize(CENT, ROUND_HALF_UP),
        costs_monthly=costs.quantize(CENT, ROUND_HALF_UP),
        net_monthly=net.quantize(CENT, ROUND_HALF_UP),
        setup_cost=setup.quantize(CENT, ROUND_HALF_UP),
        payback_months=months,
    )


@dataclass(frozen=True)
class Measured:
    weeks: int
    hours_per_week: Decimal
    tickets: int
    llm_monthly: Decimal


def payback_measured(
    *, type_ids: list[int], baseline: Baseline | None, today: dt.date | None = None
) -> Measured:
    """Hours reclaimed per week for these types over the last 4 complete weeks (the same
    definition as the ROI page) and the LLM spend of the last 30 days."""
    today = today or timezone.localdate()
    end = today - dt.timedelta(days=today.weekday())
    start = end - dt.timedelta(weeks=MEASURE_WEEKS)
    hours, tickets = Decimal("0"), 0
    for type_id in type_ids:
        saved = hours_reclaimed(
            FactFilter(start=start, end=end, type_id=type_id), user=None, baseline=None
        )
        hours += Decimal(str(saved.hours))
        tickets += saved.tickets
    since = timezone.now() - dt.timedelta(days=30)
    spend = LlmCall.objects.filter(created_at__gte=since).aggregate(total=Sum("cost"))["total"]
    return Measured(
        weeks=MEASURE_WEEKS,
        hours_per_week=(hours / MEASURE_WEEKS).quantize(TENTH, ROUND_HALF_UP),
        tickets=tickets,
        llm_monthly=Decimal(spend or 0).quantize(CENT, ROUND_HALF_UP),
    )


@dataclass(frozen=True)
class Projection:
    """The rollout as projected, what was measured, and the payback at the measured hours."""

    projected: Payback
    measured: Measured
    actual: Payback


def payback_compare(*, data: dict[str, Any], rows: list[dict[str, Any]]) -> Projection:
    """`data`: hourly_cost, product_monthly, llm_monthly, setup_hours and ticket_types (the
    payback form's fields); `rows`: the advisor's every-client rows, whose hours a week the
    chosen types add up to."""
    chosen = {t.id for t in data["ticket_types"]}
    hours = sum(
        (Decimal(str(r["hours_per_week"])) for r in rows if r["type_id"] in chosen), Decimal(0)
    )
    inputs = PaybackInputs(
        hourly_cost=data["hourly_cost"],
        product_monthly=data["product_monthly"],
        llm_monthly=data["llm_monthly"],
        setup_hours=data["setup_hours"],
        hours_per_week=hours,
    )
    measured = payback_measured(type_ids=sorted(chosen), baseline=baseline_active())
    actual = replace(
        inputs, hours_per_week=measured.hours_per_week, llm_monthly=measured.llm_monthly
    )
    return Projection(payback_project(inputs), measured, payback_project(actual))


def payback_plan_defaults(*, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Form data for the last plan, or sensible defaults: the team's average cost per hour
    and the three best types at acceptable risk."""
    plan = PaybackPlan.objects.prefetch_related("ticket_types").first()
    if plan is not None:
        return {
            "hourly_cost": plan.hourly_cost,
            "product_monthly": plan.product_monthly,
            "llm_monthly": plan.llm_monthly,
            "setup_hours": plan.setup_hours,
            "ticket_types": [t.id for t in plan.ticket_types.all()],
        }
    costs = StaffMember.objects.filter(takes_tickets=True).values_list("hourly_cost", flat=True)
    average = sum(costs, Decimal("0")) / len(costs) if costs else Decimal("50")
    return {
        "hourly_cost": average.quantize(CENT),
        "product_monthly": Decimal("500"),
        "llm_monthly": Decimal("100"),
        "setup_hours": Decimal("40"),
        "ticket_types": [row["type_id"] for row in rows if row["risk"] != "high"][:3],
    }


def payback_plan_save(
    *, data: dict[str, Any], staff: StaffMember | None, hours: Decimal
) -> PaybackPlan:
    """Keep the manager's inputs: the next visit starts from them."""
    plan = PaybackPlan.objects.create(
        hourly_cost=data["hourly_cost"],
        product_monthly=data["product_monthly"],
        llm_monthly=data["llm_monthly"],
        setup_hours=data["setup_hours"],
        projected_hours_per_week=float(hours),
        created_at=timezone.now(),
        created_by=staff,
    )
    plan.ticket_types.set(data["ticket_types"])
    return plan
