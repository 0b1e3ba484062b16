"""One HTTP exchange of the chat endpoint, over either server interface granian speaks.

The chat handler (:mod:`app.api.chat`) reads a request and writes a response through
:class:`Exchange`, so the same code serves under ASGI (Litestar's raw route, used by in-process
apps and ``SWITCHYARD_SERVER_INTERFACE=asgi``) and under RSGI (:mod:`app.api.rsgi`, the
default for ``serve``), where granian hands the body over in one call and takes the response
in one call instead of a message dict per step (docs/performance.md, "RSGI for the chat
endpoint"). Response headers are ``str`` pairs, which RSGI takes as they are; the ASGI side
encodes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

from granian._granian import RSGIHTTPProtocol as RsgiProtocol
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from granian.rsgi import Scope as RsgiScope
from litestar.types import HTTPScope, Receive, Send

from app.api.errors import payload_too_large

Headers = list[tuple[str, str]]
# an SSE relay: the frames of one upstream read at a time
Relay = AsyncGenerator[list[bytes], None]


class ClientGone(Exception):
    """The client disconnected before the request was read."""


class Exchange(Protocol):
    method: str
    status: int  # the status sent, for the request counter; 0 until a response starts

    def header(self, name: str) -> str | None:
        """A request header by its lower-case name."""

    async def read_body(self, limit: int) -> bytes:
        """The whole body; :class:`PayloadTooLarge` past ``limit``, :class:`ClientGone`."""

    async def respond(self, status: int, headers: Headers, body: bytes) -> None: ...

    async def stream(self, headers: Headers, relay: Relay) -> None:
        """Relay SSE frames with status 200; a client that disconnects cancels the relay (and so
        the provider call). The relay records the inference as ``cancelled`` when it is
        cancelled or closed early."""


def _declared_length(exchange: Exchange, limit: int) -> int | None:
    """The body's declared length (None when chunked); :class:`PayloadTooLarge` past ``limit``."""
    declared = exchange.header("content-length")
    if declared is None or not declared.isdigit():
        return None
    if int(declared) > limit:
        raise payload_too_large()
    return int(declared)


async def _relay_until_gone(
    relay: Relay,
    send: Callable[[bytes], Awaitable[None]],
    wait_gone: Callable[[], Awaitable[object]],
    finish: Callable[[], Awaitable[None]],
) -> None:
    """Send each read's frames joined; ``wait_gone`` returning (the client left) cancels this
    task, and so the relay and the provider call under it."""
    streaming = asyncio.current_task()
    assert streaming is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await wait_gone()
        gone = True
        streaming.cancel()

    watcher = asyncio.create_task(watch())
    try:
        async for frames in relay:
            await send(frames[0] if len(frames) == 1 else b"".join(frames))
        await finish()
    except asyncio.CancelledError:
        if not gone:
            raise
        streaming.uncancel()
    except (OSError, ProtocolClosed):  # a write to a connection the client closed
        await relay.aclose()
    finally:
        watcher.cancel()


class AsgiExchange:
    __slots__ = ("_receive", "_scope", "_send", "method", "status")
    method: str
    status: int

    def __init__(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        self.method = scope["method"]
        self.status = 0
        self._scope, self._receive, self._send = scope, receive, send

    def header(self, name: str) -> str | None:
        key = name.encode()
        for k, value in self._scope["headers"]:
            if k == key:
                return value.decode("latin-1")
        return None

    async def read_body(self, limit: int) -> bytes:
        _declared_length(self, limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] != "http.request":  # http.disconnect
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise payload_too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def respond(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        encoded = [(k.encode(), v.encode()) for k, v in headers]
        encoded.append((b"content-length", str(len(body)).encode()))
        await self._send({"type": "http.response.start", "status": status, "headers": encoded})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def stream(self, headers: Headers, relay: Relay) -> None:
        self.status = 200
        encoded = [(k.encode(), v.encode()) for k, v in headers]
        send = self._send
        await send({"type": "http.response.start", "status": 200, "headers": encoded})

        async def chunk(body: bytes) -> None:
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def finish() -> None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        await _relay_until_gone(relay, chunk, self._wait_disconnect, finish)

    async def _wait_disconnect(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass


class RsgiExchange:
    __slots__ = ("_proto", "_scope", "method", "status")
    method: str
    status: int

    def __init__(self, scope: RsgiScope, proto: RsgiProtocol) -> None:
        self.method = scope.method
        self.status = 0
        self._scope, self._proto = scope, proto

    def header(self, name: str) -> str | None:
        value: str | None = self._scope.headers.get(name)
        return value

    async def read_body(self, limit: int) -> bytes:
        declared = _declared_length(self, limit)
        try:
            if declared is not None:
                body: bytes = await self._proto()  # granian stops at the declared length
                return body
            chunks: list[bytes] = []
            size = 0
            async for chunk in self._proto:  # chunked: count as it arrives
                size += len(chunk)
                if size > limit:
                    raise payload_too_large()
                chunks.append(chunk)
            return b"".join(chunks)
        except ProtocolClosed:
            raise ClientGone from None

    async def respond(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self._proto.response_bytes(status, headers, body)

    async def stream(self, headers: Headers, relay: Relay) -> None:
        self.status = 200
        transport = self._proto.response_stream(200, headers)

        async def finish() -> None:
            return None

        await _relay_until_gone(relay, transport.send_bytes, self._proto.client_disconnect, finish)
