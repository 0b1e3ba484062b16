"""Inference records that could not go to ClickHouse yet, kept on local disk until they can.

Layout of ``settings.spill_dir``: one ``<batch id>.jsonl`` per batch, one
:class:`InferenceRecord` per line (msgspec JSON). A file only gets its ``.jsonl`` name by an
atomic rename once complete, so replay never sees half a file:

- the writer thread spills a whole batch it failed to insert (``write``), keeping the batch
  id it tried to insert with, so a replay of a batch that had in fact reached ClickHouse is
  dropped by ClickHouse's insert deduplication instead of being stored twice;
- the request path appends single records when the in-memory queue is full (``append``) to an
  open ``<id>.jsonl.part`` file, which the writer seals into a batch file every cycle.

Leftover ``.part``/``.tmp`` files from a crash are sealed at startup (``recover``); a line cut
short by the crash is counted and skipped. A batch that ClickHouse keeps rejecting while it is
reachable is renamed ``.rejected`` for a human to look at, rather than blocking replay forever.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import BinaryIO

import msgspec

from app.ids import uuid7_str
from app.inference.record import InferenceRecord

log = logging.getLogger("switchyard.clickhouse")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(InferenceRecord)


class SpilledBatch(msgspec.Struct, frozen=True):
    path: Path
    batch_id: str
    records: list[InferenceRecord]
    damaged_lines: int


class SpillDir:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._open: BinaryIO | None = None
        self._open_path: Path | None = None

    def recover(self) -> int:
        """Seal files a crashed process left half-written; returns how many were found."""
        self.directory.mkdir(parents=True, exist_ok=True)
        leftovers = [*self.directory.glob("*.jsonl.part"), *self.directory.glob("*.jsonl.tmp")]
        for path in leftovers:
            path.rename(path.with_suffix(""))
        return len(leftovers)

    def write(self, batch_id: str, records: list[InferenceRecord]) -> None:
        """Store a whole batch durably (fsync, then rename into place)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{batch_id}.jsonl"
        temporary = final.with_suffix(".jsonl.tmp")
        with open(temporary, "wb") as file:
            file.write(_encoder.encode_lines(records))
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(final)

    def append(self, record: InferenceRecord) -> None:
        """Add one record to the open overflow file (thread-safe; one unbuffered write, no fsync)."""
        line = _encoder.encode(record) + b"\n"
        with self._lock:
            if self._open is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._open_path = self.directory / f"{uuid7_str()}.jsonl.part"
                self._open = open(self._open_path, "ab", buffering=0)  # survives a crash of this process
            self._open.write(line)

    def seal(self) -> None:
        """Close the overflow file, if any, into a replayable batch file."""
        with self._lock:
            if self._open is None or self._open_path is None:
                return
            os.fsync(self._open.fileno())
            self._open.close()
            self._open_path.rename(self._open_path.with_suffix(""))
            self._open = self._open_path = None

    def files(self) -> list[Path]:
        """Sealed batch files, oldest first (batch ids are UUIDv7, so names sort by time)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.jsonl"))

    def read(self, path: Path) -> SpilledBatch:
        records = []
        damaged = 0
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                records.append(_decoder.decode(line))
            except msgspec.DecodeError:
                damaged += 1
        return SpilledBatch(path, path.name.removesuffix(".jsonl"), records, damaged)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def quarantine(self, path: Path) -> Path:
        target = path.with_suffix(".rejected")
        path.rename(target)
        return target
