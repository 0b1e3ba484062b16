"""Two gateway processes sharing one PostgreSQL config store (docs/experiments.md,
"Stickiness"): a session first served by one replica gets the same variant from the other,
even where the other replica's allocation would hash it elsewhere.

Each replica logs to its own embedded chDB here, so only replica A sees the ratings and moves
its allocation, while B stays at an equal split: the worst case for stickiness across
replicas (in production they read one ClickHouse and serve the same allocation)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config.functions import WeightTable
from app.routing.variants import unit_fraction
from tests.support import postgres
from tests.support.adaptive_config import adaptive_function
from tests.support.analytics import LOGGING_ENV
from tests.support.experiment_config import GATEWAY
from tests.support.gateway import Gateway
from tests.support.run_async import run_async

BANDIT = adaptive_function("bandit", update_interval_s=1, min_samples_per_variant=10)
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Gateway]]:
    url = postgres.create_database()
    root = tmp_path_factory.mktemp("replicas")
    config = root / "variants"
    (config / "functions").mkdir(parents=True)
    (config / "gateway.toml").write_text(GATEWAY)
    (config / "functions" / "bandit.toml").write_text(BANDIT)
    env = {**LOGGING_ENV, "SWITCHYARD_DATABASE_URL": url}
    one = Gateway(config, Path(root / "one"), env=env).start()
    two = Gateway(config, Path(root / "two"), env=env).start()
    yield one, two
    one.stop()
    two.stop()
    postgres.drop_database(url)


async def _serve(url: str, sessions: list[str], rng: random.Random | None) -> dict[str, str]:
    served: dict[str, str] = {}
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(session: str) -> None:
            async with semaphore:
                chat = {"model": "bandit", "session_id": session, "messages": HELLO}
                reply = await client.post("/v1/chat/completions", json=chat)
                assert reply.status_code == 200, reply.text
                served[session] = reply.json()["variant"]
                if rng is not None:
                    value = rng.random() < (0.8 if served[session] == "b" else 0.3)
                    rating = {"metric_name": "success", "inference_id": reply.json()["id"]}
                    response = await client.post("/v1/feedback", json={**rating, "value": value})
                    assert response.status_code == 200, response.text

        await asyncio.gather(*(one(s) for s in sessions))
    return served


def _allocation(gateway: Gateway) -> tuple[dict[str, float], str]:
    results = httpx.get(gateway.url + "/v1/campaigns/bandit/results", timeout=30).json()
    return {v["variant"]: v["allocation"] for v in results["variants"]}, results["allocation_phase"]


def test_a_session_keeps_its_variant_on_the_other_replica(
    replicas: tuple[Gateway, Gateway],
) -> None:
    one, two = replicas
    rng = random.Random(11)

    def sessions(n: int) -> list[str]:
        return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]

    first = run_async(_serve(one.url, sessions(200), rng))
    deadline = time.monotonic() + 30
    while _allocation(one)[1] == "equal_split" and time.monotonic() < deadline:
        first.update(run_async(_serve(one.url, sessions(20), rng)))
    allocation_one, phase = _allocation(one)
    assert phase != "equal_split" and allocation_one["b"] > 0.5
    first.update(run_async(_serve(one.url, sessions(300), None)))

    allocation_two, phase_two = _allocation(two)
    assert phase_two == "equal_split"  # B has no ratings in its own ClickHouse
    table = WeightTable.from_weights(allocation_two)
    moved = [s for s, v in first.items() if table.pick(unit_fraction("bandit", s)) != v]
    assert len(moved) >= 50  # B's own hash would serve these elsewhere

    time.sleep(1.5)  # A flushes (0.5 s), B pulls (0.5 s)
    assert run_async(_serve(two.url, list(first), None)) == first

    # And the other way round: sessions B saw first keep B's variant on A.
    fresh = sessions(200)
    on_two = run_async(_serve(two.url, fresh, None))
    time.sleep(1.5)
    assert run_async(_serve(one.url, fresh, None)) == on_two
