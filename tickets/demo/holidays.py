"""Public holidays for the demo MSP's business-hours arithmetic: pure date rules, no Django.

The MSP is in London, so the holidays every client shares are the bank holidays of England
and Wales (with their substitute days). An Irish client also closes on Ireland's own days.
One-off holidays (coronations, jubilees, moved May Days) are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

SUBSTITUTE = " (substitute day)"
MONDAY, FRIDAY, SATURDAY = 0, 4, 5


def easter_sunday(year: int) -> dt.date:
    """The Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    rest = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * rest) // 451
    month, day = divmod(h + rest - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _first_monday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(MONDAY - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=last.weekday())


def _observed(fixed: list[tuple[dt.date, str]]) -> list[tuple[dt.date, str]]:
    """Fixed-date holidays, each on a weekend moved to the next weekday not already taken
    (Christmas on a Saturday: Monday and Tuesday are the substitute days)."""
    taken = {day for day, _name in fixed if day.weekday() < SATURDAY}
    days: list[tuple[dt.date, str]] = []
    for day, name in fixed:
        if day.weekday() < SATURDAY:
            days.append((day, name))
            continue
        moved = day
        while moved.weekday() >= SATURDAY or moved in taken:
            moved += dt.timedelta(days=1)
        taken.add(moved)
        days.append((moved, name + SUBSTITUTE))
    return days


def england_and_wales(year: int) -> list[tuple[dt.date, str]]:
    """The year's bank holidays in England and Wales, in date order."""
    easter = easter_sunday(year)
    days = [
        *_observed([(dt.date(year, 1, 1), "New Year's Day")]),
        (easter - dt.timedelta(days=2), "Good Friday"),
        (easter + dt.timedelta(days=1), "Easter Monday"),
        (_first_monday(year, 5), "Early May bank holiday"),
        (_last_monday(year, 5), "Spring bank holiday"),
        (_last_monday(year, 8), "Summer bank holiday"),
        *_observed(
            [(dt.date(year, 12, 25), "Christmas Day"), (dt.date(year, 12, 26), "Boxing Day")]
        ),
    ]
    return sorted(days)


def ireland_only(year: int) -> list[tuple[dt.date, str]]:
    """Ireland's public holidays that England and Wales do not share, in date order."""
    first_february = dt.date(year, 2, 1)
    brigid = first_february if first_february.weekday() == FRIDAY else _first_monday(year, 2)
    october = _last_monday(year, 10)
    days = [
        (brigid, "Saint Brigid's Day"),
        *_observed([(dt.date(year, 3, 17), "Saint Patrick's Day")]),
        (_first_monday(year, 6), "June bank holiday"),
        (_first_monday(year, 8), "August bank holiday"),
        (october, "October bank holiday"),
    ]
    return sorted(days)


def between(
    calendar: Callable[[int], list[tuple[dt.date, str]]], first: dt.date, last: dt.date
) -> Iterator[tuple[dt.date, str]]:
    """A calendar's holidays (`england_and_wales`, `ireland_only`) from `first` to `last`,
    both included, in date order."""
    for year in range(first.year, last.year + 1):
        yield from ((day, name) for day, name in calendar(year) if first <= day <= last)
