"""Property tests: Responses translation fails only with a 400, and text survives it unchanged."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InvalidRequest
from app.inference.responses_reply import to_response
from app.inference.responses_stream import ResponsesStream
from app.inference.responses_wire import to_chat_request
from app.wire.request import TextPart
from app.wire.response import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
)
from app.wire.responses import decode_responses_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(-3, 3) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
part_types = st.sampled_from(
    ["input_text", "output_text", "input_image", "input_file", "refusal", "input_audio", None]
)
item_types = st.sampled_from(
    ["message", "function_call", "function_call_output", "reasoning", "web_search_call", None]
)
item_fields = st.sampled_from(
    ["role", "content", "call_id", "name", "arguments", "output", "text", "image_url", "file_data"]
)


@st.composite
def parts(draw: st.DrawFn) -> dict[str, Any]:
    part: dict[str, Any] = draw(st.dictionaries(item_fields, json_values, max_size=3))
    kind = draw(part_types)
    if kind is not None:
        part["type"] = kind
    if draw(st.booleans()):
        part["text"] = draw(st.text(max_size=10))
    return part


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = draw(st.dictionaries(item_fields, json_values, max_size=4))
    kind = draw(item_types)
    if kind is not None:
        item["type"] = kind
    if draw(st.booleans()):
        item["role"] = draw(st.sampled_from(["user", "assistant", "system", "developer", "tool"]))
    if draw(st.booleans()):
        item["content"] = draw(st.text(max_size=10) | st.lists(parts(), max_size=3))
    return item


top_fields = st.sampled_from(
    [
        "model", "instructions", "tools", "tool_choice", "text", "stream", "temperature", "top_p",
        "max_output_tokens", "metadata", "store", "previous_response_id", "top_logprobs",
        "parallel_tool_calls", "reasoning", "system_prompt_args", "session_id", "tags", "labels",
        "tensorzero::episode_id", "n", "messages", "conversation",
    ]
)  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(st.dictionaries(top_fields, json_values, max_size=5))
    body["input"] = draw(st.text(max_size=10) | st.lists(items(), max_size=4) | json_values)
    return body


@settings(max_examples=400, deadline=None)
@given(bodies())
def test_translation_raises_only_invalid_request(body: dict[str, Any]) -> None:
    raw = msgspec.json.encode(body)
    try:
        request = decode_responses_request(raw)
        to_chat_request(request, raw, history=[])
    except InvalidRequest as error:
        assert error.status == 400


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_are_a_response_or_a_400(raw: bytes) -> None:
    try:
        decode_responses_request(raw)
    except InvalidRequest:
        pass


@given(st.text(min_size=1))
def test_input_text_reaches_the_chat_request_unchanged(text: str) -> None:
    for body in (
        {"model": "m", "input": text},
        {
            "model": "m",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        },
    ):
        raw = msgspec.json.encode(body)
        chat, _ = to_chat_request(decode_responses_request(raw), raw)
        content = chat.messages[-1].content
        got = (
            content
            if isinstance(content, str)
            else "".join(p.text for p in content or () if isinstance(p, TextPart))
        )
        assert got == text


REQUEST = decode_responses_request(b'{"model": "m", "input": "x"}')


@given(st.text())
def test_answer_text_reaches_the_response_unchanged(text: str) -> None:
    completion = ChatCompletion(id="i", choices=[Choice(message=AssistantMessage(content=text))])
    response = msgspec.to_builtins(to_response(completion, REQUEST))
    got = "".join(
        part.get("text", "")
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )
    assert got == text


@given(st.lists(st.text(min_size=1), max_size=8))
def test_streamed_text_is_the_concatenated_deltas(pieces: list[str]) -> None:
    stream = ResponsesStream(REQUEST)
    events = []
    for piece in [*pieces, ""]:
        delta = Delta(content=piece) if piece else Delta()
        chunk = ChatCompletionChunk(id="i", choices=[ChunkChoice(delta=delta)])
        events.extend(msgspec.to_builtins(stream.feed(chunk)))
    events.extend(msgspec.to_builtins(stream.close()))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "".join(pieces)
    output = events[-1]["response"]["output"]
    final = "".join(p["text"] for item in output for p in item.get("content", ()))
    assert final == "".join(pieces)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
