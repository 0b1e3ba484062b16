"""Simulations that check the statistics themselves (issue 13; figures in docs/experiments.md).

Each scenario runs 1,000 experiments with fixed seeds, read 20 times (after every 100 ratings
per arm, up to 2,000). The statistics come from the Python reference, which
tests/integration/test_anytime_sql.py holds equal to the SQL to 1e-6; the decisions come
from the gateway's own :func:`app.experiments.anytime.decide`. Monte Carlo error: a share
near alpha over 1,000 runs has a standard error of sqrt(0.05 * 0.95 / 1000) ~ 0.0069.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import special

from app.experiments.anytime import Comparison, decide
from tests.support import anytime_reference as ref

RUNS, LOOKS, PER_LOOK, ALPHA = 1000, 20, 100, 0.05
MC_SE = math.sqrt(ALPHA * (1 - ALPHA) / RUNS)


@dataclass
class Runs:
    """Every look of every run: arrays of shape (RUNS, LOOKS)."""

    stats: dict[str, Any]
    n: Any
    c_n: Any
    p_fixed: Any

    def decisions(self) -> np.ndarray:
        """The status the gateway would report at each look, as 'winner:<variant>' etc."""
        out = np.empty(self.n.shape, dtype=object)
        for run in range(RUNS):
            for look in range(LOOKS):
                comparison = Comparison(
                    variant="b",
                    n=int(self.n[run, look]),
                    control_n=int(self.c_n[run, look]),
                    difference=float(self.stats["difference"][run, look]),
                    p_value=float(self.stats["always_valid_p_value"][run, look]),
                    low=float(self.stats["cs_low"][run, look]),
                    high=float(self.stats["cs_high"][run, look]),
                    margin=float(self.stats["equivalence_margin"][run, look]),
                )
                decision = decide([comparison], "a", "max", ALPHA)
                out[run, look] = f"{decision.status}:{decision.variant}"
        return out

    def covered(self, true_difference: float) -> np.ndarray:
        """Per run: did the confidence sequence hold the true difference at every look?"""
        inside = (self.stats["cs_low"] <= true_difference) & (
            true_difference <= self.stats["cs_high"]
        )
        return np.asarray(inside.all(axis=1))


def _cumulative(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n, mean and sample variance after each block of PER_LOOK values."""
    sums = values.reshape(RUNS, LOOKS, PER_LOOK).sum(axis=2).cumsum(axis=1)
    squares = (values**2).reshape(RUNS, LOOKS, PER_LOOK).sum(axis=2).cumsum(axis=1)
    n = np.broadcast_to(PER_LOOK * np.arange(1, LOOKS + 1), sums.shape).astype(float)
    return n, sums / n, (squares - sums**2 / n) / (n - 1)


def simulate(draw: Any, boolean: bool) -> Runs:
    """``draw(arm, size)`` gives the arm's values; arm 'a' is the control."""
    n, mean, var = _cumulative(draw("b", (RUNS, LOOKS * PER_LOOK)))
    c_n, c_mean, c_var = _cumulative(draw("a", (RUNS, LOOKS * PER_LOOK)))
    if boolean:
        p_fixed = ref.pooled_z_p_value(n, mean, c_n, c_mean)
    else:  # Welch's t at these sizes is the normal test to 3 decimals
        p_fixed = special.erfc(np.abs(mean - c_mean) / np.sqrt(2 * (var / n + c_var / c_n)))
    stats = ref.compare_moments(n, mean, var, c_n, c_mean, c_var, ALPHA, p_fixed)
    return Runs(stats, n, c_n, p_fixed)


def bernoulli(rates: dict[str, float], seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return lambda arm, size: (rng.random(size) < rates[arm]).astype(float)


def exponential(means: dict[str, float], seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return lambda arm, size: rng.exponential(means[arm], size)


@pytest.mark.parametrize(
    ("name", "draw", "boolean"),
    [
        ("boolean 30% vs 30%", bernoulli({"a": 0.3, "b": 0.3}, seed=1), True),
        ("skewed float, exponential mean 1", exponential({"a": 1.0, "b": 1.0}, seed=2), False),
    ],
)
def test_aa_peeking_twenty_times_keeps_false_winners_below_alpha(
    name: str, draw: Any, boolean: bool
) -> None:
    runs = simulate(draw, boolean)
    decisions = runs.decisions()
    false_winner = np.mean([any(d.startswith("winner") for d in row) for row in decisions])
    fixed_inflated = np.mean((runs.p_fixed < ALPHA).any(axis=1))
    coverage = runs.covered(0.0).mean()
    print(
        f"\nA/A {name}: anytime false winner {false_winner:.3f}, fixed-horizon p<0.05 at any "
        f"look {fixed_inflated:.3f}, CS coverage over the run {coverage:.3f}"
    )
    assert false_winner <= ALPHA + 3 * MC_SE
    assert fixed_inflated > 2 * ALPHA  # why the fixed-horizon figures must not be peeked at
    assert coverage >= 1 - ALPHA - 3 * MC_SE


def test_ab_true_lift_is_found_and_covered() -> None:
    lift = 0.06
    runs = simulate(bernoulli({"a": 0.30, "b": 0.30 + lift}, seed=3), boolean=True)
    decisions = runs.decisions()
    found = np.mean([any(d == "winner:b" for d in row) for row in decisions])
    wrong = np.mean([any(d == "winner:a" for d in row) for row in decisions])
    first = [next((k for k, d in enumerate(row) if d == "winner:b"), None) for row in decisions]
    found_at = np.median([PER_LOOK * (k + 1) for k in first if k is not None])
    coverage = runs.covered(lift).mean()
    print(
        f"\nA/B 30% vs 36%: winner b in {found:.3f} of runs (median at {found_at:.0f} ratings "
        f"per arm), winner a in {wrong:.3f}, CS coverage over the run {coverage:.3f}"
    )
    assert found >= 0.8
    assert wrong <= ALPHA
    assert coverage >= 1 - ALPHA - 3 * MC_SE


def test_large_equal_arms_end_with_no_difference() -> None:
    """With enough data an A/A test stops as ``no_difference`` rather than running forever."""
    rng = np.random.default_rng(4)
    n = 20_000
    control, variant = rng.random(n) < 0.3, rng.random(n) < 0.3
    stats = ref.compare_samples(control.astype(float), variant.astype(float), True, ALPHA)
    comparison = Comparison(
        "b",
        n,
        n,
        stats["difference"],
        stats["always_valid_p_value"],
        stats["cs_low"],
        stats["cs_high"],
        stats["equivalence_margin"],
    )
    assert decide([comparison], "a", "max", ALPHA).status == "no_difference"
