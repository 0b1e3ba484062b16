"""The allocation of an adaptive campaign (docs/experiments.md, "Adaptive campaigns").

Thompson sampling assigns each new unit to a variant drawn with the probability that the
variant is the best one under the posterior. Instead of drawing per unit, the gateway
computes those probabilities once per update, by numeric integration, and serves them as
weights: the share of new units each variant gets is exactly Thompson sampling's assignment
probability, and the result is a pure function of the per-variant counts and means, so every
replica that reads the same aggregates from ClickHouse computes the same allocation.

Posteriors (flat priors): for a boolean metric Beta(1 + successes, 1 + failures); for a float
metric the normal approximation N(mean, variance / n). ``P(i best)`` is the integral of
``pdf_i(x) * prod_j CDF_j(x)`` (``1 - CDF_j`` when the metric is minimised), evaluated with
the trapezoid rule on a grid that resolves every arm's density (each arm contributes
``GRID_POINTS`` points over its mean +- ``GRID_SDS`` standard deviations).

Around that: an equal split until every variant has ``min_samples`` feedback values, then a
floor of ``min_share`` per variant until the decision is final (``winner`` or
``no_difference``), after which the probabilities are served as they are. Pure Python (no
numpy at run time); a handful of milliseconds per campaign and update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

GRID_POINTS = 400
GRID_SDS = 9.0
# Shares are rounded to this many decimals so that replicas whose sums differ in the last
# bits of a float (ClickHouse may add in another order) still serve identical tables.
DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's feedback: count, mean and sample variance (booleans: mean = success rate)."""

    variant: str
    n: int
    mean: float
    variance: float = 0.0


@dataclass(frozen=True, slots=True)
class Allocation:
    shares: dict[str, float]  # variant -> share of new units, summing to 1
    phase: str  # equal_split | adaptive | final
    probability_best: dict[str, float]  # empty during the equal split


def allocate(
    arms: Sequence[Arm],
    *,
    boolean: bool,
    optimize: str = "max",
    min_share: float = 0.05,
    min_samples: int = 30,
    final: bool = False,
) -> Allocation:
    """The share of new units per variant (in the order of ``arms``)."""
    if not arms:
        return Allocation({}, "equal_split", {})
    if any(arm.n < min_samples for arm in arms):
        equal = 1 / len(arms)
        return Allocation(_rounded({a.variant: equal for a in arms}), "equal_split", {})
    best = probability_best(arms, boolean=boolean, optimize=optimize)
    if final:
        return Allocation(_rounded(best), "final", best)
    return Allocation(_rounded(with_floor(best, min_share)), "adaptive", best)


def with_floor(shares: dict[str, float], floor: float) -> dict[str, float]:
    """Every share raised to at least ``floor``, the difference taken from the shares above it
    in proportion to their size (so the order of the variants never changes)."""
    if floor <= 0 or not shares:
        return dict(shares)
    floor = min(floor, 1 / len(shares))
    fixed: set[str] = set()
    result = dict(shares)
    while True:
        free = [v for v in result if v not in fixed]
        budget = 1 - floor * len(fixed)
        total = sum(shares[v] for v in free)
        for v in free:
            result[v] = budget * shares[v] / total if total > 0 else budget / len(free)
        low = [v for v in free if result[v] < floor]
        if not low:
            return result
        for v in low:
            fixed.add(v)
            result[v] = floor


def probability_best(arms: Sequence[Arm], *, boolean: bool, optimize: str) -> dict[str, float]:
    """P(variant is best) under each variant's posterior, by numeric integration."""
    posteriors = [_beta(arm) if boolean else _normal(arm) for arm in arms]
    grid = sorted({x for p in posteriors for x in p.points()} | ({0.0, 1.0} if boolean else set()))
    cdfs = [p.cdf(grid) for p in posteriors]
    if optimize == "min":
        cdfs = [[1 - c for c in cdf] for cdf in cdfs]
    raw = []
    for i, posterior in enumerate(posteriors):
        density = posterior.pdf(grid)
        mass = _trapezoid(grid, density) or 1.0
        others = [c for j, c in enumerate(cdfs) if j != i]
        values = [density[k] * math.prod(c[k] for c in others) for k in range(len(grid))]
        raw.append(_trapezoid(grid, values) / mass)
    total = sum(raw)
    if total <= 0 or not math.isfinite(total):
        return {arm.variant: 1 / len(arms) for arm in arms}
    return {arm.variant: value / total for arm, value in zip(arms, raw, strict=True)}


class _Posterior:
    centre: float
    spread: float
    low: float = -math.inf
    high: float = math.inf

    def points(self) -> list[float]:
        lo = max(self.low, self.centre - GRID_SDS * self.spread)
        hi = min(self.high, self.centre + GRID_SDS * self.spread)
        step = (hi - lo) / (GRID_POINTS - 1)
        return [lo + k * step for k in range(GRID_POINTS)]

    def pdf(self, grid: list[float]) -> list[float]:
        raise NotImplementedError

    def cdf(self, grid: list[float]) -> list[float]:
        raise NotImplementedError


class _NormalPosterior(_Posterior):
    def __init__(self, centre: float, spread: float) -> None:
        self.centre, self.spread = centre, spread

    def pdf(self, grid: list[float]) -> list[float]:
        s = self.spread
        return [math.exp(-0.5 * ((x - self.centre) / s) ** 2) / s for x in grid]

    def cdf(self, grid: list[float]) -> list[float]:
        scale = self.spread * math.sqrt(2)
        return [0.5 * math.erfc(-(x - self.centre) / scale) for x in grid]


class _BetaPosterior(_Posterior):
    low, high = 0.0, 1.0

    def __init__(self, a: float, b: float) -> None:
        self.a, self.b = a, b
        self.centre = a / (a + b)
        self.spread = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        mode = (a - 1) / (a + b - 2) if a + b > 2 else 0.5
        self._log_peak = self._log_density(mode)

    def _log_density(self, x: float) -> float:
        if (x <= 0 and self.a > 1) or (x >= 1 and self.b > 1):
            return -math.inf
        left = (self.a - 1) * math.log(x) if self.a != 1 else 0.0
        right = (self.b - 1) * math.log1p(-x) if self.b != 1 else 0.0
        return left + right

    def pdf(self, grid: list[float]) -> list[float]:
        # Unnormalized (peak 1): probability_best and cdf divide by the total mass.
        return [math.exp(self._log_density(x) - self._log_peak) for x in grid]

    def cdf(self, grid: list[float]) -> list[float]:
        density = self.pdf(grid)
        running, cumulative = 0.0, [0.0]
        for k in range(1, len(grid)):
            running += (density[k] + density[k - 1]) * (grid[k] - grid[k - 1]) / 2
            cumulative.append(running)
        total = cumulative[-1] or 1.0
        return [c / total for c in cumulative]


def _beta(arm: Arm) -> _Posterior:
    successes = min(max(arm.mean * arm.n, 0.0), float(arm.n))
    return _BetaPosterior(1 + successes, 1 + arm.n - successes)


def _normal(arm: Arm) -> _Posterior:
    spread = math.sqrt(max(arm.variance, 0.0) / max(arm.n, 1))
    # A variant whose ratings are all equal has no spread; give it a sliver so the grid exists.
    return _NormalPosterior(arm.mean, max(spread, 1e-9 * (1 + abs(arm.mean))))


def _trapezoid(grid: list[float], values: list[float]) -> float:
    return sum(
        (values[k] + values[k - 1]) * (grid[k] - grid[k - 1]) / 2 for k in range(1, len(grid))
    )


def _rounded(shares: dict[str, float]) -> dict[str, float]:
    return {v: round(s, DECIMALS) for v, s in shares.items()}
