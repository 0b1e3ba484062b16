"""The console in a real headless Chromium, as an admin would use it: sign in with a key made
by the CLI, edit and save a template (checked through the admin API and a chat request), hit a
validation error and a stale-edit conflict, open a campaign and an inference, add feedback,
roll back, run SQL. Every test also checks that the page fetched nothing from elsewhere and
logged no script error."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PageWatch, cli_key
from tests.support.gateway import Gateway

XSS = "<img src=x onerror=alert(1)>"


def sign_in(page: Any, gateway: Gateway, key: str, path: str = "/ui/") -> None:
    page.goto(gateway.url + path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def admin(gateway: Gateway, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def sql_rows(gateway: Gateway, key: str, query: str) -> list[list[Any]]:
    with admin(gateway, key) as client:
        response = client.post("/admin/sql", json={"query": query})
        response.raise_for_status()
        rows: list[list[Any]] = response.json()["rows"]
        return rows


def reloaded(page: Any) -> str:
    """Reload and return the page's HTML (``reload()`` itself returns a truthy response)."""
    page.reload()
    return str(page.content())


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def test_sign_in_refuses_client_keys_and_sign_out_ends_the_session(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    client_key = cli_key(console_gateway, "--name", "app-client")
    sign_in(browser_page, console_gateway, client_key)
    assert "/ui/login" in browser_page.url
    assert browser_page.get_by_role("alert").inner_text().startswith("This is a client key")
    browser_page.screenshot(path=str(screenshots / "sign-in.png"))

    sign_in(browser_page, console_gateway, admin_key, "/ui/versions")
    assert browser_page.url.endswith("/ui/versions")
    for name in ("Functions", "Campaigns", "Inferences", "Versions", "Keys", "SQL"):
        assert browser_page.get_by_role("link", name=name, exact=True).is_visible()
    cookie = next(c for c in browser_page.context.cookies() if c["name"] == "switchyard_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert admin_key not in browser_page.url
    assert browser_page.evaluate("JSON.stringify(window.localStorage)") == "{}"

    browser_page.get_by_role("button", name="Sign out").click()
    browser_page.wait_for_load_state()
    assert "/ui/login" in browser_page.url
    # The old cookie is dead on the server too, not just forgotten by the browser.
    stale = httpx.get(
        console_gateway.url + "/ui/functions",
        cookies={"switchyard_console": cookie["value"]},
        follow_redirects=False,
    )
    assert stale.status_code == 303 and "/ui/login" in stale.headers["location"]
    watch.assert_clean()


def test_edit_template_saves_one_version_that_chat_uses(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    with admin(console_gateway, admin_key) as client:
        before = client.get("/admin/config/versions").json()["versions"][0]["version"]
    sign_in(browser_page, console_gateway, admin_key, "/ui/functions")
    browser_page.screenshot(path=str(screenshots / "functions.png"), full_page=True)
    browser_page.get_by_role("link", name="support-bot", exact=True).click()
    concise = browser_page.get_by_role("group", name="Variant concise")
    new_template = "Reply to {{ customer_name }} in one short sentence. [console-edit]"
    concise.get_by_label("System template").fill(new_template)
    browser_page.get_by_role("button", name="Preview").click()
    preview = browser_page.get_by_role("region", name="Preview of concise")
    assert "in one short sentence. [console-edit]" in preview.inner_text()
    browser_page.screenshot(path=str(screenshots / "function-editor.png"), full_page=True)

    browser_page.get_by_label("Comment").fill("shorter replies")
    browser_page.get_by_role("button", name="Save").click()
    browser_page.wait_for_load_state()
    assert f"Saved as version {before + 1}." in browser_page.get_by_role("status").inner_text()

    with admin(console_gateway, admin_key) as client:
        latest = client.get("/admin/config/versions").json()["versions"][0]
        assert latest["version"] == before + 1 and latest["comment"] == "shorter replies"
        variant = client.get("/admin/functions/support-bot/variants/concise").json()
        assert variant["system_template"] == new_template
        reply = client.post(
            "/v1/chat/completions",
            json={
                "model": "support-bot/concise",
                "messages": [{"role": "user", "content": "hi"}],
                "system_prompt_args": {"customer_name": "Grace"},
            },
        )
        assert reply.status_code == 200, reply.text
        inference_id = reply.json()["id"]
    prompt = wait_for(
        lambda: sql_rows(
            console_gateway,
            admin_key,
            f"SELECT system_prompt FROM inferences WHERE id = '{inference_id}'",
        )
    )
    assert prompt[0][0] == "Reply to Grace in one short sentence. [console-edit]"
    watch.assert_clean()


def test_invalid_edit_is_shown_next_to_the_field_and_nothing_is_saved(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    with admin(console_gateway, admin_key) as client:
        before = client.get("/admin/config/versions").json()["versions"][0]["version"]
    sign_in(browser_page, console_gateway, admin_key, "/ui/functions/support-bot")
    friendly = browser_page.get_by_role("group", name="Variant friendly")
    friendly.get_by_label("Weight").fill("-1")
    friendly.get_by_label("System template").fill("Hello {{ customer_name ")
    browser_page.get_by_role("button", name="Save").click()
    browser_page.wait_for_load_state()
    assert "Weight must be a number ≥ 0" in friendly.inner_text()
    browser_page.screenshot(path=str(screenshots / "function-invalid.png"), full_page=True)

    friendly.get_by_label("Weight").fill("0.5")  # now only the template is wrong
    browser_page.get_by_role("button", name="Save").click()
    browser_page.wait_for_load_state()
    assert "template syntax error" in friendly.inner_text()
    assert "Not saved" in browser_page.get_by_role("alert").first.inner_text()
    with admin(console_gateway, admin_key) as client:
        assert client.get("/admin/config/versions").json()["versions"][0]["version"] == before
    watch.assert_clean()


def test_stale_edit_is_refused_with_a_way_to_reload(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/functions/support-bot")
    with admin(console_gateway, admin_key) as client:  # someone else saves first
        response = client.patch(
            "/admin/functions/support-bot/variants/friendly", json={"temperature": 0.6}
        )
        assert response.status_code == 200, response.text
        theirs = response.json()["version"]
    browser_page.get_by_role("group", name="Variant friendly").get_by_label("System template").fill(
        "Mine, not theirs, {{ customer_name }}."
    )
    browser_page.get_by_role("button", name="Save").click()
    browser_page.wait_for_load_state()
    alert = browser_page.get_by_role("alert").first.inner_text()
    assert f"someone saved version {theirs}" in alert
    browser_page.screenshot(path=str(screenshots / "function-stale.png"), full_page=True)
    with admin(console_gateway, admin_key) as client:
        variant = client.get("/admin/functions/support-bot/variants/friendly").json()
        assert (
            variant["temperature"] == 0.6 and "Mine, not theirs" not in variant["system_template"]
        )
    browser_page.get_by_role("link", name=re.compile("Reload the current config")).click()
    browser_page.wait_for_load_state()
    assert (
        browser_page.get_by_role("group", name="Variant friendly")
        .get_by_label("temperature")
        .input_value()
        == "0.6"
    )
    watch.assert_clean()


def seed_inferences(gateway: Gateway, key: str, count: int = 24) -> list[str]:
    ids = []
    with admin(gateway, key) as client:
        for index in range(count):
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "support-bot",
                    "messages": [{"role": "user", "content": f"order {index} {XSS}"}],
                    "system_prompt_args": {"customer_name": "Ada"},
                    "session_id": str(uuid.uuid4()),
                    "labels": {"probe": XSS, "batch": "console"},
                },
            )
            assert response.status_code == 200, response.text
            ids.append(response.json()["id"])
            client.post(
                "/v1/feedback",
                json={"metric_name": "thumbs_up", "inference_id": ids[-1], "value": index % 3 != 0},
            ).raise_for_status()
    wait_for(
        lambda: sql_rows(gateway, key, f"SELECT count() FROM inferences WHERE id = '{ids[-1]}'")[0][
            0
        ]
    )
    return ids


def test_campaign_results_charts_and_status_controls(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    seed_inferences(console_gateway, admin_key)
    sign_in(browser_page, console_gateway, admin_key, "/ui/campaigns")
    browser_page.screenshot(path=str(screenshots / "campaigns.png"), full_page=True)
    browser_page.get_by_role("link", name="tone-test", exact=True).click()
    browser_page.wait_for_load_state()
    table = browser_page.get_by_role("table").first
    assert "friendly" in table.inner_text() and "concise" in table.inner_text()
    assert browser_page.locator("svg.chart").count() >= 2
    assert "Sample ratio" in browser_page.get_by_role("region", name="Decision").inner_text()
    browser_page.screenshot(path=str(screenshots / "campaign.png"), full_page=True)

    browser_page.get_by_role("button", name="Pause").click()
    browser_page.wait_for_load_state()
    assert "paused" in browser_page.get_by_role("heading", level=1).inner_text()
    with admin(console_gateway, admin_key) as client:
        campaign = client.get("/admin/functions/support-bot/campaigns/tone-test").json()
        assert campaign["status"] == "paused"
    browser_page.get_by_role("button", name="Resume").click()
    browser_page.wait_for_load_state()
    assert "active" in browser_page.get_by_role("heading", level=1).inner_text()
    watch.assert_clean()


def test_inference_browser_detail_feedback_and_escaping(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    ids = seed_inferences(console_gateway, admin_key, count=60)
    sign_in(browser_page, console_gateway, admin_key, "/ui/inferences?label=batch%3Dconsole")
    assert browser_page.locator("img").count() == 0  # the label is text, not markup
    assert XSS in browser_page.get_by_role("table").inner_text()
    browser_page.screenshot(path=str(screenshots / "inferences.png"))
    first_page = browser_page.locator("a[aria-label^='Inference ']").all_inner_texts()
    browser_page.get_by_role("link", name="Older").click()
    browser_page.wait_for_load_state()
    second_page = browser_page.locator("a[aria-label^='Inference ']").evaluate_all(
        "links => links.map(a => a.getAttribute('aria-label'))"
    )
    assert len(first_page) == 50 and second_page, "keyset paging shows the older rows"

    browser_page.goto(f"{console_gateway.url}/ui/inferences/{ids[0]}")
    assert "Rendered system prompt" in browser_page.content()
    assert browser_page.locator("img").count() == 0
    browser_page.get_by_role("button", name="Thumbs up").click()
    browser_page.wait_for_load_state()
    assert "Feedback on thumbs_up recorded." in browser_page.get_by_role("status").inner_text()
    browser_page.get_by_label("Metric").select_option("demonstration")
    browser_page.get_by_label(re.compile("^Value")).fill("The corrected answer.")
    browser_page.get_by_role("button", name="Add feedback").click()
    browser_page.wait_for_load_state()
    wait_for(
        lambda: sql_rows(
            console_gateway,
            admin_key,
            f"SELECT count() FROM feedback WHERE inference_id = '{ids[0]}' AND metric = 'demonstration'",
        )[0][0]
    )
    browser_page.reload()
    assert "The corrected answer." in browser_page.get_by_role("table").nth(1).inner_text()
    browser_page.screenshot(path=str(screenshots / "inference.png"), full_page=True)
    watch.assert_clean()


def test_versions_diff_and_rollback(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    with admin(console_gateway, admin_key) as client:
        client.patch(
            "/admin/functions/support-bot/variants/concise", json={"max_tokens": 200}
        ).raise_for_status()
        versions = client.get("/admin/config/versions").json()["versions"]
    current, previous = versions[0]["version"], versions[1]["version"]
    sign_in(browser_page, console_gateway, admin_key, "/ui/versions")
    browser_page.screenshot(path=str(screenshots / "versions.png"), full_page=True)
    browser_page.get_by_role("link", name="Changes").first.click()
    browser_page.wait_for_load_state()
    assert "max_tokens" in browser_page.get_by_role("table").inner_text()
    browser_page.screenshot(path=str(screenshots / "diff.png"), full_page=True)

    browser_page.goto(console_gateway.url + "/ui/versions")
    watch.accept_confirm = True
    browser_page.get_by_role("button", name=f"Roll back to {previous}").click()
    browser_page.wait_for_load_state()
    assert watch.confirmations and f"version {previous}" in watch.confirmations[0]
    assert (
        f"Rolled back to version {previous}: now version {current + 1}."
        in browser_page.get_by_role("status").inner_text()
    )
    with admin(console_gateway, admin_key) as client:
        variant = client.get("/admin/functions/support-bot/variants/concise").json()
        assert variant.get("max_tokens") != 200
    watch.assert_clean()


def test_keys_create_shows_once_and_revoke(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/keys")
    browser_page.get_by_label("Name").fill("made-in-console")
    browser_page.get_by_label("Budget in USD (empty for none)").fill("25")
    browser_page.get_by_label("Budget period").select_option("day")
    browser_page.get_by_role("button", name="Create key").click()
    browser_page.wait_for_load_state()
    new_key = browser_page.get_by_label("New API key").input_value()
    assert new_key.startswith("sy-")
    row = browser_page.get_by_role("row", name=re.compile("made-in-console"))
    assert "$25.00 per day" in row.inner_text()
    browser_page.screenshot(path=str(screenshots / "keys.png"), full_page=True)
    wait_for(
        lambda: (
            httpx.get(
                console_gateway.url + "/v1/campaigns/tone-test/results",
                headers={"authorization": f"Bearer {new_key}"},
            ).status_code
            == 200
        )
    )
    browser_page.goto(console_gateway.url + "/ui/keys")
    assert new_key not in browser_page.content()  # shown once, never again
    watch.accept_confirm = True
    browser_page.get_by_role("button", name="Revoke made-in-console").click()
    browser_page.wait_for_load_state()
    wait_for(
        lambda: (
            httpx.get(
                console_gateway.url + "/v1/campaigns/tone-test/results",
                headers={"authorization": f"Bearer {new_key}"},
            ).status_code
            == 401
        )
    )
    watch.assert_clean()


def test_sql_runs_read_only_and_downloads_csv(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/sql")
    browser_page.get_by_label("Query").fill("SELECT 1 + 1 AS two, 'a<b' AS text")
    browser_page.get_by_role("button", name="Run").click()
    browser_page.wait_for_load_state()
    table = browser_page.get_by_role("table").inner_text()
    assert "two" in table and "2" in table and "a<b" in table
    browser_page.screenshot(path=str(screenshots / "sql.png"), full_page=True)
    with browser_page.expect_download() as download:
        browser_page.get_by_role("button", name="Download CSV").click()
    assert Path(download.value.path()).read_text().splitlines() == ['"two","text"', '2,"a<b"']

    browser_page.get_by_label("Query").fill("DROP TABLE inferences")
    browser_page.get_by_role("button", name="Run").click()
    browser_page.wait_for_load_state()
    assert "read-only" in browser_page.get_by_role("alert").inner_text()
    assert (
        sql_rows(
            console_gateway,
            admin_key,
            "SELECT count() FROM system.tables WHERE name = 'inferences'",
        )[0][0]
        == 1
    )
    watch.assert_clean()


@pytest.mark.parametrize("path", ["/ui/functions", "/ui/sql", "/ui/inferences/x"])
def test_pages_need_a_session(console_gateway: Gateway, path: str) -> None:
    response = httpx.get(console_gateway.url + path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=")
