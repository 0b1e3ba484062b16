"""The provider suite of test_routing_fallback.py and test_anthropic.py, unchanged, through each
transport besides the default ``mixed`` (docs/providers.md, "HTTP client"): ``aiohttp`` for
whole responses too, and ``pyreqwest`` for streams too. Fallback after a 500, a refused
connection, a stall and a reset; timeouts; broken SSE; a client disconnect cancelling the
upstream stream; parameters and headers as sent; and a worker that exits cleanly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import serve_test_config
from tests.integration import test_anthropic
from tests.integration.test_anthropic import *  # noqa: F403 - the same tests, each transport
from tests.integration.test_routing_fallback import *  # noqa: F403
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, start_gateway

TRANSPORTS = ["aiohttp", "pyreqwest"]


def exits_cleanly(server: Gateway) -> None:
    server.stop()
    assert "Fatal Python error" not in server.log(), "the worker must exit cleanly"


@pytest.fixture(scope="module", params=TRANSPORTS)
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeOpenAI,
) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp(f"gateway-{request.param}")
    server = serve_test_config(root, fake_upstream, {"SWITCHYARD_HTTP_CLIENT": request.param})
    yield server
    exits_cleanly(server)


@pytest.fixture(scope="module", params=TRANSPORTS)
def gw(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_anthropic: FakeAnthropic,
    fake_upstream: FakeOpenAI,
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp(f"anthropic-{request.param}"),
        test_anthropic.gateway_toml(fake_anthropic, fake_upstream),
        env={**test_anthropic.ENV, "SWITCHYARD_HTTP_CLIENT": request.param},
    )
    yield server
    exits_cleanly(server)
