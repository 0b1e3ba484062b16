"""The console's Datasets and Evaluations pages in Chromium (issue 21, docs/evaluations.md):
from the function page, build the demo's dataset from logged traffic, edit a reference, start a
run of the demo evaluation and read the paired comparison, which equals the admin API's report
and the scores the demo's dummy providers make known exactly.

The demo's ``friendly`` variant echoes the user's message and ``concise`` answers one fixed
sentence, so a reference equal to the message scores friendly 1 and concise 0 on
``exact_match``, and a reference equal to the fixed sentence the other way round.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.browser.conftest import PageWatch
from tests.browser.test_console import admin, sign_in, sql_rows, wait_for
from tests.support.gateway import Gateway

TAG = uuid.uuid4().hex[:8]
FIXED = "Thanks for reaching out! Your order ships tomorrow."  # variants/gateway.toml, demo-fast


def seed_support_traffic(gateway: Gateway, key: str) -> list[str]:
    """Ten logged support-bot inferences: eight with a demonstration equal to the question, one
    with the fixed answer as its demonstration, one with none."""
    ids = []
    with admin(gateway, key) as client:
        for index in range(10):
            question = f"question {index} {TAG}"
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "support-bot",
                    "messages": [{"role": "user", "content": question}],
                    "system_prompt_args": {"customer_name": "Ada"},
                    "session_id": str(uuid.uuid4()),
                    "labels": {"evaltest": TAG},
                },
            )
            assert response.status_code == 200, response.text
            ids.append(response.json()["id"])
            demonstration = question if index < 8 else FIXED if index < 9 else None
            if demonstration is not None:
                client.post(
                    "/v1/feedback",
                    json={
                        "metric_name": "demonstration",
                        "inference_id": ids[-1],
                        "value": demonstration,
                    },
                ).raise_for_status()
    wait_for(
        lambda: (
            sql_rows(
                gateway,
                key,
                f"SELECT count() FROM feedback WHERE inference_id IN ('{ids[0]}', '{ids[8]}')",
            )[0][0]
            == 2
        ),
        timeout=30,
    )
    return ids


def test_build_a_dataset_edit_a_reference_run_an_evaluation_and_read_the_comparison(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    ids = seed_support_traffic(console_gateway, admin_key)
    sign_in(browser_page, console_gateway, admin_key, "/ui/functions/support-bot")

    # Function page -> its datasets -> build one from the log by the form.
    browser_page.get_by_role("link", name="Datasets", exact=True).last.click()
    browser_page.get_by_label("Name").fill("support-sample")
    browser_page.get_by_label("Function").select_option("support-bot")
    browser_page.get_by_label("Labels").fill(f"evaltest={TAG}")
    browser_page.screenshot(path=str(screenshots / "datasets.png"), full_page=True)
    browser_page.get_by_role("button", name="Build dataset").click()
    browser_page.wait_for_load_state()
    assert "Built support-sample: 10 datapoints" in browser_page.inner_text("main")
    rows = browser_page.locator("#datapoints tbody tr")
    assert rows.count() == 10
    assert browser_page.locator("#datapoints .badge", has_text="demonstration").count() == 9
    browser_page.screenshot(path=str(screenshots / "dataset.png"), full_page=True)

    # The last question had no demonstration: give it one in the console.
    last = ids[9]
    browser_page.get_by_role("link", name=f"Datapoint {last}").click()
    browser_page.get_by_role("textbox", name="Reference").fill(f"question 9 {TAG}")
    browser_page.screenshot(path=str(screenshots / "datapoint.png"), full_page=True)
    browser_page.get_by_role("button", name="Save reference").click()
    browser_page.wait_for_load_state()
    assert "Reference saved." in browser_page.inner_text("main")
    with admin(console_gateway, admin_key) as client:
        stored = client.get("/admin/datasets/support-sample", params={"limit": 100}).json()
    edited = next(p for p in stored["datapoints"] if p["id"] == last)
    assert edited["reference_output"] == f"question 9 {TAG}"
    assert edited["reference_source"] == "edited"

    # The dataset's evaluation, started from the console with the two variants it offers.
    browser_page.get_by_role("link", name="support-sample").first.click()
    browser_page.get_by_role("link", name="Evaluate with support-check").click()
    form = browser_page.locator("#evaluation-support-check")
    assert form.get_by_label("concise").is_checked() and form.get_by_label("friendly").is_checked()
    assert not form.get_by_label("tool-first").is_checked()
    browser_page.screenshot(path=str(screenshots / "evaluations.png"), full_page=True)
    form.get_by_role("button", name="Start run of support-check").click()
    browser_page.wait_for_load_state()
    assert "/ui/evaluations/runs/" in browser_page.url
    run_id = browser_page.url.rsplit("/", 1)[1]

    # The page refreshes itself until the run is done.
    browser_page.locator("#run-status", has_text="completed").wait_for(timeout=60_000)
    with admin(console_gateway, admin_key) as client:
        report = client.get(f"/admin/evaluations/runs/{run_id}").json()
    assert report["status"] == "completed" and report["done"] == 20 and report["errored"] == 0
    comparison = report["comparison"]
    assert (comparison["first"], comparison["second"]) == ("concise", "friendly")
    exact = comparison["evaluators"]["matches-demonstration"]
    # friendly matches 9 of the 10 references, concise 1: friendly - concise = 0.8 per pair
    assert exact["n"] == 10 and abs(exact["difference"] - 0.8) < 1e-12 and exact["p_value"] < 0.05

    row = browser_page.locator('#comparison tr[data-evaluator="matches-demonstration"]')
    assert row.locator('[data-field="difference"]').inner_text() == f"{0.8:+.4g}"
    low, high = exact["ci"]
    assert row.locator('[data-field="ci"]').inner_text() == f"{low:.4g} to {high:.4g}"
    assert row.locator('[data-field="p"]').inner_text() == f"{exact['p_value']:.3g}"
    assert "friendly scores higher" in row.inner_text()
    short = browser_page.locator('#comparison tr[data-evaluator="short"]')
    assert "no clear difference" in short.inner_text()  # both answers are short

    friendly = browser_page.locator(
        '#results tr[data-variant="friendly"] td[data-evaluator="matches-demonstration"]'
    )
    assert friendly.inner_text().startswith(f"{0.9:.4g}") and "n=10" in friendly.inner_text()
    concise = browser_page.locator(
        '#results tr[data-variant="concise"] td[data-evaluator="matches-demonstration"]'
    )
    assert concise.inner_text().startswith(f"{0.1:.4g}")

    # The intervals are drawn: one chart per evaluator, and the difference around 0.
    drawn = browser_page.locator("svg.chart[role=img]")
    labels = [drawn.nth(i).get_attribute("aria-label") or "" for i in range(drawn.count())]
    assert any(
        "paired difference" in label and "friendly − concise 0.8" in label for label in labels
    )
    assert any("mean per variant" in label and "friendly 0.9" in label for label in labels)
    browser_page.screenshot(path=str(screenshots / "evaluation-run.png"), full_page=True)

    # Every call of the run is logged as an inference tagged with the run's id.
    def logged() -> int:
        query = f"SELECT count() FROM inferences WHERE labels['switchyard.eval_run'] = '{run_id}'"
        count: int = sql_rows(console_gateway, admin_key, query)[0][0]
        return count

    assert wait_for(lambda: logged() == 20, timeout=30)
    watch.assert_clean()


def test_bad_dataset_forms_and_run_forms_are_refused_with_the_reason(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/datasets")

    def build(**fields: str) -> str:
        browser_page.goto(console_gateway.url + "/ui/datasets")
        browser_page.get_by_label("Name").fill(fields.pop("name", f"refused-{TAG}"))
        for label, value in fields.items():
            browser_page.get_by_label(label).fill(value)
        browser_page.get_by_role("button", name="Build dataset").click()
        browser_page.wait_for_load_state()
        return str(browser_page.get_by_role("alert").inner_text())

    assert "'nope' is not one" in build(Labels="nope")
    assert "has no variant 'ghost'" in build(**{"Only variant": "ghost"})
    assert "'min' must be a number" in build(**{"Metric at least": "lots"})
    assert "'filter.value', 'min' and 'max' need 'filter.metric'" in build(
        **{"Metric at most": "3"}
    )
    # what was typed stays in the form, and nothing was built
    assert browser_page.get_by_label("Metric at most").input_value() == "3"
    with admin(console_gateway, admin_key) as client:
        names = [d["name"] for d in client.get("/admin/datasets").json()["datasets"]]
    assert f"refused-{TAG}" not in names

    browser_page.goto(console_gateway.url + "/ui/evaluations")
    form = browser_page.locator("#evaluation-support-check")
    for variant in ("concise", "friendly"):
        form.get_by_label(variant).uncheck()
    form.get_by_role("button", name="Start run of support-check").click()
    browser_page.wait_for_load_state()
    assert "Pick at least one variant" in browser_page.get_by_role("alert").inner_text()
    form = browser_page.locator("#evaluation-support-check")
    form.get_by_label("Concurrency").fill("many")
    form.get_by_role("button", name="Start run of support-check").click()
    browser_page.wait_for_load_state()
    assert "'concurrency' must be a whole number" in browser_page.get_by_role("alert").inner_text()

    browser_page.goto(console_gateway.url + "/ui/datasets/no-such-dataset")
    assert "no dataset named 'no-such-dataset'" in browser_page.inner_text("main")
    watch.assert_clean()


def test_a_datapoint_added_by_hand_is_stored_as_typed(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str
) -> None:
    browser_page, watch = page
    name = f"hand-{TAG}"
    with admin(console_gateway, admin_key) as client:
        created = client.post(
            "/admin/datasets",
            json={"name": name, "function": "support-bot", "filter": {"labels": {"none": TAG}}},
        )
        assert created.status_code == 201, created.text
        assert created.json()["datapoints"] == 0
    sign_in(browser_page, console_gateway, admin_key, f"/ui/datasets/{name}")

    browser_page.get_by_label("User message").fill("Where is order 7?")
    browser_page.get_by_label("System prompt args (JSON)").fill('{"customer_name": ')
    browser_page.get_by_role("button", name="Add datapoint").click()
    browser_page.wait_for_load_state()
    assert "must be a JSON object" in browser_page.get_by_role("alert").inner_text()

    browser_page.get_by_label("User message").fill("Where is order 7?")
    browser_page.get_by_label("System prompt args (JSON)").fill('{"customer_name": "Ada"}')
    browser_page.get_by_label("Reference answer").fill("It ships tomorrow, Ada.")
    browser_page.get_by_role("button", name="Add datapoint").click()
    browser_page.wait_for_load_state()
    assert "Datapoint added." in browser_page.inner_text("main")
    assert browser_page.get_by_role("textbox", name="Reference").input_value() == (
        "It ships tomorrow, Ada."
    )
    with admin(console_gateway, admin_key) as client:
        (point,) = client.get(f"/admin/datasets/{name}").json()["datapoints"]
    assert point["input_messages"] == [{"role": "user", "content": "Where is order 7?"}]
    assert point["system_prompt_args"] == {"customer_name": "Ada"}
    assert point["reference_output"] == "It ships tomorrow, Ada."
    assert point["variant"] == "" and point["output"] is None
    watch.assert_clean()
