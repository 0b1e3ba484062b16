"""Every inference lands in ClickHouse exactly as it was sent and answered (docs/analytics.md).

A real gateway process with embedded chDB and a fake OpenAI upstream; rows are read back
through ``POST /admin/sql``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY, serve_test_config
from tests.support.analytics import LOGGING_ENV, metric, rows, wait_rows
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway

SECRET = UPSTREAM_KEY  # what must never reach the log


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    server = serve_test_config(tmp_path_factory.mktemp("inference-log"), fake_upstream, LOGGING_ENV)
    yield server
    server.stop()


def chat(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=15)


def stream(gw: Gateway, body: dict[str, Any]) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with httpx.stream(
        "POST", gw.url + "/v1/chat/completions", json={**body, "stream": True}, timeout=15
    ) as response:
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
        ]
    return response, events


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def logged(gw: Gateway, run: str, count: int) -> dict[str, dict[str, Any]]:
    """The inferences labelled run=<run>, by id, once ``count`` of them (and their attempts) are in."""
    query = f"""
        SELECT i.*, a.attempts
        FROM inferences AS i
        LEFT JOIN (
            SELECT inference_id,
                   groupArray((attempt, provider, model, status, error, http_status, prompt_tokens,
                               completion_tokens, raw_request != '', raw_response != '')) AS attempts
            FROM model_inferences GROUP BY inference_id
        ) AS a ON a.inference_id = i.id
        WHERE labels['run'] = '{run}'
    """
    # model_inferences is inserted just after inferences: wait for both.
    found = wait_rows(gw, query, lambda r: len(r) >= count and all(row["attempts"] for row in r))
    assert len(found) == count, found
    for row in found:
        row["attempts"] = sorted(tuple(attempt) for attempt in row["attempts"] or [])
    return {row["id"]: row for row in found}


def test_every_request_is_logged_with_what_was_sent_and_returned(gw: Gateway) -> None:
    run = uuid.uuid4().hex
    session, episode = str(uuid.uuid4()), str(uuid.uuid4())

    a = chat(
        gw,
        {
            "model": "support-bot",
            "messages": user("hello A"),
            "system_prompt_args": {"customer_name": "Ann"},
            "labels": {"run": run, "team": "search"},
            "metadata": {"app": "web"},
            "tensorzero::tags": {"tz": "1"},
            "tags": ["alpha", "beta"],
            "session_id": session,
            "user": "u-1",
            "tensorzero::episode_id": episode,
        },
    )
    b, b_events = stream(
        gw,
        {
            "model": "passthrough",
            "messages": user("stream me please"),
            "labels": {"run": run},
            "stream_options": {"include_usage": True},
            "tags": "x, y ,z",
        },
    )
    c = chat(
        gw,
        {"model": "passthrough", "messages": user("c"), "metadata": {"run": run}, "tags": "solo"},
    )
    d = chat(gw, {"model": "after-500", "messages": user("d"), "labels": {"run": run}})
    e, _e_events = stream(gw, {"model": "after-500", "messages": user("e"), "labels": {"run": run}})
    f = chat(gw, {"model": "all-fail", "messages": user("f"), "labels": {"run": run}})
    g = chat(gw, {"model": "passthrough", "messages": user("g"), "n": 2, "labels": {"run": run}})
    h = chat(
        gw,
        {
            "model": "passthrough",
            "labels": {"run": run},
            "messages": [
                *user("hello A"),
                {"role": "assistant", "content": "echo: hello A", "completion_id": a.json()["id"]},
                *user("h"),
            ],
        },
    )
    bad = chat(
        gw,
        {"model": "passthrough", "messages": user("x"), "temperature": 5, "labels": {"run": run}},
    )
    assert [r.status_code for r in (a, b, c, d, e, f, g, h, bad)] == [200] * 5 + [
        502,
        200,
        200,
        400,
    ]

    ids = {
        name: r.headers["x-switchyard-inference-id"]
        for name, r in zip("abcdegh", (a, b, c, d, e, g, h), strict=False)
    }
    log = logged(gw, run, 8)  # the 400 is not an inference
    failed = next(row for row in log.values() if row["status"] == "error")
    assert set(log) == set(ids.values()) | {failed["id"]}

    row, body = log[ids["a"]], a.json()
    usage = body["usage"]
    assert {
        k: row[k]
        for k in (
            "function",
            "variant",
            "campaign",
            "sticky_unit",
            "session_id",
            "episode_id",
            "user",
        )
    } == {
        "function": "support-bot",
        "variant": body["variant"],
        "campaign": "tone",
        "sticky_unit": session,
        "session_id": session,
        "episode_id": episode,
        "user": "u-1",
    }
    assert row["labels"] == {"run": run, "team": "search", "app": "web", "tz": "1"}
    assert row["tags"] == ["alpha", "beta"]
    assert (row["model"], row["provider"], row["provider_model"], row["status"], row["error"]) == (
        "support-bot",
        "ok",
        "upstream-model",
        "ok",
        "",
    )
    assert (
        (row["prompt_tokens"], row["completion_tokens"], row["usage_estimated"])
        == (usage["prompt_tokens"], usage["completion_tokens"], False)
        == (11, 7, False)
    )
    assert row["system_prompt"] in ("You help Ann.", "Be brief with Ann.")
    assert json.loads(row["system_prompt_args"]) == {"customer_name": "Ann"}
    assert json.loads(row["input_messages"])[-1] == {"role": "user", "content": "hello A"}
    assert (
        json.loads(row["output"])[0]["message"]["content"]
        == body["choices"][0]["message"]["content"]
        == "echo: hello A"
    )
    assert row["finish_reason"] == "stop" and row["streamed"] is False
    assert row["completion_ids"] == [body["id"]] and row["parent_completion_ids"] == []
    assert row["ttft_ms"] == pytest.approx(usage["time_to_first_token"] * 1000, abs=0.5)
    assert row["queue_ms"] == pytest.approx(usage["queue_time"] * 1000, abs=0.5)
    assert row["latency_ms"] >= (usage["queue_time"] + usage["model_execution_time"]) * 1000 - 0.5
    assert row["config_version"] >= 1
    variant_default = {"temperature": 0.3} if body["variant"] == "friendly" else {"max_tokens": 50}
    assert variant_default.items() <= json.loads(row["params"]).items()
    assert row["attempts"] == [(1, "ok", "upstream-model", "ok", "", None, 11, 7, True, True)]

    row = log[ids["b"]]
    usage_event = next(ev for ev in b_events if ev.get("usage"))
    text = "".join(
        ev["choices"][0]["delta"].get("content") or "" for ev in b_events if ev["choices"]
    )
    assert row["streamed"] is True and row["tags"] == ["x", "y", "z"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage_event["usage"]["prompt_tokens"],
        usage_event["usage"]["completion_tokens"],
    )
    assert json.loads(row["output"])[0]["message"]["content"] == text == "echo: stream me please"
    assert row["ttft_ms"] == pytest.approx(
        usage_event["usage"]["time_to_first_token"] * 1000, abs=0.5
    )

    assert log[ids["c"]]["tags"] == ["solo"] and log[ids["c"]]["labels"] == {"run": run}

    for name in "de":  # the failed first route is an attempt of its own
        row = log[ids[name]]
        assert (row["status"], row["provider"], row["provider_model"]) == (
            "ok",
            "ok",
            "second-choice",
        )
        *failures, last = row["attempts"]  # the provider policy may retry fail500 before moving on
        assert failures and all(
            x[1:6] == ("fail500", "m", "error", "HTTP 500: upstream exploded", 500)
            for x in failures
        )
        assert last[1:5] == ("ok", "second-choice", "ok", "")
        assert [x[0] for x in row["attempts"]] == list(range(1, len(row["attempts"]) + 1))
    assert log[ids["e"]]["streamed"] is True

    assert (
        failed["error"] == f.json()["error"]["message"]
        and failed["output"] == ""
        and failed["provider"] == ""
    )
    # Both routes were tried: fail500's breaker is disabled (failures = 0), so it is never skipped.
    assert {(x[1], x[3]) for x in failed["attempts"]} == {
        ("fail500", "error"),
        ("refused", "error"),
    }

    row, body = log[ids["g"]], g.json()
    assert row["completion_ids"] == [choice["completion_id"] for choice in body["choices"]]
    assert len(set(row["completion_ids"])) == 2 and len(json.loads(row["output"])) == 2
    assert log[ids["h"]]["parent_completion_ids"] == [ids["a"]]

    lookup = rows(
        gw,
        f"SELECT kind, inference_id FROM inference_by_id WHERE id = '{row['completion_ids'][1]}'",
    )
    assert lookup == [{"kind": "completion", "inference_id": ids["g"]}]
    whole = rows(gw, f"SELECT id, output FROM inference_lookup(id = '{row['completion_ids'][1]}')")
    assert [r["id"] for r in whole] == [ids["g"]]
    assert rows(
        gw, f"SELECT count() AS n FROM inference_by_id WHERE id = '{episode}' AND kind = 'episode'"
    ) == [{"n": 1}]

    leaked = rows(
        gw,
        f"""
        SELECT (SELECT count() FROM model_inferences WHERE position(raw_request, '{SECRET}') > 0
                OR position(raw_response, '{SECRET}') > 0)
             + (SELECT count() FROM inferences WHERE position(params, '{SECRET}') > 0
                OR position(input_messages, '{SECRET}') > 0) AS n""",
    )
    assert leaked == [{"n": 0}], "a provider key reached ClickHouse"


def test_client_disconnecting_mid_stream_is_logged_as_cancelled(gw: Gateway) -> None:
    run = uuid.uuid4().hex
    words = " ".join(f"w{i}" for i in range(40))  # the slow upstream sends one word per 0.2 s
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        timeout=15,
        json={
            "model": "slow-stream",
            "messages": user(words),
            "stream": True,
            "labels": {"run": run},
        },
    ) as response:
        inference_id = response.headers["x-switchyard-inference-id"]
        received = ""
        for line in response.iter_lines():
            if line.startswith("data: {"):
                received += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            if "w1" in received:
                break
    row = logged(gw, run, 1)[inference_id]
    assert row["status"] == "cancelled" and row["error"] == "client disconnected"
    partial = json.loads(row["output"])[0]["message"]["content"]
    assert partial.startswith("echo: w0 w1") and "w39" not in partial
    assert [(x[1], x[3]) for x in row["attempts"]] == [("slowstream", "cancelled")]


def test_logging_flags_do_exactly_what_they_say(gw: Gateway) -> None:
    run = uuid.uuid4().hex
    base = {"model": "passthrough", "labels": {"run": run}}
    not_stored = chat(gw, {**base, "messages": user("store false"), "store": False})
    dry = chat(gw, {**base, "messages": user("dry run"), "tensorzero::dryrun": True})
    no_query = chat(gw, {**base, "messages": user("no query body"), "log_query_body": False})
    no_response = chat(
        gw, {**base, "messages": user("no response body"), "log_response_body": False}
    )
    streamed_no_response = stream(
        gw, {**base, "messages": user("streamed"), "log_response_body": False}
    )[0]
    assert all(
        r.status_code == 200 for r in (not_stored, dry, no_query, no_response, streamed_no_response)
    )

    log = logged(gw, run, 3)  # queue order: had the first two been queued, they would be in by now
    assert not_stored.json()["id"] not in log and dry.json()["id"] not in log

    row = log[no_query.json()["id"]]
    assert row["input_messages"] == "" and "no query body" in row["output"]
    assert row["prompt_tokens"] == 11 and row["system_prompt_args"] == "" and row["status"] == "ok"
    assert [(x[8], x[9]) for x in row["attempts"]] == [
        (False, True)
    ]  # raw request empty, response kept

    for response, text in ((no_response, "no response body"), (streamed_no_response, "streamed")):
        row = log[response.headers["x-switchyard-inference-id"]]
        assert row["output"] == "" and text in row["input_messages"]
        assert row["completion_tokens"] > 0 and row["finish_reason"] == "stop"
        assert [(x[8], x[9]) for x in row["attempts"]] == [(True, False)]


def test_analyst_views_and_operations_endpoints(gw: Gateway) -> None:
    run = uuid.uuid4().hex
    for i in range(3):
        assert (
            chat(
                gw,
                {
                    "model": "support-bot",
                    "messages": user(f"v{i}"),
                    "labels": {"run": run},
                    "system_prompt_args": {"customer_name": "Bo"},
                    "session_id": str(uuid.uuid4()),
                },
            ).status_code
            == 200
        )
    # Pinned, so the variant="concise" series below exists whatever the campaign's draw was.
    pinned = chat(
        gw,
        {
            "model": "support-bot/concise",
            "messages": user("pinned"),
            "labels": {"run": run},
            "system_prompt_args": {"customer_name": "Bo"},
        },
    )
    assert pinned.status_code == 200 and pinned.json()["variant"] == "concise"
    logged(gw, run, 4)
    daily = rows(
        gw, "SELECT * FROM daily_stats WHERE function = 'support-bot' AND campaign = 'tone'"
    )
    assert {row["variant"] for row in daily} <= {"friendly", "concise"}
    assert sum(row["inferences"] for row in daily) >= 3 and sum(row["units"] for row in daily) >= 3
    assert all(
        row["latency_p50_ms"] > 0 and row["ttft_p95_ms"] > 0 and row["prompt_tokens"] >= 11
        for row in daily
    )
    assert rows(gw, "SELECT count() AS n FROM inference_feedback") == [{"n": 0}]

    ready = httpx.get(gw.url + "/ready").json()
    assert ready["checks"]["clickhouse"]["ok"] is True
    assert metric(gw, "switchyard_rows_written_total") >= 3
    assert metric(gw, "switchyard_rows_dropped_total") == 0
    assert metric(gw, "switchyard_write_queue_depth") >= 0
    text = httpx.get(gw.url + "/metrics").text
    assert (
        'switchyard_inferences_total{function="support-bot",variant="concise",status="ok"}' in text
    )
    assert (
        'switchyard_http_requests_total{route="/v1/chat/completions",method="POST",status="200"}'
        in text
    )
