"""What logging costs the gateway's CPU: the writer thread plus embedded chDB, per logged row.

Run: ``.venv/bin/python bench/writer_cost.py [--rate 2000] [--seconds 20] [--journal]``. Feeds the real
:class:`Writer` with realistic inference records (one attempt each, bodies the size of the
benchmark's) at a steady rate into a fresh embedded chDB, as the gateway does under load, and
reads the CPU time of the whole process (writer thread, chDB's insert pipelines and background
merges) over the measured window, minus the feeding thread's own. CPU time, not wall time, so
the figure holds on a shared machine; compare variants within one run (docs/performance.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.ids import uuid7_str
from app.records import AttemptRecord, InferenceRecord
from app.store.clickhouse.spill import SpillDir
from app.store.clickhouse.store import ClickHouseStore
from app.store.clickhouse.writer import Writer

_MESSAGES = '[{"role":"user","content":"Summarise the attached ticket in two sentences."}]'
_OUTPUT = '[{"index":0,"message":{"role":"assistant","content":"' + "word " * 60 + '"}}]'
_RAW_REQUEST = '{"model":"bench-model","messages":' + _MESSAGES + ',"stream":false}'
_RAW_RESPONSE = '{"id":"chatcmpl-1","object":"chat.completion","choices":' + _OUTPUT + "}"


def record(now: float) -> InferenceRecord:
    inference_id = uuid7_str()
    return InferenceRecord(
        id=inference_id,
        created_at=now,
        config_version=3,
        function="bench",
        variant="a",
        campaign="bench-campaign",
        sticky_unit=uuid7_str(),
        session_id=uuid7_str(),
        episode_id=uuid7_str(),
        model="bench",
        provider="mock",
        provider_model="bench-model",
        status="ok",
        input_messages=_MESSAGES,
        system_prompt="You are a concise support assistant for ACME.",
        system_prompt_args='{"company":"ACME"}',
        params='{"temperature":0.2}',
        output=_OUTPUT,
        finish_reason="stop",
        labels={"app": "bench", "team": "perf"},
        tags=["bench"],
        prompt_tokens=42,
        completion_tokens=60,
        cost=0.000123,
        ttft_ms=None,
        latency_ms=1.2,
        queue_ms=0.01,
        completion_ids=[inference_id],
        attempts=[
            AttemptRecord(
                id=uuid7_str(),
                inference_id=inference_id,
                provider="mock",
                provider_type="openai",
                model="bench-model",
                started_at=now,
                latency_ms=1.1,
                status="ok",
                http_status=200,
                raw_request=_RAW_REQUEST,
                raw_response=_RAW_RESPONSE,
                prompt_tokens=42,
                completion_tokens=60,
                cost=0.000123,
            )
        ],
    )


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def feed(writer: Writer, rate: int, seconds: float) -> tuple[int, float]:
    """Submit ``rate`` records a second for ``seconds``; returns (rows, feeding CPU seconds)."""
    start = time.monotonic()
    cpu_start = time.thread_time()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        now = time.time()
        while sent < due:
            writer.submit(record(now))
            sent += 1
        time.sleep(0.005)
    return sent, time.thread_time() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000, help="rows per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.0, help="writer interval, seconds")
    parser.add_argument(
        "--journal", action="store_true", help="the write-ahead journal on (the gateway default)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{tmp}/ch"
        writer = Writer(
            lambda: ClickHouseStore.open(url),
            SpillDir(Path(tmp) / "spill"),
            interval_s=args.interval,
            journal=args.journal,
        )
        writer.start()
        writer.wait_first_connect(60)
        feed(writer, args.rate, args.warmup)
        cpu_before = process_cpu_s()
        rows, feeding_cpu = feed(writer, args.rate, args.seconds)
        logging_cpu = process_cpu_s() - cpu_before - feeding_cpu
        writer.close()
        stats = writer.stats()
    print(
        f"rate {args.rate} rows/s, {args.seconds:.0f} s, interval {args.interval} s, journal "
        f"{'on' if args.journal else 'off'}: {rows} rows, logging CPU {logging_cpu:.2f} s = "
        f"{logging_cpu / args.seconds:.1%} of a core, {logging_cpu / rows * 1e6:.0f} µs per row; "
        f"building and submitting {feeding_cpu / rows * 1e6:.1f} µs per row "
        f"(written {stats.rows_written}, spilled {stats.rows_spilled})"
    )


if __name__ == "__main__":
    main()
