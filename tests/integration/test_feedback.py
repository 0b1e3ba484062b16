"""POST /v1/feedback: every metric type, every mismatch, targets that exist (even still in
the write buffer) and ones that do not; feedback lands in ClickHouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.analytics import wait_rows
from tests.support.experiment_config import experiment_gateway
from tests.support.gateway import Gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from experiment_gateway(tmp_path_factory, "feedback")


def infer(gw: Gateway, n: int = 1, **extra: object) -> dict:
    body = {"model": "exp", "messages": [{"role": "user", "content": "hello"}], "n": n, **extra}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def feedback(gw: Gateway, path: str = "/v1/feedback", **body: object) -> httpx.Response:
    return httpx.post(gw.url + path, json=body)


def test_every_type_with_the_right_value_is_accepted(gw: Gateway) -> None:
    first = infer(gw, n=2)
    second = infer(gw)
    completion_b = first["choices"][1]["completion_id"]
    accepted = [
        dict(metric_name="success", inference_id=first["id"], value=True),
        dict(metric_name="score", completion_id=completion_b, value=4.5),
        dict(metric_name="score", inference_id=first["id"], value=3),
        dict(metric_name="comment", inference_id=first["id"], value="too long"),
        dict(metric_name="comment", episode_id=first["episode_id"], value="whole chat was fine"),
        dict(metric_name="note", episode_id=first["episode_id"], value="escalated"),
        dict(metric_name="resolved", episode_id=first["episode_id"], value=False),
        dict(metric_name="demonstration", inference_id=first["id"], value="The right answer."),
        dict(
            metric_name="demonstration",
            inference_id=first["id"],
            value=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
            ],
        ),
        dict(metric_name="preferred", value={"preferred": completion_b, "other": second["id"]}),
        dict(
            metric_name="preferred",
            inference_id=first["id"],
            value={"preferred": first["id"], "other": second["id"]},
        ),
    ]
    ids = set()
    for body in accepted:
        response = feedback(gw, **body, tags={"reviewer": "ops"})
        assert response.status_code == 200, (body, response.text)
        feedback_id = response.json()["feedback_id"]
        assert uuid.UUID(feedback_id).version == 7
        ids.add(feedback_id)
    stored = wait_rows(
        gw,
        f"SELECT toString(id) AS id, metric, type, value, value_text, target_level, tags, variant, campaign "
        f"FROM feedback WHERE toString(id) IN ({', '.join(repr(i) for i in ids)})",
        lambda rows: len(rows) == len(ids),
    )
    assert len(stored) == len(ids)
    by_metric = {}
    for row in stored:
        by_metric.setdefault(row["metric"], []).append(row)
    assert by_metric["success"][0]["value"] == 1.0
    assert sorted(r["value"] for r in by_metric["score"]) == [3.0, 4.5]
    assert all(r["tags"] == {"reviewer": "ops"} for r in stored)
    assert by_metric["resolved"][0]["target_level"] == "episode"
    assert {r["variant"] for r in by_metric["success"]} == {first["variant"]}
    assert by_metric["success"][0]["campaign"] == "ab"
    preference = next(r for r in by_metric["preferred"] if completion_b in r["value_text"])
    assert second["id"] in preference["value_text"]


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("success", 1),
        ("success", "true"),
        ("success", None),
        ("score", "high"),
        ("score", True),
        ("score", [1]),
        ("comment", 5),
        ("comment", ""),
        ("demonstration", 5),
        ("demonstration", [{"not": "a tool call"}]),
        ("preferred", "a"),
        ("preferred", {"preferred": "x"}),
    ],
)
def test_type_mismatch_is_400(gw: Gateway, metric: str, value: object) -> None:
    target = infer(gw)["id"]
    response = feedback(gw, metric_name=metric, inference_id=target, value=value)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "value" and error["type"] == "invalid_request_error"


def test_unknown_target_is_404(gw: Gateway) -> None:
    for body in (
        dict(metric_name="success", inference_id=str(uuid.uuid4()), value=True),
        dict(metric_name="success", completion_id=str(uuid.uuid4()), value=True),
        dict(metric_name="resolved", episode_id=str(uuid.uuid4()), value=True),
    ):
        response = feedback(gw, **body)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "target_not_found"
    ghost = str(uuid.uuid4())
    preference = feedback(
        gw, metric_name="preferred", value={"preferred": infer(gw)["id"], "other": ghost}
    )
    assert preference.status_code == 404 and preference.json()["error"]["param"] == "value.other"


def test_level_mismatch_is_400(gw: Gateway) -> None:
    reply = infer(gw)
    episode_metric_on_inference = feedback(
        gw, metric_name="resolved", inference_id=reply["id"], value=True
    )
    assert episode_metric_on_inference.status_code == 400
    assert episode_metric_on_inference.json()["error"]["param"] == "inference_id"
    inference_metric_on_episode = feedback(
        gw, metric_name="success", episode_id=reply["episode_id"], value=True
    )
    assert inference_metric_on_episode.status_code == 400


def test_bad_requests(gw: Gateway) -> None:
    reply = infer(gw)
    cases = [
        (dict(metric_name="nope", inference_id=reply["id"], value=True), 404, "metric_name"),
        (dict(metric_name="success", value=True), 400, "inference_id"),
        (
            dict(
                metric_name="success",
                inference_id=reply["id"],
                episode_id=reply["episode_id"],
                value=True,
            ),
            400,
            "inference_id",
        ),
        (dict(metric_name="success", inference_id="not-a-uuid", value=True), 400, "inference_id"),
        (dict(metric_name="success", inference_id=reply["id"]), 400, "value"),
        (dict(inference_id=reply["id"], value=True), 400, "metric_name"),
        (
            dict(metric_name="success", inference_id=reply["id"], value=True, tags={"a": 1}),
            400,
            "tags",
        ),
    ]
    for body, status, param in cases:
        response = feedback(gw, **body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.text)
    not_json = httpx.post(
        gw.url + "/v1/feedback", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


def test_feedback_right_after_the_inference_is_accepted(gw: Gateway) -> None:
    # The writer flushes every 50 ms here; this request follows the reply at once, so the
    # inference is usually still in the buffer. Either way it must be found.
    for _ in range(20):
        reply = infer(gw)
        assert (
            feedback(gw, metric_name="success", inference_id=reply["id"], value=True).status_code
            == 200
        )


def test_dryrun_validates_but_stores_nothing_and_aliases_work(gw: Gateway) -> None:
    reply = infer(gw)
    dry = feedback(gw, metric_name="score", inference_id=reply["id"], value=2.0, dryrun=True)
    assert dry.status_code == 200
    dry_bad = feedback(gw, metric_name="score", inference_id=reply["id"], value="x", dryrun=True)
    assert dry_bad.status_code == 400
    for path in ("/feedback", "/api/v1/feedback"):
        assert (
            feedback(gw, path, metric_name="score", inference_id=reply["id"], value=1.0).status_code
            == 200
        )
    rows = wait_rows(
        gw,
        f"SELECT value FROM feedback WHERE toString(target_id) = '{reply['id']}'",
        lambda r: len(r) == 2,
    )
    assert sorted(r["value"] for r in rows) == [1.0, 1.0]  # the dry run is not among them


def test_old_inference_is_found_in_clickhouse_after_a_restart(gw: Gateway) -> None:
    reply = infer(gw)
    wait_rows(
        gw,
        f"SELECT 1 FROM inference_by_id WHERE toString(id) = '{reply['id']}'",
        lambda r: len(r) == 1,
    )
    gw.stop()
    gw.start()  # the recent-id set is gone; the lookup must hit ClickHouse
    assert (
        feedback(gw, metric_name="success", inference_id=reply["id"], value=False).status_code
        == 200
    )
    assert (
        feedback(gw, metric_name="resolved", episode_id=reply["episode_id"], value=True).status_code
        == 200
    )
