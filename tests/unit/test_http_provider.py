"""The HTTP provider over an in-memory :class:`Upstream`: no socket where a socket adds nothing.

Failure modes that need a real connection (resets, stalls, refused ports, disconnects) are
covered against the fake servers in tests/integration.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

import aiohttp
import msgspec
import pytest

from app.config.schema import AnthropicProviderConfig, OpenAIProviderConfig, ProviderConfig
from app.providers.base import ProviderError, ProviderRequest
from app.providers.breaker import BreakerBoard
from app.providers.http_provider import HttpProvider
from app.providers.registry import Providers, build_provider
from app.wire.request import decode_chat_request


class FakeBody:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class FakeResponse:
    def __init__(
        self, status: int, body: bytes | list[bytes], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.content = FakeBody([body] if isinstance(body, bytes) else body)
        self.released = False

    async def read(self) -> bytes:
        return b"".join(self.content.pieces)

    def release(self) -> None:
        self.released = True


class FakeUpstream:
    """Answers each send with the next scripted response (or raises it)."""

    def __init__(self, *replies: FakeResponse | BaseException) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[str, bytes, dict[str, str], aiohttp.ClientTimeout]] = []

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> Awaitable[FakeResponse]:
        self.sent.append((url, body, dict(headers), timeout))
        return self._answer()

    async def _answer(self) -> FakeResponse:
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    @property
    def last_body(self) -> dict[str, Any]:
        return json.loads(self.sent[-1][1])


def provider(config: ProviderConfig, name: str = "p") -> HttpProvider:
    built = build_provider(name, config, BreakerBoard())
    assert isinstance(built, HttpProvider)
    return built


def openai(**config: Any) -> HttpProvider:
    return provider(OpenAIProviderConfig(**{"base_url": "http://oai/v1", **config}))


def anthropic(**config: Any) -> HttpProvider:
    return provider(AnthropicProviderConfig(**{"base_url": "http://ant", **config}))


def request(stream: bool = False, **body: Any) -> ProviderRequest:
    chat = decode_chat_request(
        json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}).encode()
    )
    return ProviderRequest(model="upstream-model", messages=chat.messages, params={}, stream=stream)


def sse(*events: Any) -> list[bytes]:
    """One SSE body, cut into uneven pieces the way a network delivers it."""
    text = b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )
    return [text[i : i + 13] for i in range(0, len(text), 13)]


OPENAI_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "upstream-model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


def openai_chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


# -- OpenAI --------------------------------------------------------------------------------------


async def test_openai_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAI_KEY", "sk-test")
    upstream = FakeUpstream(FakeResponse(200, json.dumps(OPENAI_REPLY).encode()))
    reply = await openai(api_key_env="OAI_KEY", timeout_s=7).complete(request(), upstream)
    assert reply.completion.choices[0].message.content == "hello"
    assert reply.completion.usage is not None and reply.completion.usage.total_tokens == 6
    url, body, headers, timeout = upstream.sent[0]
    assert url == "http://oai/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert timeout.total == 7
    assert json.loads(body)["model"] == "upstream-model"
    assert reply.raw_request == body
    assert json.loads(reply.raw_response) == OPENAI_REPLY
    assert reply.first_byte_at > 0


async def test_openai_stream() -> None:
    events = sse(
        openai_chunk(""),
        openai_chunk("hel"),
        openai_chunk("lo"),
        openai_chunk(None, "stop"),
        {
            **openai_chunk(None),
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        },
        b"[DONE]",
    )
    response = FakeResponse(200, events)
    upstream = FakeUpstream(response)
    stream = openai().stream(request(stream=True), upstream)
    chunks = [c async for read in stream for c in read]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello"
    assert chunks[3].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    assert upstream.last_body["stream"] is True
    assert upstream.sent[0][3].total is None  # streams are held to the gap between reads
    assert stream.raw_request == upstream.sent[0][1]
    assert response.released


async def test_openai_stream_cut_short_is_a_protocol_error() -> None:
    upstream = FakeUpstream(FakeResponse(200, sse(openai_chunk("hel"))))
    with pytest.raises(ProviderError) as caught:
        _ = [c async for read in openai().stream(request(stream=True), upstream) for c in read]
    assert caught.value.kind == "protocol"
    assert "stream ended before a finish_reason or [DONE]" in caught.value.message


async def test_openai_error_event_in_a_stream() -> None:
    events = sse(openai_chunk("a"), {"error": {"message": "model crashed"}})
    upstream = FakeUpstream(FakeResponse(200, events))
    with pytest.raises(ProviderError) as caught:
        _ = [c async for read in openai().stream(request(stream=True), upstream) for c in read]
    assert (caught.value.kind, caught.value.status) == ("http", 500)
    assert "model crashed" in caught.value.message


async def test_the_chunks_of_one_read_come_as_one_group() -> None:
    body = b"".join(
        sse(openai_chunk("a"), openai_chunk("b"), openai_chunk(None, "stop"), b"[DONE]")
    )
    stream = openai().stream(request(stream=True), FakeUpstream(FakeResponse(200, body)))
    reads = [read async for read in stream]
    assert [[c.choices[0].delta.content for c in read] for read in reads] == [["a", "b", None]]


async def test_chunks_before_a_bad_event_in_the_same_read_still_arrive() -> None:
    body = b"".join(sse(openai_chunk("a"), openai_chunk("b"))) + b"data: {not json\n\n"
    stream = openai().stream(request(stream=True), FakeUpstream(FakeResponse(200, body)))
    received: list[str | None] = []
    with pytest.raises(ProviderError) as caught:
        async for read in stream:
            received.extend(c.choices[0].delta.content for c in read)
    assert received == ["a", "b"]
    assert caught.value.kind == "protocol" and "malformed stream event" in caught.value.message


async def test_closing_a_stream_early_releases_the_response() -> None:
    response = FakeResponse(200, sse(openai_chunk("a"), openai_chunk("b"), b"[DONE]"))
    stream = openai().stream(request(stream=True), FakeUpstream(response))
    async for _ in stream:
        break
    await stream.aclose()
    assert response.released


# -- Anthropic -----------------------------------------------------------------------------------


async def test_anthropic_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANT_KEY", "ant-test")
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "bonjour"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 4, "output_tokens": 9},
    }
    upstream = FakeUpstream(FakeResponse(200, json.dumps(message).encode()))
    reply = await anthropic(api_key_env="ANT_KEY", max_tokens=77).complete(request(), upstream)
    choice = reply.completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("bonjour", "length")
    assert reply.completion.usage is not None and reply.completion.usage.total_tokens == 13
    url, _, headers, _ = upstream.sent[0]
    assert url == "http://ant/v1/messages"
    assert headers["x-api-key"] == "ant-test" and headers["anthropic-version"] == "2023-06-01"
    assert upstream.last_body == {
        "model": "upstream-model",
        "max_tokens": 77,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


async def test_anthropic_stream() -> None:
    events = sse(
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 4}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "bon"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "jour"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    )
    response = FakeResponse(200, events)
    upstream = FakeUpstream(response)
    chunks = [c async for read in anthropic().stream(request(stream=True), upstream) for c in read]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "bonjour"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 2)
    assert upstream.last_body["stream"] is True
    assert response.released


async def test_anthropic_stream_error_event_keeps_its_status() -> None:
    events = sse({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    upstream = FakeUpstream(FakeResponse(200, events))
    with pytest.raises(ProviderError) as caught:
        _ = [c async for read in anthropic().stream(request(stream=True), upstream) for c in read]
    assert (caught.value.status, caught.value.retryable) == (529, True)


async def test_anthropic_stream_without_message_stop_is_a_protocol_error() -> None:
    events = sse({"type": "message_start", "message": {"id": "m", "model": "c"}})
    with pytest.raises(ProviderError, match="stream ended before message_stop"):
        _ = [
            read
            async for read in anthropic().stream(
                request(stream=True), FakeUpstream(FakeResponse(200, events))
            )
        ]


async def test_a_request_anthropic_cannot_express_is_rejected_before_sending() -> None:
    upstream = FakeUpstream()
    audio = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    with pytest.raises(ProviderError) as caught:
        await anthropic().complete(request(messages=[{"role": "user", "content": audio}]), upstream)
    assert caught.value.kind == "rejected" and not caught.value.try_next
    assert "cannot translate the request for Anthropic" in caught.value.message
    assert upstream.sent == []


# -- failures, either wire format ---------------------------------------------------------------


async def test_a_429_carries_retry_after_and_the_request_sent() -> None:
    upstream = FakeUpstream(
        FakeResponse(429, b'{"error": {"message": "slow down"}}', {"retry-after-ms": "1500"})
    )
    with pytest.raises(ProviderError) as caught:
        await openai().complete(request(), upstream)
    error = caught.value
    assert (error.kind, error.status, error.retry_after, error.retryable) == (
        "http",
        429,
        1.5,
        True,
    )
    assert error.message == "HTTP 429: slow down"
    assert error.raw_request == upstream.sent[0][1]


async def test_a_400_is_a_rejection() -> None:
    upstream = FakeUpstream(
        FakeResponse(
            400, b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}'
        )
    )
    with pytest.raises(ProviderError) as caught:
        await anthropic().complete(request(), upstream)
    assert (caught.value.kind, caught.value.message) == ("rejected", "HTTP 400: bad")


async def test_a_malformed_reply_is_a_protocol_error() -> None:
    upstream = FakeUpstream(FakeResponse(200, b'{"choices": 1}'))
    with pytest.raises(ProviderError, match="malformed completion") as caught:
        await openai().complete(request(), upstream)
    assert caught.value.kind == "protocol" and caught.value.raw_response == b'{"choices": 1}'


async def test_a_transport_failure_is_a_connect_error() -> None:
    upstream = FakeUpstream(aiohttp.ServerDisconnectedError())
    with pytest.raises(ProviderError) as caught:
        await openai().complete(request(), upstream)
    assert caught.value.kind == "connect" and caught.value.retryable
    assert caught.value.message.startswith("connection failed: Server disconnected")


async def test_a_missing_key_variable_fails_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    upstream = FakeUpstream()
    with pytest.raises(ProviderError, match="environment variable NOPE_KEY is not set") as caught:
        await openai(api_key_env="NOPE_KEY").complete(request(), upstream)
    assert caught.value.kind == "config" and not caught.value.counts_against_provider
    assert upstream.sent == []


# -- per config version ------------------------------------------------------------------------


def test_providers_are_built_once_per_config_version_and_keep_breakers() -> None:
    providers = Providers(FakeUpstream())
    version_1 = {
        "p": OpenAIProviderConfig(base_url="http://a"),
        "d": msgspec.convert({"type": "dummy"}, ProviderConfig),
    }
    table = providers.table(version_1)
    assert providers.table(version_1) is table
    version_2 = {**version_1, "p": OpenAIProviderConfig(base_url="http://b")}
    newer = providers.table(version_2)
    assert newer is not table
    assert newer["d"].breaker is table["d"].breaker  # unchanged provider: same breaker
    assert newer["p"].breaker is not table["p"].breaker  # re-pointed provider: a fresh one
    assert providers.table(version_1) is table  # in-flight requests on version 1 still find it
