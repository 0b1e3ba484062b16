"""The decision rules of app/experiments/anytime.py on hand-made comparisons."""

from __future__ import annotations

from app.experiments.anytime import Comparison, allocation, decide


def comparison(variant: str, difference: float, p: float, half: float = 0.05) -> Comparison:
    return Comparison(variant, 500, 500, difference, p, difference - half, difference + half, 0.03)


def test_the_best_of_several_separated_variants_wins_with_alpha_split() -> None:
    decision = decide(
        [comparison("b", 0.10, 0.001), comparison("c", 0.20, 0.002), comparison("d", 0.3, 0.04)],
        "a",
        "max",
        0.05,
    )
    # d's p 0.04 is below alpha but not below alpha / 3: it does not count.
    assert (decision.status, decision.variant) == ("winner", "c")


def test_optimize_min_reads_the_other_side() -> None:
    lower = comparison("b", -0.10, 0.001)
    assert decide([lower], "a", "min", 0.05).variant == "b"
    assert decide([lower], "a", "max", 0.05).variant == "a"  # b is worse: the control wins


def test_no_difference_needs_every_sequence_inside_the_margin() -> None:
    tight = [comparison("b", 0.0, 0.9, half=0.02), comparison("c", 0.001, 0.9, half=0.02)]
    assert decide(tight, "a", "max", 0.05).status == "no_difference"
    loose = [*tight[:1], comparison("c", 0.001, 0.9, half=0.04)]
    assert decide(loose, "a", "max", 0.05).status == "continue"


def test_too_few_ratings_a_sample_ratio_mismatch_or_one_variant_mean_continue() -> None:
    few = Comparison("b", 29, 500, 0.3, 0.0001, 0.2, 0.4, 0.03)
    assert decide([few], "a", "max", 0.05).status == "continue"
    clear = comparison("b", 0.3, 0.0001)
    assert decide([clear], "a", "max", 0.05, sample_ratio_mismatch=True).status == "continue"
    assert decide([], "a", "max", 0.05).reason.startswith("only one variant")


def test_allocation_is_the_normalized_weights_of_an_active_campaign() -> None:
    assert allocation({"a": 3, "b": 1}, active=True) == {"a": 0.75, "b": 0.25}
    assert allocation({"a": 3, "b": 1}, active=False) == {"a": 0.0, "b": 0.0}
