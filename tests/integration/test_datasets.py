"""Datasets through the real gateway (docs/evaluations.md): built from logged traffic whose
labels, variants and feedback the test chose, so the datapoints a filter must select are known
exactly; demonstrations become references; keyset paging; edits, additions and deletes; the
JSON Lines and OpenAI fine-tuning exports; the CLI; and every bad input a 4xx naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV, rows, wait_rows
from tests.support.gateway import REPO, Gateway, copy_demo_config

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TOOL_CALLS = [
    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("datasets")
    gateway = Gateway(copy_demo_config(root / "variants"), root / "data", env=LOGGING_ENV)
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def traffic(gw: Gateway) -> list[dict[str, Any]]:
    """24 support-bot inferences: team a/b alternating, thumbs up on every third, a text
    demonstration on the first and a tool-call one on the second."""
    seeded = []
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(24):
            team = "a" if i % 2 == 0 else "b"
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "support-bot",
                    "messages": [{"role": "user", "content": f"question {i}"}],
                    "system_prompt_args": {"customer_name": f"C{i}"},
                    "session_id": str(uuid.uuid4()),
                    "labels": {"team": team},
                },
            )
            assert response.status_code == 200, response.text
            body = response.json()
            seeded.append(
                {"id": body["id"], "variant": body["variant"], "team": team, "liked": i % 3 == 0}
            )
        for item in seeded:
            feedback = {
                "metric_name": "thumbs_up",
                "inference_id": item["id"],
                "value": item["liked"],
            }
            assert client.post("/v1/feedback", json=feedback).status_code == 200
        for item, value in ((seeded[0], "The ideal answer."), (seeded[1], TOOL_CALLS)):
            feedback = {"metric_name": "demonstration", "inference_id": item["id"], "value": value}
            assert client.post("/v1/feedback", json=feedback).status_code == 200
    wait_rows(
        gw,
        "SELECT count() AS n FROM feedback WHERE metric IN ('thumbs_up', 'demonstration')",
        lambda r: r[0]["n"] == 26,
        timeout=30,
    )
    wait_rows(
        gw,
        "SELECT count() AS n FROM inferences WHERE function = 'support-bot'",
        lambda r: r[0]["n"] >= 24,
        timeout=30,
    )
    return seeded


def create(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gw.url + "/admin/datasets", json=body, headers=ADMIN, timeout=60)


def all_points(gw: Gateway, name: str, page: int = 100) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": page, **({"after": after} if after else {})}
        response = httpx.get(f"{gw.url}/admin/datasets/{name}", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        body = response.json()
        points.extend(body["datapoints"])
        after = body["next"]
        if after is None:
            return points


def test_a_filter_selects_exactly_the_logged_rows_it_names(
    gw: Gateway, traffic: list[dict[str, Any]]
) -> None:
    variant = traffic[0]["variant"]
    expected = {
        t["id"] for t in traffic if t["variant"] == variant and t["team"] == "a" and t["liked"]
    }
    assert expected, "the seed has liked team-a answers of the first variant"
    response = create(
        gw,
        {
            "name": "liked-a",
            "function": "support-bot",
            "description": "liked answers of team a",
            "filter": {
                "variant": variant,
                "labels": {"team": "a"},
                "metric": "thumbs_up",
                "value": True,
            },
        },
    )
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["datapoints"] == len(expected) and info["filter"]["variant"] == variant
    points = all_points(gw, "liked-a")
    assert {p["id"] for p in points} == expected
    assert all(p["source_inference_id"] == p["id"] and p["variant"] == variant for p in points)

    # A range on the metric: thumbs down (0 to 0.5) of either variant, newest five.
    response = create(
        gw,
        {
            "name": "disliked",
            "function": "support-bot",
            "filter": {"metric": "thumbs_up", "min": 0, "max": 0.5, "limit": 5},
        },
    )
    assert response.status_code == 201, response.text
    newest = rows(
        gw,
        "SELECT toString(id) AS id FROM inferences WHERE function = 'support-bot' "
        f"AND id IN ({', '.join(repr(t['id']) for t in traffic if not t['liked'])}) "
        "ORDER BY created_at DESC, id DESC LIMIT 5",
    )
    assert {p["id"] for p in all_points(gw, "disliked")} == {r["id"] for r in newest}


def test_a_datapoint_keeps_the_request_its_output_and_a_demonstration_as_reference(
    gw: Gateway, traffic: list[dict[str, Any]]
) -> None:
    response = create(gw, {"name": "everything", "function": "support-bot"})
    assert response.status_code == 201, response.text
    points = {p["id"]: p for p in all_points(gw, "everything", page=7)}
    assert set(points) >= {t["id"] for t in traffic}
    first, second, third = (points[traffic[i]["id"]] for i in range(3))
    logged = rows(
        gw,
        f"SELECT system_prompt, output FROM inferences WHERE id = '{traffic[0]['id']}'",
    )[0]
    assert first["input_messages"] == [{"role": "user", "content": "question 0"}]
    assert first["system_prompt_args"] == {"customer_name": "C0"}
    assert first["system_prompt"] == logged["system_prompt"] and "C0" in first["system_prompt"]
    assert first["output"] == json.loads(logged["output"])[0]["message"]
    assert first["reference_output"] == "The ideal answer."
    assert first["reference_source"] == "demonstration"
    assert second["reference_output"] == TOOL_CALLS
    assert third["reference_output"] is None and third["reference_source"] == ""


def test_paging_edits_additions_and_deletes(gw: Gateway, traffic: list[dict[str, Any]]) -> None:
    assert create(gw, {"name": "editable", "function": "support-bot"}).status_code == 201
    paged = all_points(gw, "editable", page=5)
    ids = [p["id"] for p in paged]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) >= 24

    url = f"{gw.url}/admin/datasets/editable/datapoints"
    target = traffic[2]["id"]
    edited = httpx.post(url, json={"id": target, "reference_output": "Better."}, headers=ADMIN)
    assert edited.status_code == 200, edited.text
    assert edited.json()["reference_output"] == "Better."
    assert edited.json()["reference_source"] == "edited"
    assert edited.json()["input_messages"] == [{"role": "user", "content": "question 2"}]

    added = httpx.post(
        url,
        json={
            "input_messages": [{"role": "user", "content": "by hand"}],
            "system_prompt_args": {"customer_name": "Hand"},
            "reference_output": "Hand-written answer.",
        },
        headers=ADMIN,
    )
    assert added.status_code == 201, added.text
    new_id = added.json()["id"]
    assert added.json()["variant"] == "" and added.json()["source_inference_id"] is None

    removed = httpx.delete(f"{url}/{traffic[3]['id']}", headers=ADMIN)
    assert removed.status_code == 200, removed.text
    after = {p["id"]: p for p in all_points(gw, "editable")}
    assert traffic[3]["id"] not in after and new_id in after
    assert after[target]["reference_output"] == "Better." and len(after) == len(paged)
    listed = httpx.get(gw.url + "/admin/datasets", headers=ADMIN).json()["datasets"]
    assert next(d for d in listed if d["name"] == "editable")["datapoints"] == len(paged)


def test_exports_jsonl_and_openai_fine_tuning(gw: Gateway, traffic: list[dict[str, Any]]) -> None:
    assert create(gw, {"name": "export-me", "function": "support-bot"}).status_code == 201
    url = f"{gw.url}/admin/datasets/export-me/export"
    lines = httpx.get(url, headers=ADMIN).text.splitlines()
    assert {json.loads(line)["id"] for line in lines} >= {t["id"] for t in traffic}

    sft = httpx.get(url, params={"format": "openai-sft"}, headers=ADMIN)
    assert sft.status_code == 200 and sft.headers["x-switchyard-skipped"] == "0"
    examples = [json.loads(line) for line in sft.text.splitlines()]
    assert len(examples) == len(lines)
    by_question = {e["messages"][1]["content"]: e for e in examples}
    demo = by_question["question 0"]["messages"]
    assert demo[0]["role"] == "system" and "C0" in demo[0]["content"]
    assert demo[-1] == {"role": "assistant", "content": "The ideal answer."}
    assert by_question["question 1"]["messages"][-1]["tool_calls"] == TOOL_CALLS
    logged = by_question["question 5"]["messages"][-1]
    assert logged["role"] == "assistant" and logged["content"]

    # Rendered from one variant's template instead of the prompts logged: the same as logged
    # for the datapoints that variant answered, different for the others'.
    concise = httpx.get(url, params={"format": "openai-sft", "variant": "concise"}, headers=ADMIN)
    assert concise.status_code == 200, concise.text
    points = {json.loads(line)["input_messages"][0]["content"]: json.loads(line) for line in lines}
    for line in concise.text.splitlines():
        messages = json.loads(line)["messages"]
        point = points[messages[1]["content"]]
        same = messages[0]["content"] == point["system_prompt"]
        assert same == (point["variant"] == "concise"), point["id"]


def test_the_cli_creates_lists_and_exports(
    gw: Gateway, traffic: list[dict[str, Any]], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env["SWITCHYARD_ADMIN_TOKEN"] = ADMIN_TOKEN

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "dataset", *args, "--url", gw.url],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    variant = traffic[0]["variant"]
    made = cli(
        "create", "from-cli", "--function", "support-bot", "--variant", variant, "--label", "team=b"
    )
    assert made.returncode == 0, made.stderr
    expected = {t["id"] for t in traffic if t["variant"] == variant and t["team"] == "b"}
    assert f"{len(expected)} datapoints" in made.stdout
    listed = cli("list")
    assert listed.returncode == 0 and "from-cli" in listed.stdout
    target = tmp_path / "sft.jsonl"
    exported = cli("export", "from-cli", "--format", "openai-sft", "--output", str(target))
    assert exported.returncode == 0, exported.stderr
    assert len(target.read_text().splitlines()) == len(expected)
    refused = cli("create", "from-cli", "--function", "support-bot")
    assert refused.returncode == 1 and "exists" in refused.stderr


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"name": "x", "function": "nope"}, "function", "unknown function 'nope'"),
        (
            {"name": "x", "function": "support-bot", "filter": {"variant": "nope"}},
            "filter.variant",
            "no variant 'nope'",
        ),
        (
            {"name": "x", "function": "support-bot", "filter": {"campaign": "nope"}},
            "filter.campaign",
            "no campaign 'nope'",
        ),
        (
            {"name": "x", "function": "support-bot", "filter": {"metric": "nope"}},
            "filter.metric",
            "unknown metric",
        ),
        (
            {"name": "x", "function": "support-bot", "filter": {"metric": "comment", "value": 1}},
            "filter.value",
            "only boolean and float",
        ),
        (
            {
                "name": "x",
                "function": "support-bot",
                "filter": {"metric": "rating", "value": 1, "min": 0},
            },
            "filter.value",
            "not both",
        ),
        (
            {
                "name": "x",
                "function": "support-bot",
                "filter": {"metric": "rating", "min": 2, "max": 1},
            },
            "filter.min",
            "above",
        ),
        ({"name": "x", "function": "support-bot", "filter": {"value": 1}}, "filter.metric", "need"),
        (
            {"name": "x", "function": "support-bot", "filter": {"from": "yesterday"}},
            "filter.from",
            "ISO date",
        ),
        (
            {"name": "x", "function": "support-bot", "filter": {"limit": 0}},
            "filter.limit",
            ">= 1",
        ),
        (
            {"name": "x", "function": "support-bot", "filter": {"colour": "red"}},
            "filter",
            "colour",
        ),
        ({"name": "has space", "function": "support-bot"}, "name", "matching regex"),
    ],
)
def test_bad_filters_are_400s_naming_the_field(
    gw: Gateway, body: dict[str, Any], param: str, words: str
) -> None:
    response = create(gw, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param or param in error["message"], error
    assert words in error["message"], error


def test_other_refusals(gw: Gateway, traffic: list[dict[str, Any]]) -> None:
    assert create(gw, {"name": "twice", "function": "support-bot"}).status_code == 201
    again = create(gw, {"name": "twice", "function": "support-bot"})
    assert again.status_code == 409 and "exists" in again.json()["error"]["message"]
    assert httpx.get(gw.url + "/admin/datasets/none", headers=ADMIN).status_code == 404
    url = f"{gw.url}/admin/datasets/twice"
    unknown = httpx.post(
        url + "/datapoints", json={"id": str(uuid.uuid4()), "reference_output": "x"}, headers=ADMIN
    )
    assert unknown.status_code == 404
    needs = httpx.post(url + "/datapoints", json={"reference_output": "x"}, headers=ADMIN)
    assert needs.status_code == 400 and needs.json()["error"]["param"] == "input_messages"
    bad_message = httpx.post(
        url + "/datapoints", json={"input_messages": [{"role": "robot"}]}, headers=ADMIN
    )
    assert bad_message.status_code == 400 and "input_messages" in bad_message.text
    fmt = httpx.get(url + "/export", params={"format": "xml"}, headers=ADMIN)
    assert fmt.status_code == 400 and fmt.json()["error"]["param"] == "format"
    variant = httpx.get(
        url + "/export", params={"format": "openai-sft", "variant": "nope"}, headers=ADMIN
    )
    assert variant.status_code == 400 and variant.json()["error"]["param"] == "variant"
    page = httpx.get(url, params={"limit": 0}, headers=ADMIN)
    assert page.status_code == 400 and page.json()["error"]["param"] == "limit"
    # Admin only, even with auth otherwise off: datasets are copies of logged prompts.
    assert httpx.get(gw.url + "/admin/datasets").status_code in (401, 403)


def test_the_demo_evaluation_runs_on_a_dataset_of_the_demo_traffic(
    gw: Gateway, traffic: list[dict[str, Any]]
) -> None:
    """README's loop on the demo config: log -> dataset -> `switchyard eval run`."""
    assert create(gw, {"name": "support-sample", "function": "support-bot"}).status_code == 201
    command = [sys.executable, "-m", "app.cli", "eval", "run", "support-check"]
    command += ["--variant", "friendly", "--variant", "concise", "--concurrency", "16"]
    command += ["--url", gw.url, "--token", ADMIN_TOKEN]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "support-check on support-sample: completed" in done.stdout
    assert "concise - friendly, paired:" in done.stdout
    assert "short" in done.stdout and "matches-demonstration" in done.stdout
