"""What a wire format must say for :class:`app.providers.http_provider.HttpProvider` to speak it.

A wire format is pure translation, no I/O: the URL and headers of a provider's API, a
:class:`ProviderRequest` as that API's request body, its reply and stream events as OpenAI
completions and chunks. One implementation per provider type (``openai_wire``,
``anthropic_wire``), each unit-tested without a server; the HTTP side is written once.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from app.providers.base import ProviderRequest
from app.wire.response import ChatCompletion, ChatCompletionChunk

# What decoding untrusted bytes with msgspec may raise: its own errors, and (not wrapped in
# them) invalid UTF-8 inside a JSON string and nesting deeper than the recursion limit.
DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError, RecursionError)


class TranslationError(ValueError):
    """The request cannot be expressed in the provider's API (e.g. audio input for Anthropic)."""


class ErrorEvent(Exception):
    """The stream carried an error instead of a chunk; ``status`` is the HTTP status it means."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class StreamReader(Protocol):
    """Reads one stream's SSE payloads; holds that stream's state.

    ``read`` raises ``msgspec.MsgspecError`` on a payload it cannot decode, :class:`ErrorEvent`
    on an error event.
    """

    finished: bool  # the stream may end here without having been cut short
    done: bool  # the stream's end marker arrived: stop reading

    def read(self, data: bytes) -> ChatCompletionChunk | None: ...


class WireFormat(Protocol):
    label: str  # the API's name in error messages ("Anthropic")
    reply_name: str  # what its non-streaming reply is called ("completion", "message")
    unfinished: str  # why a stream that ended without ``finished`` is an error
    url: str

    def headers(self, api_key: str | None) -> dict[str, str]: ...

    def body(self, request: ProviderRequest) -> bytes:
        """The request body; raises :class:`TranslationError`."""
        ...

    def completion(self, raw: bytes) -> ChatCompletion:
        """A whole reply as a completion; raises ``msgspec.MsgspecError``."""
        ...

    def reader(self) -> StreamReader: ...
