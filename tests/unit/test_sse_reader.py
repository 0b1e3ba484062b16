"""The SSE reader: ``data:`` payloads out of a body that arrives in arbitrary pieces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.providers.upstream import sse_data


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def payloads(*parts: bytes) -> list[bytes]:
    return [p async for read in sse_data(pieces(*parts)) for p in read]


async def test_one_payload_per_data_line() -> None:
    body = b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n'
    assert await payloads(body) == [b'{"a":1}', b'{"b":2}', b"[DONE]"]


async def test_the_events_of_one_read_come_out_together() -> None:
    reads = [b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: {"c"', b":3}\n\n", b": ping\n\n"]
    grouped = [read async for read in sse_data(pieces(*reads))]
    assert grouped == [[b'{"a":1}', b'{"b":2}'], [b'{"c":3}']]


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


async def test_multi_line_data_is_one_event_joined_with_newlines() -> None:
    body = b'data: {"a":\ndata:  1}\n\ndata: x\ndata:\ndata: y\n\n'
    assert await payloads(body) == [b'{"a":\n 1}', b"x\n\ny"]


async def test_comments_and_other_fields_inside_an_event_are_skipped() -> None:
    body = b'event: delta\n: comment\nid: 3\nretry: 10\ndata: {"a":1}\ndatax: no\n\n'
    assert await payloads(body) == [b'{"a":1}']


async def test_a_field_without_colon_and_one_space_dropped() -> None:
    assert await payloads(b"data\ndata:  two\n\n") == [b"two"]  # "\n two" stripped
    assert await payloads(b"data:x\n\n") == [b"x"]


@pytest.mark.parametrize("end", [b"\r\n", b"\r", b"\n"])
async def test_every_line_end(end: bytes) -> None:
    body = end.join([b"event: e", b"data: a", b"data: b", b"", b": c", b"data: z", b"", b""])
    assert await payloads(body) == [b"a\nb", b"z"]


@pytest.mark.parametrize("size", [1, 2, 5])
async def test_crlf_split_between_reads_is_one_line_end(size: int) -> None:
    """A read that ends in "\\r" and one that starts with "\\n" make one line end, not two
    (which would be a blank line and end the event early)."""
    body = b"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    assert await payloads(*parts) == [b"a\nb", b"c"]


async def test_lone_cr_line_ends_split_between_reads() -> None:
    assert await payloads(b"data: a\r", b"data: b\r", b"\r") == [b"a\nb"]
