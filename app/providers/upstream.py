"""The transport under every remote provider, and what its answers mean.

:class:`Upstream` is the one thing a provider needs to reach its server: send a POST, get a
response with a status, headers, and the body whole or as it arrives. Production passes by
default the pooled aiohttp client (:class:`app.providers.http.HttpPool`; the reqwest pool
keeps the same contract), whose responses *are* aiohttp's:
the protocol is the subset of aiohttp's client the providers use, so the hot path pays for no
adapter (see docs/performance.md, "Cheaper aiohttp calls"). Unit tests pass an in-memory
Upstream instead; failure modes that need a real socket keep the fake servers in tests/support.

Also here, pure: the SSE reader and the mapping of an upstream error status to a
:class:`ProviderError` whose ``kind`` drives retries and fallback (see docs/providers.md).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from typing import Protocol

import aiohttp
import msgspec

from app.providers.base import ErrorKind, ProviderError

# Upstream statuses that mean "this request is malformed" (it would fail on any provider too).
REJECTED_STATUSES = frozenset({400, 413, 422})


class UpstreamBody(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]:
        """The body in the pieces it arrives in."""
        ...


class UpstreamResponse(Protocol):
    """A response whose headers have arrived; ``release()`` it when done (closes it if unread)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> UpstreamBody: ...

    async def read(self) -> bytes: ...

    def release(self) -> object: ...


class Upstream(Protocol):
    """Sends one POST. Transport failures raise ``aiohttp.ClientError``, timeouts ``TimeoutError``.

    ``timeout`` is an ``aiohttp.ClientTimeout``: plain frozen data, built once per provider.
    """

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> Awaitable[UpstreamResponse]: ...


async def sse_data(pieces: AsyncIterator[bytes]) -> AsyncGenerator[list[bytes], None]:
    """The data of each SSE event, in order, one list per network read that completed events.

    The whole grammar of the HTML standard's ``text/event-stream``: lines end with ``\r\n``,
    ``\n`` or ``\r`` (also when a ``\r\n`` is split between two reads); a blank line ends an
    event, whose ``data:`` lines are joined with ``\n``; one space after the colon is dropped;
    comments (``:``...) and other fields (``event:``, ``id:``, ``retry:``) are skipped; an event
    without data is not dispatched. An event still open when the body ends is dispatched too
    (providers end streams without the final blank line). Payloads are whitespace-stripped.

    Events come out grouped as they arrived, so the relay makes one ASGI send per network read
    instead of one per event (granian's send was 17-19% of a streaming request's event loop,
    docs/performance.md); a read that completes no event yields nothing.
    """
    pending = b""
    data: list[bytes] = []
    skip_lf = False  # the last read ended in "\r": a "\n" opening the next one belongs to it
    async for piece in pieces:
        if skip_lf and piece:
            skip_lf = False
            if piece.startswith(b"\n"):
                piece = piece[1:]
        buffer = pending + piece
        if b"\r" in buffer:
            skip_lf = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = buffer.split(b"\n")
        events: list[bytes] = []
        for line in lines:
            if line:
                _field(line, data)
            elif data and (payload := _event(data)):
                events.append(payload)
        if events:
            yield events
    if pending:
        _field(pending, data)
    if data and (payload := _event(data)):
        yield [payload]


def _field(line: bytes, data: list[bytes]) -> None:
    """One non-blank line: keep the value of a ``data`` field."""
    if not line.startswith(b"data"):
        return  # a comment, another field, or a name that only starts like "data"
    rest = line[4:]
    if not rest:
        data.append(b"")
    elif rest[:1] == b":":
        data.append(rest[2:] if rest[1:2] == b" " else rest[1:])


def _event(data: list[bytes]) -> bytes:
    payload = (data[0] if len(data) == 1 else b"\n".join(data)).strip()
    data.clear()
    return payload


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
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        detail = raw[:300].decode("utf-8", "replace").strip()
    kind: ErrorKind = "rejected" if status in REJECTED_STATUSES else "http"
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
