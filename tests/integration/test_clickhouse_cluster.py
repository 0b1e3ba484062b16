"""The migrations rendered for a ClickHouse cluster, each statement parsed by ClickHouse itself.

There is no cluster here (no Keeper, no DDL queue), so the DDL as rendered cannot run; chDB's
parser (``formatQuery``) is the check that every rendered statement is valid ClickHouse SQL,
and the formatted text it returns is what the assertions read, so they do not depend on our
spacing. The last test runs the layout itself (local and Distributed tables, views, inserts)
on a one-shard cluster that chDB can hold.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from clickhouse_connect.driver.client import Client

from app.settings import Settings
from app.store.clickhouse.client import connect
from app.store.clickhouse.cluster import ClusterError, ClusterRenderer
from app.store.clickhouse.migrate import (
    MIGRATIONS_DIR,
    load_migrations,
    migrations_table,
    split_statements,
)
from app.store.clickhouse.store import check_cluster_profile

CLUSTER = "switchyard_cluster"
SHARDED = {"inferences", "model_inferences", "feedback", "inference_by_id", "inference_daily_state"}


@pytest.fixture(scope="module")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One path for the module: an embedded engine opens a single data directory per process."""
    return f"chdb://{tmp_path_factory.mktemp('cluster') / 'clickhouse'}"


@pytest.fixture(scope="module")
def parser(chdb_url: str) -> Iterator[Client]:
    client = connect(chdb_url)
    yield client
    client.close()


def formatted(parser: Client, statement: str) -> str:
    """ClickHouse's own rendering of ``statement``: raises if it does not parse."""
    result = parser.query("SELECT formatQuery({q:String})", parameters={"q": statement})
    return " ".join(str(result.result_rows[0][0]).split())


@pytest.fixture(scope="module")
def rendered(parser: Client) -> list[str]:
    statements = migrations_table(CLUSTER) + [
        statement
        for migration in load_migrations(cluster=CLUSTER)
        for statement in migration.statements
    ]
    return [formatted(parser, statement) for statement in statements]


def creates(rendered: list[str], kind: str = "TABLE") -> dict[str, str]:
    pattern = re.compile(rf"^CREATE {kind} IF NOT EXISTS (\w+) ON CLUSTER (\w+)")
    found = {}
    for statement in rendered:
        if match := pattern.match(statement):
            assert match[2] == CLUSTER, statement
            found[match[1]] = statement
    return found


def test_single_node_statements_are_the_files_byte_for_byte() -> None:
    for migration, path in zip(
        load_migrations(), sorted(MIGRATIONS_DIR.glob("*.sql")), strict=True
    ):
        text = path.read_text()
        assert list(migration.statements) == split_statements(text)
        for statement in migration.statements:
            assert statement in text, f"{path.name}: statement not verbatim in the file"
    (record,) = migrations_table()
    assert "ON CLUSTER" not in record and "ENGINE = ReplacingMergeTree\n" in record


def test_every_rendered_statement_parses_and_runs_on_cluster(rendered: list[str]) -> None:
    assert len(rendered) > sum(len(m.statements) for m in load_migrations())
    for statement in rendered:
        assert f" ON CLUSTER {CLUSTER}" in statement, statement


def test_every_mergetree_engine_is_replicated_under_the_keeper_path_convention(
    rendered: list[str],
) -> None:
    tables = creates(rendered)
    engines = 0
    for name, statement in tables.items():
        engine = re.search(r"ENGINE = (\w+)\((.*?)\)", statement)
        assert engine is not None, statement
        if engine[1] == "Distributed":
            continue
        engines += 1
        assert engine[1].startswith("Replicated") and engine[1].endswith("MergeTree"), statement
        path, replica = (arg.strip() for arg in engine[2].split(",")[:2])
        shard = "{shard}" if name.endswith("_local") else "all"
        assert path == f"'/clickhouse/tables/{shard}/{{database}}/{{table}}'", statement
        assert replica == "'{replica}'"
        assert "non_replicated_deduplication_window" not in statement
    assert engines == len(tables) - len(SHARDED)
    # Engine parameters survive after the replication arguments.
    assert tables["datasets"].endswith("'{replica}', updated_at) ORDER BY name")


def test_the_log_is_local_tables_behind_distributed_ones_under_the_names_the_app_queries(
    rendered: list[str],
) -> None:
    tables = creates(rendered)
    for name in SHARDED:
        local = tables[f"{name}_local"]
        assert "ENGINE = Replicated" in local
        distributed = tables[name]
        assert distributed.startswith(
            f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {CLUSTER} AS {name}_local "
            f"ENGINE = Distributed('{CLUSTER}', currentDatabase(), '{name}_local'"
        ), distributed
    keys = {name: re.search(r"'\w+_local'(?:, (.+))?\)$", tables[name]) for name in SHARDED}
    assert {name: match[1] for name, match in keys.items() if match} == {
        "inferences": "cityHash64(id)",
        "model_inferences": "cityHash64(inference_id)",
        "feedback": "cityHash64(target_id)",
        # Filled by views on each shard: no key, so a stray direct insert is refused.
        "inference_by_id": None,
        "inference_daily_state": None,
    }
    # Every name the single-node schema has is still there for the gateway's queries.
    single = {
        re.match(r"CREATE (?:MATERIALIZED )?(?:TABLE|VIEW) IF NOT EXISTS (\w+)", s)[1]  # type: ignore[index]
        for m in load_migrations()
        for s in m.statements
        if s.startswith("CREATE")
    }
    every = (
        set(tables) | set(creates(rendered, "VIEW")) | set(creates(rendered, "MATERIALIZED VIEW"))
    )
    assert single <= every
    assert every - single == {f"{name}_local" for name in SHARDED} | {"schema_migrations"}


def test_materialized_views_read_and_fill_the_local_tables(rendered: list[str]) -> None:
    views = creates(rendered, "MATERIALIZED VIEW")
    assert set(views) == {"inference_by_id_mv", "inference_daily_mv"}
    assert " TO inference_by_id_local AS " in views["inference_by_id_mv"]
    assert " FROM inferences_local AS i ARRAY JOIN arrayConcat(" in views["inference_by_id_mv"]
    assert " TO inference_daily_state_local AS " in views["inference_daily_mv"]
    assert " FROM inferences_local GROUP BY " in views["inference_daily_mv"]
    # Plain views read the Distributed tables, so they see every shard.
    plain = creates(rendered, "VIEW")
    assert " FROM inferences AS i INNER JOIN feedback AS f " in plain["inference_feedback"]
    assert " FROM inference_daily_state GROUP BY " in plain["daily_stats"]
    assert "_local" not in " ".join(plain.values())


def test_column_changes_reach_the_local_and_the_distributed_table(rendered: list[str]) -> None:
    alters = [s for s in rendered if s.startswith("ALTER TABLE")]
    assert [s.split(" ON CLUSTER")[0] for s in alters] == [
        "ALTER TABLE inferences_local",
        "ALTER TABLE inferences",
        "ALTER TABLE model_inferences_local",
        "ALTER TABLE model_inferences",
        "ALTER TABLE inferences_local",
        "ALTER TABLE inferences",
        "ALTER TABLE inferences_local",
        "ALTER TABLE inferences",
        "ALTER TABLE inferences_local",
        "ALTER TABLE inferences",
        "ALTER TABLE datapoints",  # replicated to every node: no local table
        "ALTER TABLE datapoints",
    ]
    assert all("ADD COLUMN IF NOT EXISTS `cost` Nullable(Float64)" in s for s in alters[:4])
    assert all("ADD COLUMN IF NOT EXISTS `cached` Bool" in s for s in alters[4:6])
    assert all("ADD COLUMN IF NOT EXISTS `cost_saved` Nullable(Float64)" in s for s in alters[6:8])
    assert all(
        "ADD COLUMN IF NOT EXISTS `served_model` LowCardinality(String)" in s for s in alters[8:10]
    )
    assert "ADD COLUMN IF NOT EXISTS `variant` LowCardinality(String)" in alters[10]
    assert "ADD COLUMN IF NOT EXISTS `system_prompt` String" in alters[11]


def test_an_alter_the_distributed_table_cannot_take_goes_to_the_local_table_only(
    parser: Client,
) -> None:
    renderer = ClusterRenderer(CLUSTER, load_migrations())
    statements = renderer.statement(
        "ALTER TABLE inferences MODIFY TTL toDateTime(created_at) + INTERVAL 1 YEAR"
    )
    assert [formatted(parser, s).split(" ON CLUSTER")[0] for s in statements] == [
        "ALTER TABLE inferences_local"
    ]
    mixed = renderer.statement(
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', ADD INDEX i x TYPE set(0) GRANULARITY 1"
    )
    assert len(mixed) == 1 and mixed[0].startswith("ALTER TABLE feedback_local ON CLUSTER")
    both = renderer.statement(
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', DROP COLUMN IF EXISTS y"
    )
    assert [formatted(parser, s).split(" ON CLUSTER")[0] for s in both] == [
        "ALTER TABLE feedback_local",
        "ALTER TABLE feedback",
    ]


def test_a_statement_with_no_cluster_rendering_is_refused_with_its_migration(
    tmp_path: Path,
) -> None:
    (tmp_path / "0001_table.sql").write_text(
        "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a;\n"
    )
    (tmp_path / "0002_fill.sql").write_text("INSERT INTO t VALUES (1);\n")
    with pytest.raises(ClusterError, match=r"0002_fill: no cluster rendering for: INSERT INTO t"):
        load_migrations(tmp_path, cluster=CLUSTER)
    assert len(load_migrations(tmp_path)) == 2  # the single-node default runs it as written
    (tmp_path / "0002_fill.sql").write_text(
        "CREATE TABLE IF NOT EXISTS u (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a;\n"
    )
    with pytest.raises(ClusterError, match="0002_fill: ReplicatedMergeTree: migrations name"):
        load_migrations(tmp_path, cluster=CLUSTER)


def test_the_cluster_setting_needs_a_server_and_a_plain_name() -> None:
    server = {"SWITCHYARD_CLICKHOUSE_URL": "http://ch-1:8123/switchyard"}
    assert (
        Settings.from_env({**server, "SWITCHYARD_CLICKHOUSE_CLUSTER": "prod"}).clickhouse_cluster
        == "prod"
    )
    assert Settings.from_env({**server, "SWITCHYARD_CLICKHOUSE_CLUSTER": "{cluster}"})
    with pytest.raises(SystemExit, match="embedded chDB is a single node"):
        Settings.from_env({"SWITCHYARD_CLICKHOUSE_CLUSTER": "prod"})
    with pytest.raises(SystemExit, match="expected a cluster name"):
        Settings.from_env({**server, "SWITCHYARD_CLICKHOUSE_CLUSTER": "prod'; DROP"})


def test_a_user_without_global_distributed_product_mode_is_warned_about(
    chdb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = connect(chdb_url)
    try:
        with caplog.at_level("WARNING", logger="switchyard.clickhouse"):
            check_cluster_profile(client)  # ClickHouse's default: 'deny'
        assert "distributed_product_mode is 'deny'" in caplog.text
    finally:
        client.close()
    caplog.clear()
    client = connect(chdb_url, {"distributed_product_mode": "global"})
    try:
        with caplog.at_level("WARNING", logger="switchyard.clickhouse"):
            check_cluster_profile(client)
        assert caplog.text == ""
    finally:
        client.close()


def test_the_layout_runs_on_a_one_shard_cluster(tmp_path: Path) -> None:
    """Writes through the Distributed tables and reads through the views and the gateway's
    reader, on a real engine (tests/support/one_shard_cluster.py says what is left out)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.one_shard_cluster", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = msgspec.json.decode(done.stdout.strip().splitlines()[-1])
    assert seen["cluster"] == 1
    engines = seen.pop("engines")
    for name in SHARDED:
        assert engines[name] == "Distributed" and engines[f"{name}_local"].endswith("MergeTree")
    assert engines["inference_by_id_mv"] == "MaterializedView"
    # The same batch inserted twice through the Distributed tables is stored once.
    assert seen["inferences"] == seen["inferences_local"] == 3
    assert (seen["model_inferences"], seen["feedback"]) == (3, 1)
    # The views on the local tables filled their local targets, read back through Distributed.
    assert seen["inference_by_id"] == seen["inference_by_id_local"] == 6  # inference + episode ids
    assert seen["daily_inferences"] == 3
    assert seen["spend"] == pytest.approx(0.003)
    assert (seen["rated"], seen["lookup"]) == (1, 1)
    assert seen["target"] and seen["episode"]  # the gateway's id lookups (feedback targets)
