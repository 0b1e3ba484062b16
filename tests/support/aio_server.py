"""A fake HTTP server for tests: an aiohttp app on 127.0.0.1, served from its own thread and
event loop so that synchronous tests and gateway subprocesses can talk to it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import defaultdict
from typing import Any, TypeVar

from aiohttp import web

S = TypeVar("S", bound="ThreadedServer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedServer:
    """Subclasses set ``route`` (with a ``{behaviour}`` segment) and implement ``_handle``."""

    route = "/{behaviour}"

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self: S) -> S:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def last(self, behaviour: str) -> dict[str, Any]:
        return self.requests[behaviour][-1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post(self.route, self._handle)
        self._runner = runner = web.AppRunner(app, shutdown_timeout=1)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
