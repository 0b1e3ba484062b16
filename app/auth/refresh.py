"""Keeps the in-memory key cache in step with the SQL key store, and writes back when keys
were last used.

The runtime's reloader (:mod:`app.runtime.reload`) calls :meth:`KeyCacheRefresh.refresh` on
each tick (about once a second), so a revoked key stops working within that window and the
request path never waits on the database: last-used times are collected in memory by
:class:`~app.auth.service.AuthService` and flushed here in one write.
"""

from __future__ import annotations

from app.auth.service import AuthService
from app.store.sql.repos import KeyRepository, SpendRepository


class KeyCacheRefresh:
    def __init__(
        self, auth: AuthService, keys: KeyRepository, spend: SpendRepository | None = None
    ) -> None:
        self.auth = auth
        self.keys = keys
        self.spend = spend

    async def reload(self) -> None:
        """Load the current keys into the cache; raises if the database is unreachable."""
        self.auth.load(await self.keys.all_for_auth())

    async def flush_usage(self) -> None:
        """Last-used times, then this process's spend (docs/spend.md, "Budgets")."""
        used = self.auth.take_used()
        if used:
            await self.keys.touch(used)
        if self.spend is not None:
            await self.auth.budgets.flush(self.spend)

    async def refresh(self) -> None:
        await self.reload()
        await self.flush_usage()
