"""The background writer against a real embedded ClickHouse, with faults injected around it.

The store the writer gets is the real one (chDB, real inserts, real insert deduplication)
wrapped so inserts can fail on demand: before reaching ClickHouse ("down"), or *after* the
rows landed ("lost ack", the case deduplication tokens exist for).

chDB allows one data path per process, so this module keeps one path for all its tests (and
no other in-process test may open another).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from app.ids import uuid7_str
from app.records import AttemptRecord, InferenceRecord
from app.store.clickhouse.rows import ATTEMPT_COLUMNS, INFERENCE_COLUMNS, encode_batch
from app.store.clickhouse.spill import SpillDir
from app.store.clickhouse.store import ClickHouseStore
from app.store.clickhouse.writer import Writer
from tests.support.gateway import REPO


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    real = ClickHouseStore.open(f"chdb://{tmp_path_factory.mktemp('writer') / 'clickhouse'}")
    yield real
    real.close()


class Faults:
    """Decides the fate of each insert: "ok", "down" (raise, nothing written) or "lost_ack"
    (written, then raise). ``plan`` is consumed first, then ``mode`` applies."""

    def __init__(self, real: ClickHouseStore) -> None:
        self.real = real
        self.mode = "ok"
        self.plan: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.inserting = threading.Event()
        self.inserts = 0

    def connect(self) -> FaultyStore:
        if self.mode == "down":
            raise OperationalError("connection refused (injected)")
        return FaultyStore(self)


class FaultyStore:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        faults = self.faults
        faults.inserting.set()
        faults.gate.wait()
        fate = faults.plan.pop(0) if faults.plan else faults.mode
        faults.inserts += 1
        if fate == "down":
            raise OperationalError("connection reset (injected)")
        if fate == "reject":
            raise DatabaseError("Code: 27. DB::Exception: Cannot parse input (injected)")
        faults.real.insert(table, columns, payload, token)
        if fate == "lost_ack":
            raise OperationalError("read timed out after the insert (injected)")

    def ping(self) -> bool:
        if self.faults.mode == "down":
            raise OperationalError("connection refused (injected)")
        return True

    def close(self) -> None:  # the real store is shared by the module
        pass


def records(function: str, count: int) -> list[InferenceRecord]:
    made = []
    for i in range(count):
        inference_id = uuid7_str()
        made.append(
            InferenceRecord(
                id=inference_id,
                created_at=time.time(),
                config_version=1,
                function=function,
                variant="v",
                episode_id=uuid7_str(),
                model="m",
                status="ok",
                labels={"i": str(i)},
                tags=["t"],
                latency_ms=1.0,
                completion_ids=[inference_id],
                attempts=[
                    AttemptRecord(
                        id=uuid7_str(),
                        inference_id=inference_id,
                        provider="p",
                        provider_type="openai",
                        model="pm",
                        started_at=time.time(),
                        latency_ms=1.0,
                        status="ok",
                    )
                ],
            )
        )
    return made


def stored(store: ClickHouseStore, function: str) -> tuple[int, int, int, set[str]]:
    """(rows, distinct ids, attempt rows, ids) for one test's function name."""
    ((count, distinct),) = store.client.query(
        "SELECT count(), uniqExact(id) FROM inferences WHERE function = {f:String}", {"f": function}
    ).result_rows
    attempts = store.client.query(
        "SELECT count() FROM model_inferences WHERE function = {f:String}", {"f": function}
    ).result_rows[0][0]
    ids = {
        str(row[0])
        for row in store.client.query(
            "SELECT id FROM inferences WHERE function = {f:String}", {"f": function}
        ).result_rows
    }
    return count, distinct, attempts, ids


def make_writer(faults: Faults, spill: Path, **options: float) -> Writer:
    defaults = {
        "batch_rows": 7,
        "interval_s": 0.02,
        "retries": 1,
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
    }
    writer = Writer(faults.connect, SpillDir(spill), **{**defaults, **options})  # type: ignore[arg-type]
    writer.start()
    return writer


def wait(condition, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_outage_and_lost_acks_end_with_every_row_exactly_once(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    faults = Faults(store)
    writer = make_writer(faults, tmp_path)
    sent = records(function, 20)
    # One plan entry per insert call (inferences, then model_inferences, per batch): rows land
    # but the writer hears an error and retries the same batch.
    faults.plan = ["lost_ack", "ok", "ok", "ok", "lost_ack"]
    for record in sent:
        writer.submit(record)
    wait(lambda: stored(store, function)[2] == 20 and writer.queue_depth == 0 and not faults.plan)
    assert stored(store, function)[:2] == (20, 20) and writer.stats().rows_spilled == 0

    faults.mode = "down"  # ClickHouse goes away: batches spill, requests never wait
    outage = records(function, 30)
    for record in outage:
        writer.submit(record)
    wait(lambda: writer.stats().rows_spilled == 30)
    assert not writer.connected and stored(store, function)[0] == 20

    faults.mode, faults.plan = (
        "ok",
        ["lost_ack"],
    )  # back; the first replay lands but its ack is lost
    wait(lambda: writer.stats().rows_replayed == 30)
    writer.close()

    count, distinct, attempts, ids = stored(store, function)
    assert (count, distinct, attempts) == (50, 50, 50)
    assert ids == {r.id for r in sent + outage}
    stats = writer.stats()
    assert (stats.rows_spilled, stats.rows_replayed, stats.rows_dropped, stats.spill_files) == (
        30,
        30,
        0,
        0,
    )
    assert stats.rows_written == 50 and stats.batches_failed >= 4


def test_journal_files_are_inserted_from_memory_and_replayed_only_after_a_failure(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    """A sealed journal file is inserted from the records appended to it and then removed; one
    whose insert lost its ack stays on disk and is replayed under the same batch id, so its
    rows land once."""
    function = f"f-{uuid.uuid4().hex[:8]}"
    faults = Faults(store)
    writer = make_writer(faults, tmp_path, journal=True, batch_rows=1000, interval_s=0.05)
    first = records(function, 12)
    for record in first:
        writer.submit(record)
    wait(lambda: writer.stats().rows_written == 12)  # counted once both tables have the batch
    assert stored(store, function)[:3] == (12, 12, 12)
    stats = writer.stats()
    assert (stats.rows_written, stats.rows_replayed, stats.rows_spilled) == (12, 0, 0)
    wait(lambda: not list(tmp_path.glob("*/*.jsonl*")))  # the inserted file is gone

    faults.plan = ["lost_ack"]  # the next sealed file's rows land, but the writer hears an error
    second = records(function, 9)
    for record in second:
        writer.submit(record)
    wait(lambda: stored(store, function)[2] == 21 and writer.stats().spill_files == 0)
    writer.close()

    count, distinct, attempts, ids = stored(store, function)
    assert (count, distinct, attempts) == (21, 21, 21)
    assert ids == {r.id for r in first + second}
    stats = writer.stats()
    # the file whose ack was lost (all 9 rows, unless a seal fell between two submits)
    assert 0 < stats.rows_spilled == stats.rows_replayed <= 9


def test_full_queue_spills_instead_of_dropping_and_never_blocks(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    faults = Faults(store)
    faults.gate.clear()  # the first insert hangs (a slow ClickHouse)
    writer = make_writer(faults, tmp_path, queue_rows=10, batch_rows=5)
    sent = records(function, 101)
    writer.submit(sent[0])
    assert faults.inserting.wait(5)
    slowest = 0.0
    for record in sent[1:]:
        started = time.perf_counter()
        writer.submit(record)
        slowest = max(slowest, time.perf_counter() - started)
    stats = writer.stats()
    assert (stats.queue_depth, stats.rows_spilled, stats.rows_dropped) == (10, 90, 0)
    # The insert hangs until the gate opens below, so a submit that waited for it would never
    # return; 0.5 s leaves a loaded 2-core machine room for a spill file's fsync.
    assert slowest < 0.5, f"submit took {slowest * 1000:.1f} ms"

    faults.gate.set()
    wait(lambda: writer.stats().rows_replayed == 90 and writer.queue_depth == 0)
    writer.close()
    count, distinct, _, ids = stored(store, function)
    assert (count, distinct) == (101, 101) and ids == {r.id for r in sent}


def test_shutdown_flushes_without_waiting_for_the_interval(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    writer = make_writer(Faults(store), tmp_path, interval_s=60, batch_rows=10_000)
    for record in records(function, 25):
        writer.submit(record)
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 5
    assert stored(store, function)[:2] == (25, 25)


CRASHING_PROCESS = """
import os, sys, time
from pathlib import Path
from app.records import InferenceRecord
from app.store.clickhouse.spill import SpillDir
spill = SpillDir(Path(sys.argv[1]))
spill.open()
for i in range(5):
    spill.append(InferenceRecord(id=f"00000000-0000-7000-8000-00000000000{i}", created_at=time.time(),
                                 config_version=1, function=sys.argv[2], episode_id=sys.argv[3], model="m", status="ok"))
with open(next(spill.directory.glob("*.part")), "ab") as part:
    part.write(b'{"id": "cut short by the cr')
os._exit(0)  # no seal, no unlock: a crash
"""


def test_files_left_by_a_crashed_process_are_adopted_and_replayed(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_PROCESS, str(tmp_path), function, uuid7_str()], cwd=REPO
    )
    assert crashed.returncode == 0 and len(list(tmp_path.rglob("*.jsonl.part"))) == 1
    writer = make_writer(Faults(store), tmp_path)
    wait(lambda: writer.stats().rows_replayed == 5)
    writer.close()
    assert stored(store, function)[:2] == (5, 5)
    assert writer.stats().rows_dropped == 1 and not list(tmp_path.iterdir())


def test_a_live_writer_keeps_its_files_from_another(store: ClickHouseStore, tmp_path: Path) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    faults = Faults(store)
    faults.mode = "down"
    first = make_writer(faults, tmp_path)
    for record in records(function, 4):
        first.submit(record)
    wait(lambda: first.stats().spill_files >= 1)
    second = make_writer(Faults(store), tmp_path)  # a second worker on the same data directory
    # Instead of sleeping: two of the second worker's own records land in two loop turns, so
    # the adoption scan between them has run at least once and passed the first's files by.
    own = f"g-{uuid.uuid4().hex[:8]}"
    for landed, record in enumerate(records(own, 2), start=1):
        second.submit(record)
        wait(lambda landed=landed: stored(store, own)[0] == landed)
    assert second.stats().rows_replayed == 0 and first.stats().spill_files >= 1
    first.close()  # its files stay behind, unlocked: the second worker adopts them
    wait(lambda: second.stats().rows_replayed == 4)
    second.close()
    assert stored(store, function)[:2] == (4, 4) and not list(tmp_path.iterdir())


def test_a_batch_clickhouse_keeps_refusing_is_set_aside(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    function = f"f-{uuid.uuid4().hex[:8]}"
    left = SpillDir(tmp_path)
    left.open()
    left.write(uuid7_str(), records(function, 3))
    left.close()
    faults = Faults(store)
    faults.plan = ["reject"] * 3
    writer = make_writer(faults, tmp_path)
    wait(lambda: writer.stats().rows_rejected == 3)
    good = records(function, 2)
    for record in good:
        writer.submit(record)
    wait(lambda: stored(store, function)[0] == 2)
    writer.close()
    assert [p.suffix for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock"] == [
        ".rejected"
    ]
    assert writer.stats().rows_dropped == 0


def test_records_land_as_rows_with_counts_clamped_and_no_session_as_null(
    store: ClickHouseStore,
) -> None:
    """Rows are the records encoded as they are: every column from its field, an empty session
    as NULL, and counts outside UInt32 clamped instead of failing the batch."""
    function = f"f-{uuid.uuid4().hex[:8]}"
    first, second = records(function, 2)
    first.prompt_tokens, first.completion_tokens, first.config_version = -5, 2**40, 7
    first.attempts[0].prompt_tokens = -1
    second.session_id, second.labels, second.cost = uuid7_str(), {"team": "a"}, 0.25
    payloads = encode_batch([first, second])
    store.insert("inferences", INFERENCE_COLUMNS, payloads.inferences, uuid7_str())
    store.insert("model_inferences", ATTEMPT_COLUMNS, payloads.attempts, uuid7_str())
    rows = store.client.query(
        "SELECT toString(id), session_id IS NULL, toString(session_id), prompt_tokens,"
        " completion_tokens, config_version, labels, cost FROM inferences"
        " WHERE function = {f:String} ORDER BY toString(id)",
        {"f": function},
    ).result_rows
    assert rows == [
        (first.id, 1, None, 0, 2**32 - 1, 7, {"i": "0"}, None),
        (second.id, 0, second.session_id, 0, 0, 1, {"team": "a"}, 0.25),
    ]
    attempt_tokens = store.client.query(
        "SELECT prompt_tokens, attempt, toString(inference_id) FROM model_inferences"
        " WHERE function = {f:String} ORDER BY toString(inference_id)",
        {"f": function},
    ).result_rows
    assert attempt_tokens == [(0, 1, first.id), (0, 1, second.id)]
    assert first.prompt_tokens == -5  # the record itself is left as it was
