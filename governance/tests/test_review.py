"""The weekly review and the autonomy ladder: numbers on hand-built data with known answers."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance import gate, review, services
from governance.models import Action, AgentPolicy, PolicyRevision
from governance.tests.helpers import policy_with
from tests.fixtures import World, make_ticket
from tickets.models import Ticket, TicketType, TimeEntry
from tickets.services import Actor, ticket_change

pytestmark = pytest.mark.django_db

WEEK = review.last_completed_week(timezone.now())
IN_WEEK = WEEK.start + dt.timedelta(days=2, hours=10)


def propose_at(
    ticket: Ticket,
    moment: dt.datetime,
    kind: str = "set_priority",
    params: dict[str, Any] | None = None,
    confidence: float = 0.97,
) -> Action:
    proposal = services.Proposal(
        kind=kind,
        params=params if params is not None else {"priority": 1},
        proposer_kind=Action.Proposer.MODEL,
        proposer_name="triage",
        confidence=confidence,
    )
    return services.action_propose(ticket=ticket, proposal=proposal, now=moment)


def new_ticket(world: World, number: int, **fields: Any) -> Ticket:
    fields.setdefault("type", world.ticket_type)
    return make_ticket(world.client, summary=f"t{number}", external_id=f"R-{number}", **fields)


def wilson_by_hand(successes: int, total: int) -> tuple[float, float]:
    """Written out independently of review.wilson_interval, from the textbook form."""
    z = statistics.NormalDist().inv_cdf(0.975)
    p = successes / total
    centre = (successes + z * z / 2) / (total + z * z)
    half = z * math.sqrt(total) / (total + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * total))
    return centre - half, centre + half


def row_for(result: review.WeeklyReview, type_id: int | None) -> review.ReviewRow:
    return next(row for row in result.rows if row.type_id == type_id)


def test_the_wilson_interval_matches_the_textbook_formula() -> None:
    for successes, total in [(8, 10), (0, 10), (10, 10), (40, 40), (5, 5), (37, 52)]:
        interval = review.wilson_interval(successes, total)
        assert interval is not None
        low, high = wilson_by_hand(successes, total)
        assert interval.low == pytest.approx(max(low, 0.0), abs=1e-12)
        assert interval.high == pytest.approx(min(high, 1.0), abs=1e-12)
    assert review.wilson_interval(0, 0) is None


def test_weeks_parse_and_step(world: World) -> None:
    week = review.week_parse("2026-W01")
    assert week.monday == dt.date(2025, 12, 29)
    assert week.previous.param == "2025-W52" and week.next.param == "2026-W02"
    assert week.end - week.start == dt.timedelta(days=7)
    for bad in ("2026-W60", "2026-7", "last week"):
        with pytest.raises(ValidationError):
            review.week_parse(bad)


def test_eight_approved_one_edited_one_rejected_gives_the_rate_and_its_interval(
    world: World,
) -> None:
    policy_with(world, set_priority="approval")
    for _ in range(8):
        services.action_approve(action=propose_at(world.ticket, IN_WEEK), staff=world.tech_in)
    services.action_approve(
        action=propose_at(world.ticket, IN_WEEK), staff=world.tech_in, params={"priority": 2}
    )
    services.action_reject(
        action=propose_at(world.ticket, IN_WEEK), staff=world.tech_in, reason="Not urgent"
    )
    propose_at(world.ticket, IN_WEEK - dt.timedelta(days=7))  # the week before: not counted
    services.action_perform(  # a technician's own change: never counted
        ticket=world.ticket, staff=world.tech_in, kind="set_priority", params={"priority": 4}
    )

    result = review.weekly_review(user=world.manager.user, week=WEEK)

    row = row_for(result, world.ticket_type.id)
    assert (row.proposed, row.approved, row.edited, row.rejected) == (10, 8, 1, 1)
    assert row.decisions == 10 and row.has_enough_decisions
    assert row.approval_rate == pytest.approx(0.8)
    low, high = wilson_by_hand(8, 10)
    assert row.approval_interval is not None
    assert row.approval_interval.low == pytest.approx(low)
    assert row.approval_interval.high == pytest.approx(high)
    assert (row.overridden, row.failed, row.blocked, row.autonomous, row.shadow) == (0,) * 5

    page = world.login(world.manager).get(reverse("weekly_review")).content.decode()
    assert f"{round(low * 100)}–{round(high * 100)}%, n=10" in page
    assert "<strong>80%</strong>" in page


def test_under_ten_decisions_says_so(world: World) -> None:
    policy_with(world, set_priority="approval")
    for _ in range(3):
        services.action_approve(action=propose_at(world.ticket, IN_WEEK), staff=world.tech_in)
    row = row_for(review.weekly_review(user=world.manager.user, week=WEEK), world.ticket_type.id)
    assert not row.has_enough_decisions
    page = world.login(world.manager).get(reverse("weekly_review")).content.decode()
    assert "not enough decisions (n=3)" in page


def test_autonomous_runs_overrides_failures_and_blocks_are_counted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance import executors

    monkeypatch.delitem(executors._REGISTRY, "unlock_account")  # fails at the gate: no tool
    policy_with(
        world,
        set_priority="autonomous",
        unlock_account=("autonomous", {"min_confidence": review.PROMOTE_MIN_LOWER_BOUND}),
    )
    kept = gate.action_execute(action_id=propose_at(new_ticket(world, 1), IN_WEEK).id, now=IN_WEEK)
    undone = gate.action_execute(
        action_id=propose_at(new_ticket(world, 2), IN_WEEK).id, now=IN_WEEK
    )
    services.action_undo(action=undone, staff=world.tech_in)
    corrected = gate.action_execute(
        action_id=propose_at(new_ticket(world, 3), IN_WEEK).id, now=IN_WEEK
    )
    services.action_correct(action=corrected, staff=world.tech_in, value=2)
    failed = propose_at(world.ticket, IN_WEEK, "unlock_account", {"contact": world.contact.id})
    gate.action_execute(action_id=failed.id, now=IN_WEEK)  # no tool connected: fails
    queued = propose_at(new_ticket(world, 4), IN_WEEK)
    services.kill_switch_set(client=None, engaged=True, reason="Drill", staff=world.manager)
    gate.action_execute(action_id=queued.id, now=IN_WEEK)
    assert kept.status == Action.Status.VERIFIED

    row = row_for(review.weekly_review(user=world.manager.user, week=WEEK), world.ticket_type.id)

    assert row.proposed == 5
    assert row.autonomous == 3  # kept, undone, corrected; the one with no tool never ran
    assert row.overridden == 2  # undone, corrected
    assert row.failed == 1
    assert row.blocked == 1
    assert row.decisions == 0


def test_shadow_agreement_compares_with_the_tickets_current_value(world: World) -> None:
    shadowed = TicketType.objects.create(name="Printer", slug="printer")
    services.policy_save(
        policy=services.policy_create(
            ticket_type=shadowed, client=None, staff=world.manager, shadow_mode=True
        ),
        staff=world.manager,
        shadow_mode=True,
        rules=[services.RuleInput(action_kind="set_priority", mode="approval")],
    )
    agree = [new_ticket(world, n, type=shadowed, priority=2) for n in range(3)]
    for ticket in agree:
        propose_at(ticket, IN_WEEK, params={"priority": 2})
    propose_at(new_ticket(world, 9, type=shadowed, priority=4), IN_WEEK, params={"priority": 1})
    untyped = new_ticket(world, 10, type=None)
    propose_at(untyped, IN_WEEK, "add_note", {"body": "Checked the spooler."})

    result = review.weekly_review(user=world.manager.user, week=WEEK)

    row = row_for(result, shadowed.id)
    assert (row.shadow, row.shadow_compared, row.shadow_agreed) == (4, 4, 3)
    assert row.shadow_agreement == pytest.approx(0.75)
    no_type = row_for(result, None)
    assert no_type.proposed == 1 and no_type.type_name == ""
    page = world.login(world.manager).get(reverse("weekly_review")).content.decode()
    assert "No type yet" in page and "75%" in page


def test_time_saved_is_resolved_untouched_tickets_times_the_median_minutes(
    world: World,
) -> None:
    policy_with(world, set_priority="autonomous")
    opened = WEEK.start - dt.timedelta(days=1)
    saved = [new_ticket(world, n, opened_at=opened) for n in range(2)]
    logged = new_ticket(world, 5, opened_at=opened)
    for ticket in [*saved, logged]:
        gate.action_execute(action_id=propose_at(ticket, IN_WEEK).id, now=IN_WEEK)
    Ticket.objects.filter(pk__in=[t.pk for t in [*saved, logged]]).update(
        status=Ticket.Status.RESOLVED, resolved_at=IN_WEEK + dt.timedelta(hours=1)
    )
    TimeEntry.objects.create(ticket=logged, staff=world.tech_in, started_at=IN_WEEK, minutes=45)
    # The baseline: tickets of the type with time in the 90 days before the week.
    for number, minutes in enumerate([[10], [20], [30, 30]]):
        past = new_ticket(world, 20 + number, opened_at=WEEK.start - dt.timedelta(days=30))
        for amount in minutes:
            TimeEntry.objects.create(
                ticket=past,
                staff=world.tech_in,
                started_at=WEEK.start - dt.timedelta(days=20),
                minutes=amount,
            )
    ancient = new_ticket(world, 30, opened_at=WEEK.start - dt.timedelta(days=200))
    TimeEntry.objects.create(
        ticket=ancient,
        staff=world.tech_in,
        started_at=WEEK.start - dt.timedelta(days=120),
        minutes=900,
    )

    row = row_for(review.weekly_review(user=world.manager.user, week=WEEK), world.ticket_type.id)

    assert row.tickets_saved == 2  # the one with a time entry does not count
    assert row.median_minutes == pytest.approx(20)  # per-ticket sums 10, 20, 60
    assert row.minutes_saved == pytest.approx(40)
    page = world.login(world.manager).get(reverse("weekly_review")).content.decode()
    assert "2 tickets × 20 min" in page
    assert "median minutes logged per ticket" in page


def test_the_review_only_counts_actions_in_the_viewers_clients(world: World) -> None:
    policy_with(world, set_priority="approval")
    theirs = make_ticket(world.other_client, summary="x", external_id="O-1", type=world.ticket_type)
    propose_at(world.ticket, IN_WEEK)
    propose_at(theirs, IN_WEEK)
    world.manager.all_clients = False
    world.manager.save()
    world.manager.clients.set([world.client])
    row = row_for(review.weekly_review(user=world.manager.user, week=WEEK), world.ticket_type.id)
    assert row.proposed == 1


def test_a_week_without_actions_shows_the_empty_state(world: World) -> None:
    response = world.login(world.manager).get(reverse("weekly_review") + "?week=2020-W10")
    assert response.status_code == 200
    body = response.content.decode()
    assert "No agent actions in Week 10 of 2020" in body
    assert 'class="gov-review"' not in body


def test_the_default_week_is_the_last_completed_one_with_a_link_back(world: World) -> None:
    response = world.login(world.manager).get(reverse("weekly_review"))
    body = response.content.decode()
    assert response.context["week"] == WEEK
    assert f"?week={WEEK.previous.param}" in body
    assert f"?week={WEEK.next.param}" in body  # the current week, in progress


def test_a_malformed_week_is_a_400_that_says_what_is_accepted(world: World) -> None:
    response = world.login(world.manager).get(reverse("weekly_review") + "?week=2026-W99")
    assert response.status_code == 400
    assert "2026 has no week 99" in response.content.decode()


def test_htmx_week_navigation_returns_only_the_week(world: World) -> None:
    response = world.login(world.manager).get(
        reverse("weekly_review") + f"?week={WEEK.previous.param}", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="week"')
    assert "Autonomy ladder" not in body


def test_technicians_cannot_see_the_review(world: World) -> None:
    response = world.login(world.tech_in).get(reverse("weekly_review"))
    assert response.status_code == 403
    assert "managers and owners" in response.content.decode()


def test_owners_see_the_review_without_ladder_buttons(world: World) -> None:
    policy_with(world, set_priority="approval")
    for _ in range(40):
        services.action_approve(
            action=propose_at(world.ticket, timezone.now()), staff=world.tech_in
        )
    body = world.login(world.owner).get(reverse("weekly_review")).content.decode()
    assert "Promote to autonomous" in body
    assert reverse("ladder_apply") not in body


def _review_queries(world: World) -> int:
    http = world.login(world.manager)
    with CaptureQueriesContext(connection) as captured:
        response = http.get(reverse("weekly_review"))
    assert response.status_code == 200
    return len(captured)


def _busy_type(world: World, number: int) -> None:
    """A type with approvals, a rejection, a shadow proposal, an autonomous run that is
    undone, a resolved ticket that saved time, and time logged before the week."""
    ticket_type = TicketType.objects.create(name=f"Type {number}", slug=f"type-{number}")
    services.policy_save(
        policy=services.policy_create(
            ticket_type=ticket_type, client=None, staff=world.manager, shadow_mode=False
        ),
        staff=world.manager,
        shadow_mode=False,
        rules=[services.RuleInput(action_kind="set_priority", mode="autonomous")],
    )
    opened = WEEK.start - dt.timedelta(days=40)
    tickets = [
        new_ticket(world, number * 100 + n, type=ticket_type, opened_at=opened) for n in range(3)
    ]
    for ticket in tickets:
        run = gate.action_execute(action_id=propose_at(ticket, IN_WEEK).id, now=IN_WEEK)
        for moment in (IN_WEEK, timezone.now()):
            propose_at(ticket, moment, "add_note", {"body": "Looked at it."})
    services.action_undo(action=run, staff=world.tech_in)
    Ticket.objects.filter(pk=tickets[0].pk).update(
        status=Ticket.Status.RESOLVED, resolved_at=IN_WEEK + dt.timedelta(hours=2)
    )
    TimeEntry.objects.create(
        ticket=tickets[1],
        staff=world.tech_in,
        started_at=WEEK.start - dt.timedelta(days=5),
        minutes=25,
    )


def test_the_review_query_count_does_not_grow_with_rows(
    world: World, django_assert_max_num_queries: Any
) -> None:
    _busy_type(world, 1)
    few = _review_queries(world)
    for number in range(2, 7):
        _busy_type(world, number)
    http = world.login(world.manager)
    with django_assert_max_num_queries(few):
        response = http.get(reverse("weekly_review"))
    assert len(response.context["review"].rows) == 6
    assert len(response.context["ladder"].rows) >= 6


# --- the ladder ------------------------------------------------------------------------


def _approve_many(world: World, count: int, *, reject: int = 0) -> None:
    for _ in range(count):
        services.action_approve(
            action=propose_at(world.ticket, timezone.now()), staff=world.tech_in
        )
    for _ in range(reject):
        services.action_reject(
            action=propose_at(world.ticket, timezone.now()), staff=world.tech_in, reason="No"
        )


def _ladder_row(world: World, ticket_type: TicketType | None, kind: str) -> review.LadderRow:
    ladder = review.autonomy_ladder(user=world.manager.user, now=timezone.now())
    type_id = ticket_type.id if ticket_type else None
    return next(row for row in ladder.rows if row.type_id == type_id and row.kind == kind)


def test_forty_approvals_and_no_rejections_recommend_autonomy(world: World) -> None:
    policy_with(world, set_priority="approval")
    _approve_many(world, 40)
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert row.recommendation is not None
    assert (row.recommendation.direction, row.recommendation.to_mode) == ("promote", "autonomous")
    low = wilson_by_hand(40, 40)[0]
    assert f"40 of 40 proposals were approved as proposed (100%; 95% lower bound {low:.2f})" in (
        row.recommendation.reason
    )


def test_five_approvals_are_not_enough_to_promote(world: World) -> None:
    policy_with(world, set_priority="approval")
    _approve_many(world, 5)
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert row.recommendation is None
    assert "5 decisions; a promotion needs 30" in row.note


def test_a_lower_bound_under_the_threshold_does_not_promote(world: World) -> None:
    policy_with(world, set_priority="approval")
    _approve_many(world, 36, reject=4)  # 90% approved, lower bound ≈ 0.77
    assert _ladder_row(world, world.ticket_type, "set_priority").recommendation is None


def test_suggestions_that_match_the_technicians_recommend_approval(world: World) -> None:
    tickets = [new_ticket(world, n, priority=2) for n in range(40)]
    for ticket in tickets:  # set_priority is "suggest" by default
        assert propose_at(ticket, timezone.now(), params={"priority": 2}).status == "suggested"
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert row.recommendation is not None
    assert (row.recommendation.from_mode, row.recommendation.to_mode) == ("suggest", "approval")
    assert "40 of 40 suggestions matched what technicians set" in row.recommendation.reason


def test_autonomous_runs_that_are_undone_recommend_demotion(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    runs = [
        gate.action_execute(action_id=propose_at(new_ticket(world, n), timezone.now()).id)
        for n in range(20)
    ]
    for run in runs[:6]:
        services.action_undo(action=run, staff=world.tech_in)
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert row.recommendation is not None
    assert (row.recommendation.direction, row.recommendation.to_mode) == ("demote", "approval")
    low = wilson_by_hand(6, 20)[0]
    assert f"6 of 20 autonomous runs were undone or corrected (30%; 95% lower bound {low:.2f})" in (
        row.recommendation.reason
    )


def test_reopened_tickets_recommend_demotion(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    tickets = [new_ticket(world, n) for n in range(20)]
    for ticket in tickets:
        gate.action_execute(action_id=propose_at(ticket, timezone.now()).id)
    human = Actor(kind="human", staff=world.tech_in)
    for ticket in tickets[:3]:
        ticket_change(ticket_id=ticket.id, actor=human, changes={"status": "resolved"})
        ticket_change(ticket_id=ticket.id, actor=human, changes={"status": "in_progress"})
    ticket_change(ticket_id=tickets[3].id, actor=human, changes={"status": "resolved"})
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert (row.touched, row.reopened) == (20, 3)
    assert row.recommendation is not None and row.recommendation.direction == "demote"
    assert "3 of 20 tickets it touched were reopened afterwards (15%" in row.recommendation.reason


def test_a_clean_autonomous_record_is_kept(world: World) -> None:
    policy_with(world, set_priority="autonomous")
    for n in range(20):
        gate.action_execute(action_id=propose_at(new_ticket(world, n), timezone.now()).id)
    row = _ladder_row(world, world.ticket_type, "set_priority")
    assert row.recommendation is None
    assert "Keep it" in row.note


def test_applying_a_step_changes_the_policy_and_records_a_revision(world: World) -> None:
    policy = policy_with(
        world, set_priority=("approval", {"min_confidence": review.PROMOTE_MIN_LOWER_BOUND})
    )
    _approve_many(world, 40)
    http = world.login(world.manager)
    response = http.post(
        reverse("ladder_apply"),
        {"ticket_type": world.ticket_type.id, "kind": "set_priority", "mode": "autonomous"},
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.rules.get(action_kind="set_priority").mode == "autonomous"
    revision = PolicyRevision.objects.filter(policy=policy).first()
    assert revision is not None
    assert revision.version == policy.version and revision.changed_by == world.manager
    assert "Needs approval → Autonomous" in revision.summary
    verdict = gate.verdict(
        ticket=world.ticket,
        kind="set_priority",
        params={"priority": 1},
        confidence=0.97,
        proposer_kind="model",
        now=timezone.now(),
    )
    assert verdict.mode == "autonomous"
    follow = http.get(reverse("weekly_review")).content.decode()
    assert "Set priority on Password reset is now autonomous: saved as version 3." in follow


def test_applying_a_step_on_a_type_without_a_policy_creates_one_like_the_default(
    world: World,
) -> None:
    default = services.policy_create(
        ticket_type=None, client=None, staff=world.manager, shadow_mode=True
    )
    services.policy_save(
        policy=default,
        staff=world.manager,
        shadow_mode=True,
        rules=[services.RuleInput(action_kind="set_queue", mode="approval", limit_total_hour=7)],
    )
    response = world.login(world.manager).post(
        reverse("ladder_apply"),
        {"ticket_type": world.ticket_type.id, "kind": "set_queue", "mode": "autonomous"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="ladder"')
    created = AgentPolicy.objects.get(ticket_type=world.ticket_type, client=None)
    assert created.shadow_mode is True  # the type stays in shadow like the default
    rule = created.rules.get(action_kind="set_queue")
    assert (rule.mode, rule.limit_total_hour) == ("autonomous", 7)
    assert list(created.revisions.values_list("version", flat=True)) == [2, 1]


def test_non_managers_cannot_apply_a_step(world: World) -> None:
    policy = policy_with(world, set_priority="approval")
    for staff in (world.tech_in, world.owner):
        response = world.login(staff).post(
            reverse("ladder_apply"),
            {"ticket_type": world.ticket_type.id, "kind": "set_priority", "mode": "autonomous"},
        )
        assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.rules.get(action_kind="set_priority").mode == "approval"
    assert PolicyRevision.objects.filter(policy=policy).count() == 2


def test_a_bad_step_is_a_400_naming_the_field(world: World) -> None:
    response = world.login(world.manager).post(
        reverse("ladder_apply"), {"ticket_type": "", "kind": "format_disk", "mode": "autonomous"}
    )
    assert response.status_code == 400
    assert "Action kind" in response.content.decode()
    assert not AgentPolicy.objects.exists()
