"""Campaign results (docs/experiments.md): per-variant traffic, metric statistics, lift against
the control with fixed-horizon and anytime-valid figures, a decision, probability of being
best, a sample-ratio-mismatch check, and the guardrails, all computed in ClickHouse (see
:mod:`app.experiments.sql`); Python only passes parameters and shapes the answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.config.compile import Snapshot
from app.config.functions import CompiledCampaign
from app.config.holder import ConfigHolder
from app.config.schema import MetricConfig
from app.errors import InvalidRequest
from app.experiments import anytime, sql
from app.experiments.lookup import find_campaign, find_metric
from app.experiments.schema import (
    CampaignResults,
    CampaignTimeline,
    Guardrails,
    SampleRatio,
    VariantResult,
    finite,
    interval,
)
from app.experiments.timeline import timeline_points

ADAPTIVE_SRM = "not applicable: an adaptive campaign's allocation moves with the data"
SRM_ALPHA = 0.001  # the usual SRM threshold: a mismatch this unlikely means broken assignment
DRAWS = 20_000

Rows = Callable[[str, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]

_STATS_COLUMNS = (
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
    "p_value",
    "diff_var",
    "mixing",
    "mixture_p",
    "half_width",
    "cs_low",
    "cs_high",
    "equivalence_margin",
    "always_valid_p_value",
)


def statistics_parameters(campaign: CompiledCampaign, metric: str) -> dict[str, Any]:
    """The parameters every statistics query takes (``STATS``, ``TIMELINE``...)."""
    variants = list(campaign.config.variants)
    return {
        "function": campaign.function,
        "campaign": campaign.key,
        "control": variants[0],
        "variants": variants,
        "others": variants[1:],
        "metric": metric,
        "alpha": campaign.config.alpha,
        "rho2": anytime.MIXING_RHO2,
        "equivalence_sd": anytime.EQUIVALENCE_SD,
    }


class CampaignResultsService:
    def __init__(self, config: ConfigHolder, rows: Rows) -> None:
        self._config = config
        self._rows = rows

    async def results(
        self, key: str, metric_name: str | None = None, function: str | None = None
    ) -> CampaignResults:
        snapshot = self._config.current
        campaign = find_campaign(snapshot, key, function)
        metric_name, metric = find_metric(snapshot, campaign, metric_name)
        params = statistics_parameters(campaign, metric_name)
        variants, control, alpha = params["variants"], params["control"], campaign.config.alpha
        assignment = {r[0]: r for r in await self._rows(sql.ASSIGNMENT, params)}
        stats = await self._stats(params, metric)
        best = {
            r[0]: r[1]
            for r in await self._rows(
                sql.PROBABILITY_BEST.format(
                    samples=sql.SAMPLES[metric.level],
                    best="max" if metric.optimize == "max" else "min",
                ),
                {**params, "is_boolean": int(metric.type == "boolean"), "draws": DRAWS},
            )
        }
        guardrail_metrics = {
            name: await self._stats({**params, "metric": name}, snapshot.metrics[name])
            for name in campaign.config.guardrails
            if name in snapshot.metrics and snapshot.metrics[name].type in ("boolean", "float")
        }
        weights = campaign.config.variants
        if campaign.adaptive:
            # The allocation moves with the data, so units are not expected in any fixed ratio.
            sample_ratio = SampleRatio(None, len(variants) - 1, None, False, ADAPTIVE_SRM)
        else:
            srm_rows = await self._rows(
                sql.SRM, {**params, "weights": [weights[v] for v in variants]}
            )
            sample_ratio = _sample_ratio(srm_rows, len(variants))
        allocation, phase = self._allocation(snapshot, campaign)

        results = []
        for variant in variants:
            traffic = assignment.get(variant)
            stat = stats.get(variant) or {}
            p_value = finite(stat.get("p_value"))
            compared = bool(stat) and variant != control
            results.append(
                VariantResult(
                    variant=variant,
                    weight=weights[variant],
                    is_control=variant == control,
                    inferences=traffic[1] if traffic else 0,
                    units=traffic[2] if traffic else 0,
                    feedback_count=stat.get("n", 0),
                    mean=finite(stat.get("mean")),
                    std_error=finite(stat.get("se")),
                    ci95=interval(stat.get("ci_low"), stat.get("ci_high")),
                    lift=finite(stat["lift"]) if compared else None,
                    lift_abs=finite(stat["lift_abs"]) if compared else None,
                    p_value=p_value,
                    significant=None if p_value is None else p_value < alpha,
                    probability_best=finite(best.get(variant)),
                    guardrails=Guardrails(
                        error_rate=finite(traffic[3]) if traffic else None,
                        p95_latency_ms=finite(traffic[4]) if traffic else None,
                        avg_tokens=finite(traffic[5]) if traffic else None,
                        metrics={
                            name: finite(s[variant]["mean"]) if variant in s else None
                            for name, s in guardrail_metrics.items()
                        },
                        cost_per_inference=finite(traffic[6]) if traffic else None,
                        cost_per_success=_cost_per_success(
                            traffic, stat, boolean=metric.type == "boolean"
                        ),
                    ),
                    allocation=allocation[variant],
                    always_valid_p_value=finite(stat.get("always_valid_p_value")),
                    confidence_sequence=interval(stat.get("cs_low"), stat.get("cs_high")),
                    equivalence_margin=finite(stat.get("equivalence_margin")),
                )
            )
        comparisons = [comparison_from_stats(v, stats, control) for v in variants[1:]]
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
            alpha=alpha,
            control=control,
            variants=results,
            sample_ratio=sample_ratio,
            computed_at=time.time(),
            decision=anytime.decide(
                comparisons, control, metric.optimize, alpha, sample_ratio.mismatch
            ),
            anytime_method=anytime.METHOD,
            type=campaign.config.type,
            allocation_phase=phase,
        )

    @staticmethod
    def _allocation(
        snapshot: Snapshot, campaign: CompiledCampaign
    ) -> tuple[dict[str, float], str | None]:
        """The shares the gateway assigns new units now, and for an adaptive campaign the
        phase of its allocation (docs/experiments.md, "Adaptive campaigns")."""
        weights = campaign.config.variants
        if not campaign.adaptive:
            return anytime.allocation(weights, campaign.active), None
        if not campaign.active:
            return dict.fromkeys(weights, 0.0), "inactive"
        state = snapshot.campaign_state
        if state is None:
            return anytime.allocation(dict.fromkeys(weights, 1.0), True), "equal_split"
        return state.shares(campaign), state.phase(campaign)

    async def timeline(
        self, key: str, metric_name: str | None, function: str | None, bucket: str
    ) -> CampaignTimeline:
        if bucket not in sql.BUCKETS:
            raise InvalidRequest(
                f"bucket must be one of {', '.join(sql.BUCKETS)}, not '{bucket}'", param="bucket"
            )
        snapshot = self._config.current
        campaign = find_campaign(snapshot, key, function)
        metric_name, metric = find_metric(snapshot, campaign, metric_name)
        params = statistics_parameters(campaign, metric_name)
        rows = await self._rows(sql.timeline_query(metric.level, bucket), params)
        return CampaignTimeline(
            campaign=campaign.key,
            campaign_id=campaign.id,
            function=campaign.function,
            metric=metric_name,
            metric_type=metric.type,
            level=metric.level,
            optimize=metric.optimize,
            alpha=campaign.config.alpha,
            control=params["control"],
            bucket=bucket,
            points=timeline_points(rows),
            anytime_method=anytime.METHOD,
        )

    async def _stats(
        self, params: dict[str, Any], metric: MetricConfig
    ) -> dict[str, dict[str, Any]]:
        return await stats_by_variant(self._rows, params, metric)


async def stats_by_variant(
    rows: Rows, params: dict[str, Any], metric: MetricConfig
) -> dict[str, dict[str, Any]]:
    """``STATS`` for a metric: per variant, a dict of ``_STATS_COLUMNS``."""
    found = await rows(
        sql.stats_query(metric.level), {**params, "is_boolean": int(metric.type == "boolean")}
    )
    return {row[0]: dict(zip(_STATS_COLUMNS, row, strict=True)) for row in found}


def comparison_from_stats(
    variant: str, stats: dict[str, dict[str, Any]], control: str
) -> anytime.Comparison:
    """One non-control variant against the control, from ``stats_by_variant``."""
    stat = stats.get(variant) or {}
    sequence = interval(stat.get("cs_low"), stat.get("cs_high"))
    return anytime.Comparison(
        variant=variant,
        n=stat.get("n", 0),
        control_n=stats[control]["n"] if control in stats else 0,
        difference=finite(stat.get("lift_abs")),
        p_value=finite(stat.get("always_valid_p_value")),
        low=sequence[0] if sequence else None,
        high=sequence[1] if sequence else None,
        margin=finite(stat.get("equivalence_margin")),
    )


def _sample_ratio(rows: list[tuple[Any, ...]], variants: int) -> SampleRatio:
    if not rows:
        return SampleRatio(None, variants - 1, None, False)
    chi2, df, _, p_value = rows[0]
    p_value = finite(p_value)
    return SampleRatio(finite(chi2), int(df), p_value, p_value is not None and p_value < SRM_ALPHA)


def _cost_per_success(
    traffic: tuple[Any, ...] | None, stat: dict[str, Any], *, boolean: bool
) -> float | None:
    """The variant's total cost over its successes (n x mean of a boolean metric)."""
    if not boolean or traffic is None or traffic[7] is None:
        return None
    successes = (stat.get("n") or 0) * (finite(stat.get("mean")) or 0.0)
    return finite(traffic[7] / successes) if successes > 0 else None
