"""The official OpenAI SDK against a running gateway: the compatibility promise in README.md."""

from __future__ import annotations

import uuid

import openai
import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


ARGS = {"system_prompt_args": {"customer_name": "Ada"}}


def test_function_name_routes_by_weight_and_renders_template(
    client: openai.OpenAI, fake_upstream: FakeOpenAI
) -> None:
    completion = client.chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": "hello there"}], extra_body=ARGS
    )
    assert completion.choices[0].message.content == "echo: hello there"
    extra = completion.model_extra or {}
    assert extra["function"] == "support-bot"
    assert extra["variant"] in {"friendly", "concise"}
    assert extra["ab_campaign"] == "tone"
    uuid.UUID(completion.id)
    assert completion.choices[0].model_extra["completion_id"] == completion.id
    sent = fake_upstream.last("ok")
    assert sent["messages"][0]["role"] == "system"
    assert "Ada" in sent["messages"][0]["content"]
    assert sent["model"] == "upstream-model"


def test_streaming_function_call(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="support-bot",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body=ARGS,
    )
    chunks = list(stream)
    ids = {c.id for c in chunks}
    assert len(ids) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[0].model_extra["function"] == "support-bot"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 4
    for key in (
        "time_to_first_token",
        "throughput_after_first_token",
        "model_execution_time",
        "queue_time",
    ):
        assert key in usage.model_extra


def test_pinned_variant_and_tensorzero_names(
    client: openai.OpenAI, fake_upstream: FakeOpenAI
) -> None:
    pinned = client.chat.completions.create(
        model="support-bot/concise", messages=[{"role": "user", "content": "hi"}], extra_body=ARGS
    )
    assert pinned.model_extra["variant"] == "concise"
    assert fake_upstream.last("ok")["max_tokens"] == 50
    tz = client.chat.completions.create(
        model="tensorzero::function_name::support-bot",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={**ARGS, "tensorzero::variant_name": "friendly"},
    )
    assert tz.model_extra["variant"] == "friendly"
    assert fake_upstream.last("ok")["temperature"] == 0.3
    model = client.chat.completions.create(
        model="tensorzero::model_name::passthrough", messages=[{"role": "user", "content": "hi"}]
    )
    assert model.model_extra["function"] is None
    assert model.choices[0].message.content == "echo: hi"


def test_model_name_and_model_at_provider(client: openai.OpenAI, fake_upstream: FakeOpenAI) -> None:
    by_model = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "ping"}]
    )
    assert by_model.choices[0].message.content == "ping"  # the dummy echoes
    pinned = client.chat.completions.create(
        model="after-500@ok", messages=[{"role": "user", "content": "x"}]
    )
    assert pinned.choices[0].message.content == "echo: x"
    assert fake_upstream.last("ok")["model"] == "second-choice"
    raw = client.chat.completions.create(
        model="any-upstream-name@ok", messages=[{"role": "user", "content": "y"}]
    )
    assert raw.choices[0].message.content == "echo: y"
    assert fake_upstream.last("ok")["model"] == "any-upstream-name"


def test_tool_calls_pass_through(client: openai.OpenAI, fake_upstream: FakeOpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    completion = client.chat.completions.create(
        model="passthrough",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        tool_choice="auto",
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = fake_upstream.last("ok")
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == "auto"
    # The tool result goes back upstream intact.
    follow_up = client.chat.completions.create(
        model="passthrough",
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert follow_up.choices[0].message.content == "echo: weather?"
    assert fake_upstream.last("ok")["messages"][2] == {
        "role": "tool",
        "content": "sunny",
        "tool_call_id": "call_1",
    }


def test_n_two_gives_distinct_completion_ids(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="passthrough", messages=[{"role": "user", "content": "x"}], n=2
    )
    ids = [c.model_extra["completion_id"] for c in completion.choices]
    assert len(completion.choices) == 2
    assert ids[0] == completion.id and ids[1] != ids[0]
    uuid.UUID(ids[1])


def test_streaming_n_two(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="local", messages=[{"role": "user", "content": "a b"}], n=2, stream=True
        )
    )
    texts = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == {0: "a b", 1: "a b"}


def test_reasoning_content_is_preserved(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="reasoner", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.model_extra["reasoning_content"] == "thinking hard"


def test_session_and_episode_round_trip(client: openai.OpenAI) -> None:
    session = str(uuid.uuid4())
    episode = str(uuid.uuid4())
    raw = client.chat.completions.with_raw_response.create(
        model="support-bot",
        messages=[{"role": "user", "content": "x"}],
        extra_body={**ARGS, "session_id": session, "tensorzero::episode_id": episode},
    )
    completion = raw.parse()
    assert completion.model_extra["session_id"] == session
    assert completion.model_extra["episode_id"] == episode
    assert raw.headers["x-switchyard-episode-id"] == episode
    assert raw.headers["x-switchyard-inference-id"] == completion.id
    assert raw.headers["x-switchyard-variant"] == completion.model_extra["variant"]
