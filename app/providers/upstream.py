"""The HTTP side every remote provider shares: posting JSON, reading SSE, and turning every way
a call can fail into a :class:`ProviderError` the pipeline can act on (fall back, retry, 504).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import time
from collections.abc import AsyncIterator, Mapping

import aiohttp
import msgspec

from app.config.schema import AnthropicProviderConfig, OpenAIProviderConfig
from app.providers.base import ProviderError, now
from app.providers.http import HttpPool

# Upstream statuses that mean "this request is malformed" (it would fail on any provider too).
REJECTED_STATUSES = frozenset({400, 413, 422})

RemoteConfig = OpenAIProviderConfig | AnthropicProviderConfig


class Upstream:
    """One provider's endpoint, with its timeouts. Holds no per-request state."""

    __slots__ = ("_pool", "_stream_timeout", "_timeout", "config", "name", "url")

    def __init__(self, name: str, url: str, config: RemoteConfig, pool: HttpPool) -> None:
        self.name = name
        self.url = url
        self.config = config
        self._pool = pool
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        # Streams may legitimately run longer than timeout_s; a silent gap that long is the failure.
        self._stream_timeout = aiohttp.ClientTimeout(
            sock_connect=config.connect_timeout_s, sock_read=config.timeout_s
        )

    def api_key(self) -> str | None:
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

    async def post(
        self, body: bytes, headers: dict[str, str], first_byte_timeout: float | None
    ) -> tuple[bytes, float]:
        """The whole response body and when its first byte arrived (``perf_counter``)."""
        try:
            return await self._post(body, headers, first_byte_timeout)
        except ProviderError as exc:
            exc.raw_request = body  # so the failed attempt's record shows what was sent
            raise

    async def _post(
        self, body: bytes, headers: dict[str, str], first_byte_timeout: float | None
    ) -> tuple[bytes, float]:
        deadline = asyncio.timeout(first_byte_timeout)
        try:
            async with deadline:
                response = await self._pool.session.post(
                    self.url, data=body, headers=headers, timeout=self._timeout
                )
            try:
                first_byte_at = now()
                raw = await response.read()
            finally:
                response.release()
        except TimeoutError:
            if deadline.expired():
                raise ProviderError(
                    self.name,
                    f"no first byte within {first_byte_timeout * 1000:g} ms (max_ttft_ms)",
                    kind="slow_first_token",
                ) from None  # type: ignore[operator]
            raise ProviderError(
                self.name, f"no complete response within {self.config.timeout_s:g}s", kind="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise ProviderError(
                self.name, f"connection failed: {_describe(exc)}", kind="connect"
            ) from None
        if response.status >= 400:
            raise http_error(self.name, response.status, raw, response.headers)
        return raw, first_byte_at

    async def events(self, body: bytes, headers: dict[str, str]) -> AsyncIterator[bytes]:
        """The ``data:`` payloads of an SSE response, in order.

        Consume it inside ``contextlib.aclosing`` so that closing the consumer closes the HTTP
        response at once (that is how a client disconnect cancels the provider call).
        """
        try:
            async with self._pool.session.post(
                self.url, data=body, headers=headers, timeout=self._stream_timeout
            ) as response:
                if response.status >= 400:
                    raise http_error(
                        self.name, response.status, await response.read(), response.headers
                    )
                # Whatever arrived, split into lines here: one await per network read
                # instead of one per line (aiohttp's readline) is ~10% of a streaming request.
                pending = b""
                async for data in response.content.iter_any():
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        if line.startswith(b"data:") and (payload := line[5:].strip()):
                            yield payload
                if pending.startswith(b"data:") and (payload := pending[5:].strip()):
                    yield payload
        except TimeoutError:
            raise ProviderError(
                self.name, f"stream stalled for {self.config.timeout_s:g}s", kind="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise ProviderError(
                self.name, f"connection failed: {_describe(exc)}", kind="connect"
            ) from None


class _UpstreamError(msgspec.Struct):
    message: str = ""


class _UpstreamErrorBody(msgspec.Struct):
    # OpenAI: {"error": {"message"}}; Anthropic: {"type": "error", "error": {"type", "message"}}.
    error: _UpstreamError | str | None = None
    message: str | None = None


def http_error(
    provider: str, status: int, raw: bytes, headers: Mapping[str, str] | None = None
) -> ProviderError:
    detail = ""
    try:
        parsed = msgspec.json.decode(raw, type=_UpstreamErrorBody)
        if isinstance(parsed.error, _UpstreamError):
            detail = parsed.error.message
        else:
            detail = parsed.error or parsed.message or ""
    except msgspec.MsgspecError:
        detail = raw[:300].decode("utf-8", "replace").strip()
    kind = "rejected" if status in REJECTED_STATUSES else "http"
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    retry_after = retry_after_seconds(headers) if headers is not None else None
    return ProviderError(
        provider, text, kind=kind, status=status, raw_response=raw[:2000], retry_after=retry_after
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (OpenAI), else ``Retry-After`` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or exc.os_error})"
    return str(exc) or type(exc).__name__
