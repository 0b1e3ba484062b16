"""bench/ still starts and still renders its report; the benchmark itself is never run here."""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from argparse import Namespace
from types import ModuleType, SimpleNamespace

import pytest

from tests.support.gateway import REPO

PHASE = {"errors": 0, "foreign_cpu_pct": 1.0, "gateway_cpu_pct": 40.0}
# Shaped like the ``.json`` a run saves next to its report (bench/lib/bench.py, Bench.run).
SAVED = {
    "started": "2026-01-02T03:04:00",
    "args": {"quick": True, "only": ["direct", "switchyard"]},
    "profile": {"soak": 1000},
    "nice": 0,
    "summary": {
        "direct": {
            "label": "direct",
            "c1": {**PHASE, "p50_ms": 0.21, "p99_ms": 0.5},
            "c64": {**PHASE, "rps": 41000.0},
            "s32": {**PHASE, "rps": 30000.0},
            "ttfb": {**PHASE, "ttfb_p50_ms": 0.3, "ttfb_p99_ms": 0.9},
        },
        "switchyard": {"label": "Switchyard", "error": "did not start | port taken"},
    },
    "results": [],
}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_lib", REPO / "bench" / "lib" / "bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_lib"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_help_exits_0_with_usage() -> None:
    done = subprocess.run(
        ["bash", str(REPO / "bench" / "run"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bench/run")
    for option in ("--quick", "--only", "--soak", "--profile"):
        assert option in done.stdout


def test_report_renders_a_saved_result(bench: ModuleType) -> None:
    run = SimpleNamespace(
        args=Namespace(**SAVED["args"]),
        profile=SimpleNamespace(**SAVED["profile"]),
        nice=SAVED["nice"],
        summary=SAVED["summary"],
        results=SAVED["results"],
        checks={},
    )
    report = bench.render_report(run, dt.datetime.fromisoformat(SAVED["started"]))
    lines = report.splitlines()
    assert lines[0] == "# Gateway benchmark, 2026-01-02 03:04"
    assert "`bench/run --quick --only direct,switchyard`" in report
    direct = next(line for line in lines if line.startswith("| direct |"))
    assert direct.startswith(
        "| direct | 0.21 | 0.50 | — | 41,000 | 30,000 | 0.30 / 0.90 | 0 | 40% | 1% |"
    )
    # A failed target is a row saying so; a "|" in its error cannot break the table.
    assert "| Switchyard | failed: did not start / port taken |" in report


def entry(label: str, rps64: float, rps32: float, p99: float) -> dict[str, object]:
    return {
        "label": label,
        "c1": {**PHASE, "p50_ms": 0.5, "p99_ms": p99},
        "c64": {**PHASE, "rps": rps64},
        "s32": {**PHASE, "rps": rps32},
        "ttfb": {**PHASE, "ttfb_p50_ms": 0.6, "ttfb_p99_ms": 1.0},
    }


def test_ratio_targets_are_judged_within_the_run(bench: ModuleType) -> None:
    summary = {
        "direct": entry("direct", 40000, 30000, 0.1),
        "minimal": entry("minimal", 2000, 1600, 0.8),
        "switchyard": entry("on", 1500, 1000, 3.1),
        "switchyard-nolog": entry("off", 1800, 1500, 2.0),
        "tensorzero": entry("tz", 3000, 2000, 1.1),
        "switchyard-workers2": entry("w2", 2850, 1900, 3.0),
        "switchyard-nojournal": entry("nj", 1530, 1010, 3.0),
    }
    table = "\n".join(bench.ratio_targets(summary))
    assert "| logging on ÷ off, c=64 req/s | ≥ 0.85 | 0.83 | missed |" in table
    assert "| logging on ÷ off, streaming req/s | ≥ 0.85 | 0.67 | missed |" in table
    assert "| logging on ÷ off, p99 at c=1 | ≤ 1.3 | 1.55 | missed |" in table
    assert "| logging off ÷ minimal proxy, c=64 req/s | ≥ 0.9 | 0.90 | met |" in table
    assert "| logging off ÷ minimal proxy, streaming req/s | ≥ 0.9 | 0.94 | met |" in table
    assert "| logging on ÷ TensorZero, c=64 req/s | ≥ 0.6 | 0.50 | missed |" in table
    assert "| logging on ÷ TensorZero, streaming req/s | ≥ 0.9 | 0.50 | missed |" in table
    assert "| --workers 2 ÷ one worker, c=64 req/s | ≥ 1.8 | 1.90 | met |" in table
    assert "| --workers 2 ÷ one worker, streaming req/s | ≥ 1.8 | 1.90 | met |" in table
    assert "| journal on ÷ off, c=64 req/s | ≥ 0.95 | 0.98 | met |" in table
    # (3.1 - 0.1) / (1.1 - 0.1): both over the direct floor.
    assert "| added p99 at c=1, logging on ÷ TensorZero's | ≤ 3 | 3.00 | met |" in table
    assert bench.ratio_targets({"switchyard": {"error": "did not start"}}) == []
