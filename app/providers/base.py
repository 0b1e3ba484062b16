"""The provider interface: one OpenAI-shaped request in, an OpenAI-shaped completion or chunk
stream out. Translation to other wire formats (Anthropic, ...) happens inside a provider, so
the pipeline only ever sees :mod:`app.wire.response` types.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Literal, Protocol

import msgspec

from app.wire.response import ChatCompletion, ChatCompletionChunk

ErrorKind = Literal["connect", "timeout", "http", "protocol", "config", "rejected"]


class ProviderRequest(msgspec.Struct):
    """What the pipeline asks of a provider.

    ``params`` holds the OpenAI request fields to send besides ``model``/``messages``/``stream``,
    already merged (variant defaults under request values) and filtered by ``drop_params``.
    """

    model: str
    messages: list[Any]
    params: dict[str, Any]
    stream: bool = False
    include_usage: bool = False


class ProviderReply(msgspec.Struct):
    completion: ChatCompletion
    raw_request: bytes
    raw_response: bytes
    first_byte_at: float  # time.perf_counter() when the first byte (or token) arrived


class ProviderError(Exception):
    """An attempt failed. ``kind`` decides whether the next route may be tried."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        raw_response: bytes = b"",
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.kind = kind
        self.status = status
        self.raw_response = raw_response

    @property
    def try_next(self) -> bool:
        """A request the provider rejected as malformed would fail everywhere; all else may not."""
        return self.kind != "rejected"


class ProviderStream(Protocol):
    raw_request: bytes

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    name: str
    type: str

    async def complete(self, request: ProviderRequest) -> ProviderReply: ...

    def stream(self, request: ProviderRequest) -> ProviderStream: ...


class GeneratorStream:
    """Adapts an async generator of chunks to :class:`ProviderStream`."""

    __slots__ = ("raw_request", "_gen")

    def __init__(self, raw_request: bytes, gen: AsyncIterator[ChatCompletionChunk]):
        self.raw_request = raw_request
        self._gen = gen

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._gen

    async def aclose(self) -> None:
        await self._gen.aclose()  # type: ignore[attr-defined]


def now() -> float:
    return time.perf_counter()
