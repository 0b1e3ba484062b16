"""ClickHouse unreachable: every endpoint that has to read it answers 503 (retry later), never 500.

The gateway runs on the experiment config (a campaign, a preference metric) with
SWITCHYARD_CLICKHOUSE_URL pointing at a port nothing listens on, as in test_writer_outage.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.analytics import LOGGING_ENV, sql
from tests.support.experiment_config import write_experiment_config
from tests.support.fake_openai import free_port
from tests.support.gateway import Gateway


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("clickhouse-down")
    env = {**LOGGING_ENV, "SWITCHYARD_CLICKHOUSE_URL": f"http://127.0.0.1:{free_port()}"}
    server = Gateway(write_experiment_config(root / "variants"), root / "data", env=env).start()
    yield server
    server.stop()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["type"] == "service_unavailable"


def test_the_gateway_serves_and_says_clickhouse_is_down(down: Gateway) -> None:
    reply = httpx.post(
        down.url + "/v1/chat/completions",
        json={"model": "exp", "messages": [{"role": "user", "content": "hi"}]},
        timeout=15,
    )
    assert reply.status_code == 200, reply.text
    ready = httpx.get(down.url + "/ready", timeout=15)
    assert ready.status_code == 503 and ready.json()["checks"]["clickhouse"]["ok"] is False


def test_feedback_on_a_target_that_is_not_recent_is_503(down: Gateway) -> None:
    response = httpx.post(
        down.url + "/v1/feedback",
        json={"metric_name": "success", "inference_id": str(uuid.uuid4()), "value": True},
        timeout=15,
    )
    assert_unavailable(response)
    assert response.json()["error"]["code"] == "store_unavailable"


def test_preference_feedback_on_completions_that_are_not_recent_is_503(down: Gateway) -> None:
    preference = {"preferred": str(uuid.uuid4()), "other": str(uuid.uuid4())}
    response = httpx.post(
        down.url + "/v1/feedback",
        json={"metric_name": "preferred", "value": preference},
        timeout=15,
    )
    assert_unavailable(response)


def test_campaign_results_are_503(down: Gateway) -> None:
    assert_unavailable(httpx.get(down.url + "/v1/campaigns/ab/results", timeout=15))


def test_admin_sql_is_503(down: Gateway) -> None:
    assert_unavailable(sql(down, "SELECT 1"))
