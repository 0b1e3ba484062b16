"""Console results are reused for a few seconds per arguments, and errors are not kept."""

from __future__ import annotations

import asyncio

import pytest

from app.console.memo import ttl_memo


def test_answers_are_reused_within_the_ttl_and_recomputed_after() -> None:
    calls: list[tuple[str, str]] = []

    async def compute(key: str, metric: str) -> str:
        calls.append((key, metric))
        return f"{key}:{metric}:{len(calls)}"

    async def scenario() -> None:
        cached = ttl_memo(compute, ttl_s=0.2)
        assert await cached("a", "m") == "a:m:1"
        assert await cached("a", "m") == "a:m:1"  # reused
        assert await cached("a", "other") == "a:other:2"  # other arguments, other entry
        await asyncio.sleep(0.25)
        assert await cached("a", "m") == "a:m:3"  # expired

    asyncio.run(scenario())
    assert len(calls) == 3


def test_errors_are_not_kept() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("ClickHouse hiccup")
        return "ok"

    async def scenario() -> None:
        cached = ttl_memo(flaky)
        with pytest.raises(RuntimeError):
            await cached()
        assert await cached() == "ok"

    asyncio.run(scenario())
