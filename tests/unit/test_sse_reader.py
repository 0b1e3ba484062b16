"""The SSE reader: ``data:`` payloads out of a body that arrives in arbitrary pieces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.providers.upstream import sse_data


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def payloads(*parts: bytes) -> list[bytes]:
    return [p async for p in sse_data(pieces(*parts))]


async def test_one_payload_per_data_line() -> None:
    body = b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n'
    assert await payloads(body) == [b'{"a":1}', b'{"b":2}', b"[DONE]"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
async def test_lines_split_across_reads_are_joined(size: int) -> None:
    body = b'data: {"text":"hello world"}\n\ndata: {"n":2}\n\n'
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    assert await payloads(*parts) == [b'{"text":"hello world"}', b'{"n":2}']


async def test_event_names_comments_and_blank_data_are_skipped() -> None:
    body = (
        b": keep-alive comment\n"
        b"event: message_start\n"
        b'data: {"type":"message_start"}\n\n'
        b"data:\n"
        b"data:   \n"
        b"id: 7\n"
        b"event: ping\n"
        b'data: {"type":"ping"}\n\n'
    )
    assert await payloads(body) == [b'{"type":"message_start"}', b'{"type":"ping"}']


async def test_crlf_line_ends_and_missing_space_after_the_colon() -> None:
    assert await payloads(b'data:{"a":1}\r\n\r\ndata: {"b":2}\r\n') == [b'{"a":1}', b'{"b":2}']


async def test_a_last_line_without_newline_is_still_read() -> None:
    assert await payloads(b'data: {"a":1}\n\n', b'data: {"last":true}') == [
        b'{"a":1}',
        b'{"last":true}',
    ]


async def test_an_empty_body_has_no_payloads() -> None:
    assert await payloads() == []
    assert await payloads(b"", b"\n\n") == []
