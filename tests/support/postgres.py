"""A throwaway PostgreSQL database per test module on the real server.

Unless SWITCHYARD_TEST_DATABASE_URL says otherwise, the server is the local one at
127.0.0.1:5432 (trust auth). In CI (CI=true) a missing server fails the tests; elsewhere it
skips them.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("SWITCHYARD_TEST_DATABASE_URL", DEFAULT_URL)


def _admin_dsn() -> str:
    return make_url(server_url()).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(sql: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database() -> str:
    """Create a fresh database and return its URL (skips, or fails in CI, without a server)."""
    name = f"sy_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {server_url()}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def fetch(url: str, sql: str) -> list[asyncpg.Record]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return await connection.fetch(sql)
    finally:
        await connection.close()
