"""Sticky assignment over real HTTP, and campaign results checked against SciPy."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import pytest
from scipy import stats

from tests.support.analytics import rows, wait_rows
from tests.support.experiment_config import experiment_gateway, write_experiment_config
from tests.support.gateway import REPO, Gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from experiment_gateway(tmp_path_factory, "experiments")


async def _many(gw: Gateway, bodies: list[dict], concurrency: int = 16) -> list[dict]:
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:

        async def one(body: dict) -> dict:
            async with semaphore:
                response = await client.post("/v1/chat/completions", json=body)
                assert response.status_code == 200, response.text
                return response.json()

        return await asyncio.gather(*(one(b) for b in bodies))


def many(gw: Gateway, bodies: list[dict]) -> list[dict]:
    return asyncio.run(_many(gw, bodies))


def body(session: str | None = None, **extra: object) -> dict:
    payload: dict = {"model": "exp", "messages": [{"role": "user", "content": "hi"}], **extra}
    if session:
        payload["session_id"] = session
    return payload


def blake2b_variant(campaign: str, unit: str) -> str:
    """The 50/50 campaign's variant for a unit, by docs/experiments.md's rule, restated here."""
    digest = hashlib.blake2b(f"{campaign}\x00{unit}".encode(), digest_size=8).digest()
    return "a" if int.from_bytes(digest, "big") / 2**64 < 0.5 else "b"


def test_thousand_sessions_stay_on_one_variant(gw: Gateway) -> None:
    sessions = [str(uuid.UUID(int=i, version=4)) for i in range(1000)]  # fixed: the split is fixed
    replies = many(gw, [body(s) for s in sessions for _ in range(5)])
    seen: dict[str, set[str]] = defaultdict(set)
    for reply in replies:
        assert reply["ab_campaign"] == "ab"
        seen[reply["session_id"]].add(reply["variant"])
    assert all(len(variants) == 1 for variants in seen.values())
    assert {s: next(iter(v)) for s, v in seen.items()} == {
        s: blake2b_variant("ab", s) for s in sessions
    }
    split = Counter(next(iter(v)) for v in seen.values())
    # What the hash gives these ids; inside 3 sigma of 50/50 (sqrt(1000 * 0.25) ≈ 15.8).
    assert split == {"a": 528, "b": 472}, split


def test_pins_and_ab_campaign_override(gw: Gateway) -> None:
    session = str(uuid.uuid4())
    natural = many(gw, [body(session)])[0]["variant"]
    other = "b" if natural == "a" else "a"
    pinned = many(gw, [body(session, model=f"exp/{other}")])[0]
    assert pinned["variant"] == other and pinned["ab_campaign"] is None
    tz = many(gw, [body(session, **{"tensorzero::variant_name": other})])[0]
    assert tz["variant"] == other
    named = many(gw, [body(session, ab_campaign="ab")])[0]
    assert named["variant"] == natural and named["ab_campaign"] == "ab"
    foreign = httpx.post(
        gw.url + "/v1/chat/completions", json=body(session, ab_campaign="elsewhere")
    )
    assert foreign.status_code == 400 and "elsewhere" in foreign.json()["error"]["message"]


def _simulate(gw: Gateway, units: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """Traffic plus feedback: b is truly better on `success`; `score` is equal for both."""
    rng = random.Random(seed)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(units)]
    replies = many(gw, [body(s) for s in sessions])
    values: dict[str, dict[str, list[float]]] = {
        "success": defaultdict(list),
        "score": defaultdict(list),
    }

    async def send_all() -> None:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            semaphore = asyncio.Semaphore(16)

            async def send(payload: dict) -> None:
                async with semaphore:
                    response = await client.post("/v1/feedback", json=payload)
                    assert response.status_code == 200, response.text

            payloads = []
            for reply in replies:
                variant = reply["variant"]
                success = rng.random() < (0.30 if variant == "a" else 0.50)
                score = rng.gauss(3.0, 1.0)
                values["success"][variant].append(float(success))
                values["score"][variant].append(score)
                payloads.append(
                    {"metric_name": "success", "inference_id": reply["id"], "value": success}
                )
                payloads.append(
                    {"metric_name": "score", "inference_id": reply["id"], "value": score}
                )
            await asyncio.gather(*(send(p) for p in payloads))

    asyncio.run(send_all())
    total = 2 * units
    wait_rows(
        gw,
        "SELECT count() AS n FROM feedback WHERE metric IN ('success', 'score')",
        lambda r: r[0]["n"] >= total,
    )
    return values


def test_results_match_an_independent_computation(gw: Gateway) -> None:
    values = _simulate(gw, units=800, seed=11)
    boolean = httpx.get(gw.url + "/v1/campaigns/ab/results").json()
    assert boolean["metric"] == "success" and boolean["control"] == "a"
    by_variant = {v["variant"]: v for v in boolean["variants"]}
    a, b = values["success"]["a"], values["success"]["b"]
    for name, sample in (("a", a), ("b", b)):
        row = by_variant[name]
        assert row["feedback_count"] == len(sample)
        assert row["mean"] == pytest.approx(sum(sample) / len(sample))
        se = math.sqrt(stats.tvar(sample) / len(sample))
        assert row["std_error"] == pytest.approx(se, rel=1e-6)
        assert row["ci95"] == pytest.approx(
            [row["mean"] - 1.959964 * se, row["mean"] + 1.959964 * se], rel=1e-6
        )
    # Pooled two-proportion z-test, computed independently.
    x1, n1, x2, n2 = sum(a), len(a), sum(b), len(b)
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert by_variant["b"]["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)
    assert by_variant["b"]["significant"] is True
    assert by_variant["b"]["lift"] == pytest.approx((x2 / n2 - x1 / n1) / (x1 / n1))
    assert by_variant["b"]["probability_best"] > 0.99
    assert by_variant["a"]["p_value"] is None  # the control is not compared with itself
    assert boolean["sample_ratio"]["mismatch"] is False
    assert by_variant["a"]["guardrails"]["error_rate"] == 0
    assert by_variant["a"]["guardrails"]["metrics"]["score"] == pytest.approx(
        sum(values["score"]["a"]) / len(values["score"]["a"])
    )
    for name, sample in (("a", a), ("b", b)):  # cost guardrails (docs/spend.md)
        guardrails, row = by_variant[name]["guardrails"], by_variant[name]
        assert guardrails["cost_per_inference"] > 0
        assert guardrails["cost_per_success"] == pytest.approx(
            guardrails["cost_per_inference"] * row["inferences"] / sum(sample), rel=1e-9
        )

    floats = httpx.get(gw.url + "/v1/campaigns/ab/results", params={"metric": "score"}).json()
    fb = {v["variant"]: v for v in floats["variants"]}
    welch = stats.ttest_ind(values["score"]["b"], values["score"]["a"], equal_var=False)
    assert fb["b"]["p_value"] == pytest.approx(welch.pvalue, rel=1e-4)
    assert fb["b"]["significant"] is False
    assert floats["test"] == "Welch's t-test"
    # SRM chi-square against the configured 50/50.
    counts = [by_variant["a"]["units"], by_variant["b"]["units"]]
    chi = stats.chisquare(counts, [sum(counts) / 2] * 2)
    assert boolean["sample_ratio"]["p_value"] == pytest.approx(chi.pvalue, rel=1e-6)

    table = subprocess.run(
        [sys.executable, "-m", "app.cli", "campaign", "results", "ab", "--url", gw.url],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert table.returncode == 0, table.stderr
    assert "a (control)" in table.stdout and "sample ratio" in table.stdout


def campaign_inferences(gw: Gateway) -> int:
    return rows(gw, "SELECT count() AS n FROM inferences WHERE campaign = 'ab'")[0]["n"]


def test_weights_changed_mid_campaign_trigger_the_srm_flag(gw: Gateway) -> None:
    before = campaign_inferences(gw)
    assert (
        httpx.get(gw.url + "/v1/campaigns/ab/results").json()["sample_ratio"]["mismatch"] is False
    )
    skew = httpx.patch(
        gw.url + "/admin/functions/exp/campaigns/ab", json={"variants": {"a": 0.9, "b": 0.1}}
    )
    assert skew.status_code == 200, skew.text
    many(gw, [body(str(uuid.UUID(int=10_000 + i, version=4))) for i in range(600)])
    back = httpx.patch(
        gw.url + "/admin/functions/exp/campaigns/ab", json={"variants": {"a": 0.5, "b": 0.5}}
    )
    assert back.status_code == 200
    # Wait for this test's own 600 rows, not a count that earlier tests already reached.
    logged = wait_rows(
        gw,
        "SELECT count() AS n FROM inferences WHERE campaign = 'ab'",
        lambda r: r[0]["n"] >= before + 600,
    )
    assert logged[0]["n"] >= before + 600
    srm = httpx.get(gw.url + "/v1/campaigns/ab/results").json()["sample_ratio"]
    assert srm["mismatch"] is True and srm["p_value"] < 0.001


def test_results_errors(gw: Gateway) -> None:
    assert httpx.get(gw.url + "/v1/campaigns/nope/results").status_code == 404
    assert (
        httpx.get(gw.url + "/v1/campaigns/ab/results", params={"metric": "nope"}).status_code == 404
    )
    preference = httpx.get(gw.url + "/v1/campaigns/ab/results", params={"metric": "preferred"})
    assert preference.status_code == 400 and preference.json()["error"]["param"] == "metric"


def test_a_session_keeps_its_variant_across_gateways_and_restarts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Nothing is stored: two processes, and one process after a restart, agree (README)."""
    sessions = [str(uuid.UUID(int=20_000 + i, version=4)) for i in range(40)]
    expected = {s: blake2b_variant("ab", s) for s in sessions}
    assert set(expected.values()) == {"a", "b"}  # the ids exercise both variants
    root = tmp_path_factory.mktemp("sticky")
    config = write_experiment_config(root / "variants")

    def variants(gateway: Gateway) -> dict[str, str]:
        return {r["session_id"]: r["variant"] for r in many(gateway, [body(s) for s in sessions])}

    first = Gateway(config, root / "first").start()
    second = Gateway(config, root / "second").start()
    try:
        assert variants(first) == expected
        assert variants(second) == expected
        first.stop()
        first.start()  # the same process settings and data directory, a new process
        assert variants(first) == expected
    finally:
        first.stop()
        second.stop()
