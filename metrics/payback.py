"""The payback projection: what a rollout should save, from the advisor's estimates and the
manager's costs — and, once automation runs, what the metrics measured instead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.utils import timezone

from automation.models import LlmCall
from metrics.models import Baseline
from metrics.selectors import FactFilter, hours_reclaimed

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
