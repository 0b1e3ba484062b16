"""What the writer writes to: the three calls it needs from ClickHouse, behind a small protocol.

The protocol is the seam for fault injection: a test hands the writer a store that raises
for a while, and the writer's retry/spill/replay logic runs for real.
"""

from __future__ import annotations

import logging
from typing import Protocol

from clickhouse_connect.driver.client import Client

from app.store.clickhouse.client import connect
from app.store.clickhouse.migrate import apply_migrations

log = logging.getLogger("switchyard.clickhouse")

# Insert deduplication is what makes a retried or replayed batch land once: every insert of a
# batch carries the batch id as its token, and each table keeps the last 1,000 block hashes
# (``non_replicated_deduplication_window`` in the migrations). Materialized views follow.
INSERT_SETTINGS = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "input_format_skip_unknown_fields": 1,  # the spill tag "kind" in feedback rows
}
# On a cluster an insert into a Distributed table returns once every shard has its rows, so an
# acknowledged batch is stored, and a failed one is retried or spilled as on a single server.
CLUSTER_INSERT_SETTINGS = {**INSERT_SETTINGS, "distributed_foreground_insert": 1}


class Store(Protocol):
    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        """Insert a ``JSONEachRow`` payload, deduplicated by ``token``."""

    def ping(self) -> bool: ...

    def close(self) -> None: ...


class ClickHouseStore:
    def __init__(self, client: Client, cluster: str | None = None) -> None:
        self.client = client
        self.insert_settings = CLUSTER_INSERT_SETTINGS if cluster else INSERT_SETTINGS

    @classmethod
    def open(cls, url: str, cluster: str | None = None) -> ClickHouseStore:
        """Connect and bring the schema up to date (idempotent, so safe on every reconnect)."""
        client = connect(url)
        try:
            apply_migrations(client, cluster=cluster)
            if cluster:
                check_cluster_profile(client)
        except BaseException:
            client.close()
            raise
        return cls(client, cluster)

    def insert(self, table: str, columns: list[str], payload: bytes, token: str) -> None:
        self.client.raw_insert(
            table,
            columns,
            insert_block=payload,
            fmt="JSONEachRow",
            settings={**self.insert_settings, "insert_deduplication_token": token},
        )

    def ping(self) -> bool:
        return bool(self.client.ping())

    def close(self) -> None:
        self.client.close()


def check_cluster_profile(client: Client) -> None:
    """Warn when the gateway's user would refuse the reads that join two Distributed tables.

    Results, lookups and the analyst views put a Distributed table inside IN or JOIN; only
    ``distributed_product_mode = 'global'`` (in the user's settings profile, docs/scaling.md)
    runs those as one query shipped to the shards instead of refusing them.
    """
    mode = client.command("SELECT getSetting('distributed_product_mode')")
    if mode != "global":
        log.warning(
            "ClickHouse cluster: distributed_product_mode is %r for this user; set it to "
            "'global' in its settings profile, or queries joining the inference log fail",
            mode,
        )
