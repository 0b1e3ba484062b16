"""The allocation of adaptive campaigns (app/experiments/thompson.py): the equal-split phase,
the floors, determinism, and P(best) against an independent reference (scipy)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from scipy import integrate, stats

from app.experiments.thompson import Arm, allocate, probability_best, with_floor


def _reference(arms: list[Arm], boolean: bool, optimize: str = "max") -> dict[str, float]:
    """P(i best) = integral of pdf_i * prod_j CDF_j, with scipy's distributions and quadrature."""
    if boolean:
        dists = [stats.beta(1 + a.mean * a.n, 1 + a.n - a.mean * a.n) for a in arms]
    else:
        dists = [stats.norm(a.mean, np.sqrt(a.variance / a.n)) for a in arms]
    result = {}
    for i, arm in enumerate(arms):
        others = [d for j, d in enumerate(dists) if j != i]

        def integrand(x: float, i: int = i, others: list = others) -> float:
            below = [d.cdf(x) if optimize == "max" else d.sf(x) for d in others]
            return float(dists[i].pdf(x) * np.prod(below))

        lo, hi = dists[i].ppf(1e-12), dists[i].ppf(1 - 1e-12)
        result[arm.variant] = integrate.quad(
            integrand, lo, hi, limit=200, points=[dists[i].mean()]
        )[0]
    return result


CASES = [
    ([Arm("a", 30, 0.3), Arm("b", 30, 0.4)], True),
    ([Arm("a", 100, 0.3), Arm("b", 120, 0.35), Arm("c", 90, 0.32)], True),
    ([Arm("a", 5000, 0.30), Arm("b", 5000, 0.31)], True),
    ([Arm("a", 400, 0.3), Arm("b", 20, 0.8)], True),
    ([Arm("a", 40, 0.3, 2.0), Arm("b", 35, 0.5, 1.0)], False),
    ([Arm("a", 50, 4.0, 9.0), Arm("b", 60, 4.2, 16.0), Arm("c", 45, 3.9, 4.0)], False),
]


@pytest.mark.parametrize(("arms", "boolean"), CASES)
@pytest.mark.parametrize("optimize", ["max", "min"])
def test_probability_best_matches_the_reference(
    arms: list[Arm], boolean: bool, optimize: str
) -> None:
    ours = probability_best(arms, boolean=boolean, optimize=optimize)
    reference = _reference(arms, boolean, optimize)
    assert sum(ours.values()) == pytest.approx(1, abs=1e-9)
    for variant, value in reference.items():
        assert ours[variant] == pytest.approx(value, abs=1e-4), (ours, reference)


def test_clear_winner_gets_everything_but_the_floor() -> None:
    arms = [Arm("a", 200, 0.3), Arm("b", 200, 0.8)]
    result = allocate(arms, boolean=True, min_share=0.05, min_samples=30)
    assert result.phase == "adaptive"
    assert result.shares == {"a": 0.05, "b": 0.95}
    assert result.probability_best["b"] > 0.999999


def test_equal_split_until_every_variant_has_min_samples() -> None:
    arms = [Arm("a", 500, 0.1), Arm("b", 29, 0.9), Arm("c", 500, 0.2)]
    result = allocate(arms, boolean=True, min_share=0.05, min_samples=30)
    assert result.phase == "equal_split"
    assert result.shares == {"a": 0.333333, "b": 0.333333, "c": 0.333333}
    assert allocate(arms, boolean=True, min_samples=29).phase == "adaptive"
    assert allocate([], boolean=True).shares == {}


def test_floor_lifts_to_min_share_until_the_decision_is_final() -> None:
    arms = [Arm("a", 300, 0.2), Arm("b", 300, 0.5), Arm("c", 300, 0.21)]
    adaptive = allocate(arms, boolean=True, min_share=0.1, min_samples=30)
    assert min(adaptive.shares.values()) >= 0.1
    assert sum(adaptive.shares.values()) == pytest.approx(1, abs=1e-5)
    final = allocate(arms, boolean=True, min_share=0.1, min_samples=30, final=True)
    assert final.phase == "final"
    assert final.shares["a"] < 0.01 and final.shares["b"] > 0.99


def test_with_floor_keeps_order_and_total() -> None:
    rng = random.Random(3)
    for _ in range(500):
        k = rng.randint(2, 6)
        raw = [rng.random() ** 4 for _ in range(k)]
        shares = {f"v{i}": x / sum(raw) for i, x in enumerate(raw)}
        floor = rng.uniform(0, 1 / k)
        lifted = with_floor(shares, floor)
        assert sum(lifted.values()) == pytest.approx(1, abs=1e-12)
        assert min(lifted.values()) >= floor - 1e-12
        ranked = sorted(shares, key=shares.__getitem__)
        assert all(lifted[a] <= lifted[b] + 1e-12 for a, b in itertools.pairwise(ranked))
        # a share already above the floor is only ever lowered, never raised
        assert all(lifted[v] <= shares[v] + 1e-12 for v in shares if shares[v] >= floor)
    assert with_floor({"a": 1.0, "b": 0.0}, 0.5) == {"a": 0.5, "b": 0.5}


def test_deterministic_for_the_same_aggregates() -> None:
    """Replicas reading the same counts serve identical tables, bit for bit; a sum that differs
    in its last bits (another summation order in ClickHouse) rounds to the same shares."""
    arms = [Arm("a", 137, 0.36496350364963503), Arm("b", 141, 0.4397163120567376)]
    first = allocate(arms, boolean=True)
    assert all(allocate(arms, boolean=True) == first for _ in range(5))
    nudged = [Arm("a", 137, 0.36496350364963503 + 1e-16), Arm("b", 141, 0.4397163120567376)]
    assert allocate(nudged, boolean=True).shares == first.shares


def test_float_metric_without_spread() -> None:
    arms = [Arm("a", 40, 1.0, 0.0), Arm("b", 40, 2.0, 0.0)]
    assert probability_best(arms, boolean=False, optimize="max")["b"] == pytest.approx(1)
    assert probability_best(arms, boolean=False, optimize="min")["a"] == pytest.approx(1)
