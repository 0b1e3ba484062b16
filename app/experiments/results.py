"""Campaign results (SPEC §2.3): per-variant traffic, metric statistics, lift against the
control with a p-value, probability of being best, a sample-ratio-mismatch check, and the
guardrails, all computed in ClickHouse (see :mod:`app.experiments.sql`)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from app.config.compile import Snapshot
from app.config.functions import CompiledCampaign
from app.config.holder import ConfigHolder
from app.errors import InvalidRequest, NotFound
from app.experiments import sql

ALPHA = 0.05
SRM_ALPHA = 0.001  # the usual SRM threshold: a mismatch this unlikely means broken assignment
DRAWS = 20_000

Rows = Callable[[str, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]


class Guardrails(msgspec.Struct):
    error_rate: float | None
    p95_latency_ms: float | None
    avg_tokens: float | None
    metrics: dict[str, float | None]


class VariantResult(msgspec.Struct):
    variant: str
    weight: float
    is_control: bool
    inferences: int
    units: int
    feedback_count: int
    mean: float | None
    std_error: float | None
    ci95: list[float] | None
    lift: float | None  # relative to the control's mean
    lift_abs: float | None
    p_value: float | None
    significant: bool | None
    probability_best: float | None
    guardrails: Guardrails


class SampleRatio(msgspec.Struct):
    chi2: float | None
    df: int
    p_value: float | None
    mismatch: bool
    test: str = "chi-square of assigned units vs configured weights"


class CampaignResults(msgspec.Struct):
    campaign: str
    campaign_id: str
    function: str
    status: str
    metric: str
    metric_type: str
    level: str
    optimize: str
    test: str
    alpha: float
    control: str
    variants: list[VariantResult]
    sample_ratio: SampleRatio
    computed_at: float


def find_campaign(snapshot: Snapshot, key: str, function: str | None) -> CompiledCampaign:
    if key in snapshot.campaigns_by_id:
        return snapshot.campaigns_by_id[key]
    matches = [
        f.campaigns[key]
        for f in snapshot.functions.values()
        if key in f.campaigns and function in (None, f.name)
    ]
    if not matches:
        raise NotFound(
            f"No campaign '{key}'" + (f" in function '{function}'" if function else ""), param="key"
        )
    if len(matches) > 1:
        names = ", ".join(c.function for c in matches)
        raise InvalidRequest(
            f"Campaign '{key}' exists in several functions ({names}); pass ?function=",
            param="function",
        )
    return matches[0]


class CampaignResultsService:
    def __init__(self, config: ConfigHolder, rows: Rows) -> None:
        self._config = config
        self._rows = rows

    async def results(
        self, key: str, metric_name: str | None = None, function: str | None = None
    ) -> CampaignResults:
        snapshot = self._config.current
        campaign = find_campaign(snapshot, key, function)
        metric_name = metric_name or campaign.config.metric
        if not metric_name:
            raise InvalidRequest("This campaign names no metric; pass ?metric=", param="metric")
        metric = snapshot.metrics.get(metric_name)
        if metric is None:
            raise NotFound(f"No metric '{metric_name}'", param="metric")
        if metric.type not in ("boolean", "float"):
            raise InvalidRequest(
                f"Metric '{metric_name}' is a {metric.type}; results need a boolean or float metric",
                param="metric",
            )

        variants = list(campaign.config.variants)
        control = variants[0]
        base = {"function": campaign.function, "campaign": campaign.key, "control": control}
        samples = sql.SAMPLES_EPISODE if metric.level == "episode" else sql.SAMPLES_INFERENCE
        assignment = {r[0]: r for r in await self._rows(sql.ASSIGNMENT, base)}
        stats = await self._stats(samples, base, metric_name)
        welch = {}
        if metric.type == "float":
            welch = {
                r[0]: r[1]
                for r in await self._rows(
                    sql.WELCH.format(samples=samples),
                    {**base, "metric": metric_name, "others": variants[1:]},
                )
            }
        best = {
            r[0]: r[1]
            for r in await self._rows(
                sql.PROBABILITY_BEST.format(
                    samples=samples, best="max" if metric.optimize == "max" else "min"
                ),
                {
                    **base,
                    "metric": metric_name,
                    "is_boolean": int(metric.type == "boolean"),
                    "draws": DRAWS,
                },
            )
        }
        guardrail_metrics = {
            name: await self._stats(
                sql.SAMPLES_EPISODE
                if snapshot.metrics[name].level == "episode"
                else sql.SAMPLES_INFERENCE,
                base,
                name,
            )
            for name in campaign.config.guardrails
            if name in snapshot.metrics and snapshot.metrics[name].type in ("boolean", "float")
        }
        srm_rows = await self._rows(
            sql.SRM,
            {
                **base,
                "variants": variants,
                "weights": [campaign.config.variants[v] for v in variants],
            },
        )

        results = []
        for variant in variants:
            traffic = assignment.get(variant)
            stat = stats.get(variant)
            p_value = _p_value(metric.type, variant, control, stat, welch)
            results.append(
                VariantResult(
                    variant=variant,
                    weight=campaign.config.variants[variant],
                    is_control=variant == control,
                    inferences=traffic[1] if traffic else 0,
                    units=traffic[2] if traffic else 0,
                    feedback_count=stat["n"] if stat else 0,
                    mean=_num(stat["mean"]) if stat else None,
                    std_error=_num(stat["se"]) if stat else None,
                    ci95=[_num(stat["ci_low"]), _num(stat["ci_high"])] if stat else None,
                    lift=_num(stat["lift"]) if stat and variant != control else None,
                    lift_abs=_num(stat["lift_abs"]) if stat and variant != control else None,
                    p_value=p_value,
                    significant=None if p_value is None else p_value < ALPHA,
                    probability_best=_num(best.get(variant)),
                    guardrails=Guardrails(
                        error_rate=_num(traffic[3]) if traffic else None,
                        p95_latency_ms=_num(traffic[4]) if traffic else None,
                        avg_tokens=_num(traffic[5]) if traffic else None,
                        metrics={
                            name: _num(s[variant]["mean"]) if variant in s else None
                            for name, s in guardrail_metrics.items()
                        },
                    ),
                )
            )
        return CampaignResults(
            campaign=campaign.key,
            campaign_id=campaign.id,
            function=campaign.function,
            status=campaign.config.status,
            metric=metric_name,
            metric_type=metric.type,
            level=metric.level,
            optimize=metric.optimize,
            test="two-proportion z-test (pooled)" if metric.type == "boolean" else "Welch's t-test",
            alpha=ALPHA,
            control=control,
            variants=results,
            sample_ratio=_sample_ratio(srm_rows, len(variants)),
            computed_at=time.time(),
        )

    async def _stats(
        self, samples: str, base: dict[str, Any], metric: str
    ) -> dict[str, dict[str, Any]]:
        columns = (
            "variant",
            "n",
            "mean",
            "se",
            "ci_low",
            "ci_high",
            "lift_abs",
            "lift",
            "pooled",
            "z_p_value",
        )
        rows = await self._rows(sql.STATS.format(samples=samples), {**base, "metric": metric})
        return {row[0]: dict(zip(columns, row, strict=False)) for row in rows}


def _p_value(
    kind: str, variant: str, control: str, stat: dict[str, Any] | None, welch: dict[str, Any]
) -> float | None:
    if variant == control or stat is None:
        return None
    if kind == "boolean":
        return _num(stat["z_p_value"])
    test = welch.get(variant)
    if test is None:
        return None
    return _num(test["p_value"] if isinstance(test, dict) else test[1])


def _sample_ratio(rows: list[tuple[Any, ...]], variants: int) -> SampleRatio:
    if not rows:
        return SampleRatio(None, variants - 1, None, False)
    chi2, df, _, p_value = rows[0]
    p_value = _num(p_value)
    return SampleRatio(_num(chi2), int(df), p_value, p_value is not None and p_value < SRM_ALPHA)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value
