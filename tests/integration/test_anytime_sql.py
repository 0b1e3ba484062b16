"""The anytime-valid statistics computed by ClickHouse agree with the Python reference
(tests/support/anytime_reference.py) to 1e-6, on seeded data with chosen timestamps: results
for a boolean, a float and an episode-level metric, and the timeline by day and by hour.

The SQL runs in embedded chDB in this process. chDB allows one data path per process at a
time, so the module closes its store before the next module may open another.
"""

from __future__ import annotations

import asyncio
import types
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from app.errors import InvalidRequest
from app.experiments.results import CampaignResultsService
from app.store.clickhouse.query import ClickHouseReader
from app.store.clickhouse.store import ClickHouseStore
from tests.support import anytime_reference as ref
from tests.support.experiment_config import FUNCTION, GATEWAY, OTHER_FUNCTION
from tests.support.pipeline import Pipeline
from tests.support.seeded_campaign import Seeded, seed

TOLERANCE = {"rel": 1e-6, "abs": 1e-6}


@pytest.fixture(scope="module")
def seeded_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CampaignResultsService, Seeded]]:
    url = f"chdb://{Path(tmp_path_factory.mktemp('anytime')) / 'clickhouse'}"
    store = ClickHouseStore.open(url)
    reader = ClickHouseReader(url)
    try:
        seeded = seed(store.client)
        snapshot = Pipeline(GATEWAY, {"exp": FUNCTION, "other": OTHER_FUNCTION}).snapshot
        config = types.SimpleNamespace(current=snapshot)
        yield CampaignResultsService(config, reader.rows), seeded  # type: ignore[arg-type]
    finally:
        reader.close()
        store.close()


@pytest.mark.parametrize("metric", ["success", "score", "resolved"])
def test_results_match_the_reference(
    seeded_service: tuple[CampaignResultsService, Seeded], metric: str
) -> None:
    service, seeded = seeded_service
    results = asyncio.run(service.results("ab", metric))
    control, variant = (seeded.values(metric, v) for v in ("a", "b"))
    expected = ref.compare_samples(control, variant, metric != "score", alpha=0.05)
    b = {v.variant: v for v in results.variants}["b"]
    assert b.feedback_count == len(variant) and len(variant) > 300
    assert b.lift_abs == pytest.approx(expected["difference"], **TOLERANCE)
    assert b.p_value == pytest.approx(expected["p_value"], rel=1e-4)  # Welch: see test_experiments
    assert b.always_valid_p_value == pytest.approx(expected["always_valid_p_value"], **TOLERANCE)
    assert b.confidence_sequence == pytest.approx(
        [expected["cs_low"], expected["cs_high"]], **TOLERANCE
    )
    assert b.equivalence_margin == pytest.approx(expected["equivalence_margin"], **TOLERANCE)
    # The mixture term decides here, so the always-valid p-value above checks the SQL's
    # mixture arithmetic itself rather than the fixed-horizon floor.
    assert expected["mixture_p"] > expected["p_value"]
    assert results.alpha == 0.05 and results.fixed_horizon.startswith("ci95, p_value")
    assert [v.allocation for v in results.variants] == [0.5, 0.5]


def _expected_timeline(seeded: Seeded, metric: str, bucket: str) -> list[dict[str, object]]:
    def start(at: datetime) -> str:
        at = at.replace(minute=0, second=0, microsecond=0)
        return (at if bucket == "hour" else at.replace(hour=0)).strftime("%Y-%m-%dT%H:%M:%SZ")

    new_units: dict[tuple[str, str], int] = defaultdict(int)
    for (variant, _), at in seeded.units.items():
        new_units[(start(at), variant)] += 1
    rated: dict[tuple[str, str], list[float]] = defaultdict(list)
    for variant, at, value in seeded.targets[metric].values():
        rated[(start(at), variant)].append(value)
    points, seen, units = [], {"a": [], "b": []}, {"a": 0, "b": 0}
    for when in sorted({key[0] for key in (*new_units, *rated)}):
        for variant in ("a", "b"):
            seen[variant] = seen[variant] + rated[(when, variant)]
            units[variant] += new_units[(when, variant)]
        c_n, c_mean, c_var = ref.moments(seen["a"])
        for variant in ("a", "b"):
            n, mean, var = ref.moments(seen[variant])
            cs = None
            if variant == "b" and n > 1 and c_n > 1:
                compared = ref.compare_moments(n, mean, var, c_n, c_mean, c_var, 0.05, 0.0)
                cs = [compared["cs_low"], compared["cs_high"]]
            points.append(
                {
                    "bucket": when,
                    "variant": variant,
                    "units": new_units[(when, variant)],
                    "feedback_count": len(rated[(when, variant)]),
                    "cumulative_units": units[variant],
                    "cumulative_feedback": n,
                    "cumulative_mean": mean,
                    "confidence_sequence": cs,
                }
            )
    return points


@pytest.mark.parametrize(("metric", "bucket"), [("success", "day"), ("score", "hour")])
def test_timeline_matches_the_reference(
    seeded_service: tuple[CampaignResultsService, Seeded], metric: str, bucket: str
) -> None:
    service, seeded = seeded_service
    timeline = asyncio.run(service.timeline("ab", metric, None, bucket))
    expected = _expected_timeline(seeded, metric, bucket)
    assert len(timeline.points) == len(expected) > 4
    for point, want in zip(timeline.points, expected, strict=True):
        got = {
            "bucket": point.bucket,
            "variant": point.variant,
            "units": point.units,
            "feedback_count": point.feedback_count,
            "cumulative_units": point.cumulative_units,
            "cumulative_feedback": point.cumulative_feedback,
        }
        assert got == {k: want[k] for k in got}
        if want["cumulative_feedback"]:
            assert point.cumulative_mean == pytest.approx(want["cumulative_mean"], **TOLERANCE)
        if want["confidence_sequence"] is None:
            assert point.confidence_sequence is None
        else:
            assert point.confidence_sequence == pytest.approx(
                want["confidence_sequence"], **TOLERANCE
            )
    # The last bucket's cumulative figures are the results' own.
    final = asyncio.run(service.results("ab", metric)).variants[1]
    assert timeline.points[-1].confidence_sequence == pytest.approx(final.confidence_sequence)


def test_timeline_rejects_an_unknown_bucket(
    seeded_service: tuple[CampaignResultsService, Seeded],
) -> None:
    service, _ = seeded_service
    with pytest.raises(InvalidRequest) as error:
        asyncio.run(service.timeline("ab", None, None, "week"))
    assert error.value.param == "bucket"
