"""One pooled aiohttp session for every provider call in the process: the production
:class:`app.providers.upstream.Upstream`.

aiohttp rather than httpx on this path: measured at 4,440 vs 610 req/s through the gateway (the
stack and its benchmark are in docs/performance.md).
The session is created lazily because it must be born inside the running event loop.
Providers are handed this pool at call time; none holds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping

import aiohttp


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
