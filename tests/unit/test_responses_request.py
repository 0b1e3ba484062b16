"""Responses API requests: decoding is validation, and translation yields the chat request."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from app.errors import InvalidRequest
from app.inference.responses_wire import to_chat_request
from app.wire.request import ChatRequest, Message
from app.wire.responses import decode_responses_request


def translate(body: dict[str, Any], history: list[Message] | None = None) -> ChatRequest:
    raw = msgspec.json.encode(body)
    chat, encoded = to_chat_request(decode_responses_request(raw), raw, history=history)
    assert msgspec.json.decode(encoded)["model"] == chat.model
    return chat


def error_of(body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        translate(body)
    return info.value


def test_string_input_and_instructions() -> None:
    chat = translate({"model": "m", "input": "Hi", "instructions": "Be brief"})
    assert [(m.role, m.content) for m in chat.messages] == [("system", "Be brief"), ("user", "Hi")]
    assert chat.stream is False


def test_message_items_with_parts() -> None:
    chat = translate(
        {
            "model": "m",
            "input": [
                {"role": "developer", "content": "rules"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,AA",
                            "detail": "low",
                        },
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,AA",
                            "filename": "a.pdf",
                        },
                    ],
                },
                {
                    "type": "message",
                    "id": "msg_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "A cat", "annotations": []},
                        {"type": "refusal", "refusal": "no"},
                    ],
                },
            ],
        }
    )
    developer, user, assistant = chat.messages
    assert developer.role == "developer" and developer.content == "rules"
    parts = msgspec.to_builtins(user.content)
    assert parts == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"},
        },
    ]
    assert assistant.role == "assistant" and assistant.content == "A cat"  # refusal dropped


def test_function_call_round_trip_items() -> None:
    chat = translate(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "weather",
                    "arguments": '{"city":"Paris"}',
                },
                {
                    "type": "function_call",
                    "call_id": "c2",
                    "name": "weather",
                    "arguments": '{"city":"Rome"}',
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
                {"type": "reasoning", "id": "rs_1", "summary": []},
            ],
        }
    )
    _, assistant, tool1, tool2 = chat.messages
    assert assistant.role == "assistant" and assistant.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in assistant.tool_calls or ()] == [
        ("c1", "weather", '{"city":"Paris"}'),
        ("c2", "weather", '{"city":"Rome"}'),
    ]
    assert (tool1.role, tool1.tool_call_id, tool1.content) == ("tool", "c1", "sunny")
    assert tool2.tool_call_id == "c2"
    assert msgspec.to_builtins(tool2.content) == [{"type": "text", "text": "rain"}]


def test_function_call_joins_the_assistant_message_before_it() -> None:
    chat = translate(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Let me look."},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ],
        }
    )
    assert len(chat.messages) == 2
    assert chat.messages[1].content == "Let me look."
    assert chat.messages[1].tool_calls is not None and chat.messages[1].tool_calls[0].id == "c1"


def test_parameters_map_to_chat() -> None:
    chat = translate(
        {
            "model": "m",
            "input": "x",
            "stream": True,
            "max_output_tokens": 50,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_logprobs": 3,
            "metadata": {"k": "v"},
            "store": False,
            "user": "u1",
            "parallel_tool_calls": False,
            "reasoning": {"effort": "low"},
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "description": "d",
                    "parameters": {"type": "object"},
                    "strict": True,
                },
                {"id": "search", "enabled": False},
            ],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "out",
                    "schema": {"type": "object"},
                    "strict": True,
                }
            },
            "truncation": "auto",
            "stream_options": {"include_obfuscation": False},
        }
    )
    assert chat.stream and chat.include_usage
    assert chat.max_completion_tokens == 50
    assert (chat.temperature, chat.top_p, chat.logprobs, chat.top_logprobs) == (0.5, 0.9, True, 3)
    assert chat.metadata == {"k": "v"} and chat.store is False and chat.user == "u1"
    assert chat.parallel_tool_calls is False and chat.reasoning_effort == "low"
    tools = chat.tools or []
    assert tools[0].function is not None and tools[0].function.name == "f"
    assert tools[0].function.strict is True and tools[0].function.parameters == {"type": "object"}
    assert (tools[1].id, tools[1].enabled) == ("search", False)
    assert chat.tool_choice == {"type": "function", "function": {"name": "f"}}
    fmt = chat.response_format
    assert fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None
    assert (fmt.json_schema.name, fmt.json_schema.schema) == ("out", {"type": "object"})


@pytest.mark.parametrize("kind", ["text", "json_object"])
def test_simple_text_formats(kind: str) -> None:
    chat = translate({"model": "m", "input": "x", "text": {"format": {"type": kind}}})
    assert chat.response_format is not None and chat.response_format.type == kind


def test_extension_fields_pass_through_to_chat() -> None:
    chat = translate(
        {
            "model": "support-bot",
            "input": "x",
            "system_prompt_args": {"customer": "Ada"},
            "session_id": "0192b8a0-0000-7000-8000-000000000001",
            "labels": {"team": "a"},
            "tags": "x,y",
            "ab_campaign": "c1",
            "tensorzero::episode_id": "0192b8a0-0000-7000-8000-000000000002",
            "tensorzero::variant_name": "v2",
            "top_k": 5,
            "n": 3,
        }
    )
    assert chat.system_prompt_args == {"customer": "Ada"}
    assert str(chat.session_id).endswith("0001") and chat.labels == {"team": "a"}
    assert chat.tags == "x,y" and chat.ab_campaign == "c1" and chat.tz_variant_name == "v2"
    assert str(chat.tz_episode_id).endswith("0002") and chat.top_k == 5
    assert chat.n is None  # a response holds one answer


def test_previous_response_uses_history_without_its_system_prompt() -> None:
    history = [
        Message(role="system", content="old instructions"),
        Message(role="user", content="first"),
        Message(role="assistant", content="answer", completion_id="r1"),
    ]
    chat = translate({"model": "m", "input": "second", "previous_response_id": "r1"}, history)
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "first"),
        ("assistant", "answer"),
        ("user", "second"),
    ]
    assert chat.messages[1].completion_id == "r1"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": "x", "previous_response_id": "r0"}, "previous_response_id"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
        ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": [{"type": "web_search_call", "id": "w"}]}, "input[0].type"),
        ({"model": "m", "input": [{"role": "user"}]}, "input[0].content"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        (
            {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        (
            {"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]},
            "input[0].output",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            },
            "input[0].content[0].image_url",
        ),
        ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0]"),
        (
            {"model": "m", "input": "x", "tools": [{"type": "function", "name": "a b"}]},
            "tools[0].name",
        ),
        (
            {"model": "m", "input": "x", "tool_choice": {"type": "allowed_tools"}},
            "tool_choice.type",
        ),
        (
            {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}},
            "text.format.schema",
        ),
        ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"model": "m", "input": "x", "session_id": "not-a-uuid"}, "session_id"),
        ({"model": "m", "input": "x", "system_prompt_args": "nope"}, "system_prompt_args"),
    ],
)
def test_bad_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    error = error_of(body)
    assert error.status == 400
    assert error.param == param, error.message


def test_invalid_json_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        decode_responses_request(b"{not json")
