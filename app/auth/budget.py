"""Budgets (docs/spend.md, "Budgets"): per API key and per function, in USD per day, month or
in total, enforced without the request path ever waiting on the database.

Every process keeps three tallies per counter (scope, subject, bucket):

- ``totals``: every process's flushed spend, as last read from the config store;
- ``flushing``: this process's spend in the batch being written (not yet in ``totals``);
- ``pending``: this process's spend since that batch was taken.

A request is refused once ``totals + flushing + pending`` reaches the budget. The key-cache
refresh (about once a second) writes the pending spend in one small upsert and reads the
totals back in the same transaction. So a process sees its own spend at once and the other
processes' within about two refresh intervals, and the overshoot is bounded by what was
already in flight when the budget ran out (docs/spend.md gives the bound).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

from app.errors import InvalidRequest, RateLimited
from app.records import InferenceRecord, Recorder
from app.store.sql.repos import CounterKey, SpendRepository

log = logging.getLogger("switchyard.budget")

Period = Literal["day", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "month", "total")


class BudgetExceeded(RateLimited):
    default_code = "budget_exceeded"


def check_budget_values(budget_usd: float | None, budget_period: str | None) -> None:
    """The rule of ``keys create`` and the admin API: a positive, finite budget and a known
    period (``month`` when only a budget is given); a period alone means nothing."""
    if budget_usd is None:
        if budget_period is not None:
            raise InvalidRequest("budget_period needs budget_usd", param="budget_period")
        return
    if not math.isfinite(budget_usd) or budget_usd <= 0:
        raise InvalidRequest(
            f"budget_usd must be a number greater than 0, got {budget_usd}", param="budget_usd"
        )
    if budget_period is not None and budget_period not in PERIODS:
        raise InvalidRequest(
            f"budget_period must be one of {', '.join(PERIODS)}, got {budget_period!r}",
            param="budget_period",
        )


_PERIOD_INDEX = {"day": 0, "month": 1, "total": 2}


@functools.lru_cache(maxsize=64)
def _buckets_of_day(day: int) -> tuple[str, str, str]:
    at = datetime.fromtimestamp(day * 86400, UTC)
    return f"day:{at:%Y-%m-%d}", f"month:{at:%Y-%m}", "total"


def buckets_at(timestamp: float) -> tuple[str, str, str]:
    """The day, month and total buckets of a unix time (UTC); cached per day, so the request
    path formats no dates."""
    return _buckets_of_day(int(timestamp // 86400))


def bucket(period: str, at: datetime) -> str:
    return buckets_at(at.timestamp())[_PERIOD_INDEX[period]]


def resets_at(period: str, at: datetime) -> datetime | None:
    """When a budget's current bucket ends (UTC), or None for a total budget."""
    if period == "day":
        return datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
    if period == "month":
        return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    return None


class Budgets:
    """The spend tallies of one process; all methods run on the event loop."""

    def __init__(self) -> None:
        self.totals: dict[CounterKey, float] = {}
        self.flushing: dict[CounterKey, float] = {}
        self.pending: dict[CounterKey, float] = {}
        self._flush_lock = asyncio.Lock()

    def spent(self, scope: str, subject: str, period: str, at: float | None = None) -> float:
        now = time.time() if at is None else at
        key = (scope, subject, buckets_at(now)[_PERIOD_INDEX[period]])
        return self.totals.get(key, 0.0) + self.flushing.get(key, 0.0) + self.pending.get(key, 0.0)

    def check(
        self, scope: str, subject: str, label: str, budget_usd: float | None, period: str | None
    ) -> None:
        """Raise :class:`BudgetExceeded` (429) once ``subject`` has spent its budget."""
        if budget_usd is None:
            return
        period = period or "month"
        timestamp = time.time()
        spent = self.spent(scope, subject, period, timestamp)
        if spent < budget_usd:
            return
        now = datetime.fromtimestamp(timestamp, UTC)
        ends = resets_at(period, now)
        per = "in total" if period == "total" else f"per {period}"
        message = f"Budget of ${budget_usd:g} {per} for {label} is spent (${spent:.6f} so far); "
        headers = {}
        if ends is None:
            message += "a total budget never resets: raise it or use another key"
        else:
            wait = max(1, math.ceil((ends - now).total_seconds()))
            message += f"it resets at {ends:%Y-%m-%dT%H:%M:%SZ}"
            headers["Retry-After"] = str(wait)
        raise BudgetExceeded(message, headers=headers)

    def add(self, key_id: str, function: str, cost: float, at: float) -> None:
        """Count one inference's cost (at unix time ``at``) against its key and function, in
        every bucket."""
        pending = self.pending
        buckets = buckets_at(at)
        for scope, subject in (("key", key_id), ("function", function)):
            if subject:
                for name in buckets:
                    key = (scope, subject, name)
                    pending[key] = pending.get(key, 0.0) + cost

    async def flush(self, repo: SpendRepository) -> None:
        """Write the pending spend and read every process's totals back (one transaction).
        On failure the batch stays in ``flushing`` (still counted) and is retried next time.
        One flush at a time: a second caller meanwhile returns at once."""
        if self._flush_lock.locked():
            return
        async with self._flush_lock:
            await self._flush(repo)

    async def _flush(self, repo: SpendRepository) -> None:
        for key, amount in self.pending.items():
            self.flushing[key] = self.flushing.get(key, 0.0) + amount
        self.pending = {}
        buckets = sorted({*buckets_at(time.time()), *(k[2] for k in self.flushing)})
        totals = await repo.add_and_read(dict(self.flushing), buckets)
        self.totals, self.flushing = totals, {}


class BudgetRecorder:
    """A :class:`Recorder` that counts each priced inference's cost in ``budgets``, then hands
    the record to ``inner``."""

    def __init__(self, inner: Recorder, budgets: Budgets) -> None:
        self._inner = inner
        self._budgets = budgets

    def record(self, record: InferenceRecord) -> None:
        if record.cost:
            try:
                self._budgets.add(
                    record.api_key_id, record.function, record.cost, record.created_at
                )
            except Exception:  # the response is already sent; never let bookkeeping fail it
                log.exception("could not count the spend of inference %s", record.id)
        self._inner.record(record)
