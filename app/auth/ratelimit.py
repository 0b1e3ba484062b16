"""Per-key requests-per-minute limits: a token bucket per key, in process memory.

A full bucket admits ``per_minute`` requests at once, then refills continuously at
``per_minute / 60`` tokens a second. With several gateway processes each enforces the limit on
its own share of traffic; see docs/admin.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    __slots__ = ("capacity", "clock", "rate", "tokens", "updated")

    def __init__(self, per_minute: int, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.updated = clock()

    def take(self) -> float:
        """Take one token; returns 0 on success or the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def wait_time(self, key_id: str, per_minute: int) -> int:
        """0 when admitted, else whole seconds to wait (for ``Retry-After``).

        A key whose limit changed starts again with a full bucket at the new limit.
        """
        bucket = self._buckets.get(key_id)
        if bucket is None or bucket.capacity != per_minute:
            bucket = self._buckets[key_id] = TokenBucket(per_minute, self._clock)
        wait = bucket.take()
        return math.ceil(wait) if wait else 0
