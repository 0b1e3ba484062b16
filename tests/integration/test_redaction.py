"""Provider keys never leave (docs/security.md, "Redaction"): providers that quote the credential back, in their
error text, their headers and their answers, for both provider types, streamed and not. The
key is checked in the client's responses, the gateway's log, the ClickHouse rows and the
spill files (docs/security.md, "Redaction")."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.analytics import LOGGING_ENV, wait_rows
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.gateway import Gateway

OAI_KEY = "sk-oai-echo/secret+0123456789"
ANT_KEY = "sk-ant-echo-secret-9876543210"
KEYS = (OAI_KEY, ANT_KEY)
REDACTED = "[redacted]"
MODELS = [
    "oai-echo",
    "oai-echo-split",
    "oai-leak",
    "ant-echo",
    "ant-echo-split",
    "ant-leak",
    "all-leak",
]


def write_config(directory: Path, oai: FakeOpenAI, ant: FakeAnthropic) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    providers = ""
    for name, kind, url, env in [
        ("oai_echo", "openai", oai.url("echo"), "OAI_KEY"),
        ("oai_split", "openai", oai.url("echosplit"), "OAI_KEY"),
        ("oai_leak", "openai", oai.url("echo401"), "OAI_KEY"),
        ("ant_echo", "anthropic", ant.url("echo"), "ANT_KEY"),
        ("ant_split", "anthropic", ant.url("echosplit"), "ANT_KEY"),
        ("ant_leak", "anthropic", ant.url("echo401"), "ANT_KEY"),
    ]:
        providers += f"""
[providers.{name}]
type = "{kind}"
base_url = "{url}"
api_key_env = "{env}"
circuit_breaker = {{ failures = 0 }}
"""
    (directory / "gateway.toml").write_text(
        providers
        + """
[models.oai-echo]
routing = [{ provider = "oai_echo", name = "m" }]
[models.oai-echo-split]
routing = [{ provider = "oai_split", name = "m" }]
[models.oai-leak]
routing = [{ provider = "oai_leak", name = "m" }]
[models.ant-echo]
routing = [{ provider = "ant_echo", name = "claude-test" }]
[models.ant-echo-split]
routing = [{ provider = "ant_split", name = "claude-test" }]
[models.ant-leak]
routing = [{ provider = "ant_leak", name = "claude-test" }]
[models.all-leak]
routing = [{ provider = "oai_leak", name = "m" }, { provider = "ant_leak", name = "claude-test" }]
"""
    )
    return directory


def call(gateway: Gateway, model: str, stream: bool, run: str) -> str:
    """Everything the client sees: status, headers and body."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        "max_tokens": 20,
        "labels": {"run": run},
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


def assert_clean(text: str, where: str) -> None:
    for key in KEYS:
        assert key not in text, f"{where} leaks a provider key"
        assert key.replace("/", "\\/") not in text, f"{where} leaks a JSON-escaped key"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return {**LOGGING_ENV, "OAI_KEY": OAI_KEY, "ANT_KEY": ANT_KEY, "SWITCHYARD_LOG_LEVEL": "info"}


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    env: dict[str, str],
) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("redaction")
    config = write_config(root / "variants", fake_upstream, fake_anthropic)
    server = Gateway(config, root / "data", env=env).start()
    yield server
    server.stop()


def test_fakes_really_echo_the_key(fake_upstream: FakeOpenAI) -> None:
    """Without the gateway in between, the key is in the provider's answer."""
    response = httpx.post(
        fake_upstream.url("echo401") + "/chat/completions",
        json={"model": "m", "messages": []},
        headers={"authorization": f"Bearer {OAI_KEY}"},
    )
    assert OAI_KEY in response.text and OAI_KEY in response.headers["x-echo-key"]


def streamed_text(gateway: Gateway, model: str, run: str) -> str:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "labels": {"run": run},
    }
    text = ""
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    text += choice["delta"].get("content") or ""
    return text


def test_a_key_split_across_two_stream_events_is_redacted(
    gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    """The fakes send the key in two deltas (OpenAI ``…/secr``, ``et+0123456789``; Anthropic in
    two text blocks): no event holds it whole, the text the client joins does, and so would the
    recorded output."""
    run = uuid.uuid4().hex
    assert streamed_text(gw, "oai-echo-split", run) == f"echo: your key is {REDACTED}"
    assert streamed_text(gw, "ant-echo-split", run) == f"your key is {REDACTED}"
    found = wait_rows(
        gw,
        "SELECT i.output AS output, m.raw_response AS raw_response FROM inferences AS i "
        "INNER JOIN model_inferences AS m ON m.inference_id = i.id "
        f"WHERE i.labels['run'] = '{run}'",
        lambda rows: len(rows) == 2,
    )
    assert all(REDACTED in row["output"] for row in found)
    assert_clean(repr(found), "the recorded split-key stream")
    assert_clean(gw.log(), "the gateway log")


def test_responses_rows_and_log_never_carry_a_key(gw: Gateway) -> None:
    run = uuid.uuid4().hex
    seen = {(m, s): call(gw, m, s, run) for m in MODELS for s in (False, True)}
    for (model, stream), text in seen.items():
        assert_clean(text, f"the response of {model} (stream={stream})")
        assert REDACTED in text, f"{model} (stream={stream}): {text}"
        expected = "200" if "echo" in model else "502"
        assert text.startswith(expected), text
    query = (
        "SELECT m.status AS status, m.error AS error, m.raw_response AS raw_response "
        "FROM model_inferences AS m INNER JOIN inferences AS i ON m.inference_id = i.id "
        f"WHERE i.labels['run'] = '{run}'"
    )
    found = wait_rows(gw, query, lambda r: len(r) >= 2 * len(MODELS) + 2)
    assert len(found) >= 2 * len(MODELS)
    stored = repr(found)
    assert_clean(stored, "model_inferences")
    assert any(REDACTED in row["error"] for row in found if row["status"] == "error")
    assert any(REDACTED in row["raw_response"] for row in found if row["status"] == "ok")
    assert_clean(gw.log(), "the gateway log")


def test_spill_files_never_carry_a_key(
    tmp_path: Path, fake_upstream: FakeOpenAI, fake_anthropic: FakeAnthropic, env: dict[str, str]
) -> None:
    config = write_config(tmp_path / "variants", fake_upstream, fake_anthropic)
    unreachable = {
        **env,
        "SWITCHYARD_CLICKHOUSE_URL": f"http://127.0.0.1:{free_port()}",
        "SWITCHYARD_WRITE_RETRIES": "0",
    }
    down = Gateway(config, tmp_path / "data", env=unreachable).start()
    try:
        run = uuid.uuid4().hex
        for model in MODELS:
            for stream in (False, True):
                assert_clean(call(down, model, stream, run), model)
    finally:
        assert down.stop() == 0  # the writer flushes its queue into spill files
    spilled = "".join(
        p.read_text(errors="replace") for p in (tmp_path / "data" / "spill").rglob("*.jsonl")
    )
    assert spilled and REDACTED in spilled
    assert_clean(spilled, "the spill files")
    assert_clean(down.log(), "the gateway log")
