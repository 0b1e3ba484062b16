"""The store process's wire (app/store/clickhouse/ipc.py) over a real socket pair: row values
come back as the types the in-process reader returns, errors come back as what they were, and a
broken frame is a connection error, not a wrong value."""

from __future__ import annotations

import datetime as dt
import decimal
import socket
import struct
import uuid

import msgspec
import pytest

from app.errors import PermissionDenied
from app.store.clickhouse.ipc import (
    Insert,
    Reply,
    failure,
    portable_rows,
    receive_reply,
    receive_request,
    send,
)


def test_row_values_keep_their_types() -> None:
    row = (
        uuid.uuid4(),
        decimal.Decimal("0.000000123456"),
        dt.date(2026, 12, 7),
        dt.datetime(2026, 12, 7, 5, 6, 7, 891011),
        dt.datetime(2026, 12, 7, 5, 6, 7, tzinfo=dt.UTC),
        ["a", dt.date(2026, 1, 1)],
        {"k": "v"},
        None,
        1.5,
    )
    left, right = socket.socketpair()
    with left, right:
        send(left, Reply(value=portable_rows([row])))
        back = receive_reply(right).value
    assert tuple(back[0]) == (*row[:5], list(row[5]), *row[6:])
    assert [type(v) for v in back[0][:5]] == [type(v) for v in row[:5]]


def test_requests_and_errors_cross_intact() -> None:
    left, right = socket.socketpair()
    with left, right:
        send(left, Insert("inferences", ["id"], b'{"id": 1}\n', "token-1"))
        assert receive_request(right) == Insert("inferences", ["id"], b'{"id": 1}\n', "token-1")
        send(right, failure(PermissionDenied("read-only", param="query", code="readonly")))
        reply = receive_reply(left)
    assert (reply.error, reply.message, reply.param, reply.code) == (
        "PermissionDenied",
        "read-only",
        "query",
        "readonly",
    )


def test_a_cut_or_foreign_frame_is_refused() -> None:
    left, right = socket.socketpair()
    with right:
        left.sendall(struct.pack(">I", 100) + b"short")
        left.close()
        with pytest.raises(ConnectionError):
            receive_request(right)
    left, right = socket.socketpair()
    with left, right:
        body = msgspec.msgpack.encode({"type": "drop_everything"})
        left.sendall(struct.pack(">I", len(body)) + body)
        with pytest.raises(msgspec.ValidationError):
            receive_request(right)
