"""What the RSGI entry (``app.api.rsgi``, the default for ``serve``) adds to the chat handler:
route matching without Litestar's router, the request counter, Litestar's lifespan run by hand
(a failed startup ends the process with its reason), and the ASGI adapter for every other route."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.chat import chat_route
from tests.conftest import serve_test_config
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.gateway import REPO, Gateway

BODY = {"model": "local", "messages": [{"role": "user", "content": "hi"}]}
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    env = {"SWITCHYARD_MAX_BODY_BYTES": str(LIMIT)}
    server = serve_test_config(tmp_path_factory.mktemp("rsgi"), fake_upstream, env)
    yield server
    server.stop()


def test_chat_routes_are_recognised_and_nothing_else() -> None:
    assert chat_route("/v1/chat/completions") == "/v1/chat/completions"
    assert chat_route("/v1/chat/completions/") == "/v1/chat/completions"
    assert chat_route("/openai/v1/chat/completions") == "/openai/v1/chat/completions"
    assert chat_route("/project/p-1/endpoint/is-x/v1/chat/completions") == "/project"
    assert chat_route("/project") == "/project"
    for other in ("/v1/chat/completion", "/v1/models", "/projects/x", "/", "/console"):
        assert chat_route(other) is None


def test_chat_paths_and_the_request_counter(gw: Gateway) -> None:
    for path in ("/v1/chat/completions", "/v1/chat/completions/", "/api/v1/chat/completions"):
        response = httpx.post(gw.url + path, json=BODY, timeout=15)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["x-switchyard-inference-id"] == response.json()["id"]
    tir = httpx.post(gw.url + "/project/p-1/endpoint/is-local/v1/chat/completions", json=BODY)
    assert tir.status_code == 200, tir.text
    wrong = httpx.post(gw.url + "/project/p-1/nothing", json=BODY)
    assert wrong.status_code == 404 and wrong.json()["error"]["param"] == "endpoint"
    get = httpx.get(gw.url + "/v1/chat/completions")
    assert get.status_code == 405 and get.json()["error"]["code"] == "method_not_allowed"
    metrics = httpx.get(gw.url + "/metrics").text
    counted = (
        'switchyard_http_requests_total{route="/v1/chat/completions",method="POST",status="200"} 2'
    )
    assert counted in metrics
    assert 'route="/project",method="POST",status="404"} 1' in metrics
    assert 'route="/v1/chat/completions",method="GET",status="405"} 1' in metrics


def test_other_routes_go_through_litestar(gw: Gateway) -> None:
    """Query strings, repeated headers, error shapes and streamed bodies cross the adapter."""
    missing = httpx.get(gw.url + "/v1/nothing?x=1")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    models = httpx.get(gw.url + "/v1/models", headers=[("x-a", "1"), ("x-a", "2")])
    assert models.status_code == 200 and models.json()["object"] == "list"
    schema = httpx.get(gw.url + "/schema/openapi.json")
    assert schema.status_code == 200 and "/v1/chat/completions" in schema.json()["paths"]
    with httpx.stream(
        "POST", gw.url + "/v1/responses", json={"model": "local", "input": "hi", "stream": True}
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "event: response.created" and events[-1] == "event: response.completed"


def test_bodies_of_other_routes_arrive_whole_and_within_the_limit(gw: Gateway) -> None:
    """Through the adapter a body arrives in parts, and Litestar's limit still applies."""

    def parts(raw: bytes) -> Iterator[bytes]:
        for start in range(0, len(raw), 4096):
            yield raw[start : start + 4096]

    chat = httpx.post(gw.url + "/v1/chat/completions", json=BODY, timeout=15).json()
    feedback = {"metric_name": "thumbs_up", "inference_id": chat["id"], "value": True}
    raw = json.dumps(feedback).encode()
    accepted = httpx.post(gw.url + "/v1/feedback", content=parts(raw + b" " * 20_000))
    assert accepted.status_code == 200, accepted.text
    too_big = httpx.post(gw.url + "/v1/feedback", content=parts(raw + b" " * (LIMIT + 1)))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"


def test_a_failed_startup_ends_the_process_with_its_reason(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "SWITCHYARD_PORT": str(free_port()),
        "SWITCHYARD_CONFIG_DIR": str(tmp_path / "no-such-dir"),
        "SWITCHYARD_DATA_DIR": str(tmp_path / "data"),
    }
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert process.returncode != 0
    assert b"config directory does not exist" in process.stdout + process.stderr
    assert time.monotonic() - started < 60
