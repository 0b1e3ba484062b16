"""The documents campaign results are served as (``/v1/campaigns/{key}/results`` and
``.../results/timeline``). Field names are a public contract: add, never rename.

Two families of figures sit side by side (docs/experiments.md, "When to trust which number"):
fixed-horizon ones (``ci95``, ``p_value``, ``significant``), valid for one look at a sample
size fixed in advance, and anytime-valid ones (``always_valid_p_value``,
``confidence_sequence``, ``decision``), valid however often and whenever the results are read.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

FIXED_HORIZON_NOTE = (
    "ci95, p_value and significant are fixed-horizon figures: valid for one look at a sample "
    "size fixed in advance. Read always_valid_p_value, confidence_sequence and decision when "
    "looking repeatedly."
)


class Guardrails(msgspec.Struct):
    error_rate: float | None
    p95_latency_ms: float | None
    avg_tokens: float | None
    metrics: dict[str, float | None]
    # USD (docs/spend.md): mean cost of the variant's priced inferences, and its total cost per
    # successful outcome (a 1 on a boolean primary metric); None when unknown or not boolean.
    cost_per_inference: float | None = None
    cost_per_success: float | None = None


class VariantResult(msgspec.Struct):
    variant: str
    weight: float
    is_control: bool
    inferences: int
    units: int
    feedback_count: int
    mean: float | None
    std_error: float | None
    ci95: list[float] | None  # fixed-horizon
    lift: float | None  # relative to the control's mean
    lift_abs: float | None
    p_value: float | None  # fixed-horizon
    significant: bool | None  # fixed-horizon: p_value < alpha
    probability_best: float | None
    guardrails: Guardrails
    allocation: float  # share of new units the gateway assigns to this variant now
    always_valid_p_value: float | None  # anytime-valid, against the control
    confidence_sequence: list[float] | None  # anytime-valid [lo, hi] of mean - control mean
    equivalence_margin: float | None  # |difference| below this counts as no difference


class SampleRatio(msgspec.Struct):
    chi2: float | None
    df: int
    p_value: float | None
    mismatch: bool
    test: str = "chi-square of assigned units vs configured weights"


DecisionStatus = Literal["continue", "winner", "no_difference"]


class Decision(msgspec.Struct):
    status: DecisionStatus
    variant: str | None
    reason: str


class CampaignResults(msgspec.Struct):
    campaign: str
    campaign_id: str
    function: str
    status: str
    metric: str
    metric_type: str
    level: str
    optimize: str
    test: str  # the fixed-horizon test behind p_value
    alpha: float
    control: str
    variants: list[VariantResult]
    sample_ratio: SampleRatio
    computed_at: float
    decision: Decision
    anytime_method: str
    fixed_horizon: str = FIXED_HORIZON_NOTE
    type: str = "fixed"  # the campaign's type: fixed | adaptive
    # adaptive campaigns: equal_split | adaptive | final | promoted | inactive (docs/experiments.md)
    allocation_phase: str | None = None


class TimelinePoint(msgspec.Struct):
    """One variant at the end of one bucket. ``units`` and ``feedback_count`` are new in the
    bucket; the rest is cumulative up to the bucket's end."""

    bucket: str  # start of the bucket, ISO 8601 UTC
    variant: str
    units: int
    feedback_count: int
    cumulative_units: int
    cumulative_feedback: int
    cumulative_mean: float | None
    confidence_sequence: list[float] | None  # of mean - control mean, as of the bucket's end


class CampaignTimeline(msgspec.Struct):
    campaign: str
    campaign_id: str
    function: str
    metric: str
    metric_type: str
    level: str
    optimize: str
    alpha: float
    control: str
    bucket: str
    points: list[TimelinePoint]
    anytime_method: str


def finite(value: Any) -> float | None:
    """A ClickHouse number as JSON can carry it: NULL, NaN and infinities become null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def interval(low: Any, high: Any) -> list[float] | None:
    low, high = finite(low), finite(high)
    return None if low is None or high is None else [low, high]
