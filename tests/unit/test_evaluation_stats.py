"""The gateway's own t distribution and paired test (app/evaluations/stats.py) against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from app.evaluations.stats import paired, summarize, t_cdf, t_quantile


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 999])
def test_t_distribution_matches_scipy(df: int) -> None:
    for t in (-12.0, -2.5, -0.1, 0.0, 0.7, 3.0, 40.0):
        assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-9)
    for q in (0.025, 0.5, 0.9, 0.975, 0.999):
        assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_paired_comparison_and_summary_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 200))
    first = rng.random(n)
    second = first + rng.normal(0.05, 0.3, n)
    result = paired(dict(enumerate(map(float, first))), dict(enumerate(map(float, second))))
    reference = stats.ttest_rel(second, first)
    assert result.n == n
    assert result.p_value == pytest.approx(reference.pvalue, abs=1e-6)
    assert result.ci == pytest.approx(list(reference.confidence_interval(0.95)), abs=1e-6)
    summary = summarize(list(map(float, first)))
    interval = stats.t.interval(0.95, n - 1, loc=first.mean(), scale=stats.sem(first))
    assert summary.mean == pytest.approx(first.mean(), abs=1e-12)
    assert summary.ci == pytest.approx(list(interval), abs=1e-6)


def test_degenerate_cases() -> None:
    assert paired({}, {"a": 1.0}).n == 0
    same = paired({"a": 0.0, "b": 1.0}, {"a": 1.0, "b": 2.0})
    assert (same.difference, same.ci, same.p_value) == (1.0, [1.0, 1.0], 0.0)
    assert summarize([0.5]).ci is None
