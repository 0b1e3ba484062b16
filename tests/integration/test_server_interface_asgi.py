"""The bad-request, fallback and inference-log suites, unchanged, with granian serving Litestar's
ASGI app (``SWITCHYARD_SERVER_INTERFACE=asgi``) instead of the default RSGI entry
(docs/performance.md, "RSGI for the chat endpoint"): both ways in share the chat handler through
:class:`app.api.exchange.Exchange`, and each must keep every error, limit, stream, disconnect and
row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import serve_test_config
from tests.integration import test_inference_log
from tests.integration.test_bad_requests import *  # noqa: F403 - the same tests, on ASGI
from tests.integration.test_inference_log import *  # noqa: F403
from tests.integration.test_routing_fallback import *  # noqa: F403
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway

ASGI = {"SWITCHYARD_SERVER_INTERFACE": "asgi"}


@pytest.fixture(scope="module", autouse=True)
def _every_gateway_on_asgi() -> Iterator[None]:
    """Also the gateways that tests here start themselves (the 413 and limits tests)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_SERVER_INTERFACE", "asgi")
        yield


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI
) -> Iterator[Gateway]:
    server = serve_test_config(tmp_path_factory.mktemp("gateway-asgi"), fake_upstream, ASGI)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("inference-log-asgi")
    server = serve_test_config(root, fake_upstream, {**test_inference_log.LOGGING_ENV, **ASGI})
    yield server
    server.stop()
