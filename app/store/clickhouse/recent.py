"""Ids this process recorded lately, so "does inference X exist?" is true before ClickHouse has it.

Feedback often arrives right after the response, while its inference is still in the write
queue (or spilled because ClickHouse is down). The recorder adds every inference id, completion
id and episode id here; feedback checks here first and only then asks ClickHouse
(``inference_by_id``). Entries live ``ttl_s`` seconds, at most ``limit`` of them (oldest go
first), which bounds memory to a few MB. Only the event loop touches it, so there is no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Literal

from app.inference.record import InferenceRecord

Level = Literal["inference", "episode"]
_EPISODE = "e:"


class RecentIds:
    def __init__(self, ttl_s: float = 600.0, limit: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def add(self, record: InferenceRecord) -> None:
        now = time.monotonic()
        seen = self._seen
        seen[record.id] = now
        for completion_id in record.completion_ids:
            if completion_id != record.id:
                seen[completion_id] = now
        episode = _EPISODE + record.episode_id
        seen[episode] = now
        seen.move_to_end(episode)
        self._prune(now)

    def seen(self, target_id: str, level: Level) -> bool:
        key = _EPISODE + target_id if level == "episode" else target_id
        added = self._seen.get(key)
        return added is not None and time.monotonic() - added <= self.ttl_s

    def __len__(self) -> int:
        return len(self._seen)

    def _prune(self, now: float) -> None:
        seen = self._seen
        horizon = now - self.ttl_s
        while seen:
            key, added = next(iter(seen.items()))
            if added >= horizon and len(seen) <= self.limit:
                return
            del seen[key]
