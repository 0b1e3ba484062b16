"""Console sessions in the config store: created at sign-in, read on each console page,
deleted at sign-out. Tokens are stored as SHA-256 hashes, never as issued."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store.sql.models import ConsoleSession
from app.store.sql.repos import utcnow


class SessionInfo(msgspec.Struct, frozen=True):
    key_id: str
    csrf_token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, token: str, *, key_id: str, csrf_token: str, ttl: timedelta) -> None:
        now = utcnow()
        async with self._sessions.begin() as db:
            await db.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            db.add(
                ConsoleSession(
                    token_hash=token_hash(token),
                    key_id=key_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )

    async def get(self, token: str) -> SessionInfo | None:
        async with self._sessions() as db:
            row = await db.get(ConsoleSession, token_hash(token))
        if row is None:
            return None
        expires_at = row.expires_at
        if expires_at.tzinfo is None:  # SQLite hands back naive datetimes
            expires_at = expires_at.replace(tzinfo=utcnow().tzinfo)
        if expires_at <= utcnow():
            return None
        return SessionInfo(row.key_id, row.csrf_token, expires_at)

    async def delete(self, token: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                sa.delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
            )
