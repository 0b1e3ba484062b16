"""What :mod:`app.tracing.otlp` writes is what opentelemetry-proto's own classes read back
(every attribute type, events, status, parents, the memo of repeated attributes), and the W3C
``traceparent`` parser and the ratio sampler follow the specs (docs/operations.md, "Traces")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.tracing import otlp
from app.tracing.export import Tracing, parse_traceparent
from tests.support.otlp import value_of


def decode(body: bytes) -> tuple[dict[str, object], list[object]]:
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    resource = {a.key: value_of(a.value) for a in resource_spans.resource.attributes}
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == "switchyard" and scope_spans.scope.version == "9.9"
    return resource, list(scope_spans.spans)


def encode(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "trace_id": bytes(range(16)),
        "span_id": bytes(range(8)),
        "parent_span_id": b"",
        "name": "chat gpt-x",
        "kind": 3,
        "start_ns": 1_700_000_000_000_000_000,
        "end_ns": 1_700_000_000_123_456_789,
        "span_attributes": {},
        "events": [],
        "status_code": 0,
        "status_message": "",
        **overrides,
    }
    span = otlp.span(**fields)  # type: ignore[arg-type]
    return otlp.export_request(
        otlp.resource_message({"service.name": "sy"}),
        otlp.scope_message("switchyard", "9.9"),
        [span],
    )


def test_a_span_with_every_field_decodes_as_written() -> None:
    attributes = {
        "gen_ai.request.model": "gpt-x",
        "gen_ai.usage.input_tokens": 12,
        "http.response.status_code": 503,
        "switchyard.cached": True,
        "switchyard.variant": "",
        "ratio": 0.25,
        "negative": -7,
        "gen_ai.response.finish_reasons": ["stop", "length"],
        "unicode": "résumé ✓",
    }
    events = [
        (1_700_000_000_000_000_100, "retry", {"switchyard.provider": "claude", "delay_ms": 10})
    ]
    resource, (span,) = decode(
        encode(
            parent_span_id=b"\xff" * 8,
            span_attributes=attributes,
            events=events,
            status_code=2,
            status_message="upstream 503",
        )
    )
    assert resource == {"service.name": "sy"}
    assert span.trace_id == bytes(range(16)) and span.span_id == bytes(range(8))
    assert span.parent_span_id == b"\xff" * 8
    assert span.name == "chat gpt-x" and span.kind == 3
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
        1_700_000_000_000_000_000,
        1_700_000_000_123_456_789,
    )
    assert {a.key: value_of(a.value) for a in span.attributes} == attributes
    assert [
        (e.time_unix_nano, e.name, {a.key: value_of(a.value) for a in e.attributes})
        for e in span.events
    ] == events
    assert (span.status.code, span.status.message) == (2, "upstream 503")


def test_an_unset_status_and_no_parent_are_left_out() -> None:
    _, (span,) = decode(encode())
    assert span.parent_span_id == b"" and span.status.code == 0 and not span.HasField("status")


def test_a_memoised_attribute_is_the_same_on_a_span_and_on_an_event() -> None:
    """The memo keys on the field number too: a span's attribute (field 9) and an event's
    (field 3) with the same key and value are different bytes."""
    same = {"switchyard.provider": "oai"}
    for _ in range(2):  # the second pass reads the memo
        _, (span,) = decode(encode(span_attributes=same, events=[(5, "fallback", same)]))
        assert value_of(span.attributes[0].value) == "oai"
        assert value_of(span.events[0].attributes[0].value) == "oai"


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.one_of(
            st.text(max_size=50),
            st.booleans(),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.floats(allow_nan=False),
            st.lists(st.text(max_size=10), max_size=4),
        ),
        max_size=12,
    )
)
def test_any_attributes_round_trip(attributes: dict[str, object]) -> None:
    _, (span,) = decode(encode(span_attributes=attributes))
    decoded = {a.key: value_of(a.value) for a in span.attributes}
    assert decoded == attributes
    assert [type(v) for v in decoded.values()] == [type(v) for v in attributes.values()]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            f"00-{'ab' * 16}-{'cd' * 8}-01",
            (bytes.fromhex("ab" * 16), bytes.fromhex("cd" * 8), True),
        ),
        (
            f"00-{'ab' * 16}-{'cd' * 8}-00",
            (bytes.fromhex("ab" * 16), bytes.fromhex("cd" * 8), False),
        ),
        (
            f"01-{'ab' * 16}-{'cd' * 8}-03-later",
            (bytes.fromhex("ab" * 16), bytes.fromhex("cd" * 8), True),
        ),
        (f"ff-{'ab' * 16}-{'cd' * 8}-01", None),  # version ff is invalid
        (f"00-{'0' * 32}-{'cd' * 8}-01", None),  # all-zero trace id
        (f"00-{'ab' * 16}-{'0' * 16}-01", None),  # all-zero parent id
        (f"00-{'AB' * 16}-{'cd' * 8}-01", None),  # upper case is not the format
        (f"00-{'ab' * 16}-{'cd' * 8}-01-extra", None),  # version 00 has exactly four fields
        ("garbage", None),
    ],
)
def test_traceparent_is_parsed_by_the_w3c_rules(header: str, expected: object) -> None:
    assert parse_traceparent(header) == expected


class _Nowhere:
    def send(self, body: bytes) -> bool:
        return True

    def close(self) -> None:
        return None


def sampled_share(ratio: float, traces: int = 4000) -> float:
    tracing = Tracing(_Nowhere(), "sy", 10, ratio)  # type: ignore[arg-type]
    try:
        return (
            sum(
                tracing.begin("chat", None).start_attempt("p", "openai", "m").endswith("-01")
                for _ in range(traces)
            )
            / traces
        )
    finally:
        tracing.close()


def test_the_ratio_sampler_keeps_that_share_of_new_traces_and_follows_a_parent() -> None:
    assert sampled_share(1.0) == 1.0 and sampled_share(0.0) == 0.0
    assert 0.2 < sampled_share(0.25) < 0.3
    tracing = Tracing(_Nowhere(), "sy", 10, 0.0)  # type: ignore[arg-type]
    try:
        parent = f"00-{'ab' * 16}-{'cd' * 8}-01"
        passed = tracing.begin("chat", parent).start_attempt("p", "openai", "m")
        assert passed.startswith(f"00-{'ab' * 16}-") and passed.endswith("-01")
    finally:
        tracing.close()
