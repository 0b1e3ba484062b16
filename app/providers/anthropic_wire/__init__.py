"""OpenAI chat completions ⇄ Anthropic Messages: pure translation, no I/O.

:class:`AnthropicWire` is this translation as the ``anthropic`` wire format of
:class:`app.providers.http_provider.HttpProvider`. The translation is split by direction:
``request`` (chat request → Messages body), ``reply`` (Messages reply → completion) and
``stream`` (Messages SSE events → chunks; it shares ``reply``'s structs and usage mapping).
The entry points (the wire format, the builder, the decoders) are re-exported here.
"""

from __future__ import annotations

from app.config.schema import AnthropicProviderConfig
from app.providers.anthropic_wire.reply import message_decoder, to_completion
from app.providers.anthropic_wire.request import build_body
from app.providers.anthropic_wire.stream import StreamTranslator, event_decoder
from app.providers.base import ProviderRequest
from app.providers.wire_format import TranslationError
from app.wire.response import ChatCompletion, encoder

__all__ = [
    "AnthropicWire",
    "StreamTranslator",
    "TranslationError",
    "build_body",
    "event_decoder",
    "message_decoder",
    "to_completion",
]


class AnthropicWire:
    """The ``anthropic`` wire format: ``x-api-key`` and ``anthropic-version`` headers, the
    Messages endpoint under ``base_url`` (``/v1`` added unless it is there already)."""

    label = "Anthropic"
    reply_name = "message"
    unfinished = "stream ended before message_stop"

    __slots__ = ("_headers", "_max_tokens", "url")

    def __init__(self, config: AnthropicProviderConfig) -> None:
        base = config.base_url.rstrip("/")
        self.url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        self._headers = {
            "content-type": "application/json",
            "anthropic-version": config.anthropic_version,
            **config.headers,
        }
        self._max_tokens = config.max_tokens

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self._headers)
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def body(self, request: ProviderRequest) -> bytes:
        body = build_body(
            request.model,
            request.messages,
            request.params,
            request.extra,
            drop_params=request.drop_params,
            default_max_tokens=self._max_tokens,
            stream=request.stream,
        )
        return encoder.encode(body)

    def completion(self, raw: bytes) -> ChatCompletion:
        return to_completion(message_decoder.decode(raw))

    def reader(self) -> StreamTranslator:
        return StreamTranslator()
