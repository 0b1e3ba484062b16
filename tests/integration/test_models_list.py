"""``GET /v1/models`` lists every configured function and model a key may call, whatever
the config's shape (issue 24): models whose dotted names TOML splits, including a name that
extends another (``gpt-4`` and ``gpt-4.1``), and the ``M@P`` models variants name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import Gateway, start_gateway

GATEWAY = """
[providers.demo]
type = "dummy"

[models.gpt-4]
routing = [{ provider = "demo", name = "gpt-4" }]
[models.gpt-4.1]
routing = [{ provider = "demo", name = "gpt-4.1" }]
[models.gpt-4.1-mini]
routing = [{ provider = "demo", name = "gpt-4.1-mini" }]
[models.o3.mini]
routing = [{ provider = "demo", name = "o3-mini" }]

[models.embed.v2]
kind = "embedding"
dimensions = 8
routing = [{ provider = "demo", name = "e" }]
"""

FUNCTIONS = {
    "writer": """
[variants.base]
model = "gpt-4.1"
[variants.v1.5]
model = "gpt-4@demo"
weight = 0
""",
    "raw": """
[variants.only]
model = "provider-own-name@demo"
""",
}

CHAT_MODELS = {"gpt-4", "gpt-4.1", "gpt-4.1-mini", "o3.mini", "provider-own-name@demo"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("models"), GATEWAY, FUNCTIONS)
    yield server
    server.stop()


def listed(gw: Gateway, path: str = "/v1/models") -> dict[str, str]:
    response = httpx.get(gw.url + path, timeout=10)
    assert response.status_code == 200, response.text
    return {entry["id"]: entry["kind"] for entry in response.json()["data"]}


def test_every_configured_function_and_model_is_listed_and_callable(gw: Gateway) -> None:
    models = listed(gw)
    assert {n for n, kind in models.items() if kind == "function"} == {"writer", "raw"}
    assert {n for n, kind in models.items() if kind == "model"} == CHAT_MODELS
    assert models["embed.v2"] == "embedding_model"
    for name in [*CHAT_MODELS, "writer", "raw", "writer/v1.5"]:
        response = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": name, "messages": [{"role": "user", "content": "hi"}]},
            timeout=15,
        )
        assert response.status_code == 200, f"{name}: {response.text}"
    for name in models:
        one = httpx.get(f"{gw.url}/v1/models/{name}", timeout=10)
        assert one.status_code == 200 and one.json()["id"] == name, one.text
    assert listed(gw, "/openai/v1/models") == models


def test_a_model_extending_another_name_is_not_folded_into_it(tmp_path: Path) -> None:
    """The loader keeps ``gpt-4`` whole and ``gpt-4.1`` beside it (TOML nests the second in
    the first); a nested table of a model that is no model is still refused by name."""
    from app.config.compile import build_snapshot
    from app.config.loader import load_directory

    (tmp_path / "functions").mkdir()
    (tmp_path / "gateway.toml").write_text(GATEWAY)
    document, sources, problems = load_directory(tmp_path)
    assert problems == []
    snapshot = build_snapshot(document, sources=sources)
    assert {"gpt-4", "gpt-4.1", "gpt-4.1-mini", "o3.mini"} <= set(snapshot.models)
    assert snapshot.models["gpt-4"][0].model == "gpt-4"

    (tmp_path / "gateway.toml").write_text(GATEWAY + '[models.gpt-4.oops]\nflavour = "x"\n')
    document, sources, _ = load_directory(tmp_path)
    with pytest.raises(Exception, match="oops"):
        build_snapshot(document, sources=sources)
