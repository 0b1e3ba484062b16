"""First assignments of adaptive campaigns in the config store (``sticky_assignments``).

Each query is one short transaction: store a batch insert-if-absent and read back what is
stored for it (the first writer wins), load a campaign's rows, pull rows added since an id,
and prune the rows of campaigns that are over (app/runtime/retention.py). SQLite and
PostgreSQL both speak ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store.sql.models import StickyAssignment
from app.store.sql.repos import rowcount, utcnow

_T = TypeVar("_T")
Row = tuple[str, str, str]  # campaign id, unit, variant
# Parameters per statement stay well below SQLite's limit (32,766) and PostgreSQL's (65,535).
_CHUNK = 2000


class AssignmentRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def store(self, rows: list[Row]) -> list[Row]:
        """Insert the rows whose (campaign, unit) is not stored yet; return what is stored for
        every row of the batch afterwards (another replica's variant where it was first)."""
        if not rows:
            return []
        now = utcnow()
        stored: list[Row] = []
        async with self._sessions.begin() as session:
            insert = (
                postgresql.insert(StickyAssignment)
                if session.get_bind().dialect.name == "postgresql"
                else sqlite.insert(StickyAssignment)
            )
            for chunk in _chunks(rows):
                await session.execute(
                    insert.on_conflict_do_nothing(index_elements=["campaign_id", "unit"]),
                    [
                        {"campaign_id": c, "unit": u, "variant": v, "created_at": now}
                        for c, u, v in chunk
                    ],
                )
            by_campaign: dict[str, list[str]] = {}
            for c, u, _ in rows:
                by_campaign.setdefault(c, []).append(u)
            for campaign_id, units in by_campaign.items():
                for part in _chunks(units):
                    result = await session.execute(
                        sa.select(StickyAssignment.unit, StickyAssignment.variant).where(
                            StickyAssignment.campaign_id == campaign_id,
                            StickyAssignment.unit.in_(part),
                        )
                    )
                    stored.extend((campaign_id, unit, variant) for unit, variant in result)
        return stored

    async def campaign(self, campaign_id: str) -> list[Row]:
        """Every row of one campaign."""
        async with self._sessions() as session:
            result = await session.execute(
                sa.select(StickyAssignment.unit, StickyAssignment.variant).where(
                    StickyAssignment.campaign_id == campaign_id
                )
            )
            return [(campaign_id, u, v) for u, v in result]

    async def top(self) -> int:
        """The highest id stored (0 when empty)."""
        async with self._sessions() as session:
            return (await session.scalar(sa.select(sa.func.max(StickyAssignment.id)))) or 0

    async def since(self, after: int, limit: int = 10_000) -> list[tuple[int, str, str, str]]:
        """Rows with an id above ``after``, in id order: (id, campaign id, unit, variant)."""
        async with self._sessions() as session:
            result = await session.execute(
                sa.select(
                    StickyAssignment.id,
                    StickyAssignment.campaign_id,
                    StickyAssignment.unit,
                    StickyAssignment.variant,
                )
                .where(StickyAssignment.id > after)
                .order_by(StickyAssignment.id)
                .limit(limit)
            )
            return [(i, c, u, v) for i, c, u, v in result]

    async def prune(self, keep: set[str], idle_before: datetime) -> int:
        """Delete the rows of every campaign not in ``keep`` whose newest row is older than
        ``idle_before``; return how many rows went."""
        idle = (
            sa.select(StickyAssignment.campaign_id)
            .group_by(StickyAssignment.campaign_id)
            .having(sa.func.max(StickyAssignment.created_at) < idle_before)
        )
        async with self._sessions.begin() as session:
            campaigns = [c for c in await session.scalars(idle) if c not in keep]
            deleted = 0
            for part in _chunks(campaigns):
                result = await session.execute(
                    sa.delete(StickyAssignment).where(StickyAssignment.campaign_id.in_(part))
                )
                deleted += rowcount(result)
        return deleted


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
