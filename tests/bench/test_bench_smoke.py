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
