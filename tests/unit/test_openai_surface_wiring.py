"""The pure parts of issue 17's wiring: embedding models in the config, model listing by key
scope, embeddings resolution, chaining a logged turn, refusal parts, and the dummy provider
following response_format and ending tool loops."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest

from app.api.models import callable_models
from app.auth.principal import ANONYMOUS, Principal
from app.config.compile import build_snapshot, validate_document
from app.config.schema import BreakerConfig, DummyProviderConfig
from app.errors import InvalidRequest, NotFound
from app.inference.embeddings import embeddings_target
from app.inference.responses_service import turn_messages
from app.providers.anthropic_wire import build_body
from app.providers.base import ProviderRequest
from app.providers.breaker import CircuitBreaker
from app.providers.dummy import DummyProvider
from app.providers.embeddings import EmbeddingsCall, dummy_embeddings
from app.routing.resolve import resolve_target
from app.store.clickhouse.history import LoggedTurn
from app.wire.request import ChatRequest, Message, decode_chat_request
from app.wire.response import AssistantMessage, Choice, FunctionCall, ToolCall, encoder

DOCUMENT: dict[str, Any] = {
    "providers": {
        "d": {"type": "dummy"},
        "up": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"},
        "claude": {"type": "anthropic"},
    },
    "models": {
        "chat-m": {"routing": [{"provider": "d", "name": "c"}]},
        "emb": {"kind": "embedding", "dimensions": 4, "routing": [{"provider": "d", "name": "e"}]},
        "emb-up": {"kind": "embedding", "routing": [{"provider": "up", "name": "te3"}]},
    },
    "metrics": {},
    "functions": {"bot": {"variants": {"a": {"model": "chat-m"}}}},
}


@pytest.fixture(scope="module")
def snapshot():
    return build_snapshot(DOCUMENT)


def keys(problems) -> set[str]:
    return {p.key for p in problems}


def with_models(**models: Any) -> dict[str, Any]:
    return {**DOCUMENT, "models": {**DOCUMENT["models"], **models}}


def test_embedding_model_config_problems_name_their_keys() -> None:
    document = with_models(
        bad_provider={"kind": "embedding", "routing": [{"provider": "claude", "name": "x"}]},
        no_dims={"kind": "embedding", "routing": [{"provider": "d", "name": "x"}]},
        chat_dims={"dimensions": 3, "routing": [{"provider": "d", "name": "x"}]},
    )
    document["functions"] = {"bot": {"variants": {"a": {"model": "emb"}, "b": {"model": "emb@d"}}}}
    found = keys(validate_document(document))
    assert found == {
        "models.bad_provider.routing[0].provider",
        "models.no_dims.dimensions",
        "models.chat_dims.dimensions",
        "functions.bot.variants.a.model",
        "functions.bot.variants.b.model",
    }
    assert validate_document(with_models(k={"kind": "vector", "routing": []}))


def test_models_listed_by_key_scope(snapshot) -> None:
    everything = {(e.id, e.kind) for e in callable_models(snapshot, ANONYMOUS).data}
    assert everything == {
        ("bot", "function"),
        ("chat-m", "model"),
        ("emb", "embedding_model"),
        ("emb-up", "embedding_model"),
    }
    scoped = Principal("k1", "scoped", "client", frozenset({"bot", "gone"}), None)
    assert [e.id for e in callable_models(snapshot, scoped).data] == ["bot"]


def test_chat_refuses_embedding_models(snapshot) -> None:
    for name in ("emb", "emb@d", "tensorzero::model_name::emb"):
        with pytest.raises(InvalidRequest) as caught:
            resolve_target(snapshot, name)
        assert caught.value.param == "model"


def test_embeddings_target(snapshot) -> None:
    target = embeddings_target(snapshot, "emb")
    assert [r.model for r in target.routes] == ["e"] and target.dimensions == 4
    assert [r.model for r in embeddings_target(snapshot, "raw-name@up").routes] == ["raw-name"]
    for name, error in (
        ("chat-m", InvalidRequest),
        ("bot", InvalidRequest),
        ("bot/a", InvalidRequest),
        ("nope", NotFound),
        ("x@claude", InvalidRequest),
        ("", InvalidRequest),
    ):
        with pytest.raises(error):
            embeddings_target(snapshot, name)


def test_dummy_embeddings_are_deterministic_unit_vectors() -> None:
    call = EmbeddingsCall(model="e", inputs=["hello world", [1, 2, 3]], dimensions=16)
    reply = dummy_embeddings(call)
    assert [len(v) for v in reply.vectors] == [16, 16]
    assert reply.prompt_tokens == 2 + 3 and reply.usage_estimated
    assert dummy_embeddings(call).vectors == reply.vectors
    assert b"embedding" in reply.raw_response and b"0." not in reply.raw_response


def test_a_logged_turn_becomes_history() -> None:
    messages = [Message(role="system", content="s"), Message(role="user", content="weather?")]
    call = ToolCall("call_1", FunctionCall("get_weather", '{"q": "Paris"}'))
    choices = [Choice(message=AssistantMessage(content=None, tool_calls=[call]))]
    turn = LoggedTurn(
        id="i",
        api_key_id="",
        status="ok",
        input_messages=encoder.encode(messages).decode(),
        output=encoder.encode(choices).decode(),
    )
    history = turn_messages(turn)
    assert [m.role for m in history] == ["system", "user", "assistant"]
    assert history[2].tool_calls is not None and history[2].tool_calls[0].id == "call_1"
    assert history[2].content is None


REFUSAL = {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}


def test_refusal_parts_are_accepted_from_assistants_only() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}, REFUSAL]}
    chat = decode_chat_request(json.dumps(body).encode())
    assert json.loads(encoder.encode(chat.messages[1])) == REFUSAL
    body["messages"][0] = {"role": "user", "content": [{"type": "refusal", "refusal": "No."}]}
    with pytest.raises(InvalidRequest) as caught:
        decode_chat_request(json.dumps(body).encode())
    assert caught.value.param == "messages[0].content[0]"


def test_anthropic_drops_refusal_parts() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hm."}, REFUSAL["content"][0]]},
        {"role": "assistant", "content": [REFUSAL["content"][0]], "refusal": "No."},
        {"role": "user", "content": "y"},
    ]
    chat = msgspec.json.decode(json.dumps({"model": "m", "messages": messages}), type=ChatRequest)
    body = json.loads(
        encoder.encode(
            build_body(
                "c", chat.messages, {}, {}, drop_params=True, default_max_tokens=10, stream=False
            )
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hm."}]},
        {"role": "user", "content": [{"type": "text", "text": "y"}]},
    ]


# -- the dummy provider -----------------------------------------------------------------------


def dummy(mode: str) -> DummyProvider:
    config = DummyProviderConfig(mode=mode)  # type: ignore[arg-type]
    return DummyProvider("d", config, CircuitBreaker(BreakerConfig()))


def answer(provider: DummyProvider, messages: list[dict[str, Any]], **params: Any) -> Any:
    chat = msgspec.json.decode(json.dumps({"messages": messages, **params}), type=ChatRequest)
    known = {k: getattr(chat, k) for k in params if hasattr(chat, k)}
    request = ProviderRequest("m", chat.messages, known)
    reply = asyncio.run(provider.complete(request, None))  # type: ignore[arg-type]
    return reply.completion.choices[0]


SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string"}, "total": {"type": "number", "minimum": 1}},
    "required": ["vendor", "total"],
}


@pytest.mark.parametrize("mode", ["echo", "fixed", "json"])
def test_dummy_follows_response_format(mode: str) -> None:
    user = [{"role": "user", "content": "invoice from ACME"}]
    json_schema = {"type": "json_schema", "json_schema": {"name": "inv", "schema": SCHEMA}}
    parsed = json.loads(answer(dummy(mode), user, response_format=json_schema).message.content)
    assert isinstance(parsed["vendor"], str) and parsed["total"] >= 1
    json_object = answer(dummy(mode), user, response_format={"type": "json_object"})
    assert json.loads(json_object.message.content) == {"answer": "invoice from ACME"}


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": SCHEMA}}]


def test_tool_call_dummy_ends_the_loop_once_tools_answered() -> None:
    provider = dummy("tool_call")
    user = [{"role": "user", "content": "find it"}]
    first = answer(provider, user, tools=TOOLS)
    assert first.finish_reason == "tool_calls"
    [call] = first.message.tool_calls
    arguments = json.loads(call.function.arguments)  # valid for the tool's parameters
    assert set(arguments) == {"vendor", "total"}
    plain = answer(provider, user)
    assert json.loads(plain.message.tool_calls[0].function.arguments) == {"query": "find it"}
    turn = [
        *user,
        {"role": "assistant", "tool_calls": [msgspec.to_builtins(call)]},
        {"role": "tool", "tool_call_id": call.id, "content": "order 42 ships today"},
    ]
    final = answer(provider, turn, tools=TOOLS)
    assert final.finish_reason == "stop"
    assert final.message.content == "Tool results: order 42 ships today"
    structured = answer(
        provider,
        turn,
        tools=TOOLS,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
    )
    assert set(json.loads(structured.message.content)) == {"vendor", "total"}


def test_forced_tool_choice_is_a_call_in_any_mode() -> None:
    user = [{"role": "user", "content": "ACME, 9.50"}]
    other = {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}
    tools = [other, *TOOLS]
    forced = {"type": "function", "function": {"name": "lookup"}}
    [call] = answer(dummy("json"), user, tools=tools, tool_choice=forced).message.tool_calls
    assert call.function.name == "lookup"
    assert set(json.loads(call.function.arguments)) == {"vendor", "total"}
    first = answer(dummy("echo"), user, tools=tools, tool_choice="required").message.tool_calls
    assert first[0].function.name == "other"
    turn = [
        *user,
        {"role": "assistant", "tool_calls": [msgspec.to_builtins(first[0])]},
        {"role": "tool", "tool_call_id": first[0].id, "content": "done"},
    ]
    then = answer(dummy("echo"), turn, tools=tools, tool_choice="required").message.tool_calls
    assert then[0].function.name == "lookup"  # the first tool not called yet
    assert answer(dummy("tool_call"), user, tools=tools, tool_choice="none").message.content


def test_responses_refusal_parts_become_the_assistant_refusal() -> None:
    from app.inference.responses_wire import to_chat_request
    from app.wire.responses import decode_responses_request

    body = json.dumps(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "bad"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "refusal", "refusal": "No."}],
                },
                {"role": "user", "content": "good"},
            ],
        }
    ).encode()
    chat, _ = to_chat_request(decode_responses_request(body), body)
    assistant = chat.messages[1]
    assert (assistant.role, assistant.content, assistant.refusal) == ("assistant", None, "No.")
