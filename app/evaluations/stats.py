"""The statistics of a run (docs/evaluations.md, "Statistics"): per variant and evaluator the
mean with a Student-t 95% interval, and for two variants the paired difference over the
datapoints both scored, with its t interval and two-sided p-value (a paired t-test).

Pairing is what makes an offline comparison sharp: both variants answer the same datapoints,
so the per-datapoint difference removes how hard each datapoint is. The t distribution is
computed here (regularized incomplete beta by its continued fraction) so the gateway needs no
SciPy; the tests check it against SciPy to 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

CONFIDENCE = 0.95


class Summary(msgspec.Struct, kw_only=True):
    n: int
    mean: float | None
    ci: list[float] | None  # [low, high]; None below two scores


class Paired(msgspec.Struct, kw_only=True):
    n: int  # datapoints both variants scored
    difference: float | None  # mean of (second - first)
    ci: list[float] | None
    p_value: float | None


def summarize(values: Sequence[float]) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(n=0, mean=None, ci=None)
    mean = math.fsum(values) / n
    return Summary(n=n, mean=mean, ci=_interval(values, mean))


def paired(first: Mapping[Any, float], second: Mapping[Any, float]) -> Paired:
    """``second - first`` over the keys both have."""
    shared = sorted(first.keys() & second.keys())
    differences = [second[k] - first[k] for k in shared]
    n = len(differences)
    if n == 0:
        return Paired(n=0, difference=None, ci=None, p_value=None)
    mean = math.fsum(differences) / n
    if n < 2:
        return Paired(n=n, difference=mean, ci=None, p_value=None)
    sd = _sd(differences, mean)
    if sd == 0:  # every datapoint moved by the same amount: no doubt about it
        return Paired(n=n, difference=mean, ci=[mean, mean], p_value=1.0 if mean == 0 else 0.0)
    t = mean / (sd / math.sqrt(n))
    return Paired(
        n=n, difference=mean, ci=_interval(differences, mean), p_value=t_two_sided_p(t, n - 1)
    )


def _interval(values: Sequence[float], mean: float) -> list[float] | None:
    n = len(values)
    if n < 2:
        return None
    half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * _sd(values, mean) / math.sqrt(n)
    return [mean - half, mean + half]


def _sd(values: Sequence[float], mean: float) -> float:
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    return _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_cdf(t: float, df: int) -> float:
    tail = 0.5 * t_two_sided_p(t, df)
    return 1 - tail if t > 0 else tail


def t_quantile(q: float, df: int) -> float:
    """The t with ``t_cdf(t, df) == q``, by bisection (monotone, 1e-12 close)."""
    low, high = -1e7, 1e7
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < q:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated by the modified Lentz method."""
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < epsilon:
            break
    return result
