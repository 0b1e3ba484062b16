"""The in-process Prometheus registry (app/metrics.py) and the inference series built on it."""

from __future__ import annotations

import pytest

from app.inference.metrics import InferenceMetrics, MeteredRecorder
from app.metrics import Counter, Gauge, GaugeSet, Histogram, Metric, Registry
from app.records import AttemptRecord, InferenceRecord
from tests.support.pipeline import ListRecorder


def render(*metrics: Metric) -> list[str]:
    registry = Registry()
    for metric in metrics:
        registry.add(metric)
    text = registry.render()
    assert text.endswith("\n")
    return text.removesuffix("\n").split("\n")


# -- counters ---------------------------------------------------------------------------------


def test_counter_adds_per_label_tuple_and_renders_help_type_and_samples() -> None:
    requests = Counter("app_requests_total", "Requests by route", ("route", "status"))
    requests.inc(("/a", "200"))
    requests.inc(("/a", "200"), 2)
    requests.inc(("/b", "500"))

    assert render(requests) == [
        "# HELP app_requests_total Requests by route",
        "# TYPE app_requests_total counter",
        'app_requests_total{route="/a",status="200"} 3',
        'app_requests_total{route="/b",status="500"} 1',
    ]


def test_unlabelled_counter_has_no_braces_and_keeps_fractions() -> None:
    seconds = Counter("app_busy_seconds_total", "Busy time")
    seconds.inc(amount=0.25)
    seconds.inc(amount=1)

    assert render(seconds)[-1] == "app_busy_seconds_total 1.25"


def test_a_counter_nobody_incremented_renders_only_its_header() -> None:
    assert render(Counter("app_idle_total", "Never")) == [
        "# HELP app_idle_total Never",
        "# TYPE app_idle_total counter",
    ]


def test_label_values_are_escaped() -> None:
    counter = Counter("app_total", "Escaping", ("value",))
    counter.inc(('back\\slash "quoted"\nnext line',))

    assert render(counter)[-1] == 'app_total{value="back\\\\slash \\"quoted\\"\\nnext line"} 1'


# -- histograms -------------------------------------------------------------------------------


def test_histogram_buckets_are_cumulative_inclusive_and_end_with_inf_count_and_sum() -> None:
    latency = Histogram("app_latency_seconds", "Latency", ("route",), (0.1, 0.5, 1))
    for value in (0.05, 0.1, 0.3, 2.0):
        latency.observe(("/a",), value)

    assert render(latency) == [
        "# HELP app_latency_seconds Latency",
        "# TYPE app_latency_seconds histogram",
        'app_latency_seconds_bucket{route="/a",le="0.1"} 2',  # 0.1 itself is in le="0.1"
        'app_latency_seconds_bucket{route="/a",le="0.5"} 3',
        'app_latency_seconds_bucket{route="/a",le="1"} 3',
        'app_latency_seconds_bucket{route="/a",le="+Inf"} 4',
        'app_latency_seconds_count{route="/a"} 4',
        'app_latency_seconds_sum{route="/a"} 2.45',
    ]


def test_histogram_keeps_one_series_per_label_tuple() -> None:
    latency = Histogram("app_latency_seconds", "Latency", ("route",), (1,))
    latency.observe(("/a",), 0.5)
    latency.observe(("/b",), 3)

    lines = render(latency)
    assert 'app_latency_seconds_bucket{route="/a",le="1"} 1' in lines
    assert 'app_latency_seconds_bucket{route="/b",le="1"} 0' in lines
    assert 'app_latency_seconds_bucket{route="/b",le="+Inf"} 1' in lines
    assert 'app_latency_seconds_sum{route="/b"} 3' in lines


# -- gauges -----------------------------------------------------------------------------------


def test_gauge_is_read_at_scrape_time_and_may_declare_itself_a_counter() -> None:
    depth = [3]
    registry = Registry()
    registry.add(Gauge("app_queue_depth", "Queued rows", lambda: depth[0]))
    registry.add(Gauge("app_rows_total", "Rows so far", lambda: 7.5, kind="counter"))

    assert "app_queue_depth 3\n" in registry.render()
    depth[0] = 0
    text = registry.render()
    assert "app_queue_depth 0\n" in text
    assert "# TYPE app_rows_total counter\napp_rows_total 7.5\n" in text


def test_gauge_set_takes_one_snapshot_per_scrape_for_all_its_gauges() -> None:
    snapshots: list[dict[str, float]] = []

    def take() -> dict[str, float]:
        snapshots.append({"written": 10 * len(snapshots), "queued": 2})
        return snapshots[-1]

    writer = GaugeSet("app_writer", take)
    writer.gauge("app_rows_written_total", "Rows written", lambda s: s["written"], "counter")
    writer.gauge("app_queue_depth", "Queued", lambda s: s["queued"])
    registry = Registry()
    registry.add(writer)

    assert snapshots == []  # nothing is read before a scrape
    assert registry.render() == (
        "# HELP app_rows_written_total Rows written\n"
        "# TYPE app_rows_written_total counter\n"
        "app_rows_written_total 0\n"
        "# HELP app_queue_depth Queued\n"
        "# TYPE app_queue_depth gauge\n"
        "app_queue_depth 2\n"
    )
    assert len(snapshots) == 1
    assert "app_rows_written_total 10\n" in registry.render()
    assert len(snapshots) == 2


# -- the registry -----------------------------------------------------------------------------


def test_registry_renders_in_registration_order_and_a_same_name_replaces_in_place() -> None:
    registry = Registry()
    first = registry.add(Counter("app_a_total", "A"))
    registry.add(Counter("app_b_total", "B"))
    replacement = registry.add(Counter("app_a_total", "A again"))
    first.inc()
    replacement.inc(amount=5)

    assert registry.render() == (
        "# HELP app_a_total A again\n"
        "# TYPE app_a_total counter\n"
        "app_a_total 5\n"
        "# HELP app_b_total B\n"
        "# TYPE app_b_total counter\n"
    )


def test_add_returns_the_metric_it_registered() -> None:
    registry = Registry()
    counter = Counter("app_total", "Total")
    assert registry.add(counter) is counter


# -- inference series -------------------------------------------------------------------------


def inference(**fields: object) -> InferenceRecord:
    defaults: dict[str, object] = {
        "id": "i-1",
        "created_at": 0.0,
        "config_version": 1,
        "episode_id": "e-1",
        "model": "bot",
        "status": "ok",
        "function": "bot",
        "variant": "a",
    }
    return InferenceRecord(**{**defaults, **fields})  # type: ignore[arg-type]


def attempt(provider: str, status: str) -> AttemptRecord:
    return AttemptRecord(
        id="a",
        inference_id="i-1",
        provider=provider,
        provider_type="openai",
        model="m",
        started_at=0.0,
        latency_ms=1.0,
        status=status,
    )


def test_metered_recorder_counts_the_inference_then_hands_it_on() -> None:
    registry, inner = Registry(), ListRecorder()
    recorder = MeteredRecorder(inner, InferenceMetrics(registry))
    record = inference(
        latency_ms=300,
        ttft_ms=40,
        prompt_tokens=11,
        completion_tokens=5,
        attempts=[attempt("primary", "error"), attempt("backup", "ok")],
    )
    recorder.record(record)

    assert inner.records == [record]
    lines = registry.render().splitlines()
    for line in (
        'switchyard_inferences_total{function="bot",variant="a",status="ok"} 1',
        'switchyard_inference_latency_seconds_bucket{function="bot",variant="a",le="0.25"} 0',
        'switchyard_inference_latency_seconds_bucket{function="bot",variant="a",le="0.5"} 1',
        'switchyard_inference_ttft_seconds_bucket{function="bot",variant="a",le="0.05"} 1',
        'switchyard_tokens_total{function="bot",variant="a",kind="prompt"} 11',
        'switchyard_tokens_total{function="bot",variant="a",kind="completion"} 5',
        'switchyard_provider_attempts_total{provider="primary",status="error"} 1',
        'switchyard_provider_attempts_total{provider="backup",status="ok"} 1',
    ):
        assert line in lines


def test_an_inference_without_first_token_is_not_in_the_ttft_histogram() -> None:
    registry = Registry()
    MeteredRecorder(ListRecorder(), InferenceMetrics(registry)).record(
        inference(status="error", ttft_ms=None)
    )

    text = registry.render()
    assert 'switchyard_inferences_total{function="bot",variant="a",status="error"} 1' in text
    assert "switchyard_inference_ttft_seconds_count" not in text


def test_a_failure_to_count_does_not_stop_the_record(caplog: pytest.LogCaptureFixture) -> None:
    metrics = InferenceMetrics(Registry())
    metrics.inferences.values = None  # type: ignore[assignment]  # any increment now raises
    inner = ListRecorder()

    MeteredRecorder(inner, metrics).record(inference())

    assert len(inner.records) == 1
    assert "could not count inference i-1" in caplog.text
