"""Where cached answers live: in this process (an LRU bounded by bytes) or in Redis, shared by
every replica (docs/operations.md, "Response cache").

Invariant: the cache can only make a request faster, never fail it or hold it up. Every Redis
error (down, refusing, slow past a 250 ms timeout) reads as a miss or a skipped write, is
counted on ``switchyard_cache_errors_total`` and logged at most once per ``_QUIET_S``; after
an error Redis is left alone for a second, so a dead server costs requests nothing in the
meantime instead of a timeout each. Values are opaque bytes with a TTL; what they mean is
``app.inference.caching``'s business.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.metrics import REGISTRY, Counter
from app.settings import Settings

log = logging.getLogger("switchyard.cache")

_TIMEOUT_S = 0.25
_PAUSE_AFTER_ERROR_S = 1.0
_QUIET_S = 30.0
_PREFIX = "switchyard:cache:"

CACHE_ERRORS = REGISTRY.add(
    Counter(
        "switchyard_cache_errors_total",
        "Response cache operations that failed (Redis down or slow) and were treated as a miss "
        "or a skipped write, or skipped while it was failing",
        ("operation",),
    )
)


class ResponseCacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def close(self) -> None: ...


class MemoryCacheStore:
    """An LRU of at most ``max_bytes`` of values (keys and bookkeeping not counted), each with
    its expiry. The event loop is the only user, so no lock."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if len(value) > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self.bytes += len(value)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self.bytes -= len(value)

    def __len__(self) -> int:
        return len(self._entries)

    async def close(self) -> None:
        self._entries.clear()
        self.bytes = 0


class RedisCacheStore:
    """Values under ``switchyard:cache:<key>`` with Redis's own expiry (``SET ... PX``)."""

    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT_S,
            socket_connect_timeout=_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        self._paused_until = 0.0
        self._logged_at = -_QUIET_S

    async def get(self, key: str) -> bytes | None:
        if self._paused("get"):
            return None
        try:
            value = await self._redis.get(_PREFIX + key)
        except (TimeoutError, RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if self._paused("put"):
            return
        try:
            await self._redis.set(_PREFIX + key, value, px=max(1, int(ttl_s * 1000)))
        except (TimeoutError, RedisError, OSError) as exc:
            self._failed("put", exc)

    def _paused(self, operation: str) -> bool:
        if time.monotonic() < self._paused_until:
            CACHE_ERRORS.inc((operation,))
            return True
        return False

    def _failed(self, operation: str, exc: Exception) -> None:
        CACHE_ERRORS.inc((operation,))
        now = time.monotonic()
        self._paused_until = now + _PAUSE_AFTER_ERROR_S
        if now - self._logged_at >= _QUIET_S:
            self._logged_at = now
            log.warning("response cache: Redis %s failed, answering without it: %r", operation, exc)

    async def close(self) -> None:
        await self._redis.aclose()


def cache_store_from_settings(settings: Settings) -> ResponseCacheStore:
    if settings.cache_url:
        return RedisCacheStore(settings.cache_url)
    return MemoryCacheStore(settings.cache_max_bytes)
