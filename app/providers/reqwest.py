"""The provider transport on pyreqwest (Rust's reqwest and hyper), ``SWITCHYARD_HTTP_CLIENT=
pyreqwest``: the same :class:`~app.providers.upstream.Upstream` contract as the aiohttp pool.

Why: per provider call it costs about half the CPU of aiohttp (bench/client_cost.py,
docs/performance.md), because connection handling, HTTP parsing and decompression run in Rust
outside the event loop's interpreter.

Contract kept: ``timeout`` is the provider's ``aiohttp.ClientTimeout`` (``total`` becomes the
request's deadline, ``sock_connect`` and ``sock_read`` the client's connect and per-read
timeouts, so one client is kept per distinct pair); timeouts raise ``TimeoutError``; every
other transport failure raises ``aiohttp.ClientConnectionError`` with reqwest's reason, so the
providers' error handling is the same for both pools. ``release()`` closes the response at
once, aborting a stream the client walked away from.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import ConnectError, PyreqwestError
from pyreqwest.request import StreamRequest
from pyreqwest.response import Response

_IDLE = timedelta(seconds=30)


def _transport_error(exc: PyreqwestError) -> aiohttp.ClientError:
    if isinstance(exc, ConnectError):
        return aiohttp.ClientConnectionError(f"cannot connect: {exc}")
    return aiohttp.ClientConnectionError(str(exc) or type(exc).__name__)


class _Body:
    __slots__ = ("_owner",)

    def __init__(self, owner: ReqwestResponse) -> None:
        self._owner = owner

    async def iter_any(self) -> AsyncIterator[bytes]:
        owner = self._owner
        reader = owner.response.body_reader
        try:
            while (chunk := await reader.read_chunk()) is not None:
                yield bytes(chunk)
        except TimeoutError:
            raise
        except PyreqwestError as exc:
            raise _transport_error(exc) from None
        await owner.finish()  # read to the end: close here, no task needed in release()


class ReqwestResponse:
    """A response whose headers have arrived: the subset of aiohttp's the providers use."""

    __slots__ = ("_request", "content", "headers", "response", "status")

    def __init__(self, response: Response, request: StreamRequest | None) -> None:
        self.response = response
        self._request = request
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers
        self.content = _Body(self)

    async def read(self) -> bytes:
        try:
            return bytes(await self.response.bytes())
        except TimeoutError:
            raise
        except PyreqwestError as exc:
            raise _transport_error(exc) from None

    async def finish(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            await request.__aexit__(None, None, None)

    def release(self) -> None:
        """Close a stream now, whatever is left unread (a client that walked away)."""
        if self._request is not None:
            asyncio.get_running_loop().create_task(self.finish())


class ReqwestPool:
    """One reqwest client per (connect, read) timeout pair, each with its own connection pool."""

    def __init__(self, *, limit: int = 1000) -> None:
        self._limit = limit
        self._clients: dict[tuple[float | None, float | None], Client] = {}
        # per provider timeout (frozen, built once per provider): its client and deadline
        self._by_timeout: dict[aiohttp.ClientTimeout, tuple[Client, timedelta | None]] = {}

    def _client(self, timeout: aiohttp.ClientTimeout) -> tuple[Client, timedelta | None]:
        found = self._by_timeout.get(timeout)
        if found is not None:
            return found
        key = (timeout.sock_connect, timeout.sock_read)
        client = self._clients.get(key)
        if client is None:
            builder = (
                ClientBuilder()
                .max_connections(self._limit)
                .pool_idle_timeout(_IDLE)
                .http1_lower_case_headers()  # as written, like aiohttp (hyper title-cases)
            )
            if timeout.sock_connect:
                builder = builder.connect_timeout(timedelta(seconds=timeout.sock_connect))
            if timeout.sock_read:
                builder = builder.read_timeout(timedelta(seconds=timeout.sock_read))
            client = self._clients[key] = builder.follow_redirects(False).build()
        deadline = timedelta(seconds=timeout.total) if timeout.total else None
        found = self._by_timeout[timeout] = (client, deadline)
        return found

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - the Upstream contract's, frozen
    ) -> ReqwestResponse:
        client, deadline = self._client(timeout)
        builder = client.post(url).headers(headers).body_bytes(body)
        if deadline is not None:
            builder = builder.timeout(deadline)
        try:
            if timeout.sock_read:  # the provider streams: headers now, the body as it comes
                # no read-ahead buffer: by default reqwest holds the headers back until 64 KiB
                # of body have arrived, which would hold back every short stream's first token
                request = builder.streamed_read_buffer_limit(0).build_streamed()
                response: Any = await request.__aenter__()
                return ReqwestResponse(response, request)
            return ReqwestResponse(await builder.build().send(), None)
        except TimeoutError:
            raise
        except PyreqwestError as exc:
            raise _transport_error(exc) from None

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
