"""Business-hours arithmetic counts real elapsed time inside each client's local opening hours."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from metrics.calendar import (
    BusinessCalendar,
    business_seconds,
    is_business_time,
    next_business_moment,
)

HOUR = 3600
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def calendar(
    timezone: str = "Europe/Berlin",
    days: str = "12345",
    start: dt.time = dt.time(8),
    end: dt.time = dt.time(18),
    holidays: tuple[dt.date, ...] = (),
) -> BusinessCalendar:
    return BusinessCalendar.from_days_string(
        timezone=timezone, business_days=days, start=start, end=end, holidays=holidays
    )


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=BERLIN)


def test_a_span_inside_one_business_day_counts_its_length() -> None:
    # Wednesday 10:00–13:30.
    assert business_seconds(calendar(), berlin(2026, 3, 4, 10), berlin(2026, 3, 4, 13, 30)) == (
        3 * HOUR + 30 * 60
    )


def test_a_span_from_before_opening_to_after_closing_counts_the_whole_day() -> None:
    assert business_seconds(calendar(), berlin(2026, 3, 4, 6), berlin(2026, 3, 4, 20)) == 10 * HOUR


def test_a_span_outside_opening_hours_counts_nothing() -> None:
    assert business_seconds(calendar(), berlin(2026, 3, 4, 18), berlin(2026, 3, 5, 8)) == 0


def test_the_weekend_is_skipped() -> None:
    # Friday 17:00–18:00 plus Monday 08:00–09:00.
    assert business_seconds(calendar(), berlin(2026, 3, 6, 17), berlin(2026, 3, 9, 9)) == 2 * HOUR


def test_a_holiday_is_closed_all_day() -> None:
    friday, tuesday = berlin(2026, 5, 22, 17), berlin(2026, 5, 26, 9)
    whit_monday = dt.date(2026, 5, 25)
    assert business_seconds(calendar(), friday, tuesday) == 12 * HOUR
    assert business_seconds(calendar(holidays=(whit_monday,)), friday, tuesday) == 2 * HOUR
    assert not is_business_time(calendar(holidays=(whit_monday,)), berlin(2026, 5, 25, 12))


def test_a_saturday_working_client_counts_saturday() -> None:
    saturdays = calendar(days="123456")
    # Friday 17:00–18:00, Saturday 08:00–18:00, Monday 08:00–09:00.
    assert business_seconds(saturdays, berlin(2026, 3, 6, 17), berlin(2026, 3, 9, 9)) == 12 * HOUR
    assert is_business_time(saturdays, berlin(2026, 3, 7, 10))
    assert not is_business_time(saturdays, berlin(2026, 3, 8, 10))


def test_the_same_utc_instants_are_measured_in_each_clients_own_timezone() -> None:
    new_york = calendar("America/New_York", start=dt.time(9), end=dt.time(17))
    tokyo = calendar("Asia/Tokyo", start=dt.time(9), end=dt.time(17))
    # Monday 12:00–20:00 UTC is 07:00–15:00 in New York (EST) and 21:00–05:00 in Tokyo.
    start, end = dt.datetime(2026, 1, 12, 12, tzinfo=UTC), dt.datetime(2026, 1, 12, 20, tzinfo=UTC)
    assert business_seconds(new_york, start, end) == 6 * HOUR
    assert business_seconds(tokyo, start, end) == 0
    # 15:00 UTC is Monday 10:00 in New York and Tuesday 00:00 in Tokyo; 01:00 UTC the reverse.
    assert is_business_time(new_york, dt.datetime(2026, 1, 12, 15, tzinfo=UTC))
    assert not is_business_time(tokyo, dt.datetime(2026, 1, 12, 15, tzinfo=UTC))
    assert not is_business_time(new_york, dt.datetime(2026, 1, 12, 1, tzinfo=UTC))
    assert is_business_time(tokyo, dt.datetime(2026, 1, 12, 1, tzinfo=UTC))


def test_a_window_containing_the_spring_forward_is_one_real_hour_shorter() -> None:
    night = calendar(days="1234567", start=dt.time(0), end=dt.time(6))
    # 2026-03-29 00:00 CET is 23:00 UTC the day before; 06:00 CEST is 04:00 UTC.
    assert business_seconds(night, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 5 * HOUR
    assert business_seconds(night, berlin(2026, 3, 28), berlin(2026, 3, 29)) == 6 * HOUR


def test_a_window_containing_the_fall_back_is_one_real_hour_longer() -> None:
    night = calendar(days="1234567", start=dt.time(0), end=dt.time(6))
    # 2026-10-25 00:00 CEST is 22:00 UTC the day before; 06:00 CET is 05:00 UTC.
    assert business_seconds(night, berlin(2026, 10, 25), berlin(2026, 10, 26)) == 7 * HOUR


def test_a_span_given_in_the_clients_zone_is_measured_in_real_time_across_dst() -> None:
    night = calendar(days="1234567", start=dt.time(0), end=dt.time(6))
    # 01:00 CET (00:00 UTC) to 05:00 CEST (03:00 UTC): four hours on the wall, three real ones.
    assert business_seconds(night, berlin(2026, 3, 29, 1), berlin(2026, 3, 29, 5)) == 3 * HOUR


def test_an_opening_inside_the_spring_forward_gap_keeps_the_winter_offset() -> None:
    # zoneinfo's fold=0 reads the missing 02:30 with the CET offset: 01:30 UTC, i.e. 03:30 CEST.
    gap = calendar(days="1234567", start=dt.time(2, 30), end=dt.time(6))
    assert business_seconds(gap, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * HOUR + 30 * 60
    assert not is_business_time(gap, berlin(2026, 3, 29, 3, 15))


def test_daytime_hours_are_unchanged_on_a_dst_day() -> None:
    every_day = calendar(days="1234567")
    assert business_seconds(every_day, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 10 * HOUR
    assert business_seconds(every_day, berlin(2026, 10, 25), berlin(2026, 10, 26)) == 10 * HOUR


def test_an_empty_or_reversed_span_counts_nothing() -> None:
    moment = berlin(2026, 3, 4, 12)
    assert business_seconds(calendar(), moment, moment) == 0
    assert business_seconds(calendar(), moment, moment - dt.timedelta(hours=2)) == 0


def test_partial_seconds_are_dropped() -> None:
    start = berlin(2026, 3, 4, 12)
    assert business_seconds(calendar(), start, start + dt.timedelta(seconds=1.999)) == 1


def test_business_time_includes_the_opening_and_excludes_the_closing() -> None:
    assert is_business_time(calendar(), berlin(2026, 3, 4, 8))
    assert not is_business_time(calendar(), berlin(2026, 3, 4, 7, 59, 59, 999999))
    assert is_business_time(calendar(), berlin(2026, 3, 4, 17, 59, 59, 999999))
    assert not is_business_time(calendar(), berlin(2026, 3, 4, 18))


def test_the_next_business_moment_after_friday_evening_is_monday_opening_in_utc() -> None:
    # Monday 2026-03-09 08:00 CET.
    result = next_business_moment(calendar(), berlin(2026, 3, 6, 19))
    assert result == dt.datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert result.tzinfo is UTC
    # Across the spring-forward weekend Monday opens at 08:00 CEST.
    after_dst = next_business_moment(calendar(), berlin(2026, 3, 27, 19))
    assert after_dst == dt.datetime(2026, 3, 30, 6, tzinfo=UTC)


def test_the_next_business_moment_of_business_time_is_itself_in_utc() -> None:
    moment = berlin(2026, 3, 4, 12, 34, 56)
    result = next_business_moment(calendar(), moment)
    assert result == moment
    assert result.tzinfo is UTC


def test_the_next_business_moment_before_opening_is_that_days_opening() -> None:
    result = next_business_moment(calendar(), berlin(2026, 3, 4, 6))
    assert result == dt.datetime(2026, 3, 4, 7, tzinfo=UTC)


def test_a_calendar_that_never_opens_is_refused() -> None:
    with pytest.raises(ValueError, match="no business days"):
        next_business_moment(calendar(days=""), berlin(2026, 3, 4, 12))


def test_an_all_holiday_future_stops_searching_after_three_years() -> None:
    mondays = tuple(dt.date(2026, 3, 2) + dt.timedelta(weeks=n) for n in range(52 * 5))
    with pytest.raises(ValueError, match="within 3 years"):
        next_business_moment(calendar(days="1", holidays=mondays), berlin(2026, 3, 4, 12))


@pytest.mark.parametrize(
    "call",
    [
        lambda: is_business_time(calendar(), dt.datetime(2026, 3, 4, 12)),
        lambda: business_seconds(calendar(), dt.datetime(2026, 3, 4, 12), berlin(2026, 3, 5)),
        lambda: business_seconds(calendar(), berlin(2026, 3, 4), dt.datetime(2026, 3, 5, 12)),
        lambda: next_business_moment(calendar(), dt.datetime(2026, 3, 4, 12)),
    ],
)
def test_naive_datetimes_are_refused(call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="weekday digits"):
        calendar(days="1289")
    with pytest.raises(ValueError, match="timezone"):
        calendar("Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="end after"):
        calendar(start=dt.time(18), end=dt.time(8))
    with pytest.raises(ValueError, match="ISO weekdays"):
        BusinessCalendar("UTC", frozenset({0}), dt.time(8), dt.time(18))


def test_the_days_string_becomes_iso_weekdays() -> None:
    built = calendar(days="135", holidays=(dt.date(2026, 1, 1),))
    assert built == BusinessCalendar(
        "Europe/Berlin",
        frozenset({1, 3, 5}),
        dt.time(8),
        dt.time(18),
        frozenset({dt.date(2026, 1, 1)}),
    )


def _reference_seconds(
    cal: BusinessCalendar, start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> int:
    """Step through real time, reading each step's local wall clock; exact for aligned inputs."""
    zone, count, moment = ZoneInfo(cal.timezone), 0, start
    while moment < end:
        local = moment.astimezone(zone)
        open_day = local.isoweekday() in cal.days and local.date() not in cal.holidays
        count += open_day and cal.start <= local.time() < cal.end
        moment += step
    return count * int(step.total_seconds())


def _random_calendar(rng: random.Random, *, whole_hours: bool) -> BusinessCalendar:
    """Opening hours never start or end in 01:00–03:00, where these zones change clocks."""
    opening = rng.choice([0, *range(3, 12)])
    closing = rng.randrange(max(opening + 1, 3), 24)
    start = dt.time(opening, 0 if whole_hours else rng.randrange(60))
    end = dt.time(closing, 0 if whole_hours else rng.randrange(60))
    first = dt.date(2025, 1, 1)
    return BusinessCalendar(
        timezone=rng.choice(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]),
        days=frozenset(rng.sample(range(1, 8), rng.randrange(1, 8))),
        start=start,
        end=end,
        holidays=frozenset(first + dt.timedelta(days=rng.randrange(1200)) for _ in range(30)),
    )


@pytest.mark.parametrize("seed", range(8))
def test_short_spans_match_a_minute_stepping_reference(seed: int) -> None:
    rng = random.Random(seed)
    cal = _random_calendar(rng, whole_hours=False)
    for _ in range(5):
        # Four weeks holding the 2026 spring-forward (or fall-back) in both Europe and the US.
        around = rng.choice(
            [dt.datetime(2026, 3, 5, tzinfo=UTC), dt.datetime(2026, 10, 15, tzinfo=UTC)]
        )
        start = around + dt.timedelta(minutes=rng.randrange(28 * 24 * 60))
        end = start + dt.timedelta(minutes=rng.randrange(4 * 24 * 60))
        step = dt.timedelta(minutes=1)
        assert business_seconds(cal, start, end) == _reference_seconds(cal, start, end, step)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_multi_year_spans_match_an_hour_stepping_reference(seed: int) -> None:
    rng = random.Random(seed)
    cal = _random_calendar(rng, whole_hours=True)
    start = dt.datetime(2025, 1, 1, tzinfo=UTC) + dt.timedelta(hours=rng.randrange(24 * 90))
    end = start + dt.timedelta(hours=rng.randrange(24 * 365 * 2, 24 * 365 * 3))
    step = dt.timedelta(hours=1)
    assert business_seconds(cal, start, end) == _reference_seconds(cal, start, end, step)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_business_time_agrees_with_counting_one_second(seed: int) -> None:
    rng = random.Random(seed)
    cal = _random_calendar(rng, whole_hours=False)
    for _ in range(300):
        moment = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randrange(10**8))
        one_second = business_seconds(cal, moment, moment + dt.timedelta(seconds=1))
        assert is_business_time(cal, moment) == (one_second == 1)
        following = next_business_moment(cal, moment)
        assert following >= moment and is_business_time(cal, following)
        assert business_seconds(cal, moment, following) == 0
