"""ClickHouse unreachable: the gateway keeps serving, spills every inference to disk, and a
restart against a working ClickHouse replays them all, once."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.conftest import write_gateway_config
from tests.support.analytics import LOGGING_ENV, metric, rows, wait_rows
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.gateway import Gateway


def send(gw: Gateway, run: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        body = {
            "model": "passthrough",
            "messages": [{"role": "user", "content": f"m{i}"}],
            "labels": {"run": run},
        }
        if i % 2:
            with httpx.stream(
                "POST", gw.url + "/v1/chat/completions", json={**body, "stream": True}, timeout=10
            ) as response:
                assert response.status_code == 200
                assert response.read().rstrip().endswith(b"data: [DONE]")
        else:
            response = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=10)
            assert response.status_code == 200
        ids.append(response.headers["x-switchyard-inference-id"])
    return ids


def test_outage_spills_and_a_restart_replays_exactly_once(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    config = write_gateway_config(tmp_path / "variants", fake_upstream)
    data = tmp_path / "data"
    run = uuid.uuid4().hex
    env = {**LOGGING_ENV, "FAKE_UPSTREAM_KEY": "sk-test"}
    unreachable = {**env, "SWITCHYARD_CLICKHOUSE_URL": f"http://127.0.0.1:{free_port()}"}

    down = Gateway(config, data, env=unreachable).start()
    try:
        ids = send(down, run, 30)
        ready = httpx.get(down.url + "/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["clickhouse"]["ok"] is False
        assert metric(down, "switchyard_rows_dropped_total") == 0
        # Feedback still works for recent inferences (found in memory); an id that would need a
        # ClickHouse lookup gets a 503 to retry, not a wrong 404.
        if ids:
            recent = {"metric_name": "thumbs_up", "inference_id": ids[0], "value": True}
            assert httpx.post(down.url + "/v1/feedback", json=recent).status_code == 200
        unknown = {"metric_name": "thumbs_up", "inference_id": str(uuid.uuid4()), "value": True}
        lookup = httpx.post(down.url + "/v1/feedback", json=unknown)
        assert lookup.status_code == 503 and lookup.json()["error"]["code"] == "store_unavailable"
    finally:
        assert down.stop() == 0  # SIGTERM: the writer flushes its queue into spill files
    spilled = list((data / "spill").rglob("*.jsonl"))
    assert (
        spilled and sum(len(p.read_bytes().splitlines()) for p in spilled) == 31
    )  # + the feedback row

    up = Gateway(config, data, env=env).start()  # embedded chDB: ClickHouse is back
    try:
        query = f"SELECT id FROM inferences WHERE labels['run'] = '{run}'"
        found = wait_rows(up, query, lambda r: len(r) >= 30)
        assert sorted(r["id"] for r in found) == sorted(ids)
        attempts = rows(
            up,
            f"SELECT count() AS n, uniqExact(inference_id) AS d FROM model_inferences WHERE inference_id IN ({query})",
        )
        assert attempts == [{"n": 30, "d": 30}]
        assert metric(up, "switchyard_rows_replayed_total") == 31
        feedback = rows(
            up, f"SELECT count() AS n FROM feedback WHERE toString(target_id) = '{ids[0]}'"
        )
        assert feedback == [{"n": 1}]
        assert not list((data / "spill").rglob("*.jsonl"))
        assert httpx.get(up.url + "/ready").json()["checks"]["clickhouse"]["ok"] is True
    finally:
        up.stop()
