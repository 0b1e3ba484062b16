"""Inference records that could not go to ClickHouse yet, kept on local disk until they can.

Each process spills into its own directory, ``<spill_dir>/<uuid7>/``, locked (``flock``) for
its lifetime, so gateway workers sharing a data directory never replay or seal each other's
files. A directory whose lock is free belongs to a process that is gone: the next writer to
look adopts its files (moves them into its own directory) and replays them.

Inside a directory: one ``<batch id>.jsonl`` per batch, one record (inference or feedback,
tagged by ``kind``) per line (msgspec JSON). A file only gets its ``.jsonl`` name by an atomic
rename once complete, so replay never sees half a file:

- the writer thread spills a whole batch it failed to insert (``write``), keeping the batch
  id it tried to insert with, so a replay of a batch that had in fact reached ClickHouse is
  dropped by ClickHouse's insert deduplication instead of being stored twice;
- the request path appends single records (``append``) to an open ``<id>.jsonl.part`` file,
  which the writer seals into a batch file every cycle: every record when the journal is on
  (docs/analytics.md, "The journal"), else only when the in-memory queue is full. The open
  file's records are also kept in memory, and ``seal`` hands them back with the file: the
  writer inserts a fresh journal file from them rather than reading and decoding it again
  (3.8% of the gateway's samples at c=64, docs/performance.md); only a file left by a crash
  or an outage is ever read back.

``.part``/``.tmp`` files of a crashed process are sealed when adopted; a line cut short by the
crash is counted and skipped. A batch ClickHouse keeps rejecting while reachable is renamed
``.rejected`` for a human to look at, rather than blocking replay forever.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import BinaryIO

import msgspec

from app.ids import uuid7_str
from app.records import FeedbackRecord, InferenceRecord

log = logging.getLogger("switchyard.clickhouse")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(InferenceRecord | FeedbackRecord)


_LOCK = ".lock"


def _try_lock(directory: Path) -> int | None:
    """An exclusive ``flock`` on ``directory``'s lock file, or None if another process holds it."""
    try:
        fd = os.open(directory / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    except FileNotFoundError:  # adopted and removed meanwhile
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class SpilledBatch(msgspec.Struct, frozen=True):
    """A sealed batch file and its records: read back from it, or, for a journal file just
    sealed, the ones its lines were appended from."""

    path: Path
    batch_id: str
    records: list[InferenceRecord | FeedbackRecord]
    damaged_lines: int = 0


class SpillDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = root / uuid7_str()
        self._lock_fd: int | None = None
        self._lock = threading.Lock()
        self._open: BinaryIO | None = None
        self._open_path: Path | None = None
        self._open_records: list[InferenceRecord | FeedbackRecord] = []

    def open(self) -> None:
        """Create and lock this process's directory (a fresh one if another writer adopted the
        empty directory between our mkdir and our lock)."""
        while self._lock_fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _try_lock(self.directory)
            if self._lock_fd is None:
                self.directory = self.root / uuid7_str()

    def close(self) -> None:
        """Seal, release the lock, and remove the directory if nothing is left in it."""
        self.seal()
        if self._lock_fd is not None:
            (self.directory / _LOCK).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None
        try:
            self.directory.rmdir()
        except OSError:
            pass  # files remain: the next process adopts them

    def adopt(self) -> int:
        """Move the files of gone processes (unlocked directories) into ours; returns how many."""
        moved = 0
        others = (
            [d for d in self.root.iterdir() if d.is_dir() and d != self.directory]
            if self.root.is_dir()
            else []
        )
        for other in others:
            fd = _try_lock(other)
            if fd is None:
                continue  # a live process owns it
            try:
                for path in [*other.glob("*.jsonl.part"), *other.glob("*.jsonl.tmp")]:
                    path.rename(path.with_suffix(""))
                for path in [*other.glob("*.jsonl"), *other.glob("*.rejected")]:
                    path.rename(self.directory / path.name)
                    moved += 1
                (other / _LOCK).unlink(missing_ok=True)
                other.rmdir()
            except OSError:
                log.exception("could not adopt the spill files in %s", other)
            finally:
                os.close(fd)
        return moved

    def write(self, batch_id: str, records: list[InferenceRecord | FeedbackRecord]) -> None:
        """Store a whole batch durably (fsync, then rename into place)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{batch_id}.jsonl"
        temporary = final.with_suffix(".jsonl.tmp")
        with open(temporary, "wb") as file:
            file.write(_encoder.encode_lines(records))
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(final)

    def append(self, record: InferenceRecord | FeedbackRecord) -> int:
        """Add one record to the open file (thread-safe; one unbuffered write, no fsync, so it
        survives the process being killed but not the machine losing power); returns how many
        lines that file now holds."""
        line = _encoder.encode(record) + b"\n"
        with self._lock:
            if self._open is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._open_path = self.directory / f"{uuid7_str()}.jsonl.part"
                # Unbuffered, so a line survives a crash of this process; it stays open across
                # calls until seal(), hence no context manager.
                self._open = open(self._open_path, "ab", buffering=0)  # noqa: SIM115
                self._open_records = []
            self._open.write(line)
            self._open_records.append(record)
            return len(self._open_records)

    def seal(self) -> SpilledBatch | None:
        """Close the open file, if any, into a replayable batch file."""
        with self._lock:  # only the swap: appends on the event loop never wait for the fsync
            file, path, records = self._open, self._open_path, self._open_records
            self._open = self._open_path = None
            self._open_records = []
        if file is None or path is None:
            return None
        os.fsync(file.fileno())
        file.close()
        sealed = path.with_suffix("")
        path.rename(sealed)
        return SpilledBatch(sealed, sealed.name.removesuffix(".jsonl"), records)

    def files(self) -> list[Path]:
        """Sealed batch files, oldest first (batch ids are UUIDv7, so names sort by time)."""
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
