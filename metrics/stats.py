"""Is a change real? 95% confidence intervals for the difference between two figures, from
the sufficient statistics a figure keeps (count, total, total of squares)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959964


@dataclass(frozen=True)
class Sample:
    """A figure's sufficient statistics, in raw units (seconds, 0/1 hits, …)."""

    count: int
    total: float
    total_squares: float
    is_rate: bool

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def variance_of_mean(self) -> float | None:
        """Squared standard error of the mean (or of the proportion)."""
        if self.count < 2:
            return None
        mean = self.total / self.count
        if self.is_rate:
            return mean * (1 - mean) / self.count
        spread = max(0.0, self.total_squares - self.total * mean) / (self.count - 1)
        return spread / self.count


@dataclass(frozen=True)
class Change:
    """Current minus baseline, with its 95% interval (None when it cannot be computed)."""

    delta: float | None
    low: float | None
    high: float | None
    significant: bool | None
    sentence: str


def change_between(current: Sample, baseline: Sample, *, scale: float = 1.0) -> Change:
    """The difference of two means or rates (Welch / Wald), scaled for display: a rate's
    change is in percentage points when scale is 100."""
    if current.mean is None or baseline.mean is None:
        return Change(None, None, None, None, "No tickets to compare in one of the two periods.")
    delta = (current.mean - baseline.mean) * scale
    var_now, var_then = current.variance_of_mean(), baseline.variance_of_mean()
    if var_now is None or var_then is None:
        return Change(delta, None, None, None, "Too few tickets for a confidence interval.")
    margin = Z95 * math.sqrt(var_now + var_then) * scale
    low, high = delta - margin, delta + margin
    significant = low > 0 or high < 0
    sentence = (
        "The change is statistically significant (95% interval excludes zero)."
        if significant
        else "Not significant: the 95% interval includes zero, so this may be chance."
    )
    return Change(delta, low, high, significant, sentence)
