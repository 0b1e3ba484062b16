"""``serve`` keeps the store process running while its workers serve (docs/scaling.md,
"Workers on the embedded default").

The store process is started before the workers and waited for (its first start migrates
chDB); if it dies, it is started again after a second, and until it answers the workers spill
and then replay, as for any ClickHouse outage. Its pid is in ``<data dir>/store.pid``.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

from app.logs import configure_logging
from app.settings import Settings

log = logging.getLogger("switchyard.store")

_RESTART_DELAY_S = 1.0
_READY_TIMEOUT_S = 90.0


def _run(settings: Settings) -> None:
    from app.store.clickhouse.host import serve_store

    configure_logging(settings.log_level)
    serve_store(settings.resolved_clickhouse_url, settings.store_socket, settings.write_nice)


def answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class StoreProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pid_file = Path(settings.data_dir) / "store.pid"
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="store-supervisor")

    def start(self) -> None:
        """Start it and wait until it answers; raises if it exits or takes too long."""
        Path(self.settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.settings.store_socket.unlink(missing_ok=True)
        self._spawn()
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while not answers(self.settings.store_socket):
            assert self._process is not None
            if not self._process.is_alive():
                raise RuntimeError(f"the store process exited with {self._process.exitcode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the store process did not answer in {_READY_TIMEOUT_S:g} s")
            time.sleep(0.05)
        self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(15)
            if self._process.is_alive():
                self._process.kill()
        self.pid_file.unlink(missing_ok=True)

    def _spawn(self) -> None:
        # spawn, not fork: the parent has granian's and Python's threads, which fork would not copy
        process = multiprocessing.get_context("spawn").Process(
            target=_run, args=(self.settings,), name="switchyard-store", daemon=True
        )
        process.start()
        self._process = process
        self.pid_file.write_text(f"{process.pid}\n")

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            assert self._process is not None
            if self._process.is_alive():
                continue
            log.error(
                "the store process exited with %s; starting it again in %g s",
                self._process.exitcode,
                _RESTART_DELAY_S,
            )
            if self._stopping.wait(_RESTART_DELAY_S):
                return
            self._spawn()
