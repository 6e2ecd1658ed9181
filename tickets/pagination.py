"""Pagination that stays fast on large tables.

An exact COUNT(*) over hundreds of thousands of tickets costs more than the page itself, and
nobody pages through more than a few thousand rows: they filter. So the count stops at
`cap` (the TICKETS_COUNT_CAP setting), and the page says "more than …" beyond it.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A Paginator whose count is exact up to `cap` rows and `cap + 1` beyond it."""

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, cap: int) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        queryset: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return int(queryset.order_by()[: self.cap + 1].count())

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap
