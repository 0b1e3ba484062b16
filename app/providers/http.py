"""One pooled aiohttp session for every provider call in the process: the production
:class:`app.providers.upstream.Upstream`.

aiohttp rather than httpx on this path: measured at 4,440 vs 610 req/s through the gateway (the
stack and its benchmark are in docs/performance.md).
The session is created lazily because it must be born inside the running event loop.
Providers are handed this pool at call time; none holds it. :func:`open_pool` builds the one
``SWITCHYARD_HTTP_CLIENT`` names: this, the reqwest pool (:mod:`app.providers.reqwest`), or
both split by kind of call (docs/providers.md, "HTTP client").
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

import aiohttp

from app.providers.upstream import UpstreamResponse

if TYPE_CHECKING:
    from app.providers.reqwest import ReqwestPool


class HttpPool:
    def __init__(self, *, limit: int = 1000) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, ttl_dns_cache=300, keepalive_timeout=30
            )
            # read_bufsize bounds the longest SSE line; tool-call arguments can be large.
            self._session = aiohttp.ClientSession(
                connector=connector, read_bufsize=2**20, auto_decompress=True
            )
        return self._session

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> Awaitable[aiohttp.ClientResponse]:
        return self.session.post(url, data=body, headers=headers, timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SplitPool:
    """Whole responses through one transport, streams through another: ``mixed``, where each
    kind goes through the client that measured cheaper for it (docs/performance.md, 2026-12-07
    issue 23: pyreqwest for whole responses, aiohttp for streams). A provider's stream timeout
    is the one with a read gap (``sock_read``), which is how a call is told apart."""

    def __init__(self, whole: ReqwestPool, streams: HttpPool) -> None:
        self._whole = whole
        self._streams = streams

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> Awaitable[UpstreamResponse]:
        if timeout.sock_read:
            return self._streams.send(url, body, headers, timeout)
        return self._whole.send(url, body, headers, timeout)

    async def close(self) -> None:
        await self._whole.close()
        await self._streams.close()


def open_pool(kind: str) -> HttpPool | ReqwestPool | SplitPool:
    """The transport ``SWITCHYARD_HTTP_CLIENT`` names (docs/providers.md, "HTTP client")."""
    if kind == "aiohttp":
        return HttpPool()
    from app.providers.reqwest import ReqwestPool

    if kind == "pyreqwest":
        return ReqwestPool()
    return SplitPool(ReqwestPool(), HttpPool())
