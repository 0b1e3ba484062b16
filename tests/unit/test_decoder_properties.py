"""Property tests: the chat request decoder and the Anthropic translation fail only with their
documented error types, and what they keep survives a round trip."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config.schema import AnthropicProviderConfig
from app.errors import InvalidRequest
from app.providers.anthropic_wire import AnthropicWire, StreamTranslator
from app.providers.base import ProviderRequest
from app.providers.wire_format import DECODE_ERRORS, ErrorEvent, TranslationError
from app.wire.request import ChatRequest, decode_chat_request

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [f.encode_name for f in msgspec.structs.fields(ChatRequest)]
text = st.text(max_size=40)
content = text | st.lists(st.builds(lambda t: {"type": "text", "text": t}, text), max_size=3)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=8),
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {
                    "name": st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
                    "arguments": st.sampled_from(['{"a": 1}', "{}", "[1]", "nope", "[[[]]]"]),
                }
            ),
        }
    ),
    max_size=2,
)
message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user"]), "content": content}
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={"content": content, "tool_calls": tool_calls},
    ),
    st.fixed_dictionaries(
        {
            "role": st.just("tool"),
            "content": content,
            "tool_call_id": st.text(min_size=1, max_size=8),
        }
    ),
)
valid_chat = st.fixed_dictionaries(
    {"model": st.text(max_size=10), "messages": st.lists(message, min_size=1, max_size=5)},
    optional={
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "max_tokens": st.integers(1, 10_000),
        "n": st.integers(1, 128),
        "stop": st.lists(st.text(max_size=5), max_size=4),
        "stream": st.booleans(),
        "labels": st.dictionaries(st.text(max_size=128), st.text(max_size=50), max_size=64),
        "tags": st.lists(st.text(max_size=256), max_size=64),
        "top_k": st.integers(1, 100),
        "user": st.text(max_size=10),
    },
)


def _decode(body: bytes) -> ChatRequest | None:
    try:
        return decode_chat_request(body)
    except InvalidRequest as error:
        assert error.status == 400 and error.message
        return None


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_give_a_400(body: bytes) -> None:
    _decode(body)


@SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))
def test_any_json_object_of_known_fields_decodes_or_gives_a_400(fields: dict[str, Any]) -> None:
    _decode(json.dumps(fields).encode())


@SETTINGS
@given(json_values, st.integers(1, 3000))
def test_deep_nesting_and_odd_values_anywhere_give_a_400(value: Any, depth: int) -> None:
    nested = "[" * depth + json.dumps(value) + "]" * depth
    body = '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": '
    _decode((body + nested + "}").encode())
    _decode((body[:-13] + '"system_prompt_args": {"a": ' + nested + "}}").encode())


@SETTINGS
@given(valid_chat)
def test_valid_requests_round_trip(body: dict[str, Any]) -> None:
    decoded = decode_chat_request(json.dumps(body).encode())
    again = decode_chat_request(msgspec.json.encode(decoded))
    assert again == decoded
    assert len(decoded.messages) == len(body["messages"])


WIRE = AnthropicWire(AnthropicProviderConfig(base_url="http://x"))


@SETTINGS
@given(valid_chat, st.dictionaries(st.text(max_size=6), json_values, max_size=3), st.booleans())
def test_anthropic_body_is_json_or_a_translation_error(
    body: dict[str, Any], extra: dict[str, Any], drop_params: bool
) -> None:
    chat = decode_chat_request(json.dumps(body).encode())
    params = {
        k: getattr(chat, k)
        for k in ("max_tokens", "temperature", "top_p", "top_k", "stop", "n", "user")
        if getattr(chat, k) is not None
    }
    request = ProviderRequest(
        "claude-x", chat.messages, params, stream=chat.stream, extra=extra, drop_params=drop_params
    )
    try:
        raw = WIRE.body(request)
    except TranslationError:
        return
    sent = json.loads(raw)
    assert sent["model"] == "claude-x" and isinstance(sent["messages"], list)
    assert sent["max_tokens"] >= 1
    # Every user text survives the translation unchanged.
    texts = json.dumps(sent)
    for m in body["messages"]:
        if m["role"] == "user" and isinstance(m["content"], str) and m["content"]:
            assert json.dumps(m["content"])[1:-1] in texts


@SETTINGS
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_anthropic_replies_decode_or_raise_decode_errors(raw: bytes) -> None:
    try:
        WIRE.completion(raw)
    except DECODE_ERRORS:
        pass
    reader = StreamTranslator()
    try:
        reader.read(raw)
    except (*DECODE_ERRORS, ErrorEvent):
        pass


@SETTINGS
@given(
    st.lists(st.text(max_size=30), min_size=1, max_size=4),
    st.sampled_from(["end_turn", "max_tokens", "stop_sequence", None]),
)
def test_anthropic_text_replies_round_trip(texts: list[str], stop: str | None) -> None:
    reply = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": t} for t in texts],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    completion = WIRE.completion(json.dumps(reply).encode())
    assert completion.choices[0].message.content == "".join(texts)
    assert completion.usage is not None and completion.usage.prompt_tokens == 3
