"""Applies ``migrations/clickhouse/NNNN_name.sql`` in order and records each in
``schema_migrations``.

Every statement in a migration is written to be re-runnable (``IF NOT EXISTS``), and a file is
recorded only after all its statements succeeded, so a run interrupted half-way, or two
gateways starting at once against one server, converge on the same schema. A recorded
migration whose file has changed since is reported, never re-applied: fix forward with a new file.

With ``SWITCHYARD_CLICKHOUSE_CLUSTER`` set, the same files are rendered for the cluster
(``ON CLUSTER``, Replicated engines, Distributed tables: app/store/clickhouse/cluster.py) and
recorded under the same checksums; without it they run exactly as written.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import msgspec
from clickhouse_connect.driver.client import Client

from app.store.clickhouse.cluster import ClusterRenderer, render_for_cluster

log = logging.getLogger("switchyard.clickhouse")

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations" / "clickhouse"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Statements end with ";" at the end of a line; "--" comment lines are dropped first.
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    checksum: str
    statements: tuple[str, ...]


def load_migrations(
    directory: Path = MIGRATIONS_DIR, cluster: str | None = None
) -> list[Migration]:
    """The migrations in ``directory``, rendered for ``cluster`` when one is named."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are named NNNN_name.sql")
        text = path.read_text()
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                checksum=hashlib.sha256(text.encode()).hexdigest()[:16],
                statements=tuple(split_statements(text)),
            )
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"{directory}: two migrations share a version number")
    return render_for_cluster(migrations, cluster) if cluster else migrations


def split_statements(text: str) -> list[str]:
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in _STATEMENT_END.split(code) if statement.strip()]


def migrations_table(cluster: str | None = None) -> list[str]:
    """The statements that create ``schema_migrations`` (replicated to every node on a cluster)."""
    return ClusterRenderer(cluster, []).statement(_TABLE.strip()) if cluster else [_TABLE]


def apply_migrations(
    client: Client, migrations: list[Migration] | None = None, cluster: str | None = None
) -> list[Migration]:
    """Apply what is missing; return the migrations applied by this call."""
    migrations = load_migrations(cluster=cluster) if migrations is None else migrations
    for statement in migrations_table(cluster):
        client.command(statement)
    rows = client.query("SELECT version, checksum FROM schema_migrations FINAL").result_rows
    applied: dict[int, str] = {row[0]: row[1] for row in rows}
    done = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                log.warning(
                    "ClickHouse migration %04d_%s changed after it was applied; "
                    "add a new migration instead",
                    migration.version,
                    migration.name,
                )
            continue
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("applied ClickHouse migration %04d_%s", migration.version, migration.name)
        done.append(migration)
    return done
