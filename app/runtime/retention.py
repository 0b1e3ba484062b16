"""Prunes config-store rows nothing reads any more (docs/admin.md, "Retention"), off the
request path.

Two tables grow with traffic and were never pruned: ``sticky_assignments`` (a row per unit of
every adaptive campaign) and ``spend_counters`` (a row per key or function per day and month).
Once an hour (and once shortly after start) one background task per process deletes:

- the first assignments of a campaign that is neither active nor paused in the current config
  (ended, or removed) and has stored no new unit for ``sticky_retention_days``: a paused
  campaign may resume, and a unit keeps its variant for the life of its campaign;
- the day and month counters of periods that ended more than ``spend_retention_days`` ago.
  A budget only reads its current period, so no live counter is ever touched; ``total``
  counters are never pruned.

Every replica runs it; the deletes are idempotent, so running twice costs a scan, not a row.
A failure (database down) is logged and retried on the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from app.metrics import REGISTRY, Gauge
from app.store.sql.assignments import AssignmentRepository
from app.store.sql.repos import SpendRepository

log = logging.getLogger("switchyard.retention")

PRUNE_INTERVAL_S = 3600.0
FIRST_RUN_DELAY_S = 60.0  # not in the start-up rush


def spend_cutoffs(now: datetime, days: int) -> tuple[str, str]:
    """The first day bucket and the first month bucket to keep, ``days`` after period end.

    A day ``D`` ends at ``D + 1``; it goes once ``D + 1 + days <= now``, i.e. ``D < now - days``
    (as dates). A month goes once its end plus ``days`` has passed: every month before the
    month of ``now - days``.
    """
    edge = (now - timedelta(days=days)).astimezone(UTC)
    return f"day:{edge:%Y-%m-%d}", f"month:{edge:%Y-%m}"


class RetentionPruner:
    def __init__(
        self,
        assignments: AssignmentRepository,
        spend: SpendRepository,
        retained_campaigns: Callable[[], set[str]],
        *,
        sticky_days: int,
        spend_days: int,
        interval: float = PRUNE_INTERVAL_S,
        first_delay: float = FIRST_RUN_DELAY_S,
    ) -> None:
        self.assignments = assignments
        self.spend = spend
        # ids (as stored) of the campaigns whose first assignments must stay: active or paused
        self.retained_campaigns = retained_campaigns
        self.sticky_days = sticky_days
        self.spend_days = spend_days
        self.interval = interval
        self.first_delay = first_delay
        self.pruned = {"sticky_assignments": 0, "spend_counters": 0}
        self._task: asyncio.Task[None] | None = None
        for table in self.pruned:
            REGISTRY.add(
                Gauge(
                    f"switchyard_pruned_{table}_total",
                    f"Rows of {table} this process deleted under the retention settings",
                    partial(self.pruned.__getitem__, table),
                    "counter",
                )
            )

    def start(self) -> None:
        if self.sticky_days or self.spend_days:
            self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """One run; returns the rows deleted per table."""
        now = now or datetime.now(UTC)
        deleted = {"sticky_assignments": 0, "spend_counters": 0}
        if self.sticky_days:
            deleted["sticky_assignments"] = await self.assignments.prune(
                self.retained_campaigns(), now - timedelta(days=self.sticky_days)
            )
        if self.spend_days:
            deleted["spend_counters"] = await self.spend.prune(*spend_cutoffs(now, self.spend_days))
        for table, count in deleted.items():
            self.pruned[table] += count
            if count:
                log.info("retention: deleted %d rows of %s", count, table)
        return deleted

    async def _loop(self) -> None:
        delay = self.first_delay
        while True:
            await asyncio.sleep(delay)
            delay = self.interval
            try:
                await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next run retries
                log.warning("retention: could not prune (will retry): %s", exc)
