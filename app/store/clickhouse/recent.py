"""What this process recorded lately, so feedback finds an inference before ClickHouse has it.

Feedback often arrives right after the response, while its inference is still in the write
queue (or spilled because ClickHouse is down). The recorder adds every inference id,
completion id and episode id here with the routing facts feedback copies onto its row;
feedback looks here first and only then asks ClickHouse (``inference_by_id``). Entries live
``ttl_s`` seconds, at most ``limit`` of them (oldest go first), which bounds memory to a few
MB. Only the event loop touches it, so there is no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.ids import uuid7_time
from app.records import InferenceRecord, Level, TargetInfo

T = TypeVar("T")

_EPISODE = "e:"


class RecentIds:
    def __init__(self, ttl_s: float = 600.0, limit: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._seen: OrderedDict[str, tuple[float, TargetInfo]] = OrderedDict()

    def add(self, record: InferenceRecord) -> None:
        now = time.monotonic()
        seen = self._seen
        info = TargetInfo(
            record.id, record.episode_id, record.function, record.variant, record.campaign
        )
        for completion_id in record.completion_ids or (record.id,):
            seen[completion_id] = (now, info)
        seen[record.id] = (now, info)
        episode = _EPISODE + record.episode_id
        first = seen.get(episode)  # an episode is attributed to its first inference's routing
        seen[episode] = (now, first[1] if first else _episode_view(info))
        seen.move_to_end(episode)
        self._prune(now)

    def find(self, target_id: str, level: Level) -> TargetInfo | None:
        entry = self._seen.get(_EPISODE + target_id if level == "episode" else target_id)
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def in_flight_until(self, target_id: str, level: Level, window_s: float) -> float:
        """Until when (unix time) a row with this id may still be on its way to ClickHouse.

        An id this process recorded: ``window_s`` from now (its row waits in our writer). Any
        other UUIDv7, ours being UUIDv7s: ``window_s`` past the time it carries, since another
        worker or replica may have minted it and hold its row. Anything else: not at all."""
        if self.find(target_id, level) is not None:
            return time.time() + window_s
        minted = uuid7_time(target_id)
        return 0.0 if minted is None else minted + window_s

    def __len__(self) -> int:
        return len(self._seen)

    def _prune(self, now: float) -> None:
        seen = self._seen
        horizon = now - self.ttl_s
        while seen:
            key, (added, _) = next(iter(seen.items()))
            if added >= horizon and len(seen) <= self.limit:
                return
            del seen[key]


def _episode_view(info: TargetInfo) -> TargetInfo:
    """The episode's view of an inference: no single inference is the target."""
    return TargetInfo(None, info.episode_id, info.function, info.variant, info.campaign)


async def read_until(
    read: Callable[[], Awaitable[T | None]], until: float, poll_s: float
) -> T | None:
    """``read()`` again every ``poll_s`` while it finds nothing, until unix time ``until``."""
    while True:
        found = await read()
        left = until - time.time()
        if found is not None or left <= 0:
            return found
        await asyncio.sleep(min(poll_s, left))  # polling ClickHouse: no event to wait on
