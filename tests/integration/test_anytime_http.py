"""Anytime-valid results through the real gateway over HTTP: the results document, the
timeline endpoint and its validation, the CLI table, and the campaign ``alpha`` setting.
(The SQL's agreement with the reference is in test_anytime_sql.py.)"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.analytics import wait_rows
from tests.support.experiment_config import experiment_gateway, write_experiment_config
from tests.support.gateway import REPO, Gateway

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from experiment_gateway(tmp_path_factory, "anytime")


@pytest.fixture(scope="module")
def rated(gw: Gateway) -> Gateway:
    _traffic(gw, units=400, seed=5)
    return gw


def _traffic(gw: Gateway, units: int, seed: int) -> None:
    """Sessions on the ``ab`` campaign, each rated on ``success`` (b is truly better)."""
    rng = random.Random(seed)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            semaphore = asyncio.Semaphore(16)

            async def one() -> None:
                async with semaphore:
                    session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    chat = {"model": "exp", "session_id": session, "messages": HELLO}
                    reply = await client.post("/v1/chat/completions", json=chat)
                    assert reply.status_code == 200, reply.text
                    answer = reply.json()
                    success = rng.random() < (0.3 if answer["variant"] == "a" else 0.6)
                    rating = {"metric_name": "success", "inference_id": answer["id"]}
                    feedback = await client.post("/v1/feedback", json={**rating, "value": success})
                    assert feedback.status_code == 200, feedback.text

            await asyncio.gather(*(one() for _ in range(units)))

    asyncio.run(run())
    wait_rows(
        gw,
        "SELECT count() AS n FROM feedback WHERE metric = 'success'",
        lambda r: r[0]["n"] >= units,
    )


def test_results_carry_the_anytime_figures_and_a_decision(rated: Gateway) -> None:
    results = httpx.get(rated.url + "/v1/campaigns/ab/results").json()
    a, b = results["variants"]
    assert results["alpha"] == 0.05 and "fixed-horizon" in results["fixed_horizon"]
    assert "mixture SPRT" in results["anytime_method"]
    assert [a["allocation"], b["allocation"]] == [0.5, 0.5]
    assert a["always_valid_p_value"] is None and a["confidence_sequence"] is None
    low, high = b["confidence_sequence"]
    assert low < b["lift_abs"] < high
    assert b["always_valid_p_value"] >= b["p_value"]
    # 30% vs 60% over ~150 ratings per arm: the sequence has left 0 behind.
    assert results["decision"] == {
        "status": "winner",
        "variant": "b",
        "reason": results["decision"]["reason"],
    }
    assert low > 0


def test_timeline_by_hour_ends_at_the_results(rated: Gateway) -> None:
    results = httpx.get(rated.url + "/v1/campaigns/ab/results").json()
    response = httpx.get(
        rated.url + "/v1/campaigns/ab/results/timeline",
        params={"metric": "success", "bucket": "hour"},
    )
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["bucket"] == "hour" and timeline["control"] == "a"
    last = {p["variant"]: p for p in timeline["points"][-2:]}
    for variant in results["variants"]:
        point = last[variant["variant"]]
        assert point["cumulative_feedback"] == variant["feedback_count"]
        assert point["cumulative_units"] == variant["units"]
        assert point["cumulative_mean"] == pytest.approx(variant["mean"])
    assert last["b"]["confidence_sequence"] == pytest.approx(
        results["variants"][1]["confidence_sequence"]
    )
    by_day = httpx.get(rated.url + "/v1/campaigns/ab/results/timeline").json()
    assert by_day["bucket"] == "day" and by_day["points"][0]["bucket"].endswith("T00:00:00Z")


def test_timeline_validates_its_parameters(rated: Gateway) -> None:
    week = httpx.get(rated.url + "/v1/campaigns/ab/results/timeline", params={"bucket": "week"})
    assert week.status_code == 400 and week.json()["error"]["param"] == "bucket"
    assert httpx.get(rated.url + "/v1/campaigns/nope/results/timeline").status_code == 404
    comment = httpx.get(rated.url + "/v1/campaigns/ab/results/timeline", params={"metric": "note"})
    assert comment.status_code == 400 and comment.json()["error"]["param"] == "metric"


def test_cli_table_shows_the_decision_and_the_anytime_figures(rated: Gateway) -> None:
    table = subprocess.run(
        [sys.executable, "-m", "app.cli", "campaign", "results", "ab", "--url", rated.url],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert table.returncode == 0, table.stderr
    assert "decision: winner (b)" in table.stdout
    assert "always-valid p" in table.stdout and "confidence sequence" in table.stdout
    assert "95% CI (fixed)" in table.stdout


def test_campaign_alpha_outside_zero_one_is_rejected_naming_the_key(tmp_path: Path) -> None:
    directory = write_experiment_config(tmp_path)
    function = directory / "functions" / "exp.toml"
    function.write_text(function.read_text() + "alpha = 1.5\n")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "validate", str(directory)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert "functions.exp.campaigns.ab.alpha" in result.stdout
