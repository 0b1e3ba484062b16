"""OpenAI ⇄ Anthropic translation, one rule at a time (the HTTP round trips are in integration/)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.providers.anthropic_wire import (
    StreamTranslator,
    TranslationError,
    build_body,
    event_decoder,
    message_decoder,
    to_completion,
)
from app.wire.request import ChatRequest
from app.wire.response import encoder


def body_for(
    request: dict[str, Any],
    *,
    drop_params: bool = True,
    extra: dict[str, Any] | None = None,
    stream: bool = False,
) -> dict[str, Any]:
    """Decode as the gateway would, then translate with the params the plan would pass."""
    chat = msgspec.json.decode(json.dumps({"model": "m", **request}), type=ChatRequest)
    params = {
        k: getattr(chat, k)
        for k in (
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "top_k",
            "stop",
            "tool_choice",
            "parallel_tool_calls",
            "user",
            "response_format",
            "reasoning_effort",
            "n",
            "seed",
        )
        if getattr(chat, k) is not None
    }
    if chat.tools:
        params["tools"] = chat.tools
    body = build_body(
        "claude-x",
        chat.messages,
        params,
        extra or {},
        drop_params=drop_params,
        default_max_tokens=4096,
        stream=stream,
    )
    return json.loads(encoder.encode(body))


def user(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    body = body_for(
        {
            "messages": [
                {"role": "system", "content": "rendered template"},
                {"role": "developer", "content": [{"type": "text", "text": "client rules"}]},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "late note"},
            ]
        }
    )
    assert body["system"] == [
        {"type": "text", "text": t} for t in ("rendered template", "client rules", "late note")
    ]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_max_tokens_defaults_and_prefers_max_completion_tokens() -> None:
    assert body_for({"messages": user()})["max_tokens"] == 4096
    assert body_for({"messages": user(), "max_tokens": 10})["max_tokens"] == 10
    assert (
        body_for({"messages": user(), "max_tokens": 10, "max_completion_tokens": 20})["max_tokens"]
        == 20
    )


def test_sampling_parameters_and_stop() -> None:
    body = body_for(
        {
            "messages": user(),
            "temperature": 1.6,
            "top_p": 0.9,
            "top_k": 40,
            "stop": "END",
            "user": "u-7",
        }
    )
    assert (body["temperature"], body["top_p"], body["top_k"]) == (
        1.0,
        0.9,
        40,
    )  # temperature clamped to 0–1
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-7"}
    assert body_for({"messages": user(), "stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]


def test_untranslatable_params_are_dropped_or_forwarded_by_drop_params() -> None:
    assert "n" not in body_for({"messages": user(), "n": 2, "seed": 1})
    forwarded = body_for({"messages": user(), "n": 2, "seed": 1}, drop_params=False)
    assert (forwarded["n"], forwarded["seed"]) == (2, 1)


def test_extra_body_is_sent_as_is_and_wins() -> None:
    body = body_for({"messages": user(), "top_k": 5}, extra={"top_k": 9, "service_tier": "auto"})
    assert (body["top_k"], body["service_tier"]) == (9, "auto")


def test_images_data_urls_and_http_urls() -> None:
    body = body_for(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"},
                        },
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "a.pdf",
                            },
                        },
                    ],
                }
            ]
        }
    )
    blocks = body["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }
    assert blocks[3] == {
        "type": "document",
        "title": "a.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
        {"type": "file", "file": {"file_id": "file-123"}},
    ],
)
def test_content_anthropic_cannot_take_is_a_clear_error(part: dict[str, Any]) -> None:
    with pytest.raises(TranslationError, match=r"messages\[0\]\.content\[0\]"):
        body_for({"messages": [{"role": "user", "content": [part]}]})


def test_tool_calls_and_results_round_trip_with_merged_turns() -> None:
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": ""}},
    ]
    body = body_for(
        {
            "messages": [
                {"role": "user", "content": "weather and time in Paris?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "call_b",
                    "content": [{"type": "text", "text": "noon"}],
                },
                {"role": "user", "content": "thanks"},
            ]
        }
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "time", "input": {}},
    ]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "call_b",
            "content": [{"type": "text", "text": "noon"}],
        },
        {"type": "text", "text": "thanks"},
    ]


def test_tool_call_arguments_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(TranslationError, match=r"tool_calls\[0\]\.function\.arguments"):
        body_for(
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    },
                ]
            }
        )


def test_tools_and_every_tool_choice() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather now",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "ping"}},
    ]
    body = body_for({"messages": user(), "tools": tools})
    assert body["tools"] == [
        {
            "name": "weather",
            "description": "Weather now",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body
    choices = {
        "auto": {"type": "auto"},
        "required": {"type": "any"},
        "none": {"type": "none"},
    }
    for openai_choice, anthropic_choice in choices.items():
        assert (
            body_for({"messages": user(), "tools": tools, "tool_choice": openai_choice})[
                "tool_choice"
            ]
            == anthropic_choice
        )
    named = {"type": "function", "function": {"name": "ping"}}
    assert body_for({"messages": user(), "tools": tools, "tool_choice": named})["tool_choice"] == {
        "type": "tool",
        "name": "ping",
    }
    serial = body_for({"messages": user(), "tools": tools, "parallel_tool_calls": False})
    assert serial["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in body_for(
        {"messages": user(), "tool_choice": "auto"}
    )  # no tools (use_tools: false)


def test_json_schema_response_format_becomes_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    body = body_for(
        {
            "messages": user(),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        }
    )
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in body_for(
        {"messages": user(), "response_format": {"type": "json_object"}}
    )


def test_reasoning_effort_enables_thinking_within_max_tokens() -> None:
    body = body_for(
        {
            "messages": user(),
            "reasoning_effort": "medium",
            "max_tokens": 1000,
            "temperature": 0.2,
            "top_p": 0.5,
        }
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] == 5096  # the budget comes on top of the answer's 1000
    assert "temperature" not in body and "top_p" not in body  # not allowed with thinking
    assert "thinking" not in body_for({"messages": user(), "reasoning_effort": "none"})
    with pytest.raises(TranslationError, match="reasoning_effort"):
        body_for({"messages": user(), "reasoning_effort": "extreme"})


def test_thinking_from_extra_body() -> None:
    body = body_for(
        {"messages": user()}, extra={"thinking": {"type": "enabled", "budget_tokens": 2048}}
    )
    assert body["thinking"]["budget_tokens"] == 2048 and body["max_tokens"] == 4096


def test_reply_with_thinking_text_and_parallel_tool_calls() -> None:
    raw = json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "Two lookups.", "signature": "s"},
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 20,
                "cache_creation_input_tokens": 5,
                "cache_read_input_tokens": 100,
                "output_tokens": 30,
            },
        }
    ).encode()
    completion = to_completion(message_decoder.decode(raw))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert (
        choice.message.content == "Checking both."
        and choice.message.reasoning_content == "Two lookups."
    )
    assert [
        (c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls
    ] == [
        ("toolu_1", "weather", {"city": "Paris"}),
        ("toolu_2", "time", {}),
    ]
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (125, 30)


@pytest.mark.parametrize(
    "stop_reason, finish",
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons(stop_reason: str, finish: str) -> None:
    raw = json.dumps(
        {
            "id": "m",
            "model": "x",
            "content": [{"type": "text", "text": "a"}],
            "stop_reason": stop_reason,
        }
    ).encode()
    assert to_completion(message_decoder.decode(raw)).choices[0].finish_reason == finish


def test_stream_events_become_chunks() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-x",
                "content": [],
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "s"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": " 1}"},
        },
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 42},
        },
        {"type": "message_stop"},
    ]
    translator = StreamTranslator()
    chunks = [
        c for e in events if (c := translator.feed(event_decoder.decode(json.dumps(e)))) is not None
    ]
    deltas = [json.loads(encoder.encode(c.choices[0].delta)) for c in chunks if c.choices]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "hmm"},
        {"content": "Hi"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"name": "", "arguments": '{"a":'}}]},
        {"tool_calls": [{"index": 0, "function": {"name": "", "arguments": " 1}"}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "g", "arguments": ""},
                }
            ]
        },
        {},
    ]
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert {c.id for c in chunks} == {"msg_1"} and translator.finished
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and (usage.prompt_tokens, usage.completion_tokens) == (12, 42)
