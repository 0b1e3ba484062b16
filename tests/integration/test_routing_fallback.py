"""Provider routing against fake upstreams on 127.0.0.1: fallback, failures, passthrough."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway


def chat(gateway: Gateway, body: dict, timeout: float = 10) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=timeout)


def msg(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", ["after-500", "after-refused", "after-timeout", "after-reset"])
def test_falls_back_to_the_second_provider(
    gateway: Gateway, fake_upstream: FakeOpenAI, model: str
) -> None:
    text = f"fallback {model} {uuid.uuid4().hex}"
    response = chat(gateway, {"model": model, "messages": msg(text)})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == f"echo: {text}"
    assert fake_upstream.last("ok")["model"] == "second-choice"
    first_route = FIRST_ROUTE[model]
    if first_route is not None:  # "refused" has nothing listening, so no log to read
        assert sent(fake_upstream, first_route, text), f"{first_route} was not tried first"


FIRST_ROUTE = {
    "after-500": "fail500",
    "after-refused": None,
    "after-timeout": "stall",
    "after-reset": "reset",
}


def sent(fake: FakeOpenAI, behaviour: str, text: str) -> bool:
    return any(r["messages"][-1]["content"] == text for r in list(fake.requests[behaviour]))


def test_streaming_falls_back_before_the_first_chunk(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    text = f"s {uuid.uuid4().hex}"
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "after-500", "messages": msg(text), "stream": True},
    ) as response:
        assert response.status_code == 200
        body = response.read().decode()
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
    )
    assert streamed == f"echo: {text}"
    assert body.rstrip().endswith("data: [DONE]")
    assert sent(fake_upstream, "fail500", text)  # the first route was tried before falling back


def test_all_providers_failing_is_502_naming_them(gateway: Gateway) -> None:
    response = chat(gateway, {"model": "all-fail", "messages": msg()})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "provider_error"
    assert "fail500" in error["message"] and "HTTP 500" in error["message"]
    assert "refused" in error["message"] and "connect" in error["message"]


def test_all_providers_timing_out_is_504(gateway: Gateway) -> None:
    started = time.monotonic()
    response = chat(gateway, {"model": "only-timeout", "messages": msg()})
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"
    assert "0.5s" in response.json()["error"]["message"]
    assert time.monotonic() - started < 5


def test_provider_rejection_is_not_retried_elsewhere(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    before = len(fake_upstream.requests["ok"])
    response = chat(gateway, {"model": "rejecting", "messages": msg()})
    assert response.status_code == 400
    assert "context length exceeded" in response.json()["error"]["message"]
    assert len(fake_upstream.requests["ok"]) == before


def test_streaming_all_failing_is_a_plain_http_error(gateway: Gateway) -> None:
    response = chat(gateway, {"model": "all-fail", "messages": msg(), "stream": True})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "provider_error"


def test_broken_sse_mid_stream_sends_an_error_event(gateway: Gateway) -> None:
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "broken-stream", "messages": msg(), "stream": True},
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "ok"
    error = json.loads(events[-1])["error"]
    assert error["type"] == "provider_error" and "malformed stream event" in error["message"]
    assert "[DONE]" not in events


def test_client_disconnect_cancels_the_upstream_stream(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    before = fake_upstream.disconnects["slowstream"]
    words = " ".join(f"w{i}" for i in range(40))  # 40 words at 0.2 s each: 8 s if not cancelled
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "slow-stream", "messages": msg(words), "stream": True},
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    deadline = time.monotonic() + 5
    while fake_upstream.disconnects["slowstream"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_upstream.disconnects["slowstream"] == before + 1


def test_parameters_arrive_as_sent(gateway: Gateway, fake_upstream: FakeOpenAI) -> None:
    body = {
        "model": "passthrough",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            }
        ],
        "temperature": 1.5,
        "top_p": 0.9,
        "max_tokens": 12,
        "stop": ["END", "STOP"],
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "logprobs": True,
        "top_logprobs": 3,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
        "top_k": 40,
        "min_p": 0.1,
        "repetition_penalty": 1.1,
        "guided_choice": ["a", "b"],
        "chat_template_kwargs": {"enable_thinking": True},
        # gateway-only fields must never reach the provider
        "labels": {"team": "x"},
        "session_id": "6f1c3a52-8c1e-4c55-9a57-0d3b0c7e2a11",
        "tags": "a,b",
        "tensorzero::tags": {"k": "v"},
        "ab_campaign": None,
        "some_vendor_flag": True,
    }
    response = chat(gateway, body)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["logprobs"] == {"content": []}
    sent = fake_upstream.last("ok")
    for key in (
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "response_format",
        "top_k",
        "min_p",
        "repetition_penalty",
        "guided_choice",
        "chat_template_kwargs",
    ):
        assert sent[key] == body[key], key
    assert sent["messages"] == body["messages"]
    for key in (
        "labels",
        "session_id",
        "tags",
        "tensorzero::tags",
        "some_vendor_flag",
        "drop_params",
    ):
        assert key not in sent
    # The provider key comes from the environment, and only reaches the provider.
    assert sent["_headers"]["Authorization"] == "Bearer sk-test-secret-123"
    assert "sk-test-secret" not in response.text


def test_drop_params_false_passes_unknown_fields(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    response = chat(
        gateway,
        {
            "model": "passthrough",
            "messages": msg(),
            "drop_params": False,
            "some_vendor_flag": {"x": 1},
        },
    )
    assert response.status_code == 200
    assert fake_upstream.last("ok")["some_vendor_flag"] == {"x": 1}


def test_completion_id_on_messages_is_not_sent_upstream(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    messages = [
        {"role": "user", "content": "a"},
        {
            "role": "assistant",
            "content": "b",
            "completion_id": "0192aaaa-0000-7000-8000-000000000000",
        },
        {"role": "user", "content": "c"},
    ]
    assert chat(gateway, {"model": "passthrough", "messages": messages}).status_code == 200
    assert all("completion_id" not in m for m in fake_upstream.last("ok")["messages"])


def test_tir_and_alias_paths(gateway: Gateway) -> None:
    for path in ("/openai/v1/chat/completions", "/api/v1/chat/completions", "/v0/chat/completions"):
        response = httpx.post(gateway.url + path, json={"model": "local", "messages": msg("alias")})
        assert response.json()["choices"][0]["message"]["content"] == "alias", path
    tir = httpx.post(
        gateway.url + "/project/p-42/endpoint/is-local/v1/chat/completions?project_id=42",
        json={"messages": msg("tir")},
    )
    assert tir.status_code == 200 and tir.json()["choices"][0]["message"]["content"] == "tir"
    bad = httpx.post(
        gateway.url + "/project/42/endpoint/local/v1/chat/completions", json={"messages": msg()}
    )
    assert bad.status_code == 404
