"""The console's Spend and Providers pages in Chromium (issue 24, docs/console.md): the spend
page's totals, rows, budgets and CSV agree with ``GET /admin/spend``; the providers page shows a
breaker opened by a failing fake upstream, with its error rate from the attempt log."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PageWatch
from tests.browser.test_console import admin, sign_in, wait_for
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway

TAG = uuid.uuid4().hex[:6]


def spend_total(gateway: Gateway, key: str, start: str, end: str) -> dict[str, Any]:
    with admin(gateway, key) as client:
        response = client.get("/admin/spend", params={"from": start, "to": end})
        assert response.status_code == 200, response.text
        total: dict[str, Any] = response.json()["total"]
        return total


def test_spend_page_totals_budgets_and_csv_equal_admin_spend(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    name = f"budgeted-{TAG}"
    with admin(console_gateway, admin_key) as client:
        created = client.post(
            "/admin/keys", json={"name": name, "budget_usd": 1, "budget_period": "day"}
        )
        assert created.status_code == 201, created.text
        key_id, key = created.json()["id"], created.json()["key"]
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "price me"}]}
    with admin(console_gateway, key) as client:
        for _ in range(5):
            assert client.post("/v1/chat/completions", json=chat).status_code == 200

    def logged() -> bool:
        with admin(console_gateway, admin_key) as client:
            rows = client.get("/admin/spend", params={"group_by": "api_key"}).json()["rows"]
        return any(r["api_key"] == key_id and r["inferences"] == 5 for r in rows)

    wait_for(logged, timeout=30)
    today = datetime.now(UTC).date()
    first, after = today - timedelta(days=29), today + timedelta(days=1)
    before = spend_total(console_gateway, admin_key, first.isoformat(), after.isoformat())

    sign_in(browser_page, console_gateway, admin_key, "/ui/spend")
    assert browser_page.get_by_role("heading", name="Spend", exact=True).count() == 1
    shown_cost = browser_page.locator("[data-total=cost_usd]").inner_text()
    shown_count = browser_page.locator("[data-total=inferences]").inner_text()
    now = spend_total(console_gateway, admin_key, first.isoformat(), after.isoformat())
    # Cost is summed exactly (docs/spend.md), so two reads of the same rows agree to the bit.
    assert before["inferences"] == now["inferences"], "nothing else wrote meanwhile"
    assert before["cost_usd"] == now["cost_usd"]
    assert shown_cost == f"${now['cost_usd']:.6f}" and now["cost_usd"] > 0
    assert int(shown_count) == now["inferences"]

    # The key's row carries its name, and its budget shows what it has used today.
    rows = browser_page.locator("#spend-rows tbody tr", has_text=name)
    assert rows.count() >= 1
    budget = browser_page.get_by_role("row", name=f"{name}")
    assert "$1.00 per day" in budget.first.inner_text()
    with admin(console_gateway, admin_key) as client:
        spent = client.get("/admin/spend", params={"group_by": "api_key"}).json()["rows"]
    key_cost = next(r["cost_usd"] for r in spent if r["api_key"] == key_id)
    assert f"${key_cost:.6f}" in budget.first.inner_text()
    browser_page.screenshot(path=str(screenshots / "spend.png"), full_page=True)

    # The CSV is the same report: its cost column sums to the total.
    with browser_page.expect_download() as download:
        browser_page.get_by_role("link", name="Download CSV").click()
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sum(float(r["cost_usd"]) for r in table) == pytest.approx(now["cost_usd"], abs=1e-9)
    assert {"day", "function", "variant", "model", "api_key"} <= set(table[0])

    # Regrouped by model only, through the form; totals are unchanged.
    for group in ("day", "function", "variant", "api_key"):
        browser_page.get_by_role("checkbox", name="key" if group == "api_key" else group).uncheck()
    browser_page.get_by_role("button", name="Show").click()
    browser_page.wait_for_load_state()
    assert browser_page.locator("[data-total=cost_usd]").inner_text() == shown_cost
    headers = browser_page.locator("#spend-rows thead th").all_inner_texts()
    assert headers[0] == "model" and "function" not in headers

    # A bad date is a 400 naming the field, not a crash.
    response = browser_page.goto(f"{console_gateway.url}/ui/spend?from=yesterday")
    assert response is not None and response.status == 400
    assert "'from' must be a date" in browser_page.get_by_role("alert").inner_text()
    watch.assert_clean()


def test_providers_page_shows_a_breaker_opened_by_a_failing_upstream(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    provider, model = f"flaky-{TAG}", f"flaky-model-{TAG}"
    fake = FakeOpenAI().start()
    try:
        with admin(console_gateway, admin_key) as client:
            put = client.put(
                f"/admin/providers/{provider}",
                json={
                    "type": "openai",
                    "base_url": fake.url("fail500"),
                    "circuit_breaker": {"failures": 2, "cooldown_s": 300},
                },
            )
            assert put.status_code in (200, 201), put.text
            put = client.put(
                f"/admin/models/{model}",
                json={
                    "routing": [{"provider": provider, "name": "gpt-flaky"}],
                    "retries": {"max": 0},
                },
            )
            assert put.status_code in (200, 201), put.text
            chat = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            statuses = [
                client.post("/v1/chat/completions", json=chat).status_code for _ in range(3)
            ]
        assert all(s >= 500 for s in statuses), statuses
        assert len(fake.requests["fail500"]) == 2, "the third request was skipped by the breaker"

        sign_in(browser_page, console_gateway, admin_key, "/ui/providers")
        card = browser_page.locator(f"#provider-{provider}")
        assert card.locator("[data-breaker]").inner_text() == "open"
        text = card.inner_text()
        assert "open after 2 failures in a row" in text and "upstream exploded" in text
        assert model in text and "gpt-flaky" in text
        # The two failed attempts may land in separate write batches: wait for both, not the first.
        recent_row = browser_page.locator(f"#provider-{provider} table.recent tbody tr")

        def recent_once_both_landed() -> str:
            browser_page.reload()
            text = str(recent_row.inner_text()) if recent_row.count() else ""
            return text if "\t2\t2\t" in text else ""

        recent = wait_for(recent_once_both_landed, timeout=30)
        assert "gpt-flaky" in recent and "\t2\t2\t100.0%" in recent
        demo = browser_page.locator("#provider-demo [data-breaker]").inner_text()
        assert demo in ("closed", "unused")
        browser_page.screenshot(path=str(screenshots / "providers.png"), full_page=True)
        watch.assert_clean()
    finally:
        with admin(console_gateway, admin_key) as client:
            client.delete(f"/admin/models/{model}")
            client.delete(f"/admin/providers/{provider}")
        fake.stop()
