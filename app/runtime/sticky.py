"""Keeps adaptive campaigns' first assignments in the config store (docs/experiments.md,
"Stickiness"), off the request path.

Every ``FLUSH_INTERVAL_S`` one background task:

1. **flushes** the assignments made since the last tick, insert-if-absent, and reads back what
   is stored for them: where another replica stored the unit first, the cache adopts that
   variant (the first writer wins);
2. **loads** every row of an active adaptive campaign this process has not loaded yet (all
   of them at start-up, before the gateway serves; a campaign activated later on the next
   tick), and drops the cache of a campaign that is no longer active and adaptive;
3. **pulls** the rows other replicas added since the last pull, by id. The pull re-reads the
   ids of the last ``LOOKBACK_TICKS`` ticks, so a PostgreSQL transaction that took its ids
   before another's but committed after it is still seen.

The request path only touches the in-memory cache (:class:`app.routing.adaptive.LiveCampaigns`).
When the database is unreachable the batch stays queued (up to ``MAX_PENDING`` units, the
oldest dropped beyond that) and is retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from app.metrics import REGISTRY, Gauge
from app.routing.adaptive import LiveCampaigns
from app.store.sql.assignments import AssignmentRepository

log = logging.getLogger("switchyard.sticky")

FLUSH_INTERVAL_S = 0.5
LOOKBACK_TICKS = 4
MAX_PENDING = 200_000
PULL_LIMIT = 10_000


class StickySync:
    def __init__(
        self,
        repository: AssignmentRepository,
        state: LiveCampaigns,
        adaptive_campaigns: Callable[[], set[str]],
        interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.repository = repository
        self.state = state
        # ids (as stored) of the active adaptive campaigns configured now
        self.adaptive_campaigns = adaptive_campaigns
        self.interval = interval
        self.loaded: set[str] = set()
        self.stored = 0  # first assignments this process stored
        self.dropped = 0
        self._marks: deque[int] = deque(maxlen=LOOKBACK_TICKS)
        self._task: asyncio.Task[None] | None = None
        assignments = state.assignments
        for metric in (
            Gauge("switchyard_sticky_cached", "First assignments cached", assignments.size),
            Gauge(
                "switchyard_sticky_pending",
                "First assignments not stored yet",
                lambda: len(assignments.pending),
            ),
            Gauge(
                "switchyard_sticky_conflicts_total",
                "First assignments another replica had stored differently (adopted)",
                lambda: assignments.conflicts,
                "counter",
            ),
            Gauge(
                "switchyard_sticky_dropped_total",
                "First assignments dropped unstored (queue full while the store was down)",
                lambda: self.dropped,
                "counter",
            ),
        ):
            REGISTRY.add(metric)

    async def start(self) -> None:
        """One tick before serving (the cache starts warm), then the loop."""
        try:
            await self.tick()
        except Exception as exc:  # noqa: BLE001 - database down: the loop retries
            log.warning("could not load sticky assignments yet: %s", exc)
        self._task = asyncio.create_task(self._loop(), name="sticky-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)

    async def tick(self) -> None:
        await self.flush()
        await self.load()
        await self.pull()

    async def flush(self) -> None:
        assignments = self.state.assignments
        batch = assignments.take_pending()
        if not batch:
            return
        try:
            stored = await self.repository.store([(c, u, v) for (c, u), v in batch.items()])
        except BaseException:
            assignments.requeue(batch)
            excess = len(assignments.pending) - MAX_PENDING
            if excess > 0:
                for key in list(assignments.pending)[:excess]:
                    del assignments.pending[key]
                self.dropped += excess
            raise
        self.stored += len(batch)
        for campaign_id, unit, variant in stored:
            assignments.adopt(campaign_id, unit, variant)

    async def load(self) -> None:
        if not self._marks:  # pull only what is added from now on: loads cover the past
            self._marks.append(await self.repository.top())
        wanted = self.adaptive_campaigns()
        for campaign_id in self.loaded - wanted:  # paused, ended or no longer adaptive
            self.loaded.discard(campaign_id)
            self.state.assignments.forget(campaign_id)
        for campaign_id in sorted(wanted - self.loaded):
            rows = await self.repository.campaign(campaign_id)
            for _, unit, variant in rows:
                self.state.assignments.adopt(campaign_id, unit, variant)
            self.loaded.add(campaign_id)
            log.info("loaded %d sticky assignments of campaign %s", len(rows), campaign_id)

    async def pull(self) -> None:
        after = self._marks[0]
        top = self._marks[-1]
        while True:
            rows = await self.repository.since(after, PULL_LIMIT)
            for row_id, campaign_id, unit, variant in rows:
                top = max(top, row_id)
                if campaign_id in self.loaded:
                    self.state.assignments.adopt(campaign_id, unit, variant)
            if len(rows) < PULL_LIMIT:
                break
            after = rows[-1][0]
        self._marks.append(top)

    async def _loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
                if failing:
                    log.info("sticky assignments are being stored again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next tick retries
                if not failing:
                    log.warning("could not store sticky assignments (will retry): %s", exc)
                failing = True
