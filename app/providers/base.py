"""The provider interface: one OpenAI-shaped request in, an OpenAI-shaped completion or chunk
stream out. Translation to other wire formats (Anthropic, ...) happens inside a provider, so
the pipeline only ever sees :mod:`app.wire.response` types.

A provider holds config, not connections: the transport (:class:`Upstream`, the process's
pooled HTTP client) is handed to each call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from app.providers.breaker import CircuitBreaker
from app.wire.response import ChatCompletion, ChatCompletionChunk

if TYPE_CHECKING:
    from app.providers.upstream import Upstream

ErrorKind = Literal[
    "connect",
    "timeout",
    "slow_first_token",
    "http",
    "protocol",
    "config",
    "rejected",
    "circuit_open",
]


class ProviderRequest(msgspec.Struct):
    """What the pipeline asks of a provider.

    ``params`` holds the known OpenAI/vLLM request fields besides ``model``/``messages``/``stream``
    (variant defaults under request values); with ``drop_params`` a provider sends only those it
    declares it supports. ``extra`` is sent as is, always: the variant's ``extra_body`` and, when
    the request says ``drop_params: false``, the request's unknown fields.
    """

    model: str
    messages: list[Any]
    params: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    drop_params: bool = True
    # Non-streaming only: give up when the first response byte takes longer (max_ttft_ms).
    # Streams are held to max_ttft_ms by the pipeline, which sees each chunk arrive.
    first_byte_timeout: float | None = None
    # Sent with the provider call besides the wire's own (the attempt's W3C traceparent).
    headers: dict[str, str] = msgspec.field(default_factory=dict)


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
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.kind = kind
        self.status = status
        self.raw_response = raw_response
        self.retry_after = retry_after  # seconds, from the provider's Retry-After header
        self.raw_request = b""  # the body that was sent, when whoever caught the error knew it

    @property
    def try_next(self) -> bool:
        """A request the provider rejected as malformed would fail everywhere; all else may not."""
        return self.kind != "rejected"

    @property
    def retryable(self) -> bool:
        """Worth repeating on the same provider: rate limits, server errors, failed connections.

        Timeouts are not: a stalled provider tends to stall again, and each try costs the timeout.
        """
        if self.kind == "connect":
            return True
        return (
            self.kind == "http"
            and self.status is not None
            and (self.status == 429 or self.status >= 500)
        )

    @property
    def timed_out(self) -> bool:
        return self.kind in ("timeout", "slow_first_token")

    @property
    def counts_against_provider(self) -> bool:
        """Whether this failure says something about the provider's health (for its breaker).

        Not a missed max_ttft_ms: that is a request's latency budget, and one impatient client
        must not open the circuit of a healthy provider for everyone.
        """
        return self.kind not in ("rejected", "config", "circuit_open", "slow_first_token")


class ProviderStream(Protocol):
    """The chunks of a streamed answer, in the groups they arrived in (one network read each):
    the relay sends each group to the client at once."""

    raw_request: bytes

    def __aiter__(self) -> AsyncIterator[list[ChatCompletionChunk]]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    name: str
    breaker: CircuitBreaker

    async def complete(self, request: ProviderRequest, upstream: Upstream) -> ProviderReply: ...

    def stream(self, request: ProviderRequest, upstream: Upstream) -> ProviderStream: ...


class GeneratorStream:
    """Adapts an async generator of chunk groups to :class:`ProviderStream`."""

    __slots__ = ("_gen", "raw_request")

    def __init__(self, raw_request: bytes, gen: AsyncIterator[list[ChatCompletionChunk]]):
        self.raw_request = raw_request
        self._gen = gen

    def __aiter__(self) -> AsyncIterator[list[ChatCompletionChunk]]:
        return self._gen

    async def aclose(self) -> None:
        await self._gen.aclose()  # type: ignore[attr-defined]


def now() -> float:
    return time.perf_counter()
