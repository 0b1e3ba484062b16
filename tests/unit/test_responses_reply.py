"""Chat completions and chunk streams → Responses objects and events, checked with the openai SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import msgspec
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from app.inference.responses_reply import to_response
from app.inference.responses_stream import ResponsesStream, translate_relay
from app.wire.response import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ToolCall,
    ToolCallDelta,
    Usage,
    encoder,
)
from app.wire.responses import ResponsesRequest, decode_responses_request

_events = TypeAdapter(ResponseStreamEvent)
REQUEST = decode_responses_request(
    b'{"model": "support-bot", "input": "hi", "instructions": "Be kind", "max_output_tokens": 64,'
    b' "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]}'
)


def completion(message: AssistantMessage, finish_reason: str = "stop") -> ChatCompletion:
    return ChatCompletion(
        id="inf-1",
        created=1700000000,
        model="support-bot",
        choices=[Choice(message=message, finish_reason=finish_reason)],
        usage=Usage(10, 5, 15, time_to_first_token=0.1),
        episode_id="ep-1",
        function="support-bot",
        variant="v1",
    )


def sdk_response(response: Any) -> SdkResponse:
    return SdkResponse.model_validate(msgspec.json.decode(encoder.encode(response)))


def test_text_answer() -> None:
    response = to_response(completion(AssistantMessage(content="Hello!")), REQUEST)
    sdk = sdk_response(response)
    assert sdk.id == "inf-1" and sdk.status == "completed" and sdk.output_text == "Hello!"
    assert sdk.usage is not None
    assert (sdk.usage.input_tokens, sdk.usage.output_tokens, sdk.usage.total_tokens) == (10, 5, 15)
    assert sdk.instructions == "Be kind" and sdk.max_output_tokens == 64
    raw = msgspec.to_builtins(response)
    assert (raw["episode_id"], raw["function"], raw["variant"]) == ("ep-1", "support-bot", "v1")
    assert raw["usage"]["time_to_first_token"] == 0.1
    assert raw["tools"] == [
        {"type": "function", "name": "weather", "parameters": {"type": "object"}}
    ]


def test_tool_calls_reasoning_and_refusal() -> None:
    message = AssistantMessage(
        content=None,
        reasoning_content="thinking",
        tool_calls=[
            ToolCall("call_1", FunctionCall("weather", '{"city":"Paris"}')),
            ToolCall("call_2", FunctionCall("weather", '{"city":"Rome"}')),
        ],
    )
    sdk = sdk_response(to_response(completion(message, "tool_calls"), REQUEST))
    kinds = [item.type for item in sdk.output]
    assert kinds == ["reasoning", "function_call", "function_call"]
    calls = [item for item in sdk.output if item.type == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        ("call_1", "weather", '{"city":"Paris"}'),
        ("call_2", "weather", '{"city":"Rome"}'),
    ]
    assert len({item.id for item in sdk.output}) == 3
    refused = sdk_response(to_response(completion(AssistantMessage(refusal="No.")), REQUEST))
    assert refused.output[0].type == "message"
    assert [part.type for part in refused.output[0].content] == ["refusal"]


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [
        ("stop", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
    ],
)
def test_finish_reason_sets_status(finish: str, status: str, reason: str | None) -> None:
    sdk = sdk_response(to_response(completion(AssistantMessage(content="x"), finish), REQUEST))
    assert sdk.status == status
    assert (sdk.incomplete_details.reason if sdk.incomplete_details else None) == reason


# -- streaming ---------------------------------------------------------------------------------


def chunk(delta: Delta | None = None, finish: str | None = None, **fields: Any) -> bytes:
    choices = [] if delta is None else [ChunkChoice(delta=delta, finish_reason=finish)]
    value = ChatCompletionChunk(
        id="inf-2", created=1700000000, model="m", choices=choices, **fields
    )
    return b"data: " + encoder.encode(value) + b"\n\n"


def run(frames: list[bytes], request: ResponsesRequest = REQUEST) -> list[Any]:
    """Translate relay frames; parse the SSE with the SDK's event types and accumulator."""
    stream = ResponsesStream(request)
    out = b"".join(stream.translate_frame(frame) for frame in frames)
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=omit)
    events = []
    for block in out.decode().split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        event = _events.validate_json(data_line.removeprefix("data: "))
        assert name_line == f"event: {event.type}"
        state.handle_event(event)
        events.append(event)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


def test_text_stream() -> None:
    events = run(
        [
            chunk(Delta(role="assistant", content=""), episode_id="ep-2", variant="v1"),
            chunk(Delta(content="Hel")),
            chunk(Delta(content="lo")),
            chunk(Delta(), "stop"),
            chunk(usage=Usage(3, 2, 5)),
            b"data: [DONE]\n\n",
        ]
    )
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = events[-1].response
    assert done.id == "inf-2" and done.output_text == "Hello" and done.status == "completed"
    assert done.usage is not None and done.usage.total_tokens == 5
    assert events[6].text == "Hello"
    assert getattr(events[0].response, "variant", None) == "v1"  # routing fields ride along


def test_tool_call_stream_after_text() -> None:
    def call(index: int, id: str | None = None, name: str | None = None, args: str = "") -> Delta:
        function = FunctionCall(name or "", args)
        return Delta(
            tool_calls=[
                ToolCallDelta(
                    index=index, id=id, type="function" if id else None, function=function
                )
            ]
        )

    events = run(
        [
            chunk(Delta(role="assistant", content="Checking.")),
            chunk(call(0, "call_a", "weather")),
            chunk(call(0, args='{"city":')),
            chunk(call(0, args='"Paris"}')),
            chunk(call(1, "call_b", "time", "{}")),
            chunk(Delta(), "tool_calls"),
            b"data: [DONE]\n\n",
        ]
    )
    types = [e.type for e in events]
    assert types.count("response.output_item.added") == 3
    assert types.count("response.function_call_arguments.done") == 2
    done = events[-1].response
    assert [item.type for item in done.output] == ["message", "function_call", "function_call"]
    first_call = done.output[1]
    assert (first_call.call_id, first_call.name, first_call.arguments) == (
        "call_a",
        "weather",
        '{"city":"Paris"}',
    )
    assert done.output[2].call_id == "call_b" and done.output[2].arguments == "{}"
    assert [e.output_index for e in events if e.type == "response.output_item.done"] == [0, 1, 2]


def test_reasoning_then_text_and_length_finish() -> None:
    events = run(
        [
            chunk(Delta(reasoning_content="hmm")),
            chunk(Delta(content="ok")),
            chunk(Delta(), "length"),
            b"data: [DONE]\n\n",
        ]
    )
    assert "response.reasoning_text.delta" in [e.type for e in events]
    done = events[-1]
    assert done.type == "response.incomplete"
    assert done.response.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in done.response.output] == ["reasoning", "message"]


def test_refusal_stream() -> None:
    events = run([chunk(Delta(refusal="I can't")), chunk(Delta(), "stop"), b"data: [DONE]\n\n"])
    assert [e.type for e in events if "refusal" in e.type] == [
        "response.refusal.delta",
        "response.refusal.done",
    ]
    assert events[-1].response.output[0].content[0].refusal == "I can't"


def test_error_after_start() -> None:
    error = b'data: {"error":{"message":"upstream broke","type":"provider_error","param":null,"code":"all_providers_failed"}}\n\n'
    events = run([chunk(Delta(content="par")), error])
    assert [e.type for e in events][-2:] == ["error", "response.failed"]
    assert events[-2].message == "upstream broke"
    assert events[-1].response.error.message == "upstream broke"


def test_feed_returns_event_snapshots() -> None:
    stream = ResponsesStream(REQUEST)
    opened = stream.feed(
        ChatCompletionChunk(id="i", choices=[ChunkChoice(delta=Delta(content="a"))])
    )
    stream.feed(ChatCompletionChunk(id="i", choices=[ChunkChoice(delta=Delta(content="b"))]))
    closed = stream.close()
    added = next(e for e in opened if e.type == "response.output_item.added")
    assert msgspec.to_builtins(added)["item"]["content"] == []
    assert msgspec.to_builtins(closed[-1])["response"]["output"][0]["content"][0]["text"] == "ab"


async def test_translate_relay_closes_the_relay() -> None:
    closed = []

    async def relay() -> AsyncGenerator[list[bytes], None]:
        try:
            yield [chunk(Delta(content="a"))]
            yield [chunk(Delta(content="b")), b"data: [DONE]\n\n"]
        finally:
            closed.append(True)

    frames = [frame async for frame in translate_relay(relay(), REQUEST)]
    assert b"response.completed" in frames[-1] and closed == [True]
    early = translate_relay(relay(), REQUEST)
    assert b"response.created" in await anext(early)
    await early.aclose()
    assert closed == [True, True]
