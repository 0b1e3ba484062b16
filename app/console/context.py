"""The services console pages use, gathered once by the app factory and injected into every
console handler (Litestar dependency ``console``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.auth.service import AuthService
from app.config.admin import ConfigAdmin
from app.console.session import ConsoleSessions
from app.store.clickhouse.query import SqlFormat
from app.store.sql.repos import KeyRepository

RunSql = Callable[[str, SqlFormat], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    sessions: ConsoleSessions
    auth: AuthService
    config: ConfigAdmin
    keys: KeyRepository
    run_sql: RunSql
    refresh: Callable[[], Awaitable[None]]  # reload config and keys after a write
