"""A worker's side of the store process (:mod:`.host`): the writer's :class:`Store`, the
gateway's :class:`Reader` and analysts' read-only SQL, over the store process's Unix socket.

Failures mean what they mean in-process: the socket not answering is ClickHouse being
unreachable (the writer spills and replays; reads answer 503), a statement ClickHouse refused
raises clickhouse-connect's ``DatabaseError`` again, and an OpenAI-shaped error of the host
(a read-only violation, a timeout) is raised again as the same class.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from app import errors
from app.errors import GatewayError, Unavailable
from app.store.clickhouse.ipc import (
    Insert,
    Ping,
    ReadOnly,
    Reply,
    Request,
    Rows,
    receive_reply,
    send,
)
from app.store.clickhouse.query import Reader, SqlFormat, SqlLimits

_TIMEOUT_S = 60.0
_ERRORS: dict[str, type[GatewayError]] = {
    name: kind
    for name, kind in vars(errors).items()
    if isinstance(kind, type) and issubclass(kind, GatewayError)
}


class _Channel:
    """One connection, used by one caller at a time, reopened after any failure."""

    def __init__(self, path: Path, timeout_s: float = _TIMEOUT_S) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def call(self, request: Request) -> Any:
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = _connect(self.path, self.timeout_s)
                send(self._sock, request)
                reply = receive_reply(self._sock)
            except OSError as exc:  # ConnectionError and timeouts included
                self._close()
                raise OperationalError(f"store process not reachable: {exc}") from None
        return _unwrap(reply)

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _connect(path: Path, timeout_s: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _unwrap(reply: Reply) -> Any:
    if reply.error is None:
        return reply.value
    if reply.error in _ERRORS:
        raise _ERRORS[reply.error](reply.message, param=reply.param, code=reply.code)
    raise DatabaseError(reply.message)


class RemoteStore:
    """The writer's :class:`~app.store.clickhouse.store.Store`, in the store process."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    @classmethod
    def open(cls, path: Path) -> RemoteStore:
        """Connect and check that the store process answers (it has migrated by then)."""
        store = cls(_Channel(path))
        try:
            store.ping()
        except BaseException:
            store.close()
            raise
        return store

    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        self._channel.call(Insert(table, columns, payload, token))

    def ping(self) -> bool:
        return bool(self._channel.call(Ping()))

    def close(self) -> None:
        self._channel.close()


class RemoteReader(Reader):
    """The gateway's reads, in the store process; same methods, same errors as in-process."""

    def __init__(self, path: Path) -> None:
        self._channel = _Channel(path)

    def rows_sync(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._call(Rows(sql, parameters))]

    def insert_sync(self, table: str, columns: list[str], payload: bytes) -> None:
        self._call(Insert(table, columns, payload))

    def _call(self, request: Request) -> Any:
        try:
            return self._channel.call(request)
        except OperationalError as exc:
            raise Unavailable(
                f"ClickHouse is not reachable ({exc}); retry later", code="store_unavailable"
            ) from None

    def close(self) -> None:
        self._channel.close()


def run_readonly_remote(path: Path, sql: str, fmt: SqlFormat, limits: SqlLimits) -> bytes:
    """:func:`~app.store.clickhouse.query.run_readonly`, in the store process."""
    channel = _Channel(path, timeout_s=limits.timeout_s + 10)
    try:
        body: bytes = channel.call(ReadOnly(sql, fmt, limits.timeout_s, limits.max_rows))
    except OperationalError as exc:
        raise Unavailable(f"ClickHouse is not reachable: {exc}") from None
    finally:
        channel.close()
    return body
