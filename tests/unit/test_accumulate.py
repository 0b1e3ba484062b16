"""Stream chunk accumulation: whole choices rebuilt from deltas, and the first token's time."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from msgspec import UNSET

from app.inference import accumulate
from app.inference.accumulate import StreamAccumulator
from app.wire.response import ChatCompletionChunk, FunctionCall, ToolCall, chunk_decoder


def chunk(*choices: dict[str, Any]) -> ChatCompletionChunk:
    """A chunk as a provider sends it (decoded from JSON, as the providers do)."""
    return chunk_decoder.decode(json.dumps({"id": "x", "choices": list(choices)}))


def delta(index: int = 0, finish_reason: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish_reason}


def accumulate_all(*chunks: ChatCompletionChunk) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for c in chunks:
        accumulator.add(c)
    return accumulator


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> itertools.count[float]:
    ticks = itertools.count(100.0)
    monkeypatch.setattr(accumulate, "now", lambda: next(ticks))
    return ticks


def test_nothing_accumulated_is_no_choices() -> None:
    accumulator = StreamAccumulator()
    assert accumulator.choices() == []
    assert accumulator.first_token_at is None


def test_content_deltas_are_joined_with_the_finish_reason() -> None:
    accumulator = accumulate_all(
        chunk(delta(role="assistant")),
        chunk(delta(content="Hel")),
        chunk(delta(content="lo")),
        chunk(delta(content=", world")),
        chunk(delta(finish_reason="stop")),
    )
    [choice] = accumulator.choices()
    assert choice.index == 0
    assert choice.message.content == "Hello, world"
    assert choice.message.role == "assistant"
    assert choice.message.reasoning_content is UNSET
    assert choice.message.tool_calls is UNSET
    assert choice.finish_reason == "stop"


def test_choices_are_kept_apart_and_sorted_by_index() -> None:
    accumulator = accumulate_all(
        chunk(delta(2, content="c1")),
        chunk(delta(0, content="a1"), delta(1, content="b1")),
        chunk(delta(0, content="a2"), delta(2, content="c2", finish_reason="length")),
        chunk(delta(1, finish_reason="stop"), delta(0, finish_reason="stop")),
    )
    choices = accumulator.choices()
    assert [c.index for c in choices] == [0, 1, 2]
    assert [c.message.content for c in choices] == ["a1a2", "b1", "c1c2"]
    assert [c.finish_reason for c in choices] == ["stop", "stop", "length"]


def test_reasoning_is_joined_apart_from_the_content() -> None:
    accumulator = accumulate_all(
        chunk(delta(reasoning_content="think ")),
        chunk(delta(reasoning_content="hard")),
        chunk(delta(content="42")),
    )
    [choice] = accumulator.choices()
    assert choice.message.reasoning_content == "think hard"
    assert choice.message.content == "42"


def test_a_choice_with_neither_content_nor_tools_has_empty_content() -> None:
    [choice] = accumulate_all(chunk(delta(role="assistant", finish_reason="stop"))).choices()
    assert choice.message.content == ""


def test_tool_call_fragments_are_reassembled_by_index() -> None:
    accumulator = accumulate_all(
        chunk(delta(tool_calls=[{"index": 1, "id": "call_b", "function": {"name": "refund"}}])),
        chunk(
            delta(
                tool_calls=[
                    {"index": 0, "id": "call_a", "function": {"name": "look", "arguments": ""}}
                ]
            )
        ),
        chunk(delta(tool_calls=[{"index": 0, "function": {"name": "up", "arguments": '{"q":'}}])),
        chunk(delta(tool_calls=[{"index": 1, "function": {"arguments": '{"n": 1}'}}])),
        chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": ' "7"}'}}])),
        chunk(delta(finish_reason="tool_calls")),
    )
    [choice] = accumulator.choices()
    assert choice.message.content is None  # tools and no text: null content, as OpenAI sends
    assert choice.message.tool_calls == [
        ToolCall("call_a", FunctionCall("lookup", '{"q": "7"}')),
        ToolCall("call_b", FunctionCall("refund", '{"n": 1}')),
    ]
    assert choice.finish_reason == "tool_calls"


def test_a_tool_call_without_index_is_position_zero_and_a_late_id_is_kept() -> None:
    accumulator = accumulate_all(
        chunk(delta(tool_calls=[{"function": {"name": "f", "arguments": "{"}}])),
        chunk(delta(tool_calls=[{"index": 0, "id": "call_1", "function": {"arguments": "}"}}])),
    )
    [choice] = accumulator.choices()
    assert choice.message.tool_calls == [ToolCall("call_1", FunctionCall("f", "{}"))]


def test_text_alongside_tool_calls_is_kept() -> None:
    accumulator = accumulate_all(
        chunk(delta(content="Let me look.")),
        chunk(delta(tool_calls=[{"index": 0, "id": "c", "function": {"name": "f"}}])),
    )
    [choice] = accumulator.choices()
    assert choice.message.content == "Let me look."
    assert isinstance(choice.message.tool_calls, list)
    assert len(choice.message.tool_calls) == 1


def test_first_token_is_the_first_content_reasoning_or_tool_delta(
    clock: itertools.count[float],
) -> None:
    accumulator = StreamAccumulator()
    accumulator.add(chunk(delta(role="assistant")))
    accumulator.add(chunk(delta(content="")))
    assert accumulator.first_token_at is None  # a role or an empty string is not a token
    accumulator.add(chunk(delta(reasoning_content="hmm")))
    first = accumulator.first_token_at
    assert first is not None
    accumulator.add(chunk(delta(content="later")))
    accumulator.add(chunk(delta(finish_reason="stop")))
    assert accumulator.first_token_at == first  # later tokens do not move it


@pytest.mark.parametrize(
    "token",
    [
        {"content": "a"},
        {"reasoning_content": "a"},
        {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]},
    ],
)
def test_each_kind_of_token_sets_the_first_token_time(
    clock: itertools.count[float], token: dict[str, Any]
) -> None:
    accumulator = accumulate_all(chunk(delta(role="assistant")), chunk(delta(**token)))
    assert accumulator.first_token_at == 100.0


def test_choices_can_be_read_again_as_the_stream_goes_on() -> None:
    accumulator = accumulate_all(chunk(delta(content="a")))
    assert accumulator.choices()[0].message.content == "a"
    accumulator.add(chunk(delta(content="b")))
    assert accumulator.choices()[0].message.content == "ab"
