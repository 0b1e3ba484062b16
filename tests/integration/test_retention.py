"""Retention of the config store's growing tables on both backends (app/runtime/retention.py):
first assignments of campaigns that are over and spend counters of periods long ended go;
the live ones stay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.runtime.retention import RetentionPruner, spend_cutoffs
from app.settings import Settings
from app.store.sql.assignments import AssignmentRepository
from app.store.sql.engine import create_engine, session_factory
from app.store.sql.migrate import upgrade
from app.store.sql.models import SpendCounter, StickyAssignment
from app.store.sql.repos import SpendRepository
from tests.support import postgres
from tests.support.run_async import run_async

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        upgrade(url)
        yield url
        return
    url = postgres.create_database()
    upgrade(url)
    yield url
    postgres.drop_database(url)


class Store:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)
        self.assignments = AssignmentRepository(self.sessions)
        self.spend = SpendRepository(self.sessions)

    def pruner(
        self, retained: set[str], sticky_days: int = 30, spend_days: int = 90, **timing: float
    ) -> RetentionPruner:
        return RetentionPruner(
            self.assignments,
            self.spend,
            lambda: retained,
            sticky_days=sticky_days,
            spend_days=spend_days,
            **timing,
        )

    async def assign(self, campaign: str, units: int, days_ago: float) -> None:
        at = NOW - timedelta(days=days_ago)
        async with self.sessions.begin() as session:
            session.add_all(
                StickyAssignment(
                    campaign_id=campaign,
                    unit=f"{campaign}-{days_ago}-{i}",
                    variant="a",
                    created_at=at,
                )
                for i in range(units)
            )

    async def campaigns(self) -> dict[str, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                sa.select(StickyAssignment.campaign_id, sa.func.count()).group_by(
                    StickyAssignment.campaign_id
                )
            )
            return dict(rows.all())

    async def buckets(self) -> set[str]:
        async with self.sessions() as session:
            return set(await session.scalars(sa.select(SpendCounter.bucket)))


def test_first_assignments_of_campaigns_over_and_idle_go_the_others_stay(database_url: str) -> None:
    async def run() -> None:
        store = Store(database_url)
        try:
            await store.assign("ended-idle", 3000, days_ago=40)
            await store.assign("removed-idle", 5, days_ago=31)
            await store.assign("ended-recent", 5, days_ago=40)
            await store.assign("ended-recent", 1, days_ago=5)  # still assigned units lately
            await store.assign("paused-old", 5, days_ago=400)  # may resume: kept
            await store.assign("active", 5, days_ago=100)
            pruner = store.pruner({"paused-old", "active"})
            deleted = await pruner.prune(NOW)
            assert deleted == {"sticky_assignments": 3005, "spend_counters": 0}
            assert await store.campaigns() == {"ended-recent": 6, "paused-old": 5, "active": 5}
            assert pruner.pruned["sticky_assignments"] == 3005
            # Assignments keep working on the pruned table: a new unit, and the kept rows.
            await store.assignments.store([("active", "new-unit", "b")])
            assert len(await store.assignments.campaign("active")) == 6
            # Idempotent: nothing left to prune until ended-recent has been idle 30 days.
            assert (await pruner.prune(NOW))["sticky_assignments"] == 0
            later = await pruner.prune(NOW + timedelta(days=26))
            assert later["sticky_assignments"] == 6
            assert set(await store.campaigns()) == {"paused-old", "active"}
        finally:
            await store.engine.dispose()

    run_async(run())


def test_spend_counters_go_days_after_their_period_ended_never_the_current_one(
    database_url: str,
) -> None:
    async def run() -> None:
        store = Store(database_url)
        try:
            buckets = [
                "day:2026-08-31",
                "day:2026-09-05",  # ended 2026-09-06 00:00: 90 days and 12 h ago
                "day:2026-09-06",  # ended 2026-09-07: 89 days ago, kept
                "day:2026-12-04",
                "day:2026-12-05",  # today
                "month:2025-12",
                "month:2026-08",  # ended 2026-09-01: more than 90 days ago
                "month:2026-09",  # ended 2026-10-01: kept
                "month:2026-12",  # this month
                "total",
            ]
            await store.spend.add_and_read(
                {(scope, "subject", b): 1.0 for b in buckets for scope in ("key", "function")}, []
            )
            deleted = await store.pruner(set()).prune(NOW)
            assert deleted == {"sticky_assignments": 0, "spend_counters": 2 * 4}
            assert await store.buckets() == {
                "day:2026-09-06",
                "day:2026-12-04",
                "day:2026-12-05",
                "month:2026-09",
                "month:2026-12",
                "total",
            }
            # One day of retention: yesterday's counter stays until tomorrow, last month's goes.
            await store.pruner(set(), spend_days=1).prune(NOW)
            assert await store.buckets() == {
                "day:2026-12-04",
                "day:2026-12-05",
                "month:2026-12",
                "total",
            }
            # The live counters still add up after the prune.
            totals = await store.spend.add_and_read(
                {("key", "subject", "day:2026-12-05"): 0.5}, ["day:2026-12-05"]
            )
            assert totals[("key", "subject", "day:2026-12-05")] == 1.5
        finally:
            await store.engine.dispose()

    run_async(run())


def test_zero_keeps_rows_forever_and_the_background_task_prunes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)

    async def run() -> None:
        store = Store(url)
        try:
            await store.assign("ended", 2, days_ago=10_000)
            await store.spend.add_and_read({("key", "k", "day:2001-01-01"): 1.0}, [])
            keep_all = store.pruner(set(), sticky_days=0, spend_days=0)
            assert await keep_all.prune() == {"sticky_assignments": 0, "spend_counters": 0}
            keep_all.start()
            assert "retention" not in {task.get_name() for task in asyncio.all_tasks()}

            pruner = store.pruner(set(), first_delay=0.01, interval=0.05)
            pruner.start()
            assert "retention" in {task.get_name() for task in asyncio.all_tasks()}
            try:
                for _ in range(200):
                    if not await store.campaigns() and not await store.buckets():
                        break
                    await asyncio.sleep(0.05)
                assert await store.campaigns() == {}
                assert await store.buckets() == set()
            finally:
                await pruner.stop()
        finally:
            await store.engine.dispose()

    run_async(run())


def test_cutoffs_and_settings() -> None:
    assert spend_cutoffs(NOW, 90) == ("day:2026-09-06", "month:2026-09")
    assert spend_cutoffs(datetime(2026, 3, 1, tzinfo=UTC), 0) == ("day:2026-03-01", "month:2026-03")
    defaults = Settings.from_env({})
    assert (defaults.sticky_retention_days, defaults.spend_retention_days) == (30, 90)
    assert Settings.from_env({"SWITCHYARD_SPEND_RETENTION_DAYS": "0"}).spend_retention_days == 0
    with pytest.raises(SystemExit, match="sticky_retention_days must be 0"):
        Settings.from_env({"SWITCHYARD_STICKY_RETENTION_DAYS": "-1"})
