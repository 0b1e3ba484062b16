"""A run's report from its stored rows: progress, per variant and evaluator the summary, and
for a two-variant run the paired comparison (docs/evaluations.md, "Statistics")."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from app.evaluations.stats import paired, summarize
from app.wire.evaluations import Comparison, RunError, RunInfo, RunReport, VariantResult


def build_report(
    row: dict[str, Any],
    status: str,
    counts: list[tuple[Any, ...]],
    scores: list[tuple[Any, ...]],
    errors: list[tuple[Any, ...]],
    progress: tuple[int, int] | None,
    configured: list[str],
) -> RunReport:
    """``progress`` is the live (done, errored) of a run this process is executing: ahead of
    the stored rows by up to one flush."""
    by_variant = {variant: rest for variant, *rest in counts}
    graded: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for variant, evaluator, datapoint, score, _ in scores:
        if score is not None:
            graded[variant][evaluator][datapoint] = float(score)
    evaluators = sorted({*configured, *(evaluator for _, evaluator, *_ in scores)})
    results = [
        _variant_result(variant, by_variant.get(variant), graded[variant], evaluators)
        for variant in row["variants"]
    ]
    stored_done = sum(r.done for r in results)
    stored_errored = sum(r.errored for r in results)
    done, errored = progress if progress is not None else (stored_done, stored_errored)
    comparison = None
    if len(row["variants"]) == 2:
        first, second = row["variants"]
        comparison = Comparison(
            first=first,
            second=second,
            evaluators={
                name: paired(graded[first][name], graded[second][name]) for name in evaluators
            },
        )
    return RunReport(
        **_identity(row, status),
        done=done,
        errored=errored,
        concurrency=row["concurrency"],
        limit=row["max_datapoints"] or None,
        started_by=row["started_by"],
        updated_at=iso(row["updated_at"]),
        error=row["error"],
        results=results,
        comparison=comparison,
        errors=[RunError(variant=v, datapoint_id=d, error=e) for v, d, e in errors],
    )


def run_info(row: dict[str, Any], status: str) -> RunInfo:
    return RunInfo(**_identity(row, status))


def _identity(row: dict[str, Any], status: str) -> dict[str, Any]:
    """The fields a run's listing and its full report share."""
    names = ("id", "evaluation", "function", "dataset", "variants", "total")
    return {
        **{name: row[name] for name in names},
        "status": status,
        "created_at": iso(row["created_at"]),
    }


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _variant_result(
    variant: str,
    counts: list[Any] | None,
    graded: dict[str, dict[str, float]],
    evaluators: list[str],
) -> VariantResult:
    done, errored, cost, latency = counts if counts is not None else (0, 0, None, None)
    return VariantResult(
        variant=variant,
        done=int(done),
        errored=int(errored),
        cost=float(cost) if cost is not None else None,
        mean_latency_ms=float(latency) if latency is not None and done else None,
        evaluators={name: summarize(list(graded[name].values())) for name in evaluators},
    )
