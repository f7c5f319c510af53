"""Small statistics for the side-channel tests, without scipy (not a dependency of Haven).

`mann_whitney_u` is the two-sided Mann-Whitney U test with the normal approximation, tie
correction and continuity correction: what `scipy.stats.mannwhitneyu(x, y,
method="asymptotic")` computes, accurate for the hundreds of samples the tests take.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankTest:
    """The outcome of comparing two samples: U of the first, the two-sided p-value, medians."""

    u: float
    p: float
    median_x: float
    median_y: float

    def __str__(self) -> str:
        return (
            f"U={self.u:.0f} p={self.p:.4g} "
            f"medians {self.median_x / 1000:.1f} µs vs {self.median_y / 1000:.1f} µs"
        )


def _average_ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """The rank of each value (ties share their average rank, from 1), and sum(t³ - t) over
    the sizes t of the groups of ties (the tie correction of the variance)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = shared
        size = end - start + 1
        ties += size**3 - size
        start = end + 1
    return ranks, ties


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> RankTest:
    """Two-sided Mann-Whitney U test of `x` against `y` (see the module docstring)."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _average_ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        p = 1.0
    else:
        z = (abs(u1 - mean) - 0.5) / math.sqrt(variance)
        p = min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))
    return RankTest(u=u1, p=p, median_x=statistics.median(x), median_y=statistics.median(y))
