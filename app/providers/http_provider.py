"""One provider reached over HTTP, for every wire format: the request, its timeouts, the SSE
stream, and every way a call can fail turned into a :class:`ProviderError` the pipeline can act
on (fall back, retry, 504). What the API's bytes mean is the wire format's business
(:mod:`app.providers.wire_format`); the transport is the :class:`Upstream` given at call time.

A provider holds only its config, its wire format and its breaker: it is cheap to build and
holds no connection, so validating a config builds nothing live.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import aclosing

import aiohttp

from app.config.schema import AnthropicProviderConfig, OpenAIProviderConfig
from app.providers.base import GeneratorStream, ProviderError, ProviderReply, ProviderRequest, now
from app.providers.breaker import CircuitBreaker
from app.providers.redact import Redactor, StreamScrubber
from app.providers.upstream import Upstream, http_error, sse_data
from app.providers.wire_format import (
    DECODE_ERRORS,
    ErrorEvent,
    StreamReader,
    TranslationError,
    WireFormat,
)
from app.wire.response import ChatCompletionChunk

RemoteConfig = OpenAIProviderConfig | AnthropicProviderConfig


class HttpProvider:
    __slots__ = ("_stream_timeout", "_timeout", "breaker", "config", "name", "redact", "wire")

    def __init__(
        self,
        name: str,
        config: RemoteConfig,
        wire: WireFormat,
        breaker: CircuitBreaker,
        redact: Redactor | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.wire = wire
        self.breaker = breaker
        # Every byte read from the provider passes through it first: keys never leave.
        self.redact = redact or Redactor([config.api_key_env] if config.api_key_env else [])
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        # Streams may legitimately run longer than timeout_s; a silent gap that long is the failure.
        self._stream_timeout = aiohttp.ClientTimeout(
            sock_connect=config.connect_timeout_s, sock_read=config.timeout_s
        )

    async def complete(self, request: ProviderRequest, upstream: Upstream) -> ProviderReply:
        body = self._body(request)
        headers = self._headers(request)
        try:
            raw, first_byte_at = await self._post(upstream, body, headers, request)
        except ProviderError as exc:
            exc.raw_request = body  # so the failed attempt's record shows what was sent
            raise
        try:
            completion = self.redact.completion(self.wire.completion(raw))
        except DECODE_ERRORS as exc:
            raise ProviderError(
                self.name,
                f"malformed {self.wire.reply_name}: {exc}",
                kind="protocol",
                raw_response=raw[:2000],
            ) from None
        return ProviderReply(completion, body, raw, first_byte_at)

    def stream(self, request: ProviderRequest, upstream: Upstream) -> GeneratorStream:
        body = self._body(request)
        return GeneratorStream(body, self._chunks(upstream, body, self._headers(request)))

    def _body(self, request: ProviderRequest) -> bytes:
        try:
            return self.wire.body(request)
        except TranslationError as exc:
            raise ProviderError(
                self.name,
                f"cannot translate the request for {self.wire.label}: {exc}",
                kind="rejected",
            ) from None

    def _headers(self, request: ProviderRequest) -> dict[str, str]:
        headers = self.wire.headers(self._api_key())
        return {**headers, **request.headers} if request.headers else headers

    def _api_key(self) -> str | None:
        """The key from the environment, read at call time so rotating it needs no reload."""
        variable = self.config.api_key_env
        if not variable:
            return None
        key = os.environ.get(variable)
        if not key:
            raise ProviderError(
                self.name, f"environment variable {variable} is not set", kind="config"
            )
        return key

    async def _post(
        self, upstream: Upstream, body: bytes, headers: dict[str, str], request: ProviderRequest
    ) -> tuple[bytes, float]:
        """The whole response body and when its first byte arrived (``perf_counter``)."""
        first_byte_timeout = request.first_byte_timeout
        deadline = asyncio.timeout(first_byte_timeout)
        try:
            async with deadline:
                response = await upstream.send(self.wire.url, body, headers, self._timeout)
            try:
                first_byte_at = now()
                raw = self.redact.bytes(await response.read())
            finally:
                response.release()
        except TimeoutError:
            if deadline.expired() and first_byte_timeout is not None:
                raise ProviderError(
                    self.name,
                    f"no first byte within {first_byte_timeout * 1000:g} ms (max_ttft_ms)",
                    kind="slow_first_token",
                ) from None
            raise ProviderError(
                self.name, f"no complete response within {self.config.timeout_s:g}s", kind="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise self._connect_failed(exc) from None
        if response.status >= 400:  # of the headers only Retry-After is read, never kept
            raise http_error(self.name, response.status, raw, response.headers)
        return raw, first_byte_at

    async def _chunks(
        self, upstream: Upstream, body: bytes, headers: dict[str, str]
    ) -> AsyncIterator[list[ChatCompletionChunk]]:
        """The chunks of each network read, together. Closing this generator releases the
        response at once: that is how a client disconnect cancels the provider call."""
        reader = self.wire.reader()
        try:
            response = await upstream.send(self.wire.url, body, headers, self._stream_timeout)
            try:
                if response.status >= 400:
                    raw = self.redact.bytes(await response.read())
                    raise http_error(self.name, response.status, raw, response.headers)
                scrubber = StreamScrubber(self.redact)  # refreshes once; events are only scrubbed
                async with aclosing(sse_data(response.content.iter_any())) as reads:
                    async for events in reads:
                        chunks, failure = self._read_events(reader, events)
                        if chunks and scrubber.active:
                            chunks = [scrubber.chunk(chunk) for chunk in chunks]
                        if chunks:
                            yield chunks
                        if failure is not None:
                            raise failure
                        if reader.done:
                            break
                if (held := scrubber.flush()) is not None:
                    yield [held]
                if reader.done:
                    return
            finally:
                response.release()
        except TimeoutError:
            raise ProviderError(
                self.name, f"stream stalled for {self.config.timeout_s:g}s", kind="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise self._connect_failed(exc) from None
        if not reader.finished:
            raise ProviderError(self.name, self.wire.unfinished, kind="protocol")

    def _read_events(
        self, reader: StreamReader, events: list[bytes]
    ) -> tuple[list[ChatCompletionChunk], ProviderError | None]:
        """The chunks of one read's events, up to the end of the stream or the first bad event
        (the chunks before a bad event still reach the client, as they would one by one)."""
        chunks: list[ChatCompletionChunk] = []
        for data in events:
            data = self.redact.scrub(data)
            try:
                chunk = reader.read(data)
            except DECODE_ERRORS as exc:
                return chunks, self._malformed_event(exc, data)
            except ErrorEvent as event:
                return chunks, http_error(self.name, event.status, data)
            if chunk is not None:
                chunks.append(chunk)
            if reader.done:
                break
        return chunks, None

    def _malformed_event(self, exc: Exception, data: bytes) -> ProviderError:
        return ProviderError(
            self.name, f"malformed stream event: {exc}", kind="protocol", raw_response=data[:2000]
        )

    def _connect_failed(self, exc: aiohttp.ClientError) -> ProviderError:
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or exc.os_error})"
        else:
            reason = str(exc) or type(exc).__name__
        return ProviderError(
            self.name, f"connection failed: {self.redact.text(reason)}", kind="connect"
        )
