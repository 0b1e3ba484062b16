"""The response cache through real gateways, a real ``redis-server`` and the fake OpenAI
upstream (which counts the calls it gets): hit, miss, ``read_only``/``write_only``, expiry,
variants kept apart, a streamed hit equal to the original stream, two gateways sharing one
Redis, the in-process store, and Redis killed mid-run (docs/operations.md, "Response cache")."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.analytics import LOGGING_ENV, wait_rows
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, start_gateway
from tests.support.redis_server import RedisServer


def gateway_toml(oai: FakeOpenAI) -> str:
    return f"""
[providers.oai]
type = "openai"
base_url = "{oai.url("ok")}"

[models.cached-m]
routing = [{{ provider = "oai", name = "gpt-cache", price = {{ input_per_mtok = 2.0, output_per_mtok = 8.0 }} }}]
cache = {{ enabled = "on" }}
[models.plain]
routing = [{{ provider = "oai", name = "gpt-plain" }}]
"""


FUNCTIONS = {
    "writer": """
cache = { enabled = "on" }
[variants.a]
model = "plain"
system_template = "Variant A on {{ topic }}."
[variants.b]
model = "plain"
system_template = "Variant B on {{ topic }}."
"""
}


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.kill()


def cache_gateway(root: Path, oai: FakeOpenAI, **env: str) -> Gateway:
    return start_gateway(root, gateway_toml(oai), FUNCTIONS, env={**LOGGING_ENV, **env})


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI, redis: RedisServer
) -> Iterator[Gateway]:
    server = cache_gateway(
        tmp_path_factory.mktemp("cache-a"), fake_upstream, SWITCHYARD_CACHE_URL=redis.url
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gw2(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI, redis: RedisServer
) -> Iterator[Gateway]:
    server = cache_gateway(
        tmp_path_factory.mktemp("cache-b"), fake_upstream, SWITCHYARD_CACHE_URL=redis.url
    )
    yield server
    server.stop()


def unique() -> str:
    return f"question {uuid.uuid4().hex}"


def upstream_calls(oai: FakeOpenAI, text: str) -> int:
    return sum(1 for body in oai.requests["ok"] if body["messages"][-1].get("content") == text)


def ask(gw: Gateway, text: str, model: str = "cached-m", **fields: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **fields}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_a_repeated_request_is_answered_from_the_cache_at_no_cost(
    gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    text = unique()
    first, second = ask(gw, text), ask(gw, text)
    assert first.headers["x-switchyard-cache"] == "miss"
    assert second.headers["x-switchyard-cache"] == "hit"
    assert "cached" not in first.json()
    assert second.json()["cached"] is True
    assert second.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    assert second.json()["usage"]["prompt_tokens"] == first.json()["usage"]["prompt_tokens"]
    assert second.json()["id"] != first.json()["id"]  # its own inference
    assert upstream_calls(fake_upstream, text) == 1

    ids = [r.headers["x-switchyard-inference-id"] for r in (first, second)]
    query = (
        "SELECT toString(id) AS id, cached, cost, cost_saved, prompt_tokens, completion_tokens "
        f"FROM inferences WHERE id IN ('{ids[0]}', '{ids[1]}')"
    )
    rows = {r["id"]: r for r in wait_rows(gw, query, lambda rs: len(rs) == 2)}
    original, hit = rows[ids[0]], rows[ids[1]]
    assert original["cached"] in (False, 0) and original["cost"] > 0
    assert hit["cached"] in (True, 1)
    assert hit["cost"] == 0
    assert hit["cost_saved"] == pytest.approx(original["cost"])
    assert (hit["prompt_tokens"], hit["completion_tokens"]) == (
        original["prompt_tokens"],
        original["completion_tokens"],
    )
    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    assert 'switchyard_cache_lookups_total{function="",result="hit"}' in metrics


def test_the_cache_is_off_unless_asked(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    text = unique()
    responses = [ask(gw, text, model="plain") for _ in range(2)]
    assert all("x-switchyard-cache" not in r.headers for r in responses)
    assert upstream_calls(fake_upstream, text) == 2
    # A request may turn it off for a model whose config turns it on.
    off = {"cache_options": {"enabled": "off"}}
    assert "x-switchyard-cache" not in ask(gw, unique(), **off).headers


def test_write_only_fills_without_reading_and_read_only_reads_without_filling(
    gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    text = unique()
    write_only = {"cache_options": {"enabled": "write_only"}}
    read_only = {"tensorzero::cache_options": {"enabled": "read_only"}}  # TensorZero's name
    assert ask(gw, text, model="plain", **write_only).headers["x-switchyard-cache"] == "miss"
    assert ask(gw, text, model="plain", **write_only).headers["x-switchyard-cache"] == "miss"
    assert upstream_calls(fake_upstream, text) == 2
    assert ask(gw, text, model="plain", **read_only).headers["x-switchyard-cache"] == "hit"
    assert upstream_calls(fake_upstream, text) == 2

    other = unique()
    for _ in range(2):
        assert ask(gw, other, model="plain", **read_only).headers["x-switchyard-cache"] == "miss"
    assert upstream_calls(fake_upstream, other) == 2


def test_an_answer_older_than_max_age_is_a_miss(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    text = unique()
    options = {"cache_options": {"enabled": "on", "max_age_s": 1}}
    ask(gw, text, **options)
    assert ask(gw, text, **options).headers["x-switchyard-cache"] == "hit"
    time.sleep(1.3)
    assert ask(gw, text, **options).headers["x-switchyard-cache"] == "miss"
    assert upstream_calls(fake_upstream, text) == 2


def test_two_variants_never_share_an_entry(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    text = unique()
    args = {"system_prompt_args": {"topic": "tides"}}
    seen = []
    for variant in ("a", "b", "a", "b"):
        response = ask(gw, text, model="writer", **args, **{"tensorzero::variant_name": variant})
        seen.append(
            (response.headers["x-switchyard-variant"], response.headers["x-switchyard-cache"])
        )
    assert seen == [("a", "miss"), ("b", "miss"), ("a", "hit"), ("b", "hit")]
    systems = [
        b["messages"][0]["content"]
        for b in fake_upstream.requests["ok"]
        if b["messages"][-1]["content"] == text
    ]
    assert systems == ["Variant A on tides.", "Variant B on tides."]


def stream(gw: Gateway, text: str) -> tuple[httpx.Headers, list[dict[str, Any]]]:
    body = {
        "model": "cached-m",
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return response.headers, [json.loads(line) for line in lines[:-1]]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_a_streamed_hit_replays_the_original_stream(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    text = unique()
    headers, original = stream(gw, text)
    assert headers["x-switchyard-cache"] == "miss"
    headers, replayed = stream(gw, text)
    assert headers["x-switchyard-cache"] == "hit"
    assert upstream_calls(fake_upstream, text) == 1
    assert content_of(replayed) == content_of(original) == f"echo: {text}"
    finish = [
        c["choices"][0]["finish_reason"]
        for c in replayed
        if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert finish == ["stop"]
    assert replayed[0]["cached"] is True
    usage = {k: original[-1]["usage"][k] for k in ("prompt_tokens", "completion_tokens")}
    assert {k: replayed[-1]["usage"][k] for k in usage} == usage
    # The entry a stream made answers a non-streamed request too.
    assert ask(gw, text).json()["choices"][0]["message"]["content"] == f"echo: {text}"
    assert upstream_calls(fake_upstream, text) == 1


def test_two_gateways_share_one_redis(gw: Gateway, gw2: Gateway, fake_upstream: FakeOpenAI) -> None:
    text = unique()
    assert ask(gw, text).headers["x-switchyard-cache"] == "miss"
    deadline = time.monotonic() + 5  # the first gateway stores in the background
    while (hit := ask(gw2, text)).headers["x-switchyard-cache"] != "hit":
        assert time.monotonic() < deadline, "the second gateway never saw the first one's entry"
        time.sleep(0.05)
    assert hit.json()["choices"][0]["message"]["content"] == f"echo: {text}"
    assert upstream_calls(fake_upstream, text) >= 1


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"cache_options": {"enabled": "sometimes"}}, "cache_options.enabled"),
        ({"cache_options": {"enabled": "on", "max_age_s": 0}}, "cache_options.max_age_s"),
        ({"cache_options": {"enabled": "on", "ttl": 5}}, "cache_options"),
        ({"tensorzero::cache_options": "on"}, "tensorzero::cache_options"),
    ],
)
def test_bad_cache_options_are_a_400_naming_the_field(
    gw: Gateway, options: dict[str, Any], param: str
) -> None:
    body = {"model": "cached-m", "messages": [{"role": "user", "content": "x"}], **options}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"].startswith(param), error


def test_the_in_process_cache_serves_the_embedded_default(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    server = cache_gateway(tmp_path, fake_upstream)
    try:
        text = unique()
        assert ask(server, text).headers["x-switchyard-cache"] == "miss"
        assert ask(server, text).headers["x-switchyard-cache"] == "hit"
        assert upstream_calls(fake_upstream, text) == 1
    finally:
        server.stop()


def test_redis_killed_mid_run_leaves_requests_succeeding(
    gw: Gateway, redis: RedisServer, fake_upstream: FakeOpenAI
) -> None:
    text = unique()
    ask(gw, text)
    assert ask(gw, text).headers["x-switchyard-cache"] == "hit"
    redis.kill()
    took = []
    for _ in range(20):
        started = time.perf_counter()
        response = ask(gw, text)
        took.append(time.perf_counter() - started)
        assert response.headers["x-switchyard-cache"] == "miss"
    assert max(took) < 1.5, f"slowest request {max(took):.2f}s with Redis down"
    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    assert 'switchyard_cache_errors_total{operation="get"}' in metrics
