"""First assignments in the config store on both backends (app/store/sql/assignments.py,
app/runtime/sticky.py): insert-if-absent, the first writer wins, replicas converge through
the pull, and a restart starts from the stored rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.routing.adaptive import LiveCampaigns
from app.runtime.sticky import StickySync
from app.store.sql.assignments import AssignmentRepository
from app.store.sql.engine import create_engine, session_factory
from app.store.sql.migrate import upgrade
from tests.support import postgres
from tests.support.run_async import run_async

CAMPAIGN = "campaign-1"


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


class Replica:
    """One gateway process's view: its cache and its sync task (ticked by hand)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.state = LiveCampaigns()
        self.sync = StickySync(
            AssignmentRepository(session_factory(self.engine)), self.state, lambda: {CAMPAIGN}
        )

    def assign(self, unit: str, variant: str) -> None:
        """What the request path does on a cache miss."""
        if self.state.assignments.get(CAMPAIGN, unit) is None:
            self.state.assignments.remember(CAMPAIGN, unit, variant)

    def variant(self, unit: str) -> str | None:
        return self.state.assignments.get(CAMPAIGN, unit)

    async def close(self) -> None:
        await self.engine.dispose()


def test_replicas_converge_first_writer_wins(database_url: str) -> None:
    async def run() -> None:
        one, two = Replica(database_url), Replica(database_url)
        try:
            await one.sync.tick()
            await two.sync.tick()
            # u0..u99 first served by replica one
            for i in range(100):
                one.assign(f"u{i}", "a")
            await one.sync.tick()
            await two.sync.tick()  # pulls what one stored
            assert all(two.variant(f"u{i}") == "a" for i in range(100))

            # Both replicas see u100..u199 before either stores it, and guess differently.
            for i in range(100, 200):
                one.assign(f"u{i}", "a")
                two.assign(f"u{i}", "b")
            await one.sync.tick()  # first writer
            await two.sync.tick()  # its inserts are ignored; it adopts one's variant
            assert all(two.variant(f"u{i}") == "a" for i in range(100, 200))
            assert two.state.assignments.conflicts == 100
            assert one.state.assignments.conflicts == 0

            # A restart (a fresh process) loads every row before serving.
            three = Replica(database_url)
            await three.sync.start()
            await three.sync.stop()
            assert three.state.assignments.size() == 200
            assert all(three.variant(f"u{i}") == "a" for i in range(200))
            await three.close()
        finally:
            await one.close()
            await two.close()

    run_async(run())


def test_pending_assignments_survive_a_failed_flush(database_url: str, tmp_path: Path) -> None:
    async def run() -> None:
        replica = Replica(database_url)
        real = replica.sync.repository

        class Down(AssignmentRepository):
            async def store(self, rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
                raise ConnectionError("database down")

        replica.sync.repository = Down(session_factory(replica.engine))
        replica.assign("u1", "b")
        with pytest.raises(ConnectionError):
            await replica.sync.flush()
        assert replica.state.assignments.pending == {(CAMPAIGN, "u1"): "b"}
        replica.sync.repository = real
        await replica.sync.flush()
        assert replica.state.assignments.pending == {}
        assert await real.campaign(CAMPAIGN) == [(CAMPAIGN, "u1", "b")]
        await replica.close()

    run_async(run())
