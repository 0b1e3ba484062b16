"""Campaign results as a plain-text table, for ``switchyard campaign results``: the decision
first, the anytime-valid figures (valid at every look) beside the fixed-horizon ones (valid
for one look at a planned sample size), labelled as such (docs/experiments.md)."""

from __future__ import annotations

from app.experiments.schema import CampaignResults


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


def _interval(bounds: list[float] | None) -> str:
    return f"[{_fmt(bounds[0])}, {_fmt(bounds[1])}]" if bounds else "-"


def format_results(results: CampaignResults) -> str:
    header = (
        f"campaign {results.campaign} ({results.status}) on {results.function}: "
        f"{results.metric} ({results.metric_type}, {results.level}, optimize {results.optimize}), "
        f"{results.test}, alpha {results.alpha}"
    )
    columns = [
        "variant",
        "weight",
        "inferences",
        "units",
        "feedback",
        "alloc",
        "mean",
        "lift",
        "always-valid p",
        "confidence sequence",
        "95% CI (fixed)",
        "p (fixed)",
        "sig (fixed)",
        "P(best)",
        "errors",
        "p95 ms",
        "$/inference",
        "$/success",
    ]
    rows = []
    for v in results.variants:
        rows.append(
            [
                v.variant + (" (control)" if v.is_control else ""),
                f"{v.weight:g}",
                str(v.inferences),
                str(v.units),
                str(v.feedback_count),
                f"{v.allocation:.0%}",
                _fmt(v.mean),
                _pct(v.lift),
                _fmt(v.always_valid_p_value, 3),
                _interval(v.confidence_sequence),
                _interval(v.ci95),
                _fmt(v.p_value, 3),
                "-" if v.significant is None else ("yes" if v.significant else "no"),
                _fmt(v.probability_best, 3),
                _pct(v.guardrails.error_rate).lstrip("+"),
                _fmt(v.guardrails.p95_latency_ms),
                _fmt(v.guardrails.cost_per_inference, 3),
                _fmt(v.guardrails.cost_per_success, 3),
            ]
        )
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]
    decision = results.decision
    lines = [
        header,
        *(
            [f"adaptive: allocation {results.allocation_phase} (docs/experiments.md)"]
            if results.type == "adaptive"
            else []
        ),
        f"decision: {decision.status}"
        + (f" ({decision.variant})" if decision.variant else "")
        + f": {decision.reason}",
        "",
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) for row in rows
    ]
    srm = results.sample_ratio
    verdict = (
        "MISMATCH: assignment does not follow the weights; do not trust these results"
        if srm.mismatch
        else "ok"
    )
    ratio = (
        f"sample ratio: {srm.test}"
        if srm.p_value is None and results.type == "adaptive"
        else f"sample ratio: chi2 {_fmt(srm.chi2)}, df {srm.df}, p {_fmt(srm.p_value, 3)}: {verdict}"
    )
    lines += [
        "",
        ratio,
        f"always-valid p and confidence sequence (of the difference from the control, at "
        f"alpha {results.alpha:g}): valid however often you look",
        "(fixed): valid only for one look at a sample size fixed in advance",
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
