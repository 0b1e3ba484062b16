"""Console fixes found from outside (issue 24): the SQL page's column headers are the column names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import PageWatch
from tests.browser.test_console import sign_in
from tests.support.gateway import Gateway


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
