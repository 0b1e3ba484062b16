"""The in-process response cache store: bounded by the bytes of its values, least recently
used out first, entries expire."""

from __future__ import annotations

import asyncio

from app.store.response_cache import MemoryCacheStore


def test_values_past_the_byte_bound_evict_the_least_recently_used() -> None:
    async def run() -> None:
        store = MemoryCacheStore(max_bytes=30)
        await store.put("a", b"x" * 10, 60)
        await store.put("b", b"y" * 10, 60)
        await store.put("c", b"z" * 10, 60)
        assert await store.get("a") == b"x" * 10  # a is now the most recently used
        await store.put("d", b"w" * 10, 60)
        assert await store.get("b") is None
        assert [await store.get(k) is not None for k in "acd"] == [True, True, True]
        assert store.bytes == 30
        await store.put("big", b"q" * 31, 60)  # larger than the whole cache: not kept
        assert await store.get("big") is None and store.bytes == 30

    asyncio.run(run())


def test_an_entry_expires_and_a_rewrite_replaces_it() -> None:
    async def run() -> None:
        store = MemoryCacheStore(max_bytes=100)
        await store.put("k", b"old", 0.05)
        await store.put("k", b"new!", 60)
        assert await store.get("k") == b"new!" and store.bytes == 4
        await store.put("short", b"v", 0.01)
        await asyncio.sleep(0.03)
        assert await store.get("short") is None
        assert len(store) == 1 and store.bytes == 4

    asyncio.run(run())
