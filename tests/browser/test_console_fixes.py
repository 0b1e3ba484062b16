"""Console fixes found from outside (issue 24): a comment typed into an inference's page lands
in ClickHouse's feedback rows, and the SQL page's column headers are the column names."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.browser.conftest import PageWatch
from tests.browser.test_console import admin, sign_in, sql_rows, wait_for
from tests.support.gateway import Gateway


def one_inference(gateway: Gateway, key: str) -> str:
    with admin(gateway, key) as client:
        response = client.post(
            "/v1/chat/completions",
            json={
                "model": "support-bot",
                "messages": [{"role": "user", "content": "Where is my parcel?"}],
                "system_prompt_args": {"customer_name": "Ada"},
                "session_id": str(uuid.uuid4()),
            },
        )
        assert response.status_code == 200, response.text
        inference_id: str = response.json()["id"]
    wait_for(
        lambda: sql_rows(
            gateway, key, f"SELECT count() FROM inferences WHERE id = '{inference_id}'"
        )[0][0]
    )
    return inference_id


def feedback_of(gateway: Gateway, key: str, inference_id: str) -> list[list[Any]]:
    return sql_rows(
        gateway,
        key,
        "SELECT metric, type, value_text, comment FROM feedback "
        f"WHERE inference_id = '{inference_id}' ORDER BY created_at",
    )


def test_a_comment_typed_in_the_comment_field_is_stored_as_comment_feedback(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    inference_id = one_inference(console_gateway, admin_key)
    sign_in(browser_page, console_gateway, admin_key, f"/ui/inferences/{inference_id}")
    # What a reviewer does first: type the comment where it says "Comment", and add it.
    browser_page.get_by_label("Comment", exact=True).fill("Too curt for a first reply.")
    browser_page.get_by_role("button", name="Add feedback").click()
    browser_page.wait_for_load_state()
    assert "Feedback on comment recorded." in browser_page.get_by_role("status").inner_text()
    rows = wait_for(lambda: feedback_of(console_gateway, admin_key, inference_id), timeout=30)
    assert rows == [
        ["comment", "comment", "Too curt for a first reply.", "Too curt for a first reply."]
    ]

    # The comment metric chosen, and the text again in the Comment field only.
    browser_page.get_by_label("Metric").select_option("comment")
    browser_page.get_by_label("Comment", exact=True).fill("Second look: fine.")
    browser_page.get_by_role("button", name="Add feedback").click()
    browser_page.wait_for_load_state()
    assert "Feedback on comment recorded." in browser_page.get_by_role("status").inner_text()
    wait_for(lambda: len(feedback_of(console_gateway, admin_key, inference_id)) == 2, timeout=30)
    assert feedback_of(console_gateway, admin_key, inference_id)[1][2] == "Second look: fine."
    browser_page.reload()
    assert "Second look: fine." in browser_page.get_by_role("table").nth(1).inner_text()
    browser_page.screenshot(path=str(screenshots / "inference-comment.png"), full_page=True)

    # A score with no number is still refused, with the reason, and nothing is stored.
    browser_page.get_by_label("Metric").select_option("rating")
    browser_page.get_by_role("button", name="Add feedback").click()
    browser_page.wait_for_load_state()
    assert "a score must be a number" in browser_page.get_by_role("alert").inner_text()
    assert len(feedback_of(console_gateway, admin_key, inference_id)) == 2
    watch.assert_clean()


def test_sql_result_headers_are_the_column_names(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/sql")
    browser_page.get_by_label("Query").fill("SELECT 40 + 2 AS answer, 'x' AS letter")
    browser_page.get_by_role("button", name="Run").click()
    browser_page.wait_for_load_state()
    headers = browser_page.get_by_role("columnheader")
    assert headers.all_inner_texts() == ["answer", "letter"]
    assert browser_page.get_by_role("columnheader", name="answer", exact=True).count() == 1
    assert browser_page.get_by_role("cell", name="42", exact=True).count() == 1
    assert "UInt16" in browser_page.get_by_role("table").inner_text()  # types are still shown
    browser_page.screenshot(path=str(screenshots / "sql.png"), full_page=True)
    watch.assert_clean()
