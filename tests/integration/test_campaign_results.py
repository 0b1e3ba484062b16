"""Campaign results beyond two variants and an inference-level metric, checked against SciPy:
an episode-level metric with re-rated episodes (the latest value counts, once), and three
variants on a float metric to minimise. Traffic and feedback are seeded, so every run is the same.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import pytest
from scipy import stats

from tests.support.analytics import LOGGING_ENV, wait_rows
from tests.support.experiment_config import GATEWAY
from tests.support.gateway import Gateway, start_gateway

MINIMISED = """
[metrics.wait_s]
type = "float"
level = "inference"
optimize = "min"
"""

THREE_VARIANTS = """
default_variant = "a"
[variants.a]
model = "m"
[variants.b]
model = "m"
[variants.c]
model = "m"
[campaigns.three]
variants = { a = 0.5, b = 0.25, c = 0.25 }
sticky_by = "session_id"
metric = "wait_s"
status = "active"
"""

BY_EPISODE = """
default_variant = "a"
[variants.a]
model = "m"
[variants.b]
model = "m"
[campaigns.episodes]
variants = { a = 0.5, b = 0.5 }
sticky_by = "episode_id"
metric = "resolved"
status = "active"
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("campaign-results"),
        GATEWAY + MINIMISED,
        {"tri": THREE_VARIANTS, "epi": BY_EPISODE},
        env=LOGGING_ENV,
    )
    yield server
    server.stop()


async def _post_all(gw: Gateway, path: str, bodies: list[dict]) -> list[dict]:
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=gw.url, timeout=60) as client:

        async def one(body: dict) -> dict:
            async with semaphore:
                response = await client.post(path, json=body)
                assert response.status_code == 200, response.text
                return response.json()

        return await asyncio.gather(*(one(b) for b in bodies))


def post_all(gw: Gateway, path: str, bodies: list[dict]) -> list[dict]:
    return asyncio.run(_post_all(gw, path, bodies))


def wait_feedback(gw: Gateway, metric: str, count: int) -> None:
    query = f"SELECT count() AS n FROM feedback WHERE metric = '{metric}'"
    assert wait_rows(gw, query, lambda r: r[0]["n"] >= count)[0]["n"] == count


def results(gw: Gateway, campaign: str) -> tuple[dict, dict[str, dict]]:
    response = httpx.get(gw.url + f"/v1/campaigns/{campaign}/results", timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {v["variant"]: v for v in body["variants"]}


def check_mean_and_error(row: dict, sample: list[float]) -> None:
    assert row["feedback_count"] == len(sample)
    assert row["mean"] == pytest.approx(sum(sample) / len(sample))
    assert row["std_error"] == pytest.approx(math.sqrt(stats.tvar(sample) / len(sample)), rel=1e-6)


def test_an_episode_metric_counts_each_rated_episode_once_with_its_latest_value(
    gw: Gateway,
) -> None:
    rng = random.Random(16)
    episodes = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(200)]
    message = [{"role": "user", "content": "hi"}]
    replies = post_all(
        gw,
        "/v1/chat/completions",
        [
            {"model": "epi", "messages": message, "tensorzero::episode_id": e}
            for e in episodes
            for _ in range(2)  # two inferences per episode, one rating per episode
        ],
    )
    variant_of: dict[str, set[str]] = defaultdict(set)
    for reply in replies:
        variant_of[reply["episode_id"]].add(reply["variant"])
    assert all(len(v) == 1 for v in variant_of.values()) and len(variant_of) == len(episodes)
    variant = {e: next(iter(v)) for e, v in variant_of.items()}

    first = {e: rng.random() < (0.3 if variant[e] == "a" else 0.6) for e in episodes}
    post_all(
        gw,
        "/v1/feedback",
        [{"metric_name": "resolved", "episode_id": e, "value": v} for e, v in first.items()],
    )
    wait_feedback(gw, "resolved", len(episodes))
    rerated = episodes[::3]  # rated again, the other way: only this later value may count
    latest = {**first, **{e: not first[e] for e in rerated}}
    post_all(
        gw,
        "/v1/feedback",
        [{"metric_name": "resolved", "episode_id": e, "value": latest[e]} for e in rerated],
    )
    wait_feedback(gw, "resolved", len(episodes) + len(rerated))

    body, by_variant = results(gw, "episodes")
    assert (body["metric"], body["level"], body["control"]) == ("resolved", "episode", "a")
    samples = {
        name: [float(latest[e]) for e in episodes if variant[e] == name] for name in ("a", "b")
    }
    per_variant = Counter(variant.values())
    for name, sample in samples.items():
        row = by_variant[name]
        assert (row["inferences"], row["units"]) == (2 * per_variant[name], per_variant[name])
        check_mean_and_error(row, sample)
    a, b = samples["a"], samples["b"]
    x1, n1, x2, n2 = sum(a), len(a), sum(b), len(b)
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert by_variant["b"]["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)
    assert by_variant["b"]["lift_abs"] == pytest.approx(x2 / n2 - x1 / n1)


def test_three_variants_on_a_metric_to_minimise(gw: Gateway) -> None:
    rng = random.Random(61)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(400)]
    message = [{"role": "user", "content": "hi"}]
    replies = post_all(
        gw,
        "/v1/chat/completions",
        [{"model": "tri", "messages": message, "session_id": s} for s in sessions],
    )
    true_mean = {"a": 5.0, "b": 5.0, "c": 4.0}  # c waits less: with optimize = "min", c is best
    samples: dict[str, list[float]] = defaultdict(list)
    feedback = []
    for reply in replies:
        value = rng.gauss(true_mean[reply["variant"]], 1.0)
        samples[reply["variant"]].append(value)
        feedback.append({"metric_name": "wait_s", "inference_id": reply["id"], "value": value})
    post_all(gw, "/v1/feedback", feedback)
    wait_feedback(gw, "wait_s", len(feedback))

    body, by_variant = results(gw, "three")
    assert (body["optimize"], body["test"], body["control"]) == ("min", "Welch's t-test", "a")
    assert set(by_variant) == {"a", "b", "c"}
    control = samples["a"]
    control_mean = sum(control) / len(control)
    for name in ("a", "b", "c"):
        check_mean_and_error(by_variant[name], samples[name])
    for name in ("b", "c"):  # each variant against the control, one Welch test each
        row, sample = by_variant[name], samples[name]
        welch = stats.ttest_ind(sample, control, equal_var=False)
        assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-4)
        mean = sum(sample) / len(sample)
        assert row["lift_abs"] == pytest.approx(mean - control_mean)
        assert row["lift"] == pytest.approx((mean - control_mean) / abs(control_mean))
    assert by_variant["c"]["significant"] is True and by_variant["c"]["lift"] < 0
    # Lower is better: the variant that waits least is almost surely best.
    assert by_variant["c"]["probability_best"] > 0.99
    assert sum(v["probability_best"] for v in by_variant.values()) == pytest.approx(1, abs=1e-6)

    units = [by_variant[name]["units"] for name in ("a", "b", "c")]
    assert units == [Counter(r["variant"] for r in replies)[name] for name in ("a", "b", "c")]
    total = sum(units)
    chi = stats.chisquare(units, [total * 0.5, total * 0.25, total * 0.25])
    srm = body["sample_ratio"]
    assert srm["df"] == 2 and srm["chi2"] == pytest.approx(chi.statistic, rel=1e-9)
    # Beyond one degree of freedom the p-value is the Wilson-Hilferty approximation of the
    # chi-square tail (app/experiments/sql.py): exact against that formula, close to SciPy's.
    df = 2
    z = ((chi.statistic / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    assert srm["p_value"] == pytest.approx(stats.norm.sf(z), rel=1e-6)
    assert srm["p_value"] == pytest.approx(chi.pvalue, abs=0.02)
    assert srm["mismatch"] is False
