"""Spans as OTLP protobuf bytes (``ExportTraceServiceRequest``, opentelemetry-proto's
``trace/v1``), written field by field: pure, no I/O.

Why not the SDK's encoder: it builds a protobuf message object per span, attribute and value,
which cost 50 µs per span here (docs/performance.md, 2026-12-07), and on a one-core gateway the
export thread's CPU is taken from the event loop. Writing the wire format directly, with the
encoded ``KeyValue`` of the attributes that repeat on every request (model, function, variant,
provider, status…) kept in a bounded memo, is a few µs per span. The tests decode what this
writes with opentelemetry-proto's own classes (tests/support/otlp.py), so the two cannot drift.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int]

# Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
_LEN = 2
_MEMO_ENTRIES = 8192  # attribute encodings kept; cleared when full (cardinality is the caller's)
_memo: dict[tuple[int, str, Any], bytes] = {}
_MEMO_KEYS = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.response.finish_reasons",
        "switchyard.provider",
        "switchyard.function",
        "switchyard.variant",
        "switchyard.campaign",
        "switchyard.status",
        "switchyard.cached",
        "error.type",
        "http.response.status_code",
    }
)
_fixed64 = struct.Struct("<Q").pack
_double = struct.Struct("<d").pack


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # int64 negatives are ten bytes of two's complement
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def _field(field: int, payload: bytes) -> bytes:
    """A length-delimited field: a string, bytes or an embedded message."""
    return _tag(field, _LEN) + varint(len(payload)) + payload


def _any_value(value: AttributeValue) -> bytes:
    if isinstance(value, str):
        return _field(1, value.encode())
    if isinstance(value, bool):
        return _tag(2, 0) + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _tag(3, 0) + varint(value)
    if isinstance(value, float):
        return _tag(4, 1) + _double(value)
    return _field(5, b"".join(_field(1, _any_value(item)) for item in value))  # ArrayValue


def key_value(key: str, value: AttributeValue) -> bytes:
    """One ``KeyValue`` message (its body, without the enclosing field)."""
    return _field(1, key.encode()) + _field(2, _any_value(value))


def _attribute(field: int, key: str, value: AttributeValue) -> bytes:
    if key not in _MEMO_KEYS:
        return _field(field, key_value(key, value))
    memo_key = (field, key, tuple(value) if isinstance(value, list) else value)
    found = _memo.get(memo_key)
    if found is None:
        if len(_memo) >= _MEMO_ENTRIES:
            _memo.clear()
        found = _memo[memo_key] = _field(field, key_value(key, value))
    return found


def attributes(field: int, values: Mapping[str, AttributeValue]) -> bytes:
    return b"".join(_attribute(field, key, value) for key, value in values.items())


def span(
    *,
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    span_attributes: Mapping[str, AttributeValue],
    events: Iterable[tuple[int, str, Mapping[str, AttributeValue]]],
    status_code: int,
    status_message: str,
) -> bytes:
    """One ``Span`` message's body (``kind``: 2 server, 3 client; ``status_code``: 0 unset,
    2 error)."""
    parts = [_field(1, trace_id), _field(2, span_id)]
    if parent_span_id:
        parts.append(_field(4, parent_span_id))
    parts += [
        _field(5, name.encode()),
        _tag(6, 0) + varint(kind),
        _tag(7, 1) + _fixed64(start_ns),
        _tag(8, 1) + _fixed64(end_ns),
        attributes(9, span_attributes),
    ]
    for at_ns, event_name, event_attributes in events:
        body = _tag(1, 1) + _fixed64(at_ns) + _field(2, event_name.encode())
        parts.append(_field(11, body + attributes(3, event_attributes)))
    if status_code:
        status = _tag(3, 0) + varint(status_code)
        if status_message:
            status = _field(2, status_message.encode()) + status
        parts.append(_field(15, status))
    return b"".join(parts)


def export_request(resource: bytes, scope: bytes, spans: Iterable[bytes]) -> bytes:
    """An ``ExportTraceServiceRequest`` of one resource and one scope: ``resource`` is
    :func:`resource_message`'s, ``scope`` :func:`scope_message`'s, ``spans`` :func:`span`'s."""
    scope_spans = _field(1, scope) + b"".join(_field(2, body) for body in spans)
    resource_spans = _field(1, resource) + _field(2, scope_spans)
    return _field(1, resource_spans)


def resource_message(values: Mapping[str, AttributeValue]) -> bytes:
    return b"".join(_field(1, key_value(key, value)) for key, value in values.items())


def scope_message(name: str, version: str) -> bytes:
    return _field(1, name.encode()) + _field(2, version.encode())
