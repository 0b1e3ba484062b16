"""OpenTelemetry traces against a real OTLP/HTTP receiver (tests/support/otlp.py decodes the
protobuf): the span tree of a request that retried and fell back, the GenAI attributes, W3C
``traceparent`` continued from the client and passed to the provider, and collectors that
stall or refuse, which must not touch requests (docs/operations.md, "Traces")."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.gateway import Gateway, start_gateway
from tests.support.otlp import OTLPReceiver, ReceivedSpan

SERVER, CLIENT = 2, 3  # SpanKind in OTLP's enum
ERROR = 2


def gateway_toml(ant: FakeAnthropic, oai: FakeOpenAI) -> str:
    return f"""
[providers.claude]
type = "anthropic"
base_url = "{ant.url("tracing")}"
api_key_env = "ANT_KEY"
[providers.oai]
type = "openai"
base_url = "{oai.url("ok")}"

[models.flaky]
routing = [{{ provider = "claude", name = "claude-x" }}, {{ provider = "oai", name = "gpt-x" }}]
retries = {{ max = 1, base_delay_ms = 10 }}
[models.plain]
routing = [{{ provider = "oai", name = "gpt-plain" }}]
"""


FUNCTIONS = {
    "writer": '[variants.base]\nmodel = "plain"\nsystem_template = "Write about {{ topic }}."\n'
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    server = OTLPReceiver().start()
    yield server
    server.stop()


def traced_gateway(
    root: object, ant: FakeAnthropic, oai: FakeOpenAI, endpoint: str, **env: str
) -> Gateway:
    settings = {
        "ANT_KEY": "sk-ant-test",
        "SWITCHYARD_OTLP_ENDPOINT": endpoint,
        "SWITCHYARD_OTLP_SERVICE_NAME": "switchyard-test",
        **env,
    }
    return start_gateway(root, gateway_toml(ant, oai), FUNCTIONS, env=settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    receiver: OTLPReceiver,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> Iterator[Gateway]:
    server = traced_gateway(
        tmp_path_factory.mktemp("tracing"),
        fake_anthropic,
        fake_upstream,
        receiver.url("ok"),
        SWITCHYARD_OTLP_HEADERS="x-collector-token=abc123, x-tenant=t1",
    )
    yield server
    server.stop()


def chat(gw: Gateway, body: dict, traceparent: str | None = None) -> httpx.Response:
    headers = {"traceparent": traceparent} if traceparent else {}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


def new_traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def by_kind(spans: list[ReceivedSpan], kind: int) -> list[ReceivedSpan]:
    return sorted(
        (s for s in spans if s.kind == kind),
        key=lambda s: s.attributes.get("switchyard.provider", ""),
    )


def test_a_retry_and_a_fallback_make_a_server_span_with_three_attempts(
    gw: Gateway, receiver: OTLPReceiver, fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("tracing", 503, times=2)
    traceparent, trace_id, client_span = new_traceparent()
    response = chat(
        gw, {"model": "flaky", "messages": [{"role": "user", "content": "hi"}]}, traceparent
    )

    spans = receiver.trace(trace_id, spans=4)
    [server] = by_kind(spans, SERVER)
    attempts = [s for s in spans if s.kind == CLIENT]
    assert len(attempts) == 3, [s.name for s in spans]
    # Continued from the client's traceparent: same trace, the client's span is the parent.
    assert server.parent_span_id == client_span
    assert all(a.parent_span_id == server.span_id for a in attempts)
    assert server.name == "chat flaky"
    assert server.resource["service.name"] == "switchyard-test"
    assert (
        server.attributes["switchyard.inference_id"]
        == response.headers["x-switchyard-inference-id"]
    )
    assert [name for name, _ in server.events] == ["retry", "fallback"]
    assert server.events[0][1]["switchyard.provider"] == "claude"
    assert server.events[1][1]["switchyard.provider"] == "oai"

    failed = [a for a in attempts if a.attributes["switchyard.provider"] == "claude"]
    [answered] = [a for a in attempts if a.attributes["switchyard.provider"] == "oai"]
    assert len(failed) == 2 and all(a.status_code == ERROR for a in failed)
    assert all(a.attributes["http.response.status_code"] == 503 for a in failed)
    assert failed[0].attributes["gen_ai.provider.name"] == "anthropic"
    assert answered.name == "chat gpt-x"
    assert answered.status_code != ERROR
    usage = response.json()["usage"]
    assert answered.attributes["gen_ai.provider.name"] == "openai"
    assert answered.attributes["gen_ai.request.model"] == "gpt-x"
    assert answered.attributes["gen_ai.response.model"] == "gpt-x"
    assert answered.attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert answered.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert answered.attributes["gen_ai.response.finish_reasons"] == ["stop"]

    # Passed on: the provider that answered saw a traceparent naming its own client span.
    sent = fake_upstream.last("ok")["_headers"]["traceparent"]
    assert sent == f"00-{trace_id}-{answered.span_id}-01"
    # The collector got the configured headers.
    assert receiver.headers[-1]["x-collector-token"] == "abc123"
    assert receiver.headers[-1]["x-tenant"] == "t1"


def test_a_function_call_carries_the_routing_attributes_and_a_new_trace(
    gw: Gateway, receiver: OTLPReceiver
) -> None:
    body = {
        "model": "writer",
        "messages": [{"role": "user", "content": "go"}],
        "system_prompt_args": {"topic": "tides"},
    }
    response = chat(gw, body)
    inference_id = response.headers["x-switchyard-inference-id"]
    deadline = time.monotonic() + 15
    while not (
        servers := [
            s for s in receiver.spans if s.attributes.get("switchyard.inference_id") == inference_id
        ]
    ):
        assert time.monotonic() < deadline, "no server span arrived"
        time.sleep(0.05)
    [server] = servers
    assert server.parent_span_id == ""  # no traceparent came in: a new trace
    assert server.attributes["switchyard.function"] == "writer"
    assert server.attributes["switchyard.variant"] == "base"
    assert server.attributes["switchyard.cached"] is False
    assert server.attributes["gen_ai.operation.name"] == "chat"
    assert server.attributes["gen_ai.request.model"] == "writer"


def test_a_stream_ends_its_spans_with_the_usage_of_its_last_chunk(
    gw: Gateway, receiver: OTLPReceiver
) -> None:
    traceparent, trace_id, _ = new_traceparent()
    body = {
        "model": "plain",
        "messages": [{"role": "user", "content": "stream me"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json=body,
        headers={"traceparent": traceparent},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: {")]
    usage = httpx.Response(200, content=events[-1][6:]).json()["usage"]
    spans = receiver.trace(trace_id, spans=2)
    [answered] = by_kind(spans, CLIENT)
    assert answered.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    [server] = by_kind(spans, SERVER)
    assert server.attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]


def test_a_rejected_request_still_ends_its_server_span_with_the_status(
    gw: Gateway, receiver: OTLPReceiver
) -> None:
    traceparent, trace_id, _ = new_traceparent()
    response = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
        headers={"traceparent": traceparent},
        timeout=30,
    )
    assert response.status_code == 404
    [server] = receiver.trace(trace_id, spans=1)
    assert server.status_code == ERROR
    assert server.attributes["http.response.status_code"] == 404


def assert_requests_unaffected(gw: Gateway, requests: int = 40) -> list[float]:
    took = []
    for i in range(requests):
        started = time.perf_counter()
        chat(gw, {"model": "plain", "messages": [{"role": "user", "content": f"r{i}"}]})
        took.append(time.perf_counter() - started)
    # A request waiting on the collector would take the exporter's 5 s timeout at least.
    assert max(took) < 2.0, f"slowest request {max(took):.2f}s"
    return took


def dropped_spans(gw: Gateway) -> float:
    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    match = re.search(r'^switchyard_trace_spans_total\{outcome="dropped"\} (\S+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_stalled_collector_never_slows_a_request_and_drops_are_counted(
    tmp_path_factory: pytest.TempPathFactory,
    receiver: OTLPReceiver,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> None:
    server = traced_gateway(
        tmp_path_factory.mktemp("stalled"),
        fake_anthropic,
        fake_upstream,
        receiver.url("stall"),
        SWITCHYARD_OTLP_QUEUE_SPANS="16",
    )
    try:
        assert_requests_unaffected(server)
        # 40 requests made 80 spans; the export thread holds one batch, the queue 16.
        deadline = time.monotonic() + 10
        while dropped_spans(server) < 40:
            assert time.monotonic() < deadline, f"dropped: {dropped_spans(server)}"
            time.sleep(0.1)
    finally:
        server.stop()


def test_a_collector_that_refuses_connections_never_fails_a_request(
    tmp_path_factory: pytest.TempPathFactory,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> None:
    server = traced_gateway(
        tmp_path_factory.mktemp("refused"),
        fake_anthropic,
        fake_upstream,
        f"http://127.0.0.1:{free_port()}",
    )
    try:
        assert_requests_unaffected(server, requests=20)
        assert httpx.get(server.url + "/ready", timeout=10).status_code == 200
    finally:
        server.stop()
