"""Campaign results as a plain-text table, for ``switchyard campaign results``."""

from __future__ import annotations

from app.experiments.schema import CampaignResults


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


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
        "mean",
        "95% CI",
        "lift",
        "p-value",
        "sig",
        "P(best)",
        "errors",
        "p95 ms",
    ]
    rows = []
    for v in results.variants:
        ci = f"[{_fmt(v.ci95[0])}, {_fmt(v.ci95[1])}]" if v.ci95 else "-"
        rows.append(
            [
                v.variant + (" (control)" if v.is_control else ""),
                f"{v.weight:g}",
                str(v.inferences),
                str(v.units),
                str(v.feedback_count),
                _fmt(v.mean),
                ci,
                _pct(v.lift),
                _fmt(v.p_value, 3),
                "-" if v.significant is None else ("yes" if v.significant else "no"),
                _fmt(v.probability_best, 3),
                _pct(v.guardrails.error_rate).lstrip("+"),
                _fmt(v.guardrails.p95_latency_ms),
            ]
        )
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]
    lines = [
        header,
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
    lines += [
        "",
        f"sample ratio: chi2 {_fmt(srm.chi2)}, df {srm.df}, p {_fmt(srm.p_value, 3)}: {verdict}",
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
