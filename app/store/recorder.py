"""The gateway's recorder: every inference goes to ClickHouse through the background writer.

``record`` runs on the event loop at the end of each request and only does in-memory work
(the recent-id set, a deque append); ClickHouse I/O happens in the writer's thread. The same
object answers the questions other parts of the gateway ask of the inference log: does this id
exist (feedback), run this read-only query (admin SQL), is the write path healthy (``probe``,
which the app wires into ``/ready``). It owns only the writer's series on ``/metrics``; the
per-inference ones are counted on the inference side (``app.inference.metrics``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from typing import NamedTuple

from app.metrics import REGISTRY, GaugeSet, Registry
from app.records import FeedbackRecord, InferenceRecord, Level, TargetInfo
from app.settings import Settings
from app.store.clickhouse.client import describe
from app.store.clickhouse.query import (
    ClickHouseReader,
    Reader,
    SqlFormat,
    SqlLimits,
    run_readonly,
)
from app.store.clickhouse.recent import RecentIds, read_until
from app.store.clickhouse.remote import RemoteReader, RemoteStore, run_readonly_remote
from app.store.clickhouse.spend import SpendReport, spend_rows, spend_sql, total_of
from app.store.clickhouse.spill import SpillDir
from app.store.clickhouse.store import ClickHouseStore, Store
from app.store.clickhouse.writer import Writer, WriterStats

log = logging.getLogger("switchyard.clickhouse")

# Startup waits this long for the first ClickHouse connection (and migrations) before serving;
# past it the gateway serves anyway and spills until ClickHouse answers.
_STARTUP_WAIT_S = 15.0
# Feedback on an id another process minted waits for its row this long past the write interval
# (an insert and its views take well under a second on a loaded 2-core machine), polling.
_INSERT_SETTLE_S = 3.0
_IN_FLIGHT_POLL_S = 0.2
# /ready turns false when the write queue is this full.
_QUEUE_READY_FRACTION = 0.9

# The writer's figures on /metrics: (series, WriterStats field, type, help).
_WRITER_SERIES = (
    (
        "switchyard_rows_written_total",
        "rows_written",
        "counter",
        "Inference rows inserted into ClickHouse",
    ),
    (
        "switchyard_rows_spilled_total",
        "rows_spilled",
        "counter",
        "Inference rows written to spill files",
    ),
    ("switchyard_rows_replayed_total", "rows_replayed", "counter", "Spilled rows inserted later"),
    (
        "switchyard_rows_dropped_total",
        "rows_dropped",
        "counter",
        "Rows lost: not even spilling worked",
    ),
    (
        "switchyard_rows_rejected_total",
        "rows_rejected",
        "counter",
        "Spilled rows ClickHouse refused, set aside",
    ),
    (
        "switchyard_write_batches_failed_total",
        "batches_failed",
        "counter",
        "ClickHouse inserts that failed",
    ),
    ("switchyard_write_queue_depth", "queue_depth", "gauge", "Inference rows waiting in memory"),
    ("switchyard_spill_files", "spill_files", "gauge", "Spill files waiting for replay"),
    ("switchyard_clickhouse_connected", "connected", "gauge", "1 when the writer is connected"),
)


def _field(name: str) -> Callable[[WriterStats], float]:
    return lambda stats: float(getattr(stats, name))


def _writer_metrics(registry: Registry, writer: Writer) -> None:
    """The writer's series, all read from one ``writer.stats()`` per scrape (it lists the spill
    directory)."""
    series = registry.add(GaugeSet("switchyard_writer", writer.stats))
    for name, field, kind, help in _WRITER_SERIES:
        series.gauge(name, help, _field(field), kind)


SqlRunner = Callable[[str, SqlFormat, SqlLimits], bytes]


class Access(NamedTuple):
    """How this process reaches ClickHouse: directly, or through the store process when
    several workers share the embedded engine (docs/scaling.md)."""

    open_store: Callable[[], Store]
    reader: Reader
    run_sql: SqlRunner
    where: str


def clickhouse_access(settings: Settings) -> Access:
    if settings.uses_store_process:
        path = settings.store_socket
        return Access(
            partial(RemoteStore.open, path),
            RemoteReader(path),
            partial(run_readonly_remote, path),
            f"the store process ({describe(settings.resolved_clickhouse_url)} via {path})",
        )
    url = settings.resolved_clickhouse_url
    return Access(
        partial(ClickHouseStore.open, url, settings.clickhouse_cluster),
        ClickHouseReader(url),
        partial(run_readonly, url),
        describe(url),
    )


class ClickHouseRecorder:
    def __init__(
        self,
        settings: Settings,
        writer: Writer,
        access: Access,
        registry: Registry = REGISTRY,
    ) -> None:
        self.where = access.where
        self.run_sql = access.run_sql
        self.limits = SqlLimits(settings.admin_sql_timeout_s, settings.admin_sql_max_rows)
        self.settle_s = settings.write_interval_s + _INSERT_SETTLE_S
        self.writer = writer
        self.reader = access.reader
        self.recent = RecentIds()
        _writer_metrics(registry, writer)

    def record(self, record: InferenceRecord) -> None:
        if not record.stored:  # store=false: counted for budgets upstream, never written
            return
        try:
            self.recent.add(record)
            self.writer.submit(record)
        except Exception:  # the response is already sent; never let bookkeeping fail it
            log.exception("could not record inference %s", record.id)

    def submit_feedback(self, record: FeedbackRecord) -> None:
        """Queue a feedback row; it shares the writer's batching, spill and replay."""
        self.writer.submit(record)

    async def find(self, target_id: str, level: Level) -> TargetInfo | None:
        """What an inference/completion id (level ``inference``) or episode id resolves to.

        Found as soon as it was recorded (still queued, or spilled, counts), via the recent-id
        set; older ids are looked up in ClickHouse. Raises when ClickHouse is unreachable and
        the id is not recent, so callers can answer 503 rather than a wrong 404.
        """
        found = self.recent.find(target_id, level)
        if found is not None:
            return found
        until = self.recent.in_flight_until(target_id, level, self.settle_s)
        return await read_until(
            partial(self.reader.target, target_id, level), until, _IN_FLIGHT_POLL_S
        )

    async def sql(self, query: str, fmt: SqlFormat) -> bytes:
        """Run an analyst's read-only query (see :func:`run_readonly`)."""
        return await asyncio.to_thread(self.run_sql, query, fmt, self.limits)

    async def spend(
        self, group_by: list[str], start: datetime | None, end: datetime | None
    ) -> SpendReport:
        """Spend summed in ClickHouse (docs/spend.md), grouped by ``group_by``."""
        parameters = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        found = await self.reader.rows(spend_sql(group_by, start, end), parameters)
        rows = spend_rows(group_by, found)
        return SpendReport(
            group_by=group_by,
            start=start.isoformat() if start else None,
            end=end.isoformat() if end else None,
            rows=rows,
            total=total_of(rows),
        )

    async def probe(self) -> tuple[bool, str]:
        """Is the write path healthy, and why not: the ``clickhouse`` check of ``/ready``."""
        stats = self.writer.stats()
        where = self.where
        if not stats.connected:
            spilled = f"spilling to disk ({stats.rows_spilled} rows so far)"
            return False, f"{where} unreachable, {spilled}: {stats.last_error}"
        if stats.queue_depth >= _QUEUE_READY_FRACTION * self.writer.queue_limit:
            return (
                False,
                f"write queue nearly full ({stats.queue_depth}/{self.writer.queue_limit} rows)",
            )
        await self.reader.rows("SELECT 1")
        detail = f"{where}, queue {stats.queue_depth}/{self.writer.queue_limit}"
        if stats.spill_files:
            detail += f", replaying {stats.spill_files} spill file(s)"
        return True, detail


@asynccontextmanager
async def open_recorder(settings: Settings) -> AsyncIterator[ClickHouseRecorder]:
    """Start the writer (migrating the schema on its first connection), stop it flushed."""
    access = clickhouse_access(settings)
    writer = Writer(
        access.open_store,
        SpillDir(settings.spill_dir),
        batch_rows=settings.write_batch_rows,
        interval_s=settings.write_interval_s,
        queue_rows=settings.write_queue_rows,
        retries=settings.write_retries,
        nice=settings.write_nice,
        journal=settings.write_journal,
    )
    writer.start()
    if not await asyncio.to_thread(writer.wait_first_connect, _STARTUP_WAIT_S):
        log.warning(
            "starting without ClickHouse (%s); inferences are spilled until it answers",
            access.where,
        )
    recorder = ClickHouseRecorder(settings, writer, access)
    try:
        yield recorder
    finally:
        await asyncio.to_thread(writer.close)
        access.reader.close()
        stats = writer.stats()
        log.info(
            "ClickHouse writer stopped: %d rows written, %d spilled, %d replayed, %d dropped",
            stats.rows_written,
            stats.rows_spilled,
            stats.rows_replayed,
            stats.rows_dropped,
        )
