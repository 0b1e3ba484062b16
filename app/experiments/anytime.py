"""Anytime-valid inference: the tuning constants, and the decision read off the statistics.

The statistics themselves (the always-valid p-value and confidence sequence of a mixture SPRT
with a normal mixture, under a normal approximation) are computed in ClickHouse from the same
per-variant aggregates as the fixed-horizon ones (``ANYTIME`` in :mod:`app.experiments.sql`);
``tests/support/anytime_reference.py`` is the Python reference the SQL is tested against.
Method, assumptions and the choice of the mixing variance: docs/experiments.md.

:func:`decide` is plain logic over those figures, so the simulations in
``tests/unit/test_anytime_simulation.py`` exercise this very function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from app.experiments.schema import Decision

# The mixing variance, tau^2 = MIXING_RHO2 * sigma^2 (sigma^2: the metric's per-unit variance).
# tau^2 / V is then MIXING_RHO2 / (1/n + 1/n_control): 8 at 1,000 ratings per arm, where the
# confidence sequence is narrowest (1.55x a fixed-horizon 95% CI). It stays within 1.2x of the
# narrowest from ~125 to ~100,000 ratings per arm.
MIXING_RHO2 = 0.016
# An effect smaller than this many standard deviations of the metric counts as no difference.
EQUIVALENCE_SD = 0.1
# Below this many ratings in an arm the normal approximation is not trusted for a decision.
MIN_SAMPLES = 30

METHOD = (
    "mixture SPRT on the difference of means vs the control, normal approximation, "
    f"normal mixture with variance tau^2 = {MIXING_RHO2} sigma^2; winner at always-valid "
    f"p < alpha / comparisons; no_difference when every confidence sequence lies within "
    f"+-{EQUIVALENCE_SD} sigma; at least {MIN_SAMPLES} ratings per arm (docs/experiments.md)"
)


class Comparison(msgspec.Struct, frozen=True):
    """One non-control variant against the control, as the SQL reports it."""

    variant: str
    n: int
    control_n: int
    difference: float | None
    p_value: float | None  # always-valid
    low: float | None  # confidence sequence
    high: float | None
    margin: float | None  # equivalence margin


def allocation(weights: Mapping[str, float], active: bool) -> dict[str, float]:
    """The share of new units each variant gets now: the normalized weights of an active
    fixed campaign; nothing while it is paused or ended."""
    total = sum(weights.values())
    return {v: w / total if active and total > 0 else 0.0 for v, w in weights.items()}


def decide(
    comparisons: Sequence[Comparison],
    control: str,
    optimize: str,
    alpha: float,
    sample_ratio_mismatch: bool = False,
) -> Decision:
    """``winner`` when a variant's confidence sequence excludes 0 on the better side (with the
    Bonferroni share alpha / comparisons), or the control when every variant is worse;
    ``no_difference`` when every sequence lies inside its equivalence margin; else ``continue``."""
    if not comparisons:
        return Decision("continue", None, "only one variant: nothing to compare")
    if sample_ratio_mismatch:
        return Decision(
            "continue", None, "sample ratio mismatch: assignment is broken, fix it first"
        )
    fewest = min(comparisons, key=lambda c: min(c.n, c.control_n))
    if min(fewest.n, fewest.control_n) < MIN_SAMPLES or any(
        c.p_value is None or c.low is None for c in comparisons
    ):
        return Decision(
            "continue", None, f"waiting for {MIN_SAMPLES} ratings with some spread per variant"
        )
    threshold = alpha / len(comparisons)
    sign = 1.0 if optimize == "max" else -1.0
    separated = [c for c in comparisons if c.p_value is not None and c.p_value < threshold]
    better = [c for c in separated if sign * (c.difference or 0.0) > 0]
    if better:
        best = max(better, key=lambda c: sign * (c.difference or 0.0))
        return Decision("winner", best.variant, _winner_reason(best, control, threshold))
    if len(separated) == len(comparisons):
        return Decision(
            "winner",
            control,
            f"every variant is worse than the control '{control}' "
            f"(always-valid p < {threshold:.3g} for each)",
        )
    if all(_within_margin(c) for c in comparisons):
        return Decision(
            "no_difference",
            None,
            f"every confidence sequence lies within +-{EQUIVALENCE_SD} standard deviations "
            "of the control",
        )
    return Decision("continue", None, "no variant separates from the control yet")


def _winner_reason(best: Comparison, control: str, threshold: float) -> str:
    return (
        f"'{best.variant}' beats the control '{control}' by {best.difference:+.4g}, "
        f"confidence sequence [{best.low:.4g}, {best.high:.4g}], "
        f"always-valid p {best.p_value:.3g} < {threshold:.3g}"
    )


def _within_margin(c: Comparison) -> bool:
    if c.low is None or c.high is None or c.margin is None:
        return False
    return -c.margin < c.low and c.high < c.margin
