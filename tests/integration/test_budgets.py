"""Budgets through real gateways (docs/spend.md, "Budgets"): a key budget stops requests at the
boundary, 10 concurrent clients overshoot it by less than the documented bound, a function
budget stops only that function, two gateways sharing one PostgreSQL enforce one budget, and
bad budget values are refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import postgres
from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import REPO, Gateway, start_gateway

ENV = {"FAKE_UPSTREAM_KEY": "sk-test-secret-123", **LOGGING_ENV}
# The fake's scripted usage is 1234 prompt tokens (200 cached) and 567 completion tokens: at
# $1000 per million prompt tokens (cached too) and nothing for output, each answer costs $1.234.
COST = 1.234
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def gateway_toml(oai: FakeOpenAI) -> str:
    return f"""
[providers.usage]
type = "openai"
base_url = "{oai.url("usage")}"
api_key_env = "FAKE_UPSTREAM_KEY"
params = "openai"

[models.metered]
routing = [{{ provider = "usage", name = "m", price = {{ input_per_mtok = 1000, output_per_mtok = 0 }} }}]
"""


FUNCTIONS = {
    "capped": '\nbudget_usd = 2.0\nbudget_period = "day"\n[variants.v]\nmodel = "metered"\n',
    "uncapped": '\n[variants.v]\nmodel = "metered"\n',
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("budgets"), gateway_toml(fake_upstream), FUNCTIONS, env=ENV
    )
    yield server
    server.stop()


def new_key(gw: Gateway, budget: float, period: str = "day") -> str:
    response = httpx.post(
        gw.url + "/admin/keys",
        json={"name": f"budget {budget}", "budget_usd": budget, "budget_period": period},
        headers=ADMIN,
        timeout=15,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["budget_usd"], created["budget_period"]) == (budget, period)
    key: str = created["key"]
    return key


def chat(gw: Gateway, key: str, model: str = "metered") -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "spend"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_key_budget_stops_at_the_boundary(gw: Gateway) -> None:
    key = new_key(gw, 4.0)  # 3 answers = $3.702 < $4: a 4th is admitted, a 5th is not
    costs = []
    for _ in range(4):
        response = chat(gw, key)
        assert response.status_code == 200, response.text
        costs.append(response.json()["usage"]["cost"])
    assert all(abs(c - COST) < 1e-9 for c in costs)
    refused = chat(gw, key)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "budget_exceeded")
    assert "Budget of $4 per day for API key 'budget 4.0'" in error["message"]
    assert "resets at" in error["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 86400
    listed = httpx.get(gw.url + "/admin/keys", headers=ADMIN, timeout=15).json()["keys"]
    assert any(k["budget_usd"] == 4.0 and k["budget_period"] == "day" for k in listed)


def test_unstored_inferences_count_too(gw: Gateway) -> None:
    key = new_key(gw, 2.0)
    for _ in range(2):  # store=false keeps the inference out of ClickHouse, not off the bill
        response = httpx.post(
            gw.url + "/v1/chat/completions",
            json={
                "model": "metered",
                "messages": [{"role": "user", "content": "x"}],
                "store": False,
            },
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    assert chat(gw, key).status_code == 429


def test_overshoot_under_10_concurrent_clients_stays_within_the_bound(gw: Gateway) -> None:
    budget, clients = 12.0, 10
    key = new_key(gw, budget, "total")
    spent: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                response = http.post(
                    gw.url + "/v1/chat/completions",
                    json={"model": "metered", "messages": [{"role": "user", "content": "x"}]},
                    headers={"Authorization": f"Bearer {key}"},
                )
                if response.status_code == 429:
                    assert response.json()["error"]["code"] == "budget_exceeded"
                    return
                assert response.status_code == 200, response.text
                with lock:
                    spent.append(response.json()["usage"]["cost"])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    total = sum(spent)
    # Admitted while spent < budget; at most `clients` requests were in flight when it ran out.
    assert budget <= total < budget + clients * COST + 1e-9, (total, len(spent))


def test_function_budget_stops_only_that_function(gw: Gateway) -> None:
    for _ in range(2):  # $2.468 >= $2 after two
        assert chat(gw, ADMIN_TOKEN, "capped").status_code == 200
    refused = chat(gw, ADMIN_TOKEN, "capped")
    assert refused.status_code == 429
    assert "function 'capped'" in refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert chat(gw, ADMIN_TOKEN, "uncapped").status_code == 200
    assert chat(gw, ADMIN_TOKEN, "metered").status_code == 200


def test_bad_budgets_refused_by_the_admin_api(gw: Gateway) -> None:
    for body, param in (
        ({"budget_usd": 0}, "budget_usd"),
        ({"budget_usd": -3}, "budget_usd"),
        ({"budget_usd": 5, "budget_period": "week"}, "budget_period"),
        ({"budget_period": "day"}, "budget_period"),
    ):
        response = httpx.post(
            gw.url + "/admin/keys", json={"name": "bad", **body}, headers=ADMIN, timeout=15
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_keys_cli_budgets(tmp_path: Path) -> None:
    env = {"SWITCHYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    for args in (
        ("--budget-usd", "0"),
        ("--budget-usd", "-2"),
        ("--budget-usd", "nan"),
        ("--budget-usd", "ten"),
        ("--budget-usd", "5", "--budget-period", "week"),
        ("--budget-period", "day"),
    ):
        refused = cli("keys", "create", "--name", "bad", *args, env=env)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert "budget" in refused.stderr, refused.stderr
    created = cli("keys", "create", "--name", "capped", "--budget-usd", "25", env=env)
    assert created.returncode == 0, created.stderr
    assert "budget $25 per month" in created.stderr
    listed = cli("keys", "list", env=env)
    assert "$25/month" in listed.stdout


def test_two_gateways_sharing_postgresql_enforce_one_budget(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    url = postgres.create_database()
    env = {**ENV, "SWITCHYARD_DATABASE_URL": url}
    first = second = None
    try:
        first = start_gateway(tmp_path / "a", gateway_toml(fake_upstream), FUNCTIONS, env=env)
        second = start_gateway(tmp_path / "b", gateway_toml(fake_upstream), FUNCTIONS, env=env)
        key = new_key(first, 4.5, "month")  # 3 answers on one gateway, 2 on the other
        deadline = time.monotonic() + 10
        # Until the second gateway's key cache has loaded the key: auth is off (anyone passes,
        # as anonymous) while a gateway knows no key at all, so wait for a wrong key's 401.
        while chat(second, "sy-not-a-key").status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert chat(second, key).status_code == 200  # $1.234 on the second gateway
        for _ in range(2):
            assert chat(first, key).status_code == 200
        _wait_counter(url, 3 * COST)
        time.sleep(2.5)  # both gateways have read the shared total back
        assert chat(second, key).status_code == 200  # $3.702 < $4.5: admitted, now $4.936
        _wait_counter(url, 4 * COST)
        time.sleep(2.5)
        refused = chat(first, key)  # the first gateway itself spent only $2.468
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "budget_exceeded"
        assert chat(second, key).status_code == 429
    finally:
        for gateway in (first, second):
            if gateway is not None:
                gateway.stop()
        postgres.drop_database(url)


def _wait_counter(url: str, at_least: float, timeout: float = 10) -> None:
    """Until the shared counter of every key's total spend reaches ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[Any] = asyncio.run(
            postgres.fetch(
                url,
                "SELECT spent_usd FROM spend_counters WHERE scope = 'key' AND bucket = 'total'",
            )
        )
        if rows and max(r["spent_usd"] for r in rows) >= at_least - 1e-9:
            return
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
