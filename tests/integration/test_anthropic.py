"""The ``anthropic`` provider through a running gateway, against a fake Anthropic API that
checks every translated request the way the real one does (400 on any malformed shape)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.analytics import LOGGING_ENV, wait_rows
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, start_gateway

ENV = {"FAKE_UPSTREAM_KEY": "sk-test-secret-123", "ANT_KEY": "sk-ant-test", **LOGGING_ENV}


def gateway_toml(ant: FakeAnthropic, oai: FakeOpenAI) -> str:
    def claude(name: str, behaviour: str, extra: str = "") -> str:
        return f'[providers.{name}]\ntype = "anthropic"\nbase_url = "{ant.url(behaviour)}"\napi_key_env = "ANT_KEY"\n{extra}\n'

    no_retries = "retries = { max = 0 }"
    return f"""
[providers.oai]
type = "openai"
base_url = "{oai.url("ok")}"
api_key_env = "FAKE_UPSTREAM_KEY"

{claude("claude", "ok")}
{claude("claude-parallel", "parallel")}
{claude("claude-overloaded", "overloaded", "circuit_breaker = { failures = 0 }")}
{claude("claude-reject", "reject")}
{claude("claude-midstream", "midstream")}
{claude("claude-stall", "stall", "timeout_s = 0.5")}
{claude("claude-nokey", "ok", 'api_key_env = "NOT_SET_ANYWHERE"').replace('api_key_env = "ANT_KEY"', "")}

[models.gpt]
routing = [{{ provider = "oai", name = "upstream-model" }}]
[models.claude]
routing = [{{ provider = "claude", name = "claude-sonnet" }}]
[models.gpt-reasoner]
routing = [{{ provider = "oai", name = "deep-reasoner" }}]
[models.claude-reasoner]
routing = [{{ provider = "claude", name = "claude-reasoner" }}]
[models.parallel]
routing = [{{ provider = "claude-parallel", name = "claude-sonnet" }}]
[models.overloaded]
routing = [{{ provider = "claude-overloaded", name = "c" }}]
{no_retries}
[models.overloaded-then-gpt]
routing = [{{ provider = "claude-overloaded", name = "c" }}, {{ provider = "oai", name = "second-choice" }}]
retries = {{ max = 1, base_delay_ms = 10 }}
[models.rejecting]
routing = [{{ provider = "claude-reject", name = "c" }}, {{ provider = "oai", name = "never-reached" }}]
[models.midstream]
routing = [{{ provider = "claude-midstream", name = "c" }}]
[models.stalling]
routing = [{{ provider = "claude-stall", name = "c" }}]
[models.nokey]
routing = [{{ provider = "claude-nokey", name = "c" }}]
{no_retries}
"""


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("anthropic"), gateway_toml(fake_anthropic, fake_upstream), env=ENV
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def chat(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=10)


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {"name": "local_time", "parameters": {"type": "object", "properties": {}}},
    },
]


def streamed(client: openai.OpenAI, **kwargs: Any) -> dict[str, Any]:
    """Reassemble a stream the way client code does: text, reasoning, tool calls by index."""
    text, reasoning, calls, finish, usage = "", "", {}, None, None
    for chunk in client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **kwargs
    ):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return {
        "text": text,
        "reasoning": reasoning,
        "calls": [calls[i] for i in sorted(calls)],
        "finish": finish,
        "usage": usage,
    }


# -- the same client code, both kinds of backend ------------------------------------------------


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_equivalent_answers_from_openai_and_anthropic_backends(
    client: openai.OpenAI, model: str
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=50)
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop" and reply.model == model
    assert reply.usage.prompt_tokens == 11 and reply.usage.completion_tokens > 0

    stream = streamed(client, model=model, messages=messages)
    assert (stream["text"], stream["finish"], stream["calls"]) == ("echo: hello there", "stop", [])
    assert stream["usage"].prompt_tokens == 11
    assert stream["usage"].model_extra["time_to_first_token"] >= 0

    called = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    message = called.choices[0].message
    assert called.choices[0].finish_reason == "tool_calls" and not message.content
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("weather", {"q": "x"})
    ]

    stream = streamed(client, model=model, messages=messages, tools=TOOLS)
    assert stream["finish"] == "tool_calls" and stream["text"] == ""
    assert [(c["name"], json.loads(c["arguments"])) for c in stream["calls"]] == [
        ("weather", {"q": "x"})
    ]
    assert stream["calls"][0]["id"] == message.tool_calls[0].id

    reasoned = client.chat.completions.create(model=f"{model}-reasoner", messages=messages)
    assert reasoned.choices[0].message.model_extra["reasoning_content"] == "thinking hard"


# -- what reaches Anthropic -------------------------------------------------------------------


def test_request_shape_headers_and_key(gw: Gateway, fake_anthropic: FakeAnthropic) -> None:
    response = chat(
        gw,
        {
            "model": "claude",
            "messages": [{"role": "developer", "content": "rules"}, *user("question")],
            "temperature": 0.4,
            "top_p": 0.9,
            "top_k": 20,
            "stop": ["END"],
            "user": "u-1",
            "seed": 7,
            "n": 1,
            "frequency_penalty": 0.5,
            "logprobs": True,  # no Anthropic equivalent: dropped
            "labels": {"team": "x"},
        },
    )
    assert response.status_code == 200, response.text
    sent = fake_anthropic.last("ok")
    assert (
        sent["_headers"]["x-api-key"] == "sk-ant-test"
        and sent["_headers"]["anthropic-version"] == "2023-06-01"
    )
    assert sent["model"] == "claude-sonnet" and sent["max_tokens"] == 4096
    assert sent["system"] == [{"type": "text", "text": "rules"}]
    assert (sent["temperature"], sent["top_p"], sent["top_k"], sent["stop_sequences"]) == (
        0.4,
        0.9,
        20,
        ["END"],
    )
    assert sent["metadata"] == {"user_id": "u-1"}
    assert "sk-ant-test" not in response.text


def test_images_round_trip(gw: Gateway, fake_anthropic: FakeAnthropic) -> None:
    response = chat(
        gw,
        {
            "model": "claude",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"},
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    ],
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: what is this"
    blocks = fake_anthropic.last("ok")["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.png"}


def test_parallel_tool_calls_then_tool_results(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    question = [{"role": "user", "content": "weather and time in Paris?"}]
    first = client.chat.completions.create(
        model="parallel", messages=question, tools=TOOLS, tool_choice="required"
    )
    calls = first.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["weather", "local_time"] and len(
        {c.id for c in calls}
    ) == 2
    assert fake_anthropic.last("parallel")["tool_choice"] == {"type": "any"}

    follow_up = [
        *question,
        first.choices[0].message.model_dump(exclude_none=True, exclude={"model_extra"}),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
    ]
    second = client.chat.completions.create(model="parallel", messages=follow_up, tools=TOOLS)
    assert second.choices[0].message.content == "tool results: sunny, noon"
    turns = fake_anthropic.last("parallel")["messages"]
    assert [t["role"] for t in turns] == [
        "user",
        "assistant",
        "user",
    ]  # both results in one user turn
    assert [b["type"] for b in turns[1]["content"]] == ["tool_use", "tool_use"]
    assert [(b["tool_use_id"], b["content"]) for b in turns[2]["content"]] == [
        (calls[0].id, "sunny"),
        (calls[1].id, "noon"),
    ]


def test_streaming_parallel_tool_call_deltas(client: openai.OpenAI) -> None:
    stream = streamed(client, model="parallel", messages=user("both"), tools=TOOLS)
    assert stream["finish"] == "tool_calls"
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in stream["calls"]] == [
        ("toolu_0", "weather", {"q": "x"}),
        ("toolu_1", "local_time", {"q": "x"}),
    ]


def test_named_tool_choice_and_no_parallel_calls(
    gw: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    response = chat(
        gw,
        {
            "model": "parallel",
            "messages": user(),
            "tools": TOOLS,
            "parallel_tool_calls": False,
            "tool_choice": {"type": "function", "function": {"name": "local_time"}},
        },
    )
    assert [
        c["function"]["name"] for c in response.json()["choices"][0]["message"]["tool_calls"]
    ] == ["local_time"]
    assert fake_anthropic.last("parallel")["tool_choice"] == {
        "type": "tool",
        "name": "local_time",
        "disable_parallel_tool_use": True,
    }


def test_thinking_becomes_reasoning_content(
    client: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    reply = client.chat.completions.create(
        model="claude",
        messages=user("think"),
        reasoning_effort="low",
        max_tokens=500,
        temperature=0.5,
    )
    assert reply.choices[0].message.model_extra["reasoning_content"] == "thinking hard"
    assert reply.choices[0].message.content == "echo: think"
    sent = fake_anthropic.last("ok")
    assert (
        sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        and sent["max_tokens"] == 1524
    )
    assert "temperature" not in sent

    stream = streamed(client, model="claude", messages=user("think"), reasoning_effort="low")
    assert (stream["reasoning"], stream["text"]) == ("thinking hard", "echo: think")


def test_structured_output_and_finish_reasons(gw: Gateway, fake_anthropic: FakeAnthropic) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    response = chat(
        gw,
        {
            "model": "claude",
            "messages": user("Paris"),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "a", "schema": schema},
            },
        },
    )
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == {"answer": "Paris"}
    assert fake_anthropic.last("ok")["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }

    cut = chat(
        gw, {"model": "claude", "messages": user("one two three four"), "max_tokens": 2}
    ).json()["choices"][0]
    assert (cut["message"]["content"], cut["finish_reason"]) == ("echo: one", "length")
    stopped = chat(
        gw, {"model": "claude", "messages": user("one two STOP three"), "stop": "STOP"}
    ).json()["choices"][0]
    assert (stopped["message"]["content"], stopped["finish_reason"]) == ("echo: one two ", "stop")


# -- errors -------------------------------------------------------------------------------------


def test_overloaded_is_a_provider_error_and_falls_back(
    gw: Gateway, fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    response = chat(gw, {"model": "overloaded", "messages": user()})
    assert response.status_code == 502
    assert "claude-overloaded: HTTP 529: Overloaded" in response.json()["error"]["message"]

    before = len(fake_anthropic.requests["overloaded"])
    response = chat(gw, {"model": "overloaded-then-gpt", "messages": user("fallback")})
    assert (
        response.status_code == 200
        and response.json()["choices"][0]["message"]["content"] == "echo: fallback"
    )
    assert (
        len(fake_anthropic.requests["overloaded"]) == before + 2
    )  # a 529 is retried once, then the next route
    assert fake_upstream.last("ok")["model"] == "second-choice"


def test_every_attempt_lands_in_clickhouse(gw: Gateway) -> None:
    response = chat(gw, {"model": "overloaded-then-gpt", "messages": user("logged")})
    inference_id = response.json()["id"]
    query = f"""SELECT attempt, provider, provider_type, model, status, http_status, error, raw_request
                FROM model_inferences WHERE inference_id = '{inference_id}' ORDER BY attempt"""
    attempts = wait_rows(gw, query, lambda r: len(r) == 3)
    assert [
        (a["provider"], a["provider_type"], a["status"], a["http_status"]) for a in attempts
    ] == [
        ("claude-overloaded", "anthropic", "error", 529),
        ("claude-overloaded", "anthropic", "error", 529),
        ("oai", "openai", "ok", None),
    ]
    assert attempts[0]["error"] == "HTTP 529: Overloaded"
    assert json.loads(attempts[0]["raw_request"])["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "logged"}]}
    ]
    assert json.loads(attempts[2]["raw_request"])["model"] == "second-choice"


def test_rejection_is_a_400_without_fallback(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    before = len(fake_upstream.requests["ok"])
    response = chat(gw, {"model": "rejecting", "messages": user()})
    assert response.status_code == 400
    assert "prompt is too long" in response.json()["error"]["message"]
    assert len(fake_upstream.requests["ok"]) == before


def test_content_anthropic_cannot_take_is_a_400(gw: Gateway) -> None:
    audio = [
        {
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}],
        }
    ]
    response = chat(gw, {"model": "claude", "messages": audio})
    assert response.status_code == 400
    assert "Anthropic does not accept audio input" in response.json()["error"]["message"]


def test_error_event_mid_stream(gw: Gateway) -> None:
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={"model": "midstream", "messages": user(), "stream": True},
    ) as response:
        assert response.status_code == 200
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
        ]
    assert events[1]["choices"][0]["delta"]["content"] == "partial"
    error = events[-1]["error"]
    assert error["type"] == "provider_error" and "HTTP 529: Overloaded" in error["message"]


def test_timeout_is_504_naming_the_limit(gw: Gateway) -> None:
    response = chat(gw, {"model": "stalling", "messages": user()})
    assert response.status_code == 504
    error = response.json()["error"]
    assert (
        error["type"] == "timeout_error"
        and "claude-stall: no complete response within 0.5s" in error["message"]
    )


def test_missing_api_key_names_the_variable(gw: Gateway) -> None:
    response = chat(gw, {"model": "nokey", "messages": user()})
    assert response.status_code == 502
    assert "environment variable NOT_SET_ANYWHERE is not set" in response.json()["error"]["message"]
