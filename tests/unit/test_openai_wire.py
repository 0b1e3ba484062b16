"""The ``openai`` wire format without a server: URL, headers, request bodies filtered by the
declared parameters, replies decoded, and where a stream may end."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.config.schema import OpenAIProviderConfig
from app.providers.base import ProviderRequest
from app.providers.openai_wire import OpenAIWire
from app.providers.wire_format import ErrorEvent


def wire(**config: Any) -> OpenAIWire:
    return OpenAIWire(OpenAIProviderConfig(**{"base_url": "http://h/v1", **config}))


def body(w: OpenAIWire, **request: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "params": {},
    }
    return json.loads(w.body(ProviderRequest(**{**defaults, **request})))


def test_url_is_base_url_plus_chat_completions() -> None:
    assert wire(base_url="http://h/v1/").url == "http://h/v1/chat/completions"


def test_headers_carry_the_bearer_key_and_the_configs_own() -> None:
    w = wire(headers={"OpenAI-Organization": "org-1"})
    assert w.headers("sk-1") == {
        "Content-Type": "application/json",
        "OpenAI-Organization": "org-1",
        "Authorization": "Bearer sk-1",
    }
    assert "Authorization" not in w.headers(None)


def test_headers_are_a_fresh_dict_each_call() -> None:
    w = wire()
    w.headers("sk-1")["X"] = "leak"
    assert w.headers(None) == {"Content-Type": "application/json"}


def test_body_keeps_model_messages_and_params() -> None:
    sent = body(wire(), params={"temperature": 0.2, "top_k": 5}, extra={"custom": 1})
    assert sent == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_k": 5,
        "custom": 1,
    }


def test_params_the_server_does_not_declare_are_dropped() -> None:
    params = {"temperature": 0.2, "top_k": 5, "guided_json": {}}
    sent = body(wire(params="openai"), params=params, extra={"custom": 1})
    assert "top_k" not in sent and "guided_json" not in sent
    assert sent["temperature"] == 0.2 and sent["custom"] == 1  # extra is always sent


def test_undeclared_params_are_kept_when_drop_params_is_false() -> None:
    sent = body(wire(params=["temperature"]), params={"top_k": 5}, drop_params=False)
    assert sent["top_k"] == 5


def test_streams_ask_for_usage_when_the_server_takes_stream_options() -> None:
    sent = body(wire(params="vllm"), stream=True)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_streams_ask_for_usage_only_if_the_client_insists_otherwise() -> None:
    w = wire(params=["temperature"])
    assert "stream_options" not in body(w, stream=True, include_usage=True)
    insisted = body(w, stream=True, include_usage=True, drop_params=False)
    assert insisted["stream_options"] == {"include_usage": True}
    assert "stream" not in body(w)


def test_completion_decodes_an_openai_reply() -> None:
    raw = msgspec.json.encode(
        {
            "id": "c1",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )
    completion = wire().completion(raw)
    assert completion.choices[0].message.content == "ok"
    assert completion.usage is not None and completion.usage.total_tokens == 4


def test_completion_raises_on_a_malformed_reply() -> None:
    with pytest.raises(msgspec.MsgspecError):
        wire().completion(b'{"choices": "nope"}')


def chunk(finish: str | None = None, content: str = "x") -> bytes:
    return msgspec.json.encode(
        {
            "id": "c",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
        }
    )


def test_a_stream_is_finished_by_a_finish_reason_and_done_at_DONE() -> None:
    reader = wire().reader()
    first = reader.read(chunk(content="hel"))
    assert first is not None and first.choices[0].delta.content == "hel"
    assert not reader.finished and not reader.done
    reader.read(chunk(finish="stop", content=""))
    assert reader.finished and not reader.done  # the usage chunk may still come
    usage = reader.read(b'{"id":"c","choices":[],"usage":{"prompt_tokens":1}}')
    assert usage is not None and usage.usage
    assert reader.finished
    assert reader.read(b"[DONE]") is None
    assert reader.done


def test_DONE_alone_ends_a_stream_cleanly() -> None:
    reader = wire().reader()
    reader.read(chunk())
    reader.read(b"[DONE]")
    assert reader.done and reader.finished


def test_each_stream_gets_its_own_reader() -> None:
    w = wire()
    first = w.reader()
    first.read(b"[DONE]")
    assert not w.reader().done


def test_an_error_event_is_raised_as_a_server_error() -> None:
    with pytest.raises(ErrorEvent) as caught:
        wire().reader().read(b'{"error": {"message": "overloaded"}}')
    assert caught.value.status == 500


def test_a_malformed_chunk_raises() -> None:
    with pytest.raises(msgspec.MsgspecError):
        wire().reader().read(b'{"choices": 3}')
