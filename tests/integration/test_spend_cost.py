"""Cost per inference through the real gateway, against fake upstreams that script exact usage:
``usage.cost`` in responses and the streaming usage chunk, the ClickHouse rows, ``/metrics``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV, wait_rows
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import SCRIPTED_USAGE, FakeOpenAI
from tests.support.gateway import Gateway, start_gateway

ENV = {"FAKE_UPSTREAM_KEY": "sk-test-secret-123", "ANT_KEY": "sk-ant-test", **LOGGING_ENV}
PRICED = {"input_per_mtok": 2.5, "output_per_mtok": 10.0, "cached_input_per_mtok": 1.25}
SECOND = {"input_per_mtok": 0.5, "output_per_mtok": 1.5}
CLAUDE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "cached_input_per_mtok": 0.3}


def _toml_price(price: dict[str, float]) -> str:
    return "{ " + ", ".join(f"{k} = {v}" for k, v in price.items()) + " }"


def gateway_toml(oai: FakeOpenAI, ant: FakeAnthropic) -> str:
    return f"""
[providers.usage]
type = "openai"
base_url = "{oai.url("usage")}"
api_key_env = "FAKE_UPSTREAM_KEY"
params = "openai"

[providers.broken]
type = "openai"
base_url = "{oai.url("fail500")}"
api_key_env = "FAKE_UPSTREAM_KEY"
circuit_breaker = {{ failures = 0 }}

[providers.local]
type = "openai"
base_url = "{oai.url("ok")}"
api_key_env = "FAKE_UPSTREAM_KEY"

[providers.claude]
type = "anthropic"
base_url = "{ant.url("ok")}"
api_key_env = "ANT_KEY"

[models.priced]
routing = [{{ provider = "usage", name = "m1", price = {_toml_price(PRICED)} }}]

[models.fallback]
routing = [
  {{ provider = "broken", name = "x", price = {{ input_per_mtok = 100, output_per_mtok = 100 }} }},
  {{ provider = "usage", name = "m2", price = {_toml_price(SECOND)} }},
]
retries = {{ max = 0 }}

[models.claude]
routing = [{{ provider = "claude", name = "claude-sonnet", price = {_toml_price(CLAUDE)} }}]

[models.mystery]
routing = [{{ provider = "local", name = "my-own-finetune" }}]
"""


FUNCTION = """
[variants.v]
model = "priced"
"""
# Variants naming models as M@P: a configured model pinned to a provider, and a provider's own
# model name that is no configured model.
PINNED = """
[variants.pinned]
model = "priced@usage"
weight = 0
[variants.raw]
model = "m9@usage"
weight = 0
[variants.plain]
model = "claude"
"""


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("spend-cost"),
        gateway_toml(fake_upstream, fake_anthropic),
        {"costed": FUNCTION, "pinned": PINNED},
        env=ENV,
    )
    yield server
    server.stop()


def expected(price: dict[str, float], usage: dict[str, Any]) -> float:
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return (
        (usage["prompt_tokens"] - cached) * price["input_per_mtok"]
        + cached * price.get("cached_input_per_mtok", price["input_per_mtok"])
        + usage["completion_tokens"] * price["output_per_mtok"]
    ) / 1e6


def chat(gw: Gateway, model: str, **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "price this please"}]}
    response = httpx.post(gw.url + "/v1/chat/completions", json={**body, **extra}, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


def stream_usage(gw: Gateway, model: str) -> tuple[str, dict[str, Any]]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "price this please"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=15) as response:
        assert response.status_code == 200
        events = [json.loads(x[6:]) for x in response.iter_lines() if x.startswith("data: {")]
    usage = [e["usage"] for e in events if e.get("usage")]
    assert len(usage) == 1
    return events[0]["id"], usage[0]


def rows_by_id(gw: Gateway, ids: list[str]) -> dict[str, dict[str, Any]]:
    wanted = ", ".join(f"'{i}'" for i in ids)
    query = f"SELECT toString(id) AS id, cost FROM inferences WHERE id IN ({wanted})"
    found = wait_rows(gw, query, lambda r: len(r) == len(ids))
    return {r["id"]: r for r in found}


def test_cost_exact_streaming_and_not(gw: Gateway) -> None:
    reply = chat(gw, "priced")
    want = (1034 * 2.5 + 200 * 1.25 + 567 * 10.0) / 1e6  # reasoning tokens at the output price
    assert abs(reply["usage"]["cost"] - want) < 1e-9
    assert abs(expected(PRICED, SCRIPTED_USAGE) - want) < 1e-15
    assert reply["usage"]["prompt_tokens_details"]["cached_tokens"] == 200
    assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == 100
    streamed_id, streamed = stream_usage(gw, "priced")
    assert abs(streamed["cost"] - want) < 1e-9
    by_id = rows_by_id(gw, [reply["id"], streamed_id])
    assert by_id[reply["id"]]["cost"] == reply["usage"]["cost"]
    assert by_id[streamed_id]["cost"] == streamed["cost"]


def test_fallback_priced_by_the_route_that_answered(gw: Gateway) -> None:
    reply = chat(gw, "fallback")
    assert abs(reply["usage"]["cost"] - expected(SECOND, SCRIPTED_USAGE)) < 1e-9
    query = (
        "SELECT provider, status, cost FROM model_inferences "
        f"WHERE inference_id = '{reply['id']}' ORDER BY attempt"
    )
    attempts = wait_rows(gw, query, lambda r: len(r) == 2)
    assert [(a["provider"], a["status"]) for a in attempts] == [
        ("broken", "error"),
        ("usage", "ok"),
    ]
    assert attempts[0]["cost"] is None
    assert attempts[1]["cost"] == reply["usage"]["cost"]


def test_anthropic_cache_reads_priced(gw: Gateway) -> None:
    reply = chat(gw, "claude")
    usage = reply["usage"]
    assert (
        usage["prompt_tokens_details"]["cached_tokens"] == 2
    )  # the fake's cache_read_input_tokens
    assert abs(usage["cost"] - expected(CLAUDE, usage)) < 1e-9
    streamed_id, streamed = stream_usage(gw, "claude")
    assert abs(streamed["cost"] - expected(CLAUDE, streamed)) < 1e-9
    assert rows_by_id(gw, [streamed_id])[streamed_id]["cost"] == streamed["cost"]


def test_unknown_model_costs_null_and_is_counted(gw: Gateway) -> None:
    reply = chat(gw, "mystery")
    assert "cost" in reply["usage"] and reply["usage"]["cost"] is None
    _, streamed = stream_usage(gw, "mystery")
    assert streamed["cost"] is None
    assert rows_by_id(gw, [reply["id"]])[reply["id"]]["cost"] is None
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    assert 'switchyard_unpriced_inferences_total{function="",variant="",model="mystery"}' in text


def test_cost_counter_by_function_variant_model(gw: Gateway) -> None:
    reply = chat(gw, "costed")
    lines = httpx.get(gw.url + "/metrics", timeout=10).text.splitlines()
    series = 'switchyard_cost_usd_total{function="costed",variant="v",model="priced"}'
    values = [float(line.split()[-1]) for line in lines if line.startswith(series + " ")]
    assert values and values[0] >= reply["usage"]["cost"] - 1e-12


def test_spend_by_function_and_model_shows_the_variants_models(gw: Gateway) -> None:
    """``group_by=function,model``: a function's spend is under the model its variant names
    (docs/spend.md), whichever way the variant or the client names it."""
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    time.sleep(0.01)
    replies = {
        name: chat(gw, name)
        for name in (
            "pinned/pinned",
            "pinned/raw",
            "pinned/plain",
            "tensorzero::model_name::priced",
        )
    }
    rows_by_id(gw, [r["id"] for r in replies.values()])
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    params = {"group_by": "function,model", "from": start.isoformat()}
    response = httpx.get(gw.url + "/admin/spend", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    spend = {(r["function"], r["model"]): r["cost_usd"] for r in response.json()["rows"]}
    assert set(spend) == {
        ("pinned", "priced"),
        ("pinned", "m9@usage"),
        ("pinned", "claude"),
        ("", "priced"),
    }
    assert abs(spend["pinned", "claude"] - replies["pinned/plain"]["usage"]["cost"]) < 1e-12
    params["group_by"] = "function,provider"
    response = httpx.get(gw.url + "/admin/spend", params=params, headers=headers, timeout=30)
    by_provider = {(r["function"], r["provider"]) for r in response.json()["rows"]}
    assert by_provider == {("pinned", "usage"), ("pinned", "claude"), ("", "usage")}
    query = "SELECT model, served_model FROM inferences WHERE id = '{}'"
    raw = wait_rows(gw, query.format(replies["pinned/raw"]["id"]), lambda r: len(r) == 1)
    assert raw == [{"model": "pinned/raw", "served_model": "m9@usage"}]  # as asked, as served


def test_spend_report_and_cli_totals_equal_the_sum(gw: Gateway) -> None:
    start = datetime.now(UTC) - timedelta(milliseconds=5)
    time.sleep(0.01)
    replies = [chat(gw, "priced"), chat(gw, "fallback"), chat(gw, "costed"), chat(gw, "mystery")]
    ids = [r["id"] for r in replies]
    rows_by_id(gw, ids)  # all four are in ClickHouse
    want = sum(r["usage"]["cost"] or 0.0 for r in replies)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    params = {"group_by": "function,variant,model,api_key,day", "from": start.isoformat()}
    response = httpx.get(gw.url + "/admin/spend", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    report = response.json()
    assert abs(report["total"]["cost_usd"] - want) < 1e-9
    assert report["total"]["inferences"] == 4 and report["total"]["unpriced"] == 1
    assert abs(sum(r["cost_usd"] for r in report["rows"]) - want) < 1e-9
    by_model = {(r["function"], r["model"]): r for r in report["rows"]}
    assert abs(by_model["", "fallback"]["cost_usd"] - replies[1]["usage"]["cost"]) < 1e-12
    # A function's spend is under its variant's model, not under the function's name.
    function_row = by_model["costed", "priced"]
    assert function_row["variant"] == "v"
    assert abs(function_row["cost_usd"] - replies[2]["usage"]["cost"]) < 1e-12
    assert not any(model == "costed" for _, model in by_model)

    assert httpx.get(gw.url + "/admin/spend", timeout=10).status_code in (401, 403)
    bad = httpx.get(
        gw.url + "/admin/spend", params={"group_by": "colour"}, headers=headers, timeout=10
    )
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]

    def cli(*args: str) -> str:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "app.cli", "spend", "--url", gw.url),
                *("--token", ADMIN_TOKEN, "--from", start.isoformat(), *args),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    as_json = json.loads(cli("--format", "json", "--group-by", "model"))
    assert abs(as_json["total"]["cost_usd"] - want) < 1e-9
    lines = cli("--format", "csv", "--group-by", "day").splitlines()
    header = lines[0].split(",")
    assert header[0] == "day" and len(lines) == 2
    assert abs(float(lines[1].split(",")[header.index("cost_usd")]) - want) < 1e-9
    table = cli("--group-by", "function")
    assert "total" in table and f"{want:.6f}" in table

    view = wait_rows(
        gw,
        "SELECT sum(cost_usd) AS c FROM spend_daily WHERE function = 'costed'",
        lambda r: r[0]["c"] > 0,  # an aggregate always returns a row: wait for the cost in it
    )
    assert view[0]["c"] > 0
