"""The store process: the one owner of the embedded chDB engine when ``serve --workers N``
runs on the embedded default (docs/scaling.md, "Workers on the embedded default").

chDB holds its data directory for one process, so with several workers a separate process
opens it, applies the migrations, and answers the workers on a Unix socket
(:mod:`.ipc`): their writers' batches (inserted with the batch id as deduplication token, as
they would be into a server), the gateway's own reads, and analysts' read-only SQL. A thread
per connection; the engine takes concurrent queries from several threads as it does
in-process. It keeps no state of its own: killed, it is restarted by ``serve``, and the
workers' writers spill and replay across the gap exactly as for a ClickHouse outage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import Any, cast

from app.store.clickhouse.ipc import (
    Insert,
    Ping,
    ReadOnly,
    Reply,
    Request,
    Rows,
    failure,
    portable_rows,
    receive_request,
    send,
)
from app.store.clickhouse.query import (
    ClickHouseReader,
    SqlFormat,
    SqlLimits,
    run_readonly,
)
from app.store.clickhouse.store import ClickHouseStore

log = logging.getLogger("switchyard.store")


class StoreHost:
    """What a request does, given the engine; the server below only frames and dispatches."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = ClickHouseStore.open(url)  # migrates
        self.reader = ClickHouseReader(url)
        self._insert_lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        try:
            return Reply(value=self._run(request))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the worker, named
            return failure(exc)

    def _run(self, request: Request) -> Any:
        if isinstance(request, Insert):
            if request.token is None:
                self.reader.insert_sync(request.table, request.columns, request.payload)
            else:
                with self._insert_lock:
                    self.store.insert(
                        request.table, request.columns, request.payload, request.token
                    )
            return None
        if isinstance(request, Rows):
            return portable_rows(self.reader.rows_sync(request.sql, request.parameters))
        if isinstance(request, ReadOnly):
            limits = SqlLimits(timeout_s=request.timeout_s, max_rows=request.max_rows)
            return run_readonly(self.url, request.sql, cast(SqlFormat, request.fmt), limits)
        assert isinstance(request, Ping)
        return self.store.ping()

    def close(self) -> None:
        self.reader.close()
        self.store.close()


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        with contextlib.suppress(ConnectionError, OSError):
            while (request := receive_request(sock)) is not None:
                send(sock, self.server.host.handle(request))


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, host: StoreHost) -> None:
        self.host = host
        super().__init__(path, _Connection)


def serve_store(url: str, socket_path: Path, nice: int = 0) -> None:
    """Open the engine, then answer on ``socket_path`` (short enough for a socket name:
    ``Settings.store_socket``) until the parent process is gone."""
    if nice:
        os.nice(nice)  # inserts and merges give way to the workers, as the writer thread does
    parent = os.getppid()
    host = StoreHost(url)
    socket_path.unlink(missing_ok=True)
    temporary = socket_path.with_name(socket_path.name + ".new")
    temporary.unlink(missing_ok=True)
    server = _Server(str(temporary), host)
    os.chmod(temporary, 0o600)  # the workers run as this user; nobody else may write rows
    temporary.rename(socket_path)  # appears only once it answers
    threading.Thread(target=_stop_when_orphaned, args=(parent, server), daemon=True).start()
    log.info("store process %d serving %s on %s", os.getpid(), url, socket_path)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        host.close()


def _stop_when_orphaned(parent: int, server: _Server) -> None:
    """Stop serving once ``serve`` is gone (killed without a chance to stop us)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("serve (pid %d) is gone; the store process stops", parent)
    server.shutdown()
