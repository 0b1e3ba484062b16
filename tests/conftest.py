from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.gateway import Gateway

TEST_FUNCTION = """
description = "Test support bot"
default_variant = "friendly"

[system_schema]
type = "object"
required = ["customer_name"]
properties.customer_name = { type = "string" }

[variants.friendly]
model = "passthrough"
weight = 1
temperature = 0.3
system_template = "You help {{ customer_name }}."

[variants.concise]
model = "passthrough"
weight = 1
max_tokens = 50
system_template = "Be brief with {{ customer_name }}."

[campaigns.tone]
variants = { friendly = 0.5, concise = 0.5 }
sticky_by = "session_id"
status = "active"

[campaigns.old]
variants = { friendly = 1 }
status = "paused"
"""


def write_gateway_config(directory: Path, fake: FakeOpenAI) -> Path:
    refused = f"http://127.0.0.1:{free_port()}/v1"
    (directory / "functions").mkdir(parents=True, exist_ok=True)
    (directory / "gateway.toml").write_text(f"""
[providers.ok]
type = "openai"
base_url = "{fake.url("ok")}"
api_key_env = "FAKE_UPSTREAM_KEY"

[providers.fail500]
type = "openai"
base_url = "{fake.url("fail500")}"
circuit_breaker = {{ failures = 0 }}  # fails on purpose; tests count its attempts

[providers.reject400]
type = "openai"
base_url = "{fake.url("reject400")}"

[providers.stall]
type = "openai"
base_url = "{fake.url("stall")}"
circuit_breaker = {{ failures = 0 }}  # fails on purpose; tests count its attempts
timeout_s = 0.5

[providers.reset]
type = "openai"
base_url = "{fake.url("reset")}"
circuit_breaker = {{ failures = 0 }}  # fails on purpose; tests count its attempts

[providers.badsse]
type = "openai"
base_url = "{fake.url("badsse")}"
circuit_breaker = {{ failures = 0 }}  # fails on purpose; tests count its attempts

[providers.slowstream]
type = "openai"
base_url = "{fake.url("slowstream")}"

[providers.refused]
type = "openai"
base_url = "{refused}"
circuit_breaker = {{ failures = 0 }}
connect_timeout_s = 1

[providers.dummy]
type = "dummy"
mode = "echo"

[models.passthrough]
routing = [{{ provider = "ok", name = "upstream-model" }}]

[models.reasoner]
routing = [{{ provider = "ok", name = "deep-reasoner" }}]

[models.after-500]
routing = [{{ provider = "fail500", name = "m" }}, {{ provider = "ok", name = "second-choice" }}]

[models.after-refused]
routing = [{{ provider = "refused", name = "m" }}, {{ provider = "ok", name = "second-choice" }}]

[models.after-timeout]
routing = [{{ provider = "stall", name = "m" }}, {{ provider = "ok", name = "second-choice" }}]

[models.after-reset]
routing = [{{ provider = "reset", name = "m" }}, {{ provider = "ok", name = "second-choice" }}]

[models.all-fail]
routing = [{{ provider = "fail500", name = "m" }}, {{ provider = "refused", name = "m" }}]

[models.only-timeout]
routing = [{{ provider = "stall", name = "m" }}]

[models.rejecting]
routing = [{{ provider = "reject400", name = "m" }}, {{ provider = "ok", name = "never-reached" }}]

[models.broken-stream]
routing = [{{ provider = "badsse", name = "m" }}]

[models.slow-stream]
routing = [{{ provider = "slowstream", name = "m" }}]

[models.local]
routing = [{{ provider = "dummy", name = "echo-model" }}]

[models.embed-local]
kind = "embedding"
dimensions = 8
routing = [{{ provider = "dummy", name = "dummy-embedder", price = {{ input_per_mtok = 0.5, output_per_mtok = 0 }} }}]

[models.embed-upstream]
kind = "embedding"
routing = [{{ provider = "fail500", name = "m" }}, {{ provider = "ok", name = "text-embedding-3-small" }}]

[metrics.thumbs_up]
type = "boolean"
""")
    (directory / "functions" / "support-bot.toml").write_text(TEST_FUNCTION)
    return directory


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


UPSTREAM_KEY = "sk-test-secret-123"  # FAKE_UPSTREAM_KEY: the key the test config sends upstream


def serve_test_config(root: Path, fake: FakeOpenAI, env: dict[str, str] | None = None) -> Gateway:
    """A started gateway under ``root`` on :func:`write_gateway_config`'s config."""
    config = write_gateway_config(root / "variants", fake)
    return Gateway(
        config, root / "data", env={"FAKE_UPSTREAM_KEY": UPSTREAM_KEY, **(env or {})}
    ).start()


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI
) -> Iterator[Gateway]:
    server = serve_test_config(tmp_path_factory.mktemp("gateway"), fake_upstream)
    yield server
    server.stop()
