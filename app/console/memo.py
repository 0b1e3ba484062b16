"""Results a console page may reuse for a few seconds.

A campaign's page computes its results and timeline in ClickHouse (about 170 ms on the demo
data, most of it the results' seven queries); an analyst flipping between metrics and
campaigns, or several people on the same page, then reuse them for :data:`TTL_S` seconds
instead of recomputing. The API (``/v1/campaigns/...``) is never cached.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

TTL_S = 5.0
MAX_ENTRIES = 256


def ttl_memo(
    compute: Callable[..., Awaitable[Any]], ttl_s: float = TTL_S
) -> Callable[..., Awaitable[Any]]:
    """``compute`` with its answers kept per argument tuple for ``ttl_s`` seconds (errors are
    not kept, so a failed read is retried on the next view)."""
    kept: dict[Hashable, tuple[float, Any]] = {}

    async def cached(*args: Hashable) -> Any:
        now = time.monotonic()
        hit = kept.get(args)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
        value = await compute(*args)
        if len(kept) >= MAX_ENTRIES:
            kept.clear()
        kept[args] = (now, value)
        return value

    return cached
