"""The two config-store backends a test can run on: SQLite (the default users get) and PostgreSQL.

``BACKENDS`` is meant for ``pytest.fixture(params=BACKENDS)``; ``create`` gives a fresh, empty
store URL for one, ``drop`` throws it away, and ``dump`` reads tables back (to check what is
stored) on either backend.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support import postgres

BACKENDS = ["sqlite", "postgresql"]


def create(backend: str, directory: Path) -> str:
    """A fresh store URL: a SQLite file under ``directory``, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{directory / 'switchyard.db'}"
    return postgres.create_database()


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        postgres.drop_database(url)


def dump(url: str, *tables: str) -> str:
    """Every row of ``tables``, as text (for "this secret is not stored" checks)."""
    if url.startswith("postgresql"):
        return "".join(
            repr([dict(r) for r in asyncio.run(postgres.fetch(url, f"SELECT * FROM {table}"))])
            for table in tables
        )
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        return "".join(
            repr(connection.execute(f"SELECT * FROM {table}").fetchall()) for table in tables
        )
    finally:
        connection.close()
