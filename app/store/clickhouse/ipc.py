"""The messages between gateway workers and the store process (docs/scaling.md, "Workers on
the embedded default"), and how they are framed on the Unix socket.

One request, one reply, in order, on a connection: a 4-byte big-endian length, then a msgspec
MessagePack body. Requests are a tagged union, so decoding a frame is validating it. Row values
keep their Python types across the socket: MessagePack has no UUID, Decimal, date or naive
datetime, so those travel as extension types and come back as what the reader would have
returned in-process (callers compare and format them as before).
"""

from __future__ import annotations

import datetime as dt
import decimal
import socket
import struct
import uuid
from typing import Any

import msgspec

from app.errors import GatewayError

_LENGTH = struct.Struct(">I")
MAX_FRAME_BYTES = 1 << 30  # an analyst's result is capped by rows, not bytes: 1 GiB is a bug


class Insert(msgspec.Struct, tag="insert", frozen=True):
    """A ``JSONEachRow`` batch; ``token`` deduplicates it (None: an admin edit, not a batch)."""

    table: str
    columns: list[str]
    payload: bytes
    token: str | None = None


class Rows(msgspec.Struct, tag="rows", frozen=True):
    sql: str
    parameters: dict[str, Any] | None = None


class ReadOnly(msgspec.Struct, tag="readonly", frozen=True):
    """An analyst's query, run under the same limits as in-process (``run_readonly``)."""

    sql: str
    fmt: str
    timeout_s: float
    max_rows: int


class Ping(msgspec.Struct, tag="ping", frozen=True):
    pass


Request = Insert | Rows | ReadOnly | Ping


class Reply(msgspec.Struct, frozen=True):
    """``value`` on success; else ``error`` says what kind of failure to raise again: a
    ``GatewayError`` subclass by name, ``database`` (ClickHouse refused the statement) or
    ``unavailable`` (the engine could not be reached)."""

    value: Any = None
    error: str | None = None
    message: str = ""
    param: str | None = None
    code: str | None = None


_UUID, _DECIMAL, _DATE, _NAIVE_DATETIME = 1, 2, 3, 4


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == _UUID:
        return uuid.UUID(bytes=bytes(data))
    if code == _DECIMAL:
        return decimal.Decimal(bytes(data).decode())
    if code == _DATE:
        return dt.date.fromisoformat(bytes(data).decode())
    if code == _NAIVE_DATETIME:
        return dt.datetime.fromisoformat(bytes(data).decode())
    raise ValueError(f"unknown extension type {code}")


def _portable(value: Any) -> Any:
    """UUIDs, decimals, dates and naive datetimes as extensions: msgspec would send them as
    strings."""
    if isinstance(value, uuid.UUID):
        return msgspec.msgpack.Ext(_UUID, value.bytes)
    if isinstance(value, decimal.Decimal):
        return msgspec.msgpack.Ext(_DECIMAL, str(value).encode())
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return msgspec.msgpack.Ext(_NAIVE_DATETIME, value.isoformat().encode())
        return value
    if isinstance(value, dt.date):
        return msgspec.msgpack.Ext(_DATE, value.isoformat().encode())
    if isinstance(value, list | tuple):
        return [_portable(v) for v in value]
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    return value


def portable_rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [[_portable(v) for v in row] for row in rows]


_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(Request, ext_hook=_ext_hook)
_reply_decoder = msgspec.msgpack.Decoder(Reply, ext_hook=_ext_hook)


def failure(exc: BaseException) -> Reply:
    if isinstance(exc, GatewayError):
        return Reply(error=type(exc).__name__, message=exc.message, param=exc.param, code=exc.code)
    return Reply(error="database", message=str(exc))


def send(sock: socket.socket, message: Request | Reply) -> None:
    body = _encoder.encode(message)
    sock.sendall(_LENGTH.pack(len(body)) + body)


def _receive(sock: socket.socket) -> bytes | None:
    """One frame's body, or None when the peer closed the connection between frames."""
    head = _read_exactly(sock, _LENGTH.size, allow_eof=True)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME_BYTES:
        raise ConnectionError(f"frame of {length} bytes is over the limit")
    body = _read_exactly(sock, length, allow_eof=False)
    assert body is not None
    return body


def receive_request(sock: socket.socket) -> Request | None:
    body = _receive(sock)
    return None if body is None else _request_decoder.decode(body)


def receive_reply(sock: socket.socket) -> Reply:
    body = _receive(sock)
    if body is None:
        raise ConnectionError("the store process closed the connection")
    return _reply_decoder.decode(body)


def _read_exactly(sock: socket.socket, size: int, *, allow_eof: bool) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            if allow_eof and not chunks:
                return None
            raise ConnectionError("the connection closed inside a frame")
        chunks += chunk
    return bytes(chunks)
