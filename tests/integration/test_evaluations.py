"""Offline evaluations through the real gateway (docs/evaluations.md), on a fake upstream whose
answer is a known function of the variant's rendered prompt (tests/support/fake_grader.py), so
every score is known exactly: each evaluator type, two judges, the paired comparison against
SciPy, a provider failing half the time, a gateway killed mid-run and resumed, evaluation calls
kept out of campaign results, key budgets and datasets, and the 4xx of bad runs and configs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scipy import stats

from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV, rows, wait_rows
from tests.support.fake_grader import FakeGrader
from tests.support.gateway import REPO, Gateway, start_gateway

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
N = 20
PRICE = "price = { input_per_mtok = 100, output_per_mtok = 100 }"


def gateway_toml(grader: FakeGrader) -> str:
    providers = "\n".join(
        f"""
[providers.{behaviour}]
type = "openai"
base_url = "{grader.url(behaviour)}"
params = "openai"
circuit_breaker = {{ failures = 0 }}
"""
        for behaviour in ("ok", "halffail", "slow")
    )
    models = "\n".join(
        f"""
[models.m-{behaviour}]
routing = [{{ provider = "{behaviour}", name = "m", {PRICE} }}]
retries = {{ max = 0 }}
"""
        for behaviour in ("ok", "halffail", "slow")
    )
    return providers + models + '\n[metrics.thumbs_up]\ntype = "boolean"\n'


EVALUATION = """
[evaluations.qa-eval]
dataset = "qa-set"
description = "Which case answers like the reference?"

[evaluations.qa-eval.evaluators.exact]
type = "exact_match"

[evaluations.qa-eval.evaluators.has_word]
type = "contains"
value = "WORD"

[evaluations.qa-eval.evaluators.lowercase]
type = "regex"
pattern = "^[a-z]"

[evaluations.qa-eval.evaluators.json]
type = "json_schema"
schema = { type = "object", required = ["answer"] }

[evaluations.qa-eval.evaluators.judge]
type = "llm_judge"
model = "m-ok"
template = "JUDGE\\noutput: {{ output }}\\nreference: {{ reference }}"

[evaluations.qa-eval.evaluators.length]
type = "llm_judge"
model = "m-ok"
output = "float"
min = 0
max = 4
template = "SCORE\\noutput: {{ output }}"
"""

FUNCTION = (
    """
default_variant = "upper"

[system_schema]
type = "object"
properties.who = { type = "string" }

[variants.upper]
model = "m-ok"
system_template = "MODE upper for {{ who }}"

[variants.lower]
model = "m-ok"
system_template = "MODE lower for {{ who }}"

[variants.json]
model = "m-ok"
weight = 0
system_template = "MODE json"

[variants.flaky]
model = "m-halffail"
weight = 0
system_template = "MODE upper"

[variants.slow]
model = "m-slow"
weight = 0
system_template = "MODE upper"

[campaigns.ab]
variants = { upper = 0.5, lower = 0.5 }
metric = "thumbs_up"
status = "active"
"""
    + EVALUATION
)


def reference(i: int) -> str:
    return "something else" if i % 4 == 3 else f"WORD {i}"


@pytest.fixture(scope="module")
def grader() -> Iterator[FakeGrader]:
    server = FakeGrader().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, grader: FakeGrader) -> Iterator[Gateway]:
    gateway = start_gateway(
        tmp_path_factory.mktemp("evaluations"),
        gateway_toml(grader),
        {"qa": FUNCTION},
        env={**LOGGING_ENV, "SWITCHYARD_EVAL_STALE_S": "2"},
    )
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def dataset(gw: Gateway) -> list[str]:
    """20 logged answers of ``upper`` labelled seed=yes, each with a demonstration (a quarter of
    them not what ``upper`` answers), four campaign inferences with thumbs up, and the dataset
    ``qa-set`` built from the seeded ones. Returns the seeded inference ids."""
    ids = []
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(N):
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "qa",
                    "tensorzero::variant_name": "upper",
                    "messages": [{"role": "user", "content": f"Word {i}"}],
                    "system_prompt_args": {"who": "tester"},
                    "labels": {"seed": "yes"},
                },
            )
            assert response.status_code == 200, response.text
            ids.append(response.json()["id"])
            feedback = {
                "metric_name": "demonstration",
                "inference_id": ids[-1],
                "value": reference(i),
            }
            assert client.post("/v1/feedback", json=feedback).status_code == 200
        for _ in range(4):
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "qa",
                    "messages": [{"role": "user", "content": "campaign"}],
                    "system_prompt_args": {"who": "x"},
                    "session_id": str(uuid.uuid4()),
                },
            )
            assert response.status_code == 200, response.text
            feedback = {
                "metric_name": "thumbs_up",
                "inference_id": response.json()["id"],
                "value": True,
            }
            assert client.post("/v1/feedback", json=feedback).status_code == 200
    wait_rows(
        gw,
        "SELECT count() AS n FROM feedback",
        lambda r: r[0]["n"] == N + 4,
        timeout=30,
    )
    created = httpx.post(
        gw.url + "/admin/datasets",
        json={"name": "qa-set", "function": "qa", "filter": {"labels": {"seed": "yes"}}},
        headers=ADMIN,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    assert created.json()["datapoints"] == N
    return ids


def start(gw: Gateway, variants: list[str], **extra: Any) -> dict[str, Any]:
    response = httpx.post(
        gw.url + "/admin/evaluations/qa-eval/runs",
        json={"variants": variants, **extra},
        headers=ADMIN,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def report(gw: Gateway, run_id: str) -> dict[str, Any]:
    response = httpx.get(gw.url + f"/admin/evaluations/runs/{run_id}", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def finished(gw: Gateway, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (current := report(gw, run_id))["status"] == "running":
        assert time.monotonic() < deadline, current
        time.sleep(0.2)
    return current


def results(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["variant"]: r for r in run["results"]}


def test_every_evaluator_scores_known_answers_exactly(gw: Gateway, dataset: list[str]) -> None:
    run = finished(gw, start(gw, ["upper", "lower"], concurrency=4)["id"])
    assert (run["status"], run["total"], run["done"], run["errored"]) == (
        "completed",
        2 * N,
        2 * N,
        0,
    )
    upper, lower = results(run)["upper"], results(run)["lower"]
    matching = sum(1 for i in range(N) if i % 4 != 3) / N  # 0.75
    expected_length = sum(len(f"WORD {i}") % 5 for i in range(N)) / N
    assert {name: s["mean"] for name, s in upper["evaluators"].items()} == {
        "exact": matching,
        "has_word": 1.0,
        "lowercase": 0.0,
        "json": 0.0,
        "judge": matching,
        "length": expected_length,
    }
    assert {name: s["mean"] for name, s in lower["evaluators"].items()} == {
        "exact": 0.0,
        "has_word": 0.0,
        "lowercase": 1.0,
        "json": 0.0,
        "judge": 0.0,
        "length": expected_length,
    }
    assert all(s["n"] == N for s in upper["evaluators"].values())
    # 40 answers at 10 + 5 tokens and $100/Mtok each way: the variants' cost, judges apart.
    assert upper["cost"] == pytest.approx(N * 15 * 100 / 1e6), run
    # Every answer and every judge call went through the pipeline and is logged, tagged.
    logged = wait_rows(
        gw,
        f"""SELECT labels['switchyard.eval_role'] AS role, count() AS n,
                   max(campaign) AS campaigns, max(api_key_id) AS keys FROM inferences
            WHERE labels['switchyard.eval_run'] = '{run["id"]}' GROUP BY role ORDER BY role""",
        lambda r: sum(x["n"] for x in r) == 6 * N,
    )
    assert [(r["role"], r["n"], r["campaigns"], r["keys"]) for r in logged] == [
        ("answer", 2 * N, "", ""),
        ("judge", 2 * 2 * N, "", ""),
    ]
    linked = rows(
        gw,
        f"""SELECT count() AS n, countIf(i.variant = s.variant) AS found
            FROM evaluation_scores AS s
            LEFT JOIN (SELECT id, variant FROM inferences) AS i ON i.id = s.inference_id
            WHERE s.run_id = '{run["id"]}'""",
    )
    assert linked == [{"n": 6 * 2 * N, "found": 6 * 2 * N}]


def test_paired_comparison_equals_scipy(gw: Gateway, dataset: list[str]) -> None:
    run = finished(gw, start(gw, ["upper", "json"])["id"])
    scores = rows(
        gw,
        f"""SELECT variant, datapoint_id, score FROM evaluation_scores
            WHERE run_id = '{run["id"]}' AND evaluator = 'length'""",
    )
    by = {(r["variant"], r["datapoint_id"]): r["score"] for r in scores}
    points = sorted({d for _, d in by})
    first = [by[("upper", d)] for d in points]
    second = [by[("json", d)] for d in points]
    reference_test = stats.ttest_rel(second, first)
    low, high = reference_test.confidence_interval(0.95)
    paired = run["comparison"]["evaluators"]["length"]
    assert run["comparison"]["first"] == "upper" and run["comparison"]["second"] == "json"
    assert paired["n"] == N
    assert paired["difference"] == pytest.approx(sum(second) / N - sum(first) / N, abs=1e-9)
    assert paired["ci"] == pytest.approx([low, high], abs=1e-6)
    assert paired["p_value"] == pytest.approx(reference_test.pvalue, abs=1e-6)
    summary = results(run)["upper"]["evaluators"]["length"]
    interval = stats.t.interval(0.95, N - 1, loc=sum(first) / N, scale=stats.sem(first))
    assert summary["ci"] == pytest.approx(list(interval), abs=1e-6)


def test_a_provider_failing_half_the_time_errors_datapoints_not_the_run(
    gw: Gateway, dataset: list[str]
) -> None:
    command = [sys.executable, "-m", "app.cli", "eval", "run", "qa-eval", "--variant", "flaky"]
    command += ["--url", gw.url, "--token", ADMIN_TOKEN, "--concurrency", "4"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr  # some datapoints errored
    assert "qa-eval on qa-set: completed" in done.stdout
    run_id = done.stderr.split("run ", 1)[1].split()[0]
    run = report(gw, run_id)
    assert (run["status"], run["done"], run["errored"]) == ("completed", N, N // 2)
    flaky = results(run)["flaky"]
    assert flaky["evaluators"]["has_word"] == {"n": N // 2, "mean": 1.0, "ci": [1.0, 1.0]}
    assert run["errors"] and all("500" in e["error"] for e in run["errors"]), run["errors"]
    assert f"{N}/{N}, {N // 2} errored" in done.stderr  # the progress bar's last state
    assert "errored: flaky" in done.stdout


def test_evaluation_calls_move_no_campaign_result_budget_or_dataset(
    gw: Gateway, dataset: list[str]
) -> None:
    def campaign() -> list[tuple[str, int, int]]:
        response = httpx.get(gw.url + "/v1/campaigns/ab/results", headers=ADMIN, timeout=30)
        assert response.status_code == 200, response.text
        return [
            (v["variant"], v["inferences"], v["feedback_count"])
            for v in response.json()["variants"]
        ]

    before = campaign()
    assert sum(n for _, n, _ in before) == 4
    key = httpx.post(
        gw.url + "/admin/keys",
        json={"name": "eval admin", "role": "admin", "budget_usd": 0.001, "budget_period": "day"},
        headers=ADMIN,
        timeout=15,
    ).json()["key"]
    response = httpx.post(
        gw.url + "/admin/evaluations/qa-eval/runs",
        json={"variants": ["upper", "lower"], "concurrency": 8},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    run = finished(gw, response.json()["id"])
    assert run["started_by"] == "eval admin"
    # $0.09 of calls: charged to the key, its $0.001 budget would refuse its next request.
    assert sum(r["cost"] for r in run["results"]) > 0.001
    chat = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "m-ok", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert chat.status_code == 200, chat.text
    assert campaign() == before
    rebuilt = httpx.post(
        gw.url + "/admin/datasets",
        json={"name": "everything", "function": "qa", "filter": {"limit": 100000}},
        headers=ADMIN,
        timeout=30,
    )
    assert rebuilt.json()["datapoints"] == N + 4  # the seeded and campaign traffic only


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/admin/evaluations/nope/runs", {"variants": ["upper"]}, 404, "name"),
        ("/admin/evaluations/qa-eval/runs", {"variants": ["upper", "ghost"]}, 400, "variants[1]"),
        ("/admin/evaluations/qa-eval/runs", {"variants": ["upper", "upper"]}, 400, "variants"),
        ("/admin/evaluations/qa-eval/runs", {"variants": []}, 400, "variants"),
        (
            "/admin/evaluations/qa-eval/runs",
            {"variants": ["upper"], "concurrency": 0},
            400,
            "concurrency",
        ),
        ("/admin/evaluations/qa-eval/runs", {"variants": ["upper"], "colour": 1}, 400, "colour"),
        ("/admin/evaluations/runs/not-a-run/resume", None, 404, "id"),
    ],
)
def test_bad_runs_are_4xx_naming_the_field(
    gw: Gateway, dataset: list[str], path: str, body: Any, status: int, param: str
) -> None:
    response = httpx.post(gw.url + path, json=body, headers=ADMIN, timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param or param in error["message"], error


@pytest.mark.parametrize(
    ("evaluator", "key", "words"),
    [
        ({"type": "regex", "pattern": "("}, "evaluators.e.pattern", "regular expression"),
        ({"type": "json_schema", "schema": {"type": 5}}, "evaluators.e.schema", "JSON Schema"),
        (
            {"type": "llm_judge", "model": "ghost", "template": "x"},
            "evaluators.e.model",
            "unknown model",
        ),
        (
            {"type": "llm_judge", "model": "m-ok", "template": "{{ nope }}"},
            "evaluators.e.template",
            "nope",
        ),
        (
            {
                "type": "llm_judge",
                "model": "m-ok",
                "template": "x",
                "output": "float",
                "min": 2,
                "max": 1,
            },
            "evaluators.e.min",
            "below max",
        ),
        ({"type": "bleu"}, "evaluators.e.type", "bleu"),
    ],
)
def test_malformed_evaluators_are_400s_naming_the_key(
    gw: Gateway, evaluator: dict[str, Any], key: str, words: str
) -> None:
    current = httpx.get(gw.url + "/admin/functions/qa", headers=ADMIN, timeout=30).json()
    document = current.get("function", current)
    document = {
        **document,
        "evaluations": {"broken": {"dataset": "qa-set", "evaluators": {"e": evaluator}}},
    }
    response = httpx.put(gw.url + "/admin/functions/qa", json=document, headers=ADMIN, timeout=30)
    assert response.status_code == 400, response.text
    problems = response.json()["error"]["problems"]
    assert any(
        p["key"].endswith(f"evaluations.broken.{key}") and words in p["message"] for p in problems
    ), problems


def test_a_run_killed_mid_way_is_interrupted_and_resumes_each_datapoint_once(
    gw: Gateway, dataset: list[str]
) -> None:
    run_id = start(gw, ["slow"], concurrency=2)["id"]  # 20 x 0.25 s / 2: about 2.5 s
    wait_rows(
        gw,
        f"SELECT count() AS n FROM evaluation_results WHERE run_id = '{run_id}'",
        lambda r: r[0]["n"] >= 4,
        timeout=30,
    )
    assert gw.process is not None
    os.killpg(gw.process.pid, signal.SIGKILL)  # no shutdown: the heartbeat just stops
    gw.process.wait(10)
    gw.start()
    deadline = time.monotonic() + 30
    while (run := report(gw, run_id))["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert run["status"] == "interrupted"
    assert 4 <= run["done"] < N
    resumed = httpx.post(
        gw.url + f"/admin/evaluations/runs/{run_id}/resume", headers=ADMIN, timeout=30
    )
    assert resumed.status_code == 200, resumed.text
    again = httpx.post(
        gw.url + f"/admin/evaluations/runs/{run_id}/resume", headers=ADMIN, timeout=30
    )
    assert again.status_code == 409  # running again: a second resume would double it
    run = finished(gw, run_id)
    assert (run["status"], run["done"], run["errored"]) == ("completed", N, 0)
    landed = rows(
        gw,
        f"""SELECT count() AS n, uniqExact(datapoint_id) AS points FROM evaluation_results
            WHERE run_id = '{run_id}'""",
    )
    assert landed == [{"n": N, "points": N}]  # no FINAL: not one row twice
    assert results(run)["slow"]["evaluators"]["has_word"]["n"] == N
