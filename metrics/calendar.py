"""Business-hours arithmetic over a client's working calendar, with no database.

The metrics app uses these functions for time to resolution in business hours and for whether a
ticket was resolved after hours.

A business window is one open local date's ``start``–``end``, each end localised with zoneinfo
(``fold=0``) and converted to a UTC instant. Every function here agrees on those windows, so an
08:00–18:00 day is ten hours of local clock time even on a DST-change day, and
``is_business_time(c, m)`` holds exactly when ``business_seconds(c, m, m + 1s)`` is positive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_DAY = dt.timedelta(days=1)
_ONE_SECOND = dt.timedelta(seconds=1)
_SEARCH_LIMIT = dt.timedelta(days=3 * 366)
_WEEKDAYS = frozenset(range(1, 8))


@dataclass(frozen=True)
class BusinessCalendar:
    """When a client is open: ISO weekdays, local opening hours and closed local dates.

    Construction raises ValueError for an unknown timezone, weekdays outside 1–7, or hours that
    do not end after they start on the same day.
    """

    timezone: str
    days: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"Unknown IANA timezone {self.timezone!r}.") from error
        if not self.days <= _WEEKDAYS:
            raise ValueError(f"Business days must be ISO weekdays 1–7, got {sorted(self.days)}.")
        if self.end <= self.start:
            raise ValueError("Business hours must end after they start on the same day.")

    @classmethod
    def from_days_string(
        cls,
        *,
        timezone: str,
        business_days: str,
        start: dt.time,
        end: dt.time,
        holidays: Iterable[dt.date] = (),
    ) -> BusinessCalendar:
        """Build a calendar from the Client model's weekday digits, e.g. ``"12345"``."""
        if not set(business_days) <= set("1234567"):
            raise ValueError(
                f"Business days must be ISO weekday digits 1–7, got {business_days!r}."
            )
        return cls(
            timezone=timezone,
            days=frozenset(int(digit) for digit in business_days),
            start=start,
            end=end,
            holidays=frozenset(holidays),
        )


def _utc(moment: dt.datetime) -> dt.datetime:
    # Same-tzinfo datetimes compare and subtract by wall clock, which is wrong across DST.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"Expected a timezone-aware datetime, got naive {moment.isoformat()}.")
    return moment.astimezone(dt.UTC)


def _windows(
    calendar: BusinessCalendar, first: dt.datetime, last: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The UTC [opening, closing) windows, in order, of the open local dates around first–last."""
    zone = ZoneInfo(calendar.timezone)
    # A day of margin each side: an end localised inside a DST gap can spill into the next date.
    day = first.astimezone(zone).date() - _ONE_DAY
    stop = last.astimezone(zone).date() + _ONE_DAY
    while day <= stop:
        if day.isoweekday() in calendar.days and day not in calendar.holidays:
            opening = dt.datetime.combine(day, calendar.start, tzinfo=zone)
            closing = dt.datetime.combine(day, calendar.end, tzinfo=zone)
            yield opening.astimezone(dt.UTC), closing.astimezone(dt.UTC)
        day += _ONE_DAY


def is_business_time(calendar: BusinessCalendar, moment: dt.datetime) -> bool:
    """Whether an aware moment falls in a business window: an open local date, start <= t < end.

    Raises ValueError for a naive datetime.
    """
    instant = _utc(moment)
    return any(
        opening <= instant < closing for opening, closing in _windows(calendar, instant, instant)
    )


def business_seconds(calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> int:
    """Whole seconds of business time in [start, end) of real elapsed time; 0 when end <= start.

    Loops once per local date, so multi-year spans stay cheap. Raises ValueError for naive input.
    """
    start, end = _utc(start), _utc(end)
    if end <= start:
        return 0
    total = dt.timedelta()
    for opening, closing in _windows(calendar, start, end):
        total += max(min(end, closing) - max(start, opening), dt.timedelta())
    return total // _ONE_SECOND


def next_business_moment(calendar: BusinessCalendar, moment: dt.datetime) -> dt.datetime:
    """The moment itself (in UTC) if it is business time, else the next window's opening in UTC.

    Raises ValueError for a naive datetime, a calendar without business days, or when no
    business window opens within three years (every open day a holiday).
    """
    instant = _utc(moment)
    if not calendar.days:
        raise ValueError("The calendar has no business days, so it never opens.")
    for opening, closing in _windows(calendar, instant, instant + _SEARCH_LIMIT):
        if instant < closing:
            return max(opening, instant)
    raise ValueError(
        f"No business window opens within 3 years after {instant.isoformat()}; "
        "every business day in that span is a holiday."
    )
