"""The cluster layout run for real on a one-shard cluster of embedded chDB.

``python -m tests.support.one_shard_cluster <dir>`` (a process of its own: an embedded engine
opens one data directory per process, this one with a config that declares the cluster)
creates the schema rendered for ``CLUSTER``, writes through the gateway's store and reads
through the gateway's reader, and prints what it saw as JSON.

Two things a cluster has and chDB has not are taken out, and only those: ``ON CLUSTER``
(needs the servers' DDL queue) and the Replicated engines' Keeper arguments (needs Keeper);
the parse tests cover both. What runs is everything else: the ``_local`` tables, the
Distributed tables over them, the materialized views on the local tables, the views over the
Distributed ones, and inserts sent through Distributed tables with the gateway's settings.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import chdb
import msgspec

from app.ids import uuid7_str
from app.records import AttemptRecord, FeedbackRecord, InferenceRecord
from app.store.clickhouse.client import connect
from app.store.clickhouse.migrate import load_migrations, migrations_table
from app.store.clickhouse.query import ClickHouseReader
from app.store.clickhouse.rows import (
    ATTEMPT_COLUMNS,
    FEEDBACK_COLUMNS,
    INFERENCE_COLUMNS,
    encode_batch,
    encode_feedback,
)
from app.store.clickhouse.store import ClickHouseStore

CLUSTER = "switchyard_cluster"
_CONFIG = f"""<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers>
    <{CLUSTER}>
      <shard><replica><host>localhost</host><port>9000</port></replica></shard>
    </{CLUSTER}>
  </remote_servers>
</clickhouse>
"""
_KEEPER_ARGS = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?")


def without_keeper(statement: str) -> str:
    """``statement`` as one node without Keeper or a DDL queue can run it."""
    statement = statement.replace(f" ON CLUSTER '{CLUSTER}'", "")
    statement = _KEEPER_ARGS.sub(r"\1(", statement)
    return statement.replace(
        "replicated_deduplication_window", "non_replicated_deduplication_window"
    )


def inference(function: str) -> InferenceRecord:
    inference_id = uuid7_str()
    now = time.time()
    return InferenceRecord(
        id=inference_id,
        created_at=now,
        config_version=1,
        function=function,
        variant="v",
        episode_id=uuid7_str(),
        model="m",
        status="ok",
        latency_ms=5.0,
        prompt_tokens=10,
        completion_tokens=2,
        cost=0.001,
        completion_ids=[inference_id],
        attempts=[
            AttemptRecord(
                id=uuid7_str(),
                inference_id=inference_id,
                provider="p",
                provider_type="openai",
                model="pm",
                started_at=now,
                latency_ms=5.0,
                status="ok",
            )
        ],
    )


def feedback(of: InferenceRecord) -> FeedbackRecord:
    return FeedbackRecord(
        id=uuid7_str(),
        created_at=time.time(),
        target_id=of.id,
        target_level="inference",
        inference_id=of.id,
        episode_id=of.episode_id,
        metric="thumbs_up",
        type="boolean",
        value=1.0,
        value_text="",
        tags={},
        comment="",
        function=of.function,
        variant=of.variant,
        campaign="",
        api_key_id="",
    )


def run(directory: Path) -> dict[str, Any]:
    (directory / "config.xml").write_text(_CONFIG)
    path = directory / "clickhouse"
    engine = chdb.connect(f"{path}?config-file={directory / 'config.xml'}")
    url = f"chdb://{path}"
    client = connect(url)
    statements = migrations_table(CLUSTER) + [
        s for m in load_migrations(cluster=CLUSTER) for s in m.statements
    ]
    for statement in statements:
        client.command(without_keeper(statement))
    store = ClickHouseStore(client, CLUSTER)
    records = [inference("f") for _ in range(3)]
    payloads = encode_batch(records)
    rated = encode_feedback([feedback(records[0])])
    for _ in range(2):  # the same batch twice, as a replay after a lost acknowledgement
        store.insert("inferences", INFERENCE_COLUMNS, payloads.inferences, "batch-1")
        store.insert("model_inferences", ATTEMPT_COLUMNS, payloads.attempts, "batch-1")
        store.insert("feedback", FEEDBACK_COLUMNS, rated, "batch-1")

    def one(sql: str) -> Any:
        return client.query(sql).result_rows[0][0]

    reader = ClickHouseReader(url)
    target = asyncio.run(reader.target(records[1].id, "inference"))
    episode = asyncio.run(reader.target(records[2].episode_id, "episode"))
    reader.close()
    seen = {
        "engines": dict(
            client.query(
                "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
            ).result_rows
        ),
        "cluster": one(f"SELECT count() FROM system.clusters WHERE cluster = '{CLUSTER}'"),
        "inferences": one("SELECT count() FROM inferences"),
        "inferences_local": one("SELECT count() FROM inferences_local"),
        "model_inferences": one("SELECT count() FROM model_inferences"),
        "feedback": one("SELECT count() FROM feedback"),
        "inference_by_id": one("SELECT count() FROM inference_by_id"),
        "inference_by_id_local": one("SELECT count() FROM inference_by_id_local"),
        "daily_inferences": one("SELECT sum(inferences) FROM daily_stats WHERE function = 'f'"),
        "spend": one("SELECT sum(cost_usd) FROM spend_daily WHERE function = 'f'"),
        "rated": one("SELECT count() FROM inference_feedback WHERE metric = 'thumbs_up'"),
        "lookup": one(f"SELECT count() FROM inference_lookup(id = '{records[0].id}')"),
        "target": target is not None and target.inference_id == records[1].id,
        "episode": episode is not None and episode.episode_id == records[2].episode_id,
    }
    client.close()
    engine.close()
    return seen


if __name__ == "__main__":
    sys.stdout.write(msgspec.json.encode(run(Path(sys.argv[1]))).decode())
