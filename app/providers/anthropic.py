"""The ``anthropic`` provider: Anthropic's Messages API behind the OpenAI-shaped interface.

Translation lives in :mod:`app.providers.anthropic_wire`; this module is the HTTP side:
headers (``x-api-key``, ``anthropic-version``), non-streaming calls and the SSE event stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import msgspec

from app.config.schema import AnthropicProviderConfig
from app.providers.anthropic_wire import (
    ERROR_STATUSES,
    StreamTranslator,
    TranslationError,
    build_body,
    event_decoder,
    message_decoder,
    to_completion,
)
from app.providers.base import GeneratorStream, ProviderError, ProviderReply, ProviderRequest
from app.providers.breaker import CircuitBreaker
from app.providers.http import HttpPool
from app.providers.upstream import Upstream, http_error
from app.wire.response import ChatCompletionChunk, encoder


class AnthropicProvider:
    type = "anthropic"

    def __init__(self, name: str, config: AnthropicProviderConfig, pool: HttpPool) -> None:
        self.name = name
        self.config = config
        self.breaker = CircuitBreaker(config.circuit_breaker)
        base = config.base_url.rstrip("/")
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        self._upstream = Upstream(name, url, config, pool)

    def _headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "anthropic-version": self.config.anthropic_version,
            **self.config.headers,
        }
        key = self._upstream.api_key()
        if key:
            headers["x-api-key"] = key
        return headers

    def _body(self, request: ProviderRequest) -> bytes:
        try:
            body = build_body(
                request.model,
                request.messages,
                request.params,
                request.extra,
                drop_params=request.drop_params,
                default_max_tokens=self.config.max_tokens,
                stream=request.stream,
            )
        except TranslationError as exc:
            raise ProviderError(
                self.name, f"cannot translate the request for Anthropic: {exc}", kind="rejected"
            ) from None
        return encoder.encode(body)

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        body = self._body(request)
        raw, first_byte_at = await self._upstream.post(
            body, self._headers(), request.first_byte_timeout
        )
        try:
            message = message_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise ProviderError(
                self.name, f"malformed message: {exc}", kind="protocol", raw_response=raw[:2000]
            ) from None
        return ProviderReply(to_completion(message), body, raw, first_byte_at)

    def stream(self, request: ProviderRequest) -> GeneratorStream:
        body = self._body(request)
        return GeneratorStream(body, self._chunks(body))

    async def _chunks(self, body: bytes) -> AsyncIterator[ChatCompletionChunk]:
        translator = StreamTranslator()
        async with aclosing(self._upstream.events(body, self._headers())) as events:
            async for data in events:
                try:
                    event = event_decoder.decode(data)
                except msgspec.MsgspecError as exc:
                    raise ProviderError(
                        self.name,
                        f"malformed stream event: {exc}",
                        kind="protocol",
                        raw_response=data[:2000],
                    ) from None
                if event.type == "error":
                    error_type = event.error.type if event.error else ""
                    raise http_error(self.name, ERROR_STATUSES.get(error_type, 500), data)
                chunk = translator.feed(event)
                if chunk is not None:
                    yield chunk
                if translator.finished:
                    return
        raise ProviderError(self.name, "stream ended before message_stop", kind="protocol")
