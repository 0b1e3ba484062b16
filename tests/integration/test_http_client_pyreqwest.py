"""The provider suite of test_routing_fallback.py and test_anthropic.py, unchanged, through the
pyreqwest transport (``SWITCHYARD_HTTP_CLIENT=pyreqwest``, docs/providers.md, "HTTP client"):
fallback after a 500, a refused connection, a stall and a reset; timeouts; broken SSE; a
client disconnect cancelling the upstream stream; parameters and headers as sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import write_gateway_config
from tests.integration import test_anthropic
from tests.integration.test_anthropic import *  # noqa: F403 - the same tests, this transport
from tests.integration.test_routing_fallback import *  # noqa: F403
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, start_gateway

PYREQWEST = {"SWITCHYARD_HTTP_CLIENT": "pyreqwest"}


def exits_cleanly(server: Gateway) -> None:
    server.stop()
    assert "Fatal Python error" not in server.log(), "the worker must exit cleanly"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI
) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("gateway-pyreqwest")
    config = write_gateway_config(root / "variants", fake_upstream)
    env = {"FAKE_UPSTREAM_KEY": "sk-test-secret-123", **PYREQWEST}
    server = Gateway(config, root / "data", env=env).start()
    yield server
    exits_cleanly(server)


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("anthropic-pyreqwest"),
        test_anthropic.gateway_toml(fake_anthropic, fake_upstream),
        env={**test_anthropic.ENV, **PYREQWEST},
    )
    yield server
    exits_cleanly(server)
