"""Reference implementation, in numpy, of the anytime-valid statistics the SQL computes
(``ANYTIME`` and ``STATS`` in app/experiments/sql.py; method in docs/experiments.md).

Written from the textbook form (Johari et al. 2017; Howard et al. 2021) rather than the
SQL's simplified one, so agreement between the two checks the algebra too. Every function
takes scalars or numpy arrays (the simulations evaluate thousands of looks at once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from app.experiments.anytime import EQUIVALENCE_SD, MIXING_RHO2

Array = Any  # a float or a numpy array of floats


def moments(values: Any) -> tuple[int, float, float]:
    """n, mean and sample variance (0 below two values), as ClickHouse's varSamp."""
    sample = np.asarray(values, dtype=float)
    if len(sample) == 0:
        return 0, float("nan"), 0.0
    return len(sample), float(sample.mean()), float(sample.var(ddof=1)) if len(sample) > 1 else 0.0


def mixture_p_value(diff: Array, v: Array, tau2: Array) -> Array:
    """min(1, 1/Lambda), Lambda = sqrt(V / (V + tau^2)) exp(tau^2 diff^2 / (2 V (V + tau^2)))."""
    log_lambda = 0.5 * np.log(v / (v + tau2)) + tau2 * diff**2 / (2 * v * (v + tau2))
    return np.minimum(1.0, np.exp(-log_lambda))


def half_width(v: Array, tau2: Array, alpha: float) -> Array:
    """sqrt((V (V + tau^2) / tau^2) (2 ln(1/alpha) + ln((V + tau^2) / V)))."""
    return np.sqrt((v * (v + tau2) / tau2) * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))


def pooled_z_p_value(n: Array, mean: Array, c_n: Array, c_mean: Array) -> Array:
    pooled = (n * mean + c_n * c_mean) / (n + c_n)
    z = (mean - c_mean) / np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / c_n))
    return special.erfc(np.abs(z) / np.sqrt(2))


def compare_moments(
    n: Array,
    mean: Array,
    var: Array,
    c_n: Array,
    c_mean: Array,
    c_var: Array,
    alpha: float,
    p_fixed: Array,
) -> dict[str, Array]:
    """The anytime-valid comparison of a variant with the control from their moments."""
    v = var / n + c_var / c_n
    sigma2 = v / (1 / n + 1 / c_n)  # the per-unit variance the mixture is scaled by
    tau2 = MIXING_RHO2 * sigma2
    diff = mean - c_mean
    mixture = mixture_p_value(diff, v, tau2)
    width = half_width(v, tau2, alpha)
    return {
        "difference": diff,
        "mixture_p": mixture,
        "always_valid_p_value": np.maximum(p_fixed, mixture),
        "cs_low": diff - width,
        "cs_high": diff + width,
        "equivalence_margin": EQUIVALENCE_SD * np.sqrt(sigma2),
    }


def compare_samples(control: Any, variant: Any, boolean: bool, alpha: float) -> dict[str, float]:
    """The same from raw values; the fixed-horizon p-value as the results report it."""
    n, mean, var = moments(variant)
    c_n, c_mean, c_var = moments(control)
    if boolean:
        p_fixed = float(pooled_z_p_value(n, mean, c_n, c_mean))
    else:
        p_fixed = float(stats.ttest_ind(variant, control, equal_var=False).pvalue)
    result = compare_moments(n, mean, var, c_n, c_mean, c_var, alpha, p_fixed)
    return {key: float(value) for key, value in {**result, "p_value": p_fixed}.items()}
