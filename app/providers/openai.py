"""The ``openai`` provider: any server that speaks OpenAI's chat completions API."""

from __future__ import annotations

import asyncio
import os
from typing import AsyncIterator

import aiohttp
import msgspec

from app.config.schema import OpenAIProviderConfig
from app.providers.base import GeneratorStream, ProviderError, ProviderReply, ProviderRequest, now
from app.providers.http import HttpPool
from app.wire.response import ChatCompletionChunk, chunk_decoder, completion_decoder, encoder

# Upstream statuses that mean "this request is malformed" (it would fail on any provider too).
_REJECTED = frozenset({400, 413, 422})


class OpenAIProvider:
    type = "openai"

    def __init__(self, name: str, config: OpenAIProviderConfig, pool: HttpPool) -> None:
        self.name = name
        self.config = config
        self._pool = pool
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        # Streams may legitimately run longer than timeout_s; a silent gap that long is the failure.
        self._stream_timeout = aiohttp.ClientTimeout(
            sock_connect=config.connect_timeout_s, sock_read=config.timeout_s
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.config.headers}
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise ProviderError(
                    self.name, f"environment variable {self.config.api_key_env} is not set", kind="config"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(self, request: ProviderRequest) -> bytes:
        body = {"model": request.model, "messages": request.messages, **request.params}
        if request.stream:
            body["stream"] = True
            if request.include_usage:
                body["stream_options"] = {"include_usage": True}
        return encoder.encode(body)

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        body = self._body(request)
        headers = self._headers()
        try:
            async with self._pool.session.post(
                self._url, data=body, headers=headers, timeout=self._timeout
            ) as response:
                first_byte_at = now()
                raw = await response.read()
                status = response.status
        except asyncio.TimeoutError:
            raise ProviderError(self.name, f"no complete response within {self.config.timeout_s:g}s", kind="timeout") from None
        except aiohttp.ClientError as exc:
            raise ProviderError(self.name, f"connection failed: {_describe(exc)}", kind="connect") from None
        if status >= 400:
            raise _http_error(self.name, status, raw)
        try:
            completion = completion_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise ProviderError(self.name, f"malformed completion: {exc}", kind="protocol", raw_response=raw[:2000]) from None
        return ProviderReply(completion, body, raw, first_byte_at)

    def stream(self, request: ProviderRequest) -> GeneratorStream:
        body = self._body(request)
        return GeneratorStream(body, self._events(body))

    async def _events(self, body: bytes) -> AsyncIterator[ChatCompletionChunk]:
        headers = self._headers()
        finished = False
        try:
            async with self._pool.session.post(
                self._url, data=body, headers=headers, timeout=self._stream_timeout
            ) as response:
                if response.status >= 400:
                    raise _http_error(self.name, response.status, await response.read())
                async for line in response.content:
                    data = _sse_data(line)
                    if data is None:
                        continue
                    if data == b"[DONE]":
                        return
                    chunk = self._decode_chunk(data)
                    finished = finished or any(c.finish_reason for c in chunk.choices)
                    yield chunk
        except asyncio.TimeoutError:
            raise ProviderError(self.name, f"stream stalled for {self.config.timeout_s:g}s", kind="timeout") from None
        except aiohttp.ClientError as exc:
            raise ProviderError(self.name, f"connection failed: {_describe(exc)}", kind="connect") from None
        if not finished:
            raise ProviderError(self.name, "stream ended before a finish_reason or [DONE]", kind="protocol")

    def _decode_chunk(self, data: bytes) -> ChatCompletionChunk:
        if data.startswith(b'{"error"'):
            raise _http_error(self.name, 500, data)
        try:
            return chunk_decoder.decode(data)
        except msgspec.MsgspecError as exc:
            raise ProviderError(self.name, f"malformed stream event: {exc}", kind="protocol", raw_response=data[:2000]) from None


def _sse_data(line: bytes) -> bytes | None:
    """The payload of an SSE ``data:`` line; None for blanks, comments and other fields."""
    if not line.startswith(b"data:"):
        return None
    return line[5:].strip()


class _UpstreamError(msgspec.Struct):
    message: str = ""


class _UpstreamErrorBody(msgspec.Struct):
    error: _UpstreamError | str | None = None
    message: str | None = None


def _http_error(provider: str, status: int, raw: bytes) -> ProviderError:
    detail = ""
    try:
        parsed = msgspec.json.decode(raw, type=_UpstreamErrorBody)
        if isinstance(parsed.error, _UpstreamError):
            detail = parsed.error.message
        else:
            detail = parsed.error or parsed.message or ""
    except msgspec.MsgspecError:
        detail = raw[:300].decode("utf-8", "replace").strip()
    kind = "rejected" if status in _REJECTED else "http"
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    return ProviderError(provider, text, kind=kind, status=status, raw_response=raw[:2000])


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or exc.os_error})"
    return str(exc) or type(exc).__name__
