"""Async engines for the config store: PostgreSQL via asyncpg, SQLite via aiosqlite."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``sqlite:///`` URLs and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": 15})
    # A short connect timeout so an outage is noticed (and reported) quickly.
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=5, connect_args={"timeout": 3, "command_timeout": 5}
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_SQLITE_FILE_UNUSABLE = re.compile(
    r"file is not a database|disk image is malformed|unable to open database|disk i/o error|"
    r"database is locked",
    re.IGNORECASE,
)


def is_unreachable(exc: BaseException) -> bool:
    """Does ``exc`` mean the store cannot be reached (connection refused, reset or timed out,
    pool exhausted, server shutting down), rather than that this one statement failed?

    Only these are reported as "config store unreachable" (503): an integer that overflows the
    driver, a constraint violation or a bug are not outages and must not be reported as one.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | ConnectionError | TimeoutError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(
            current,
            sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sa_exc.DisconnectionError
            | sa_exc.TimeoutError,
        ):
            return True
        if isinstance(current, sqlite3.DatabaseError) and _SQLITE_FILE_UNUSABLE.search(
            str(current)
        ):
            return True  # the embedded store's file is gone, locked or damaged: an outage
        if type(current).__module__.startswith("asyncpg") and _ASYNCPG_CONNECTION.search(
            type(current).__name__
        ):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


# asyncpg's connection-level errors: PostgresConnectionError and its subclasses,
# ConnectionDoesNotExistError, CannotConnectNowError, InterfaceError, ConnectionFailureError...
_ASYNCPG_CONNECTION = re.compile(r"Connect|Interface|AdminShutdown|CrashShutdown|Cannot")
