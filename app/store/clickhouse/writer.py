"""The background writer (see docs/analytics.md, "The write path"): the request path only
enqueues; one thread does all I/O.

With the journal on (the default), ``submit`` appends the record to this process's open spill
file (one unbuffered write, about 5 µs) and the thread inserts those files as they are sealed,
so a process killed after answering loses nothing (docs/analytics.md, "The journal"). With it
off, ``submit`` is a deque append (no lock, no I/O) unless the queue is full, in which case the
record is appended to a spill file instead: bounded memory, nothing dropped. The thread wakes
every ``interval_s`` (or as soon as a full batch is waiting), inserts the queue in batches of
``batch_rows``, retries a failed insert ``retries`` times with exponential backoff, and then
spills the batch to disk. While ClickHouse is down it stops trying per batch (spilling
straight away, so the queue keeps draining) and probes on its own backoff schedule; once it is
back, spilled batches are replayed a few at a time between regular batches.

Exactly once: each batch gets a UUIDv7 id used as ``insert_deduplication_token`` on every try
and kept in its spill file name, so a batch that did reach ClickHouse before the error is
dropped by ClickHouse on retry or replay, and a spill file is deleted only after its insert
succeeded.

Length: the thread's one loop (batch, retry, spill, probe, replay) reads best whole; the
encoding and the spill files are in :mod:`.rows` and :mod:`.spill`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from app.ids import uuid7_str
from app.records import FeedbackRecord, InferenceRecord
from app.store.clickhouse.rows import (
    ATTEMPT_COLUMNS,
    FEEDBACK_COLUMNS,
    INFERENCE_COLUMNS,
    encode_batch,
    encode_feedback,
)
from app.store.clickhouse.spill import SpillDir, SpilledBatch
from app.store.clickhouse.store import Store

log = logging.getLogger("switchyard.clickhouse")

Record = InferenceRecord | FeedbackRecord

# A spilled batch that fails this many replays while ClickHouse answers pings is set aside.
_REPLAY_ATTEMPTS = 3
# Replay at most this long per cycle, so fresh batches are not starved behind a backlog.
_REPLAY_BUDGET_S = 1.0


class WriterStats(msgspec.Struct, kw_only=True):
    rows_written: int = 0  # inference rows inserted, replayed ones included
    attempts_written: int = 0  # model_inferences rows inserted
    feedback_written: int = 0  # feedback rows inserted
    rows_spilled: int = 0  # inference rows written to spill files (failed batches + full queue)
    rows_replayed: int = 0  # spilled rows later inserted
    rows_dropped: int = 0  # rows lost because even the spill file could not be written
    rows_rejected: int = 0  # spilled rows ClickHouse kept refusing, set aside as .rejected files
    batches_failed: int = 0  # insert attempts that raised
    queue_depth: int = 0
    spill_files: int = 0
    connected: bool = False
    last_error: str = ""


class Writer:
    def __init__(
        self,
        open_store: Callable[[], Store],
        spill: SpillDir,
        *,
        batch_rows: int = 5000,
        interval_s: float = 0.5,
        queue_rows: int = 100_000,
        retries: int = 3,
        backoff_s: float = 0.25,
        max_backoff_s: float = 15.0,
        nice: int = 0,
        journal: bool = False,
    ) -> None:
        self._open_store = open_store
        self._journal = journal
        self._spill = spill
        self._batch_rows = max(batch_rows, 1)
        self._interval_s = interval_s
        self._queue_rows = max(queue_rows, 1)
        self._retries = max(retries, 0)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._nice = nice
        self._queue: collections.deque[Record] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._first_connect = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clickhouse-writer", daemon=True)
        self._store: Store | None = None
        self._connect_backoff = backoff_s
        self._next_connect = 0.0
        self._replay_failures: dict[str, int] = {}
        self._stats = WriterStats()
        self._stats_lock = threading.Lock()  # submit() (event loop) and the thread both count

    # -- request path ---------------------------------------------------------------------------

    def submit(self, record: Record) -> None:
        """Queue a record for insertion. Never blocks on ClickHouse, never raises.

        With the journal on, the record is written to this process's open spill file before
        this returns (one unbuffered write: it survives a ``kill -9`` of the process) and the
        thread inserts those files, so nothing the gateway answered waits in memory only
        (docs/analytics.md, "The journal"). A failed write keeps it in the queue instead."""
        if self._journal and not self._stopping.is_set():
            try:
                if self._spill.append(record) >= self._batch_rows:
                    self._wake.set()
                return
            except Exception:
                log.exception("could not journal an inference record; it waits in memory")
        if len(self._queue) >= self._queue_rows or self._stopping.is_set():
            self._overflow(record)
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_rows:
            self._wake.set()

    def _overflow(self, record: Record) -> None:
        try:
            self._spill.append(record)
        except Exception:
            log.exception("could not spill an inference record; it is lost")
            self._count(rows_dropped=1)
        else:
            self._count(rows_spilled=1)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._spill.open()
        self._thread.start()

    def wait_first_connect(self, timeout: float) -> bool:
        """Block until the first connection attempt finished; True if it succeeded."""
        self._first_connect.wait(timeout)
        return self._store is not None

    def close(self, timeout: float = 30.0) -> None:
        """Flush: insert (or spill) everything queued, then stop the thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "ClickHouse writer did not finish in %.0f s; spilling what is still queued", timeout
            )
            while self._queue:
                self._overflow(self._queue.popleft())
        self._spill.close()

    @property
    def connected(self) -> bool:
        return self._store is not None

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def queue_limit(self) -> int:
        return self._queue_rows

    def stats(self) -> WriterStats:
        with self._stats_lock:
            stats = msgspec.structs.replace(self._stats)
        stats.queue_depth = len(self._queue)
        stats.spill_files = len(self._spill.files())
        stats.connected = self._store is not None
        return stats

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    def _error(self, exc: BaseException) -> None:
        with self._stats_lock:
            self._stats.batches_failed += 1
            self._stats.last_error = f"{type(exc).__name__}: {exc}"[:500]

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        _lower_priority(self._nice)
        while True:
            stopping = self._stopping.is_set()
            if not stopping:
                self._wake.wait(self._interval_s)
                self._wake.clear()
                stopping = self._stopping.is_set()
            self._connect_if_due()
            self._drain(everything=stopping)
            self._seal()
            if not stopping:
                self._replay(_REPLAY_BUDGET_S)
            elif self._journal:
                self._replay(None)  # the journal's last files, before the process goes
            if stopping and not self._queue:
                break
        if self._store is not None:
            self._store.close()
            self._store = None

    def _seal(self) -> None:
        """Insert the journal file sealed this cycle from the records it was appended from. A
        failed insert leaves it on disk, replayed (read back) with the backlog."""
        sealed = self._spill.seal()
        if sealed is None or not self._journal:
            return  # an overflow file: its rows were counted as spilled when appended
        if self._store is None or not self._insert_file(sealed):
            self._count(rows_spilled=len(sealed.records))

    def _connect_if_due(self) -> None:
        if self._store is not None or time.monotonic() < self._next_connect:
            return
        try:
            self._store = self._open_store()
        except Exception as exc:  # noqa: BLE001 - whatever the driver raises, ClickHouse is down
            if self._connect_backoff == self._backoff_s:
                log.warning(
                    "ClickHouse unavailable, spilling to %s until it is back: %s",
                    self._spill.directory,
                    exc,
                )
            self._error(exc)
            self._next_connect = time.monotonic() + self._connect_backoff
            self._connect_backoff = min(self._connect_backoff * 2, self._max_backoff_s)
        else:
            if self._connect_backoff != self._backoff_s:
                log.warning("ClickHouse is reachable again")
            self._connect_backoff = self._backoff_s
        finally:
            self._first_connect.set()

    def _disconnect(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # noqa: BLE001 - closing a broken connection; it is dropped anyway
                pass
            self._store = None
        self._next_connect = time.monotonic() + self._connect_backoff

    def _drain(self, everything: bool) -> None:
        """Insert one batch per wake-up, more only while full batches wait (or everything, at
        shutdown). Looping until the queue is empty would, under steady load, become
        back-to-back inserts of a few rows each, and every insert costs a fixed 15-50 ms of CPU
        and leaves new parts for ClickHouse to merge (measured: it cut throughput in half)."""
        first = True
        while self._queue and (first or everything or len(self._queue) >= self._batch_rows):
            first = False
            batch = [self._queue.popleft() for _ in range(min(self._batch_rows, len(self._queue)))]
            self._write(uuid7_str(), batch)

    def _write(self, batch_id: str, batch: list[Record]) -> None:
        for attempt in range(self._retries + 1):
            if self._store is None:
                break
            try:
                self._insert(batch_id, batch)
                return
            except Exception as exc:  # noqa: BLE001 - any failure: retry, then spill
                self._error(exc)
                if attempt == self._retries:
                    log.warning(
                        "insert of %d inference rows failed %d times: %s",
                        len(batch),
                        attempt + 1,
                        exc,
                    )
                    self._disconnect()
                else:
                    time.sleep(min(self._backoff_s * 2**attempt, self._max_backoff_s))
        try:
            self._spill.write(batch_id, batch)
        except Exception:
            log.exception("could not spill %d inference rows; they are lost", len(batch))
            self._count(rows_dropped=len(batch))
        else:
            self._count(rows_spilled=len(batch))

    def _insert(self, batch_id: str, batch: list[Record]) -> None:
        assert self._store is not None
        inferences = [r for r in batch if isinstance(r, InferenceRecord)]
        feedback = [r for r in batch if isinstance(r, FeedbackRecord)]
        payloads = encode_batch(inferences)
        if inferences:
            self._store.insert("inferences", INFERENCE_COLUMNS, payloads.inferences, batch_id)
        if payloads.attempt_count:
            self._store.insert("model_inferences", ATTEMPT_COLUMNS, payloads.attempts, batch_id)
        if feedback:
            self._store.insert("feedback", FEEDBACK_COLUMNS, encode_feedback(feedback), batch_id)
        self._count(
            rows_written=len(inferences),
            attempts_written=payloads.attempt_count,
            feedback_written=len(feedback),
        )

    def _replay(self, budget_s: float | None) -> None:
        """Insert sealed spill files, oldest first, for at most ``budget_s`` (None: all): the
        batches an outage or a crash left, and journal files whose first insert failed."""
        adopted = self._spill.adopt()
        if adopted:
            log.warning("replaying %d spill file(s) left by a process that is gone", adopted)
        deadline = time.monotonic() + budget_s if budget_s is not None else None
        for path in self._spill.files():
            if self._store is None or (deadline is not None and time.monotonic() > deadline):
                return
            batch = self._spill.read(path)
            if batch.damaged_lines:
                log.error("%s: %d damaged line(s) skipped", path, batch.damaged_lines)
                self._count(rows_dropped=batch.damaged_lines)
            if not self._insert_file(batch):
                return
            self._count(rows_replayed=len(batch.records))

    def _insert_file(self, batch: SpilledBatch) -> bool:
        """Insert a sealed file's records under its batch id and delete it; on failure keep it
        for a later replay (or set it aside, see ``_replay_failed``) and return False."""
        try:
            if batch.records:
                self._insert(batch.batch_id, batch.records)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the file, tell why below
            self._error(exc)
            self._replay_failed(batch.path, len(batch.records), exc)
            return False
        self._spill.remove(batch.path)
        self._replay_failures.pop(batch.path.name, None)
        return True

    def _replay_failed(self, path: Path, rows: int, exc: Exception) -> None:
        """Tell "ClickHouse is down" (retry later) from "ClickHouse refuses this batch"."""
        try:
            reachable = self._store is not None and self._store.ping()
        except Exception:  # noqa: BLE001 - a ping that raises means unreachable
            reachable = False
        if not reachable:
            self._disconnect()
            return
        failures = self._replay_failures.get(path.name, 0) + 1
        self._replay_failures[path.name] = failures
        if failures >= _REPLAY_ATTEMPTS:
            target = self._spill.quarantine(path)
            self._replay_failures.pop(path.name, None)
            self._count(rows_rejected=rows)
            log.error(
                "ClickHouse refused %d spilled rows %d times; moved them to %s: %s",
                rows,
                failures,
                target,
                exc,
            )


def _lower_priority(increment: int) -> None:
    """Run this thread ``increment`` nice levels below the rest of the process.

    Linux nice is per thread and inherited by the threads a thread starts: the writer opens
    the store, so an embedded chDB's insert and merge threads start from here and share the
    lower priority. Inserts and merges then wait while a request has work, instead of taking
    the core in turns with it (the c=1 p99, docs/performance.md); under full load they still
    get a CFS weight of 1.25**-increment of the loop's, enough to keep up.
    """
    if increment <= 0:
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + increment)
    except OSError as exc:  # not permitted or not Linux: run at the process's priority
        log.info("ClickHouse writer keeps the process's priority: %s", exc)
