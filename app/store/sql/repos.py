"""Repositories over the config store tables. Async, one short transaction per call.

Length: one small repository per table (versions, keys, audit, spend counters); they share
the session factory and the row-to-Struct helpers, which is why they live together."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store.sql.models import ApiKey, AuditEntry, ConfigVersion, SpendCounter

NOTIFY_CHANNEL = "switchyard_config"


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: object) -> int:
    """Rows a DELETE or UPDATE touched (``Result`` is typed without ``rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)


class StaleVersion(Exception):
    """Another writer committed a version on top of the same parent first."""


class VersionInfo(msgspec.Struct):
    version: int
    parent: int
    author: str
    comment: str
    created_at: str


class KeyInfo(msgspec.Struct):
    id: str
    name: str
    prefix: str
    role: str
    functions: list[str] | None
    rpm_limit: int | None
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    budget_usd: float | None = None
    budget_period: str | None = None


class StoredKey(msgspec.Struct, frozen=True):
    """What the auth cache needs: never the key itself, only its hash."""

    id: str
    name: str
    key_hash: str
    role: str
    functions: tuple[str, ...] | None
    rpm_limit: int | None
    revoked: bool
    budget_usd: float | None = None
    budget_period: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _version_info(row: ConfigVersion) -> VersionInfo:
    return VersionInfo(row.version, row.parent, row.author, row.comment, _iso(row.created_at) or "")


def _key_info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.name,
        row.prefix,
        row.role,
        row.functions,
        row.rpm_limit,
        _iso(row.created_at) or "",
        _iso(row.last_used_at),
        _iso(row.revoked_at),
        row.budget_usd,
        row.budget_period if row.budget_usd is not None else None,
    )


class ConfigRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, notify: bool) -> None:
        self._sessions = sessions
        self._notify = notify

    async def latest_version(self) -> int:
        async with self._sessions() as session:
            return (await session.scalar(sa.select(sa.func.max(ConfigVersion.version)))) or 0

    async def latest(self) -> tuple[VersionInfo, dict[str, Any]] | None:
        async with self._sessions() as session:
            row = await session.scalar(
                sa.select(ConfigVersion).order_by(ConfigVersion.version.desc()).limit(1)
            )
            return (_version_info(row), row.document) if row else None

    async def get(self, version: int) -> tuple[VersionInfo, dict[str, Any]] | None:
        async with self._sessions() as session:
            row = await session.get(ConfigVersion, version)
            return (_version_info(row), row.document) if row else None

    async def history(self, limit: int = 100) -> list[VersionInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                sa.select(ConfigVersion).order_by(ConfigVersion.version.desc()).limit(limit)
            )
            return [_version_info(r) for r in rows]

    async def create(
        self, document: dict[str, Any], *, parent: int, author: str, comment: str, target: str
    ) -> VersionInfo:
        """Commit a new version on top of ``parent``; raises :class:`StaleVersion` if it moved."""
        async with self._sessions() as session:
            row = ConfigVersion(
                parent=parent,
                document=document,
                author=author,
                comment=comment,
                created_at=utcnow(),
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                raise StaleVersion(parent) from None
            session.add(
                AuditEntry(
                    at=row.created_at,
                    actor=author,
                    action="config.write",
                    target=target,
                    detail={"version": row.version, "parent": parent, "comment": comment},
                )
            )
            if self._notify:
                await session.execute(
                    sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(row.version)))
                )
            await session.commit()
            return _version_info(row)


class KeyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        *,
        name: str,
        prefix: str,
        key_hash: str,
        role: str,
        functions: list[str] | None,
        rpm_limit: int | None,
        actor: str,
        budget_usd: float | None = None,
        budget_period: str | None = None,
    ) -> KeyInfo:
        async with self._sessions() as session:
            row = ApiKey(
                id=str(uuid.uuid4()),
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                role=role,
                functions=functions,
                rpm_limit=rpm_limit,
                budget_usd=budget_usd,
                budget_period=budget_period if budget_usd is not None else None,
                created_at=utcnow(),
            )
            session.add(row)
            session.add(
                AuditEntry(
                    at=row.created_at,
                    actor=actor,
                    action="key.create",
                    target=row.id,
                    detail={
                        "name": name,
                        "role": role,
                        "functions": functions,
                        "rpm_limit": rpm_limit,
                        "budget_usd": budget_usd,
                        "budget_period": budget_period,
                    },
                )
            )
            await session.commit()
            return _key_info(row)

    async def list(self) -> list[KeyInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at))
            return [_key_info(r) for r in rows]

    async def revoke(self, ref: str, *, actor: str) -> KeyInfo | None:
        """Revoke by id or by visible prefix."""
        async with self._sessions() as session:
            row = await session.scalar(
                sa.select(ApiKey).where(sa.or_(ApiKey.id == ref, ApiKey.prefix == ref))
            )
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.add(
                    AuditEntry(
                        at=row.revoked_at,
                        actor=actor,
                        action="key.revoke",
                        target=row.id,
                        detail={"name": row.name},
                    )
                )
                await session.commit()
            return _key_info(row)

    # builtins.list: in this class body, ``list`` names the method above.
    async def all_for_auth(self) -> builtins.list[StoredKey]:
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(
                    ApiKey.id,
                    ApiKey.name,
                    ApiKey.key_hash,
                    ApiKey.role,
                    ApiKey.functions,
                    ApiKey.rpm_limit,
                    ApiKey.revoked_at,
                    ApiKey.budget_usd,
                    ApiKey.budget_period,
                )
            )
            return [
                StoredKey(
                    r.id,
                    r.name,
                    r.key_hash,
                    r.role,
                    tuple(r.functions) if r.functions is not None else None,
                    r.rpm_limit,
                    r.revoked_at is not None,
                    r.budget_usd,
                    r.budget_period,
                )
                for r in rows
            ]

    async def touch(self, used: dict[str, datetime]) -> None:
        async with self._sessions() as session:
            for key_id, at in used.items():
                await session.execute(
                    sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at)
                )
            await session.commit()


CounterKey = tuple[str, str, str]  # scope (key | function), subject, bucket


class SpendRepository:
    """Spend counters shared by every gateway process (docs/spend.md, "Budgets")."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_and_read(
        self, increments: dict[CounterKey, float], buckets: builtins.list[str]
    ) -> dict[CounterKey, float]:
        """Add ``increments`` to the counters and return every counter of ``buckets``, in one
        transaction. Rows are upserted in key order, so two processes flushing at once lock
        them in the same order (no deadlock)."""
        async with self._sessions() as session:
            if increments:
                dialect = session.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                at = utcnow()
                statement = insert(SpendCounter).values(
                    [
                        {
                            "scope": scope,
                            "subject": subject,
                            "bucket": bucket,
                            "spent_usd": amount,
                            "updated_at": at,
                        }
                        for (scope, subject, bucket), amount in sorted(increments.items())
                    ]
                )
                statement = statement.on_conflict_do_update(
                    index_elements=["scope", "subject", "bucket"],
                    set_={
                        "spent_usd": SpendCounter.spent_usd + statement.excluded.spent_usd,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
                await session.execute(statement)
            rows = await session.execute(
                sa.select(
                    SpendCounter.scope,
                    SpendCounter.subject,
                    SpendCounter.bucket,
                    SpendCounter.spent_usd,
                ).where(SpendCounter.bucket.in_(buckets))
            )
            totals = {(r.scope, r.subject, r.bucket): r.spent_usd for r in rows}
            await session.commit()
            return totals

    async def prune(self, day_before: str, month_before: str) -> int:
        """Delete the day counters before bucket ``day_before`` and the month counters before
        ``month_before`` (bucket names sort by date); ``total`` counters stay."""
        stale = sa.or_(
            sa.and_(SpendCounter.bucket.like("day:%"), SpendCounter.bucket < day_before),
            sa.and_(SpendCounter.bucket.like("month:%"), SpendCounter.bucket < month_before),
        )
        async with self._sessions.begin() as session:
            result = await session.execute(sa.delete(SpendCounter).where(stale))
        return rowcount(result)


class AuditRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return [
                {
                    "at": _iso(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "detail": r.detail,
                }
                for r in rows
            ]
