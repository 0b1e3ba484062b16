"""Adaptive campaigns through the real gateway over HTTP (docs/experiments.md, "Adaptive
campaigns"): traffic moves to the better variant, every unit keeps its first variant across
reallocations and a restart, the allocation shows in the results and on /metrics, and
``on_decision = "promote"`` writes a config version authored ``switchyard``."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config.functions import WeightTable
from app.routing.variants import unit_fraction
from tests.support.adaptive_config import adaptive_function
from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV
from tests.support.experiment_config import GATEWAY
from tests.support.fake_openai import free_port
from tests.support.gateway import REPO, Gateway
from tests.support.run_async import run_async

HELLO = [{"role": "user", "content": "hi"}]
SUCCESS = {"a": 0.3, "b": 0.8}  # b is the better variant

BANDIT = adaptive_function(
    "bandit", update_interval_s=1, min_share=0.05, min_samples_per_variant=20
)
PROMO = adaptive_function(
    "promo", update_interval_s=1, min_share=0.3, min_samples_per_variant=30, on_decision="promote"
)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adaptive")
    config = root / "variants"
    (config / "functions").mkdir(parents=True)
    (config / "gateway.toml").write_text(GATEWAY)
    (config / "functions" / "bandit.toml").write_text(BANDIT)
    (config / "functions" / "promo.toml").write_text(PROMO)
    return root


@pytest.fixture(scope="module")
def gw(config_dir: Path) -> Iterator[Gateway]:
    server = Gateway(config_dir / "variants", config_dir / "data", env=LOGGING_ENV).start()
    yield server
    server.stop()


def _session(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


async def _serve(
    client: httpx.AsyncClient,
    function: str,
    sessions: list[str],
    rng: random.Random | None,
    concurrency: int = 16,
) -> dict[str, str]:
    """One chat per session (rated on ``success`` when ``rng`` is given): session -> variant."""
    semaphore = asyncio.Semaphore(concurrency)
    served: dict[str, str] = {}

    async def one(session: str) -> None:
        async with semaphore:
            chat = {"model": function, "session_id": session, "messages": HELLO}
            reply = await client.post("/v1/chat/completions", json=chat)
            assert reply.status_code == 200, reply.text
            answer = reply.json()
            served[session] = answer["variant"]
            if rng is not None:
                rating = {
                    "metric_name": "success",
                    "inference_id": answer["id"],
                    "value": rng.random() < SUCCESS[answer["variant"]],
                }
                feedback = await client.post("/v1/feedback", json=rating)
                assert feedback.status_code == 200, feedback.text

    await asyncio.gather(*(one(s) for s in sessions))
    return served


def _results(gw: Gateway, campaign: str) -> dict[str, Any]:
    response = httpx.get(f"{gw.url}/v1/campaigns/{campaign}/results", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def bandit_run(gw: Gateway) -> dict[str, Any]:
    """2,000 sessions on the bandit: 200 early ones, then waves of 100, all rated."""
    rng = random.Random(13)
    started = time.monotonic()

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            early = await _serve(client, "bandit", [_session(rng) for _ in range(200)], rng)
            waves = []
            for _ in range(18):
                waves.append(
                    await _serve(client, "bandit", [_session(rng) for _ in range(100)], rng)
                )
            return {"early": early, "waves": waves}

    outcome = run_async(run())
    outcome["seconds"] = time.monotonic() - started
    return outcome


def test_traffic_moves_to_the_better_variant(gw: Gateway, bandit_run: dict[str, Any]) -> None:
    waves = bandit_run["waves"]
    shares = [sum(v == "b" for v in wave.values()) / len(wave) for wave in waves]
    early = Counter(bandit_run["early"].values())
    print(
        f"first 200 sessions: {dict(early)}; share of b per wave of 100 new sessions: {shares}"
        f" ({bandit_run['seconds']:.1f} s)"
    )
    assert sum(len(w) for w in waves) + len(bandit_run["early"]) == 2000
    last = [v for wave in waves[-5:] for v in wave.values()]
    assert sum(v == "b" for v in last) / len(last) >= 0.8, shares

    results = _results(gw, "bandit")
    print(f"phase {results['allocation_phase']}, decision {results['decision']}")
    assert results["type"] == "adaptive"
    assert results["allocation_phase"] in ("adaptive", "final")
    allocation = {v["variant"]: v["allocation"] for v in results["variants"]}
    assert allocation["b"] >= 0.8
    assert abs(sum(allocation.values()) - 1) < 1e-6
    if results["allocation_phase"] == "adaptive":
        assert allocation["a"] >= 0.05 - 1e-9  # the floor holds until the decision is final
    assert results["sample_ratio"]["mismatch"] is False

    table = subprocess.run(
        [sys.executable, "-m", "app.cli", "campaign", "results", "bandit", "--url", gw.url],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert table.returncode == 0, table.stderr
    assert f"adaptive: allocation {results['allocation_phase']}" in table.stdout
    assert "sample ratio: not applicable" in table.stdout

    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    gauge = [
        line
        for line in metrics.splitlines()
        if line.startswith("switchyard_campaign_allocation{")
        and 'campaign="bandit"' in line
        and 'variant="b"' in line
    ]
    assert gauge, metrics
    assert float(gauge[0].rsplit(" ", 1)[1]) == pytest.approx(allocation["b"], abs=0.02)


def test_sessions_keep_their_first_variant(gw: Gateway, bandit_run: dict[str, Any]) -> None:
    early: dict[str, str] = bandit_run["early"]
    later = {s: v for wave in bandit_run["waves"][:3] for s, v in wave.items()}
    first = {**early, **later}
    # Hashing into today's allocation would move many of these sessions; they stay.
    shares = {v["variant"]: v["allocation"] for v in _results(gw, "bandit")["variants"]}
    table = WeightTable.from_weights(shares)
    moved = [s for s, v in first.items() if table.pick(unit_fraction("bandit", s)) != v]
    print(f"{len(moved)} of {len(first)} sessions would move if hashed into {shares}")
    assert len(moved) >= 30

    async def again(server: Gateway) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return await _serve(client, "bandit", list(first), None)

    assert run_async(again(gw)) == first

    gw.stop()
    gw.port = free_port()
    gw.start()  # same config store and ClickHouse, a new process
    assert run_async(again(gw)) == first
    allocation = {v["variant"]: v["allocation"] for v in _results(gw, "bandit")["variants"]}
    assert allocation["b"] >= 0.8  # recomputed from ClickHouse before serving


def test_promote_writes_a_config_version(gw: Gateway) -> None:
    rng = random.Random(7)
    deadline = time.monotonic() + 60

    async def run() -> dict[str, str]:
        served: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            while time.monotonic() < deadline:
                served.update(
                    await _serve(client, "promo", [_session(rng) for _ in range(50)], rng)
                )
                if _results(gw, "promo")["allocation_phase"] == "promoted":
                    break
        return served

    old = run_async(run())
    results = _results(gw, "promo")
    print(f"promoted after {len(old)} sessions: {results['decision']['reason']}")
    assert results["allocation_phase"] == "promoted", results["decision"]
    assert results["decision"]["status"] == "winner"
    assert {v["variant"]: v["allocation"] for v in results["variants"]} == {"a": 0.0, "b": 1.0}

    versions = httpx.get(
        gw.url + "/admin/config/versions",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()["versions"]
    authored = [v for v in versions if v["author"] == "switchyard"]
    assert authored and "promote the winner 'b'" in authored[0]["comment"], versions

    async def more() -> tuple[dict[str, str], dict[str, str]]:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            new = await _serve(client, "promo", [_session(rng) for _ in range(50)], None)
            sample = dict(list(old.items())[:100])
            return new, await _serve(client, "promo", list(sample), None)

    new, again = run_async(more())
    assert set(new.values()) == {"b"}  # every new unit goes to the winner
    assert again == dict(list(old.items())[:100])  # the others keep their first variant
