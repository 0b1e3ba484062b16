"""Micro-benchmark of the per-request work pricing and budgets add (docs/spend.md).

Run: ``.venv/bin/python bench/spend_overhead.py``. Times, in-process, each piece the request
path now does: pricing the outcome, the budget checks (key and function), counting the spend
for budgets and on /metrics, and encoding the larger usage object. Compare the sum with the
gateway's per-request CPU time (1 / req/s at saturation, docs/performance.md).
"""

from __future__ import annotations

import sys
import timeit
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.auth.budget import BudgetRecorder, Budgets
from app.auth.principal import Principal
from app.auth.service import AuthService
from app.config.compile import build_snapshot
from app.inference.metrics import InferenceMetrics
from app.inference.outcome import Outcome
from app.inference.usage import price_outcome
from app.metrics import Registry
from app.records import InferenceRecord
from app.wire.response import (
    CompletionTokensDetails,
    PromptTokensDetails,
    Usage,
    encoder,
)

N = 200_000


def per_call_us(statement: object) -> float:
    best = min(timeit.repeat(statement, number=N, repeat=5))  # type: ignore[arg-type]
    return best / N * 1e6


def main() -> None:
    snapshot = build_snapshot(
        {
            "providers": {"p": {"type": "dummy"}},
            "models": {
                "m": {
                    "routing": [
                        {
                            "provider": "p",
                            "name": "m",
                            "price": {"input_per_mtok": 2.5, "output_per_mtok": 10},
                        }
                    ]
                }
            },
            "metrics": {},
            "functions": {"f": {"budget_usd": 1e9, "variants": {"v": {"model": "m"}}}},
        }
    )
    route = snapshot.models["m"][0]
    usage = Usage(
        1234,
        567,
        1801,
        PromptTokensDetails(200),
        CompletionTokensDetails(100),
    )
    outcome = Outcome(route=route, usage=usage)
    auth = AuthService(require_auth=False, admin_token=None)
    principal = Principal("k", "key", "client", None, None, 1e9, "month")
    budgets: Budgets = auth.budgets
    record = InferenceRecord(
        id="x",
        created_at=datetime.now(UTC).timestamp(),
        config_version=1,
        episode_id="e",
        model="m",
        status="ok",
        function="f",
        variant="v",
        api_key_id="k",
        cost=0.0001,
        provider="p",
    )

    class Null:
        def record(self, _: InferenceRecord) -> None:
            pass

    recorder = BudgetRecorder(Null(), budgets)
    metrics = InferenceMetrics(Registry())
    plain = Usage(1234, 567, 1801)
    priced = Usage(
        1234, 567, 1801, PromptTokensDetails(200), CompletionTokensDetails(100), cost=0.0082
    )

    pieces = {
        "price the outcome (cost_usd)": lambda: price_outcome(outcome),
        "budget checks (key + function)": lambda: auth.check_budgets(principal, "f", snapshot),
        "count spend for budgets (6 counters)": lambda: recorder.record(record),
        "cost counter on /metrics": lambda: metrics.cost.inc(("f", "v", "m"), 0.0001),
    }
    results = {name: per_call_us(fn) for name, fn in pieces.items()}
    encode_more = per_call_us(lambda: encoder.encode(priced)) - per_call_us(
        lambda: encoder.encode(plain)
    )
    results["encode usage details + cost (extra)"] = max(encode_more, 0.0)
    total = sum(results.values())
    for name, micros in results.items():
        print(f"{name:40} {micros:6.2f} µs")
    print(f"{'total added per request':40} {total:6.2f} µs")
    for rps in (1_499, 2_815):
        budget = 1e6 / rps
        print(f"  = {total / budget:.2%} of one request's CPU at {rps:,} req/s ({budget:.0f} µs)")


if __name__ == "__main__":
    main()
