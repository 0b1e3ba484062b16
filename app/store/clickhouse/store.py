"""What the writer writes to: the three calls it needs from ClickHouse, behind a small protocol.

The protocol is the seam for fault injection: a test hands the writer a store that raises
for a while, and the writer's retry/spill/replay logic runs for real.
"""

from __future__ import annotations

from typing import Protocol

from clickhouse_connect.driver.client import Client

from app.store.clickhouse.client import connect
from app.store.clickhouse.migrate import apply_migrations

# Insert deduplication is what makes a retried or replayed batch land once: every insert of a
# batch carries the batch id as its token, and each table keeps the last 1,000 block hashes
# (``non_replicated_deduplication_window`` in the migrations). Materialized views follow.
INSERT_SETTINGS = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "input_format_skip_unknown_fields": 1,  # the spill tag "kind" in feedback rows
}


class Store(Protocol):
    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        """Insert a ``JSONEachRow`` payload, deduplicated by ``token``."""

    def ping(self) -> bool: ...

    def close(self) -> None: ...


class ClickHouseStore:
    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def open(cls, url: str) -> ClickHouseStore:
        """Connect and bring the schema up to date (idempotent, so safe on every reconnect)."""
        client = connect(url)
        try:
            apply_migrations(client)
        except BaseException:
            client.close()
            raise
        return cls(client)

    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        self.client.raw_insert(
            table,
            columns,
            insert_block=payload,
            fmt="JSONEachRow",
            settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
        )

    def ping(self) -> bool:
        return bool(self.client.ping())

    def close(self) -> None:
        self.client.close()
