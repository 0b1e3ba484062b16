"""The ``openai`` provider: any server that speaks OpenAI's chat completions API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import msgspec

from app.config.params import KNOWN_PARAMS, accepted_params
from app.config.schema import OpenAIProviderConfig
from app.providers.base import GeneratorStream, ProviderError, ProviderReply, ProviderRequest
from app.providers.breaker import CircuitBreaker
from app.providers.http import HttpPool
from app.providers.upstream import Upstream, http_error
from app.wire.response import ChatCompletionChunk, chunk_decoder, completion_decoder, encoder


class OpenAIProvider:
    type = "openai"

    def __init__(self, name: str, config: OpenAIProviderConfig, pool: HttpPool) -> None:
        self.name = name
        self.config = config
        self.breaker = CircuitBreaker(config.circuit_breaker)
        self._upstream = Upstream(
            name, config.base_url.rstrip("/") + "/chat/completions", config, pool
        )
        accepted = accepted_params(config.params)
        # None: the server takes every parameter the gateway knows, so there is nothing to filter.
        self._accepted = None if accepted >= KNOWN_PARAMS else accepted
        self._stream_usage = "stream_options" in accepted

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.config.headers}
        key = self._upstream.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(self, request: ProviderRequest) -> bytes:
        params = request.params
        if request.drop_params and self._accepted is not None:
            params = {k: v for k, v in params.items() if k in self._accepted}
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            **params,
            **request.extra,
        }
        if request.stream:
            body["stream"] = True
            # Asked for whenever the server takes it (even if the client did not), so that recorded
            # token counts are exact; otherwise only when the client insists (drop_params false).
            if self._stream_usage or (request.include_usage and not request.drop_params):
                body["stream_options"] = {"include_usage": True}
        return encoder.encode(body)

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        body = self._body(request)
        raw, first_byte_at = await self._upstream.post(
            body, self._headers(), request.first_byte_timeout
        )
        try:
            completion = completion_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise ProviderError(
                self.name, f"malformed completion: {exc}", kind="protocol", raw_response=raw[:2000]
            ) from None
        return ProviderReply(completion, body, raw, first_byte_at)

    def stream(self, request: ProviderRequest) -> GeneratorStream:
        body = self._body(request)
        return GeneratorStream(body, self._chunks(body))

    async def _chunks(self, body: bytes) -> AsyncIterator[ChatCompletionChunk]:
        finished = False
        async with aclosing(self._upstream.events(body, self._headers())) as events:
            async for data in events:
                if data == b"[DONE]":
                    return
                chunk = self._decode_chunk(data)
                finished = finished or any(c.finish_reason for c in chunk.choices)
                yield chunk
        if not finished:
            raise ProviderError(
                self.name, "stream ended before a finish_reason or [DONE]", kind="protocol"
            )

    def _decode_chunk(self, data: bytes) -> ChatCompletionChunk:
        if data.startswith(b'{"error"'):
            raise http_error(self.name, 500, data)
        try:
            return chunk_decoder.decode(data)
        except msgspec.MsgspecError as exc:
            raise ProviderError(
                self.name,
                f"malformed stream event: {exc}",
                kind="protocol",
                raw_response=data[:2000],
            ) from None
