"""The writer thread runs below request handling, and so does whatever it opens (chDB's threads
inherit the nice level of the thread that starts them)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from app.store.clickhouse.spill import SpillDir
from app.store.clickhouse.store import Store
from app.store.clickhouse.writer import Writer


def priority_seen_when_opening(tmp_path: Path, nice: int) -> tuple[int, int]:
    """(the writer thread's nice level, a thread it starts) as seen while opening the store."""
    seen: list[int] = []

    def open_store() -> Store:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        child = threading.Thread(
            target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        )
        child.start()
        child.join()
        raise ConnectionError("no ClickHouse in this test")

    writer = Writer(open_store, SpillDir(tmp_path), nice=nice, interval_s=0.01)
    writer.start()
    writer.wait_first_connect(10)
    writer.close()
    return seen[0], seen[1]


def test_the_writer_and_its_threads_run_below_the_process(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert priority_seen_when_opening(tmp_path, 5) == (min(base + 5, 19), min(base + 5, 19))


def test_nice_zero_keeps_the_process_priority(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert priority_seen_when_opening(tmp_path, 0) == (base, base)
