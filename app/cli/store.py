"""Running a CLI command against the config store: migrated first, disposed after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.settings import Settings
from app.store.sql.engine import create_engine, is_postgres, session_factory
from app.store.sql.migrate import upgrade
from app.store.sql.repos import ConfigRepository, KeyRepository

StoreWork = Callable[[ConfigRepository, KeyRepository], Awaitable[int]]


def run_with_store(work: StoreWork) -> int:
    """Run ``work`` with the repositories of the configured SQL store (newest schema)."""
    url = Settings.from_env().resolved_database_url
    upgrade(url)

    async def main() -> int:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            return await work(
                ConfigRepository(sessions, notify=is_postgres(url)), KeyRepository(sessions)
            )
        finally:
            await engine.dispose()

    return asyncio.run(main())
