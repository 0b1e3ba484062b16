"""granian's RSGI entry for ``serve``: the chat endpoint natively, every other route through
Litestar's ASGI app.

Under ASGI every request is a scope dict, a ``receive`` message for the body and two ``send``
messages for the response, each crossing from granian's Rust into Python and back through
Litestar's router and middleware. Under RSGI the chat endpoint reads the body with one call and
hands the response over with one call (:class:`~app.api.exchange.RsgiExchange`); measured, this
is worth the figures in docs/performance.md ("RSGI for the chat endpoint"). The other routes
are not hot, so they keep Litestar: :func:`_to_asgi` adapts granian's RSGI calls to an ASGI
scope, ``receive`` and ``send`` for them, and :class:`_Lifespan` runs Litestar's lifespan
(startup and shutdown) from the worker's ``__rsgi_init__`` and ``__rsgi_del__`` hooks.

``SWITCHYARD_SERVER_INTERFACE=asgi`` serves the plain Litestar app instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from granian.rsgi import Scope
from litestar import Litestar

from app.api.chat import chat_route, handle_route
from app.api.exchange import RsgiExchange
from app.api.metrics import HTTP_REQUESTS
from app.api.services import Services, services_of

log = logging.getLogger("switchyard.api")


class RsgiGateway:
    """The object granian serves over RSGI (``app.main:create_rsgi_app``)."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self._lifespan = _Lifespan(app)
        self._services: Services | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self._lifespan.startup())
        self._services = services_of(self.app.state)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self._lifespan.shutdown())

    async def __rsgi__(self, scope: Scope, proto: HTTPProtocol) -> None:
        route = chat_route(scope.path)
        if route is None or self._services is None:
            await _to_asgi(self.app, scope, proto)
            return
        exchange = RsgiExchange(scope, proto)
        try:
            await handle_route(exchange, self._services, route, scope.path)
        finally:  # what the request-counting middleware does for Litestar's routes
            HTTP_REQUESTS.inc((route, exchange.method, str(exchange.status or 500)))


class _Lifespan:
    """Litestar's ASGI lifespan, driven by hand: startup before serving, shutdown after."""

    def __init__(self, app: Litestar) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(
            self._app(scope, self._inbox.get, self._outbox.put)  # type: ignore[arg-type]
        )
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._outbox.get()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"startup failed: {reply.get('message', reply['type'])}")

    async def shutdown(self) -> None:
        if self._task is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        reply = await self._outbox.get()
        if reply["type"] != "lifespan.shutdown.complete":
            log.error("shutdown failed: %s", reply.get("message", reply["type"]))
        await self._task


async def _to_asgi(app: Litestar, scope: Scope, proto: HTTPProtocol) -> None:
    """Serve one request with the ASGI app: the response is buffered until its last part unless
    it streams (``more_body``), so a plain response is one RSGI call."""
    host, _, port = scope.client.rpartition(":")
    server_host, _, server_port = scope.server.rpartition(":")
    asgi_scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": scope.http_version,
        "method": scope.method,
        "scheme": scope.scheme,
        "path": scope.path,
        "raw_path": scope.path.encode(),  # granian gives the path decoded only
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": (host, int(port)) if port.isdigit() else None,
        "server": (server_host, int(server_port)) if server_port.isdigit() else None,
        "state": {},
    }
    response = _AsgiResponse(proto)
    chunks = proto.__aiter__()
    body_read = False

    async def receive() -> dict[str, Any]:
        """The body as it arrives, so Litestar's body limit stops a large one early."""
        nonlocal body_read
        if not body_read:
            try:
                return {"type": "http.request", "body": await chunks.__anext__(), "more_body": True}
            except StopAsyncIteration:
                body_read = True
                return {"type": "http.request", "body": b"", "more_body": False}
            except ProtocolClosed:
                body_read = True
                return {"type": "http.disconnect"}
        await response.gone_or_done()
        return {"type": "http.disconnect"}

    await app(asgi_scope, receive, response.send)  # type: ignore[arg-type]


class _AsgiResponse:
    """ASGI ``send`` messages as RSGI calls."""

    __slots__ = ("_done", "_headers", "_proto", "_status", "_transport")

    def __init__(self, proto: HTTPProtocol) -> None:
        self._proto = proto
        self._status = 500
        self._headers: list[tuple[str, str]] = []
        self._transport: Any = None
        self._done = asyncio.Event()

    async def gone_or_done(self) -> None:
        """Wait for the client to go, or the response to end: ASGI's ``receive`` reports either
        as ``http.disconnect``, which is what ends Litestar's wait beside a streamed body."""
        if self._done.is_set():
            return
        waits = [
            asyncio.ensure_future(self._proto.client_disconnect()),
            asyncio.ensure_future(self._done.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            self._headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())
            ]
            return
        if message["type"] != "http.response.body":
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if not more:
            self._done.set()
        if self._transport is None and not more:
            self._proto.response_bytes(self._status, self._headers, body)
            return
        if self._transport is None:
            self._transport = self._proto.response_stream(self._status, self._headers)
        if body:
            try:
                await self._transport.send_bytes(body)
            except ProtocolClosed as exc:  # the client went away: Litestar stops the stream
                raise OSError("client disconnected") from exc
