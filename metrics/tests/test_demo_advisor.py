"""On the demo MSP the rollout advisor ranks the quick wins above the long tail, and says why."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from metrics.advisor import opportunities
from tickets.models import TicketType

NOW = dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def demo(db: None, settings: Any) -> None:
    settings.DEBUG = True
    quiet = {"stdout": StringIO()}
    call_command(
        "seed_demo",
        "--tickets",
        "3000",
        "--now",
        NOW.isoformat(),
        "--force",
        "--no-progress",
        **quiet,
    )
    call_command("seed_metrics_demo", "--no-progress", **quiet)


def test_the_quick_wins_rank_above_the_long_tail_for_reasons_given(demo: None) -> None:
    _start, _end, rows = opportunities(today=NOW.date())
    overall = [row for row in rows if row.client_id is None]
    quick = set(TicketType.objects.filter(is_quick_win=True).values_list("name", flat=True))
    with_playbook = [row for row in overall if row.playbook]
    assert with_playbook and all(row.type_name in quick for row in with_playbook)
    ranks = {row.type_name: row.rank for row in overall}
    worst_quick = max(ranks[row.type_name] for row in with_playbook)
    long_tail = [row for row in overall if row.type_name not in quick]
    assert long_tail and all(ranks[row.type_name] > worst_quick for row in long_tail)
    top = overall[0]
    assert top.playbook and f"the {top.playbook} playbook resolves it end to end" in top.sentence
    assert "tickets a week" in top.sentence and "technician minutes each" in top.sentence
    assert all("no playbook yet" in row.sentence for row in long_tail)
