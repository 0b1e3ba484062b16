"""``POST /admin/sql`` and ``switchyard sql``: read-only by ClickHouse's own rules, with limits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_gateway_config
from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV, rows, sql
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import REPO, Gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("admin-sql")
    config = write_gateway_config(root / "variants", fake_upstream)
    env = {
        **LOGGING_ENV,
        "SWITCHYARD_ADMIN_SQL_TIMEOUT_S": "1",
        "SWITCHYARD_ADMIN_SQL_MAX_ROWS": "1000",
    }
    server = Gateway(config, root / "data", env=env).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO inferences (id) VALUES (generateUUIDv4())",
        "DROP TABLE inferences",
        "ALTER TABLE inferences DELETE WHERE 1",
        "TRUNCATE TABLE feedback",
        "CREATE TABLE stolen (a String) ENGINE = Memory",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT count() FROM system.numbers SETTINGS max_execution_time = 1000",
    ],
)
def test_writes_and_limit_changes_are_refused_by_clickhouse(gw: Gateway, statement: str) -> None:
    response = sql(gw, statement)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "readonly"
    assert rows(
        gw,
        "SELECT count() AS n FROM system.tables WHERE name IN ('inferences', 'feedback', 'stolen')",
    ) == [{"n": 2}]


def test_a_long_query_is_cut_at_the_time_limit(gw: Gateway) -> None:
    started = time.monotonic()
    response = sql(gw, "SELECT count() FROM system.numbers")
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
    assert time.monotonic() - started < 5
    assert rows(gw, "SELECT 42 AS answer") == [
        {"answer": 42}
    ]  # nothing left over from the cut query


def test_a_result_past_the_row_limit_is_refused(gw: Gateway) -> None:
    response = sql(gw, "SELECT number FROM numbers(5000)")
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_many_rows"
    assert len(rows(gw, "SELECT number FROM numbers(1000)")) == 1000


@pytest.mark.parametrize("token", [None, "wrong", ADMIN_TOKEN + "x"])
def test_a_missing_or_bad_token_is_401(gw: Gateway, token: str | None) -> None:
    response = sql(gw, "SELECT 1", token=token)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_formats_and_bad_bodies(gw: Gateway) -> None:
    query = "SELECT 1 AS a, 'x,y' AS b, [1, 2] AS c, toUInt64(18446744073709551615) AS big"
    result = sql(gw, query).json()
    assert result == {
        "columns": ["a", "b", "c", "big"],
        "types": ["UInt8", "String", "Array(UInt8)", "UInt64"],
        "rows": [[1, "x,y", [1, 2], 18446744073709551615]],
        "row_count": 1,
    }
    csv = sql(gw, query, fmt="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == '"a","b","c","big"\n1,"x,y","[1,2]",18446744073709551615\n'
    assert sql(gw, query, fmt="tsv").text == "a\tb\tc\tbig\n1\tx,y\t[1,2]\t18446744073709551615\n"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for body in ({"query": " "}, {"query": "SELECT 1", "format": "xml"}, {"sql": "SELECT 1"}):
        assert httpx.post(gw.url + "/admin/sql", json=body, headers=headers).status_code == 400
    assert (
        httpx.post(gw.url + "/admin/sql", content=b"SELECT 1", headers=headers).status_code == 400
    )
    syntax = sql(gw, "SELEC 1")
    assert syntax.status_code == 400 and syntax.json()["error"]["code"] == "syntax_error"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_asks_the_running_gateway(gw: Gateway) -> None:
    done = run_cli(
        "sql", "SELECT 41 + 1 AS answer, 'ok' AS status", "--url", gw.url, "--token", ADMIN_TOKEN
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == [
        "answer  status",
        "------  ------",
        "42      ok",
        "(1 row)",
        "",
    ]
    csv = run_cli(
        "sql", "SELECT 1 AS one", "--format", "csv", "--url", gw.url, "--token", ADMIN_TOKEN
    )
    assert csv.stdout == '"one"\n1\n'
    refused = run_cli("sql", "DROP TABLE inferences", "--url", gw.url, "--token", ADMIN_TOKEN)
    assert refused.returncode == 1 and "read-only" in refused.stderr


def test_cli_migrates_and_queries_the_store_directly_when_no_gateway_runs(tmp_path: Path) -> None:
    env = {
        "SWITCHYARD_DATA_DIR": str(tmp_path),
        "SWITCHYARD_PORT": "9",
    }  # nothing listens on port 9
    first = run_cli("migrate", "--only", "clickhouse", env=env)
    assert first.returncode == 0 and "0001_inferences" in first.stdout, first.stderr
    again = run_cli("migrate", "--only", "clickhouse", env=env)
    assert again.stdout.strip() == "ClickHouse: already up to date"
    listed = run_cli(
        "sql",
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'inference%' ORDER BY name",
        "--format",
        "tsv",
        env=env,
    )
    assert listed.stdout.split() == [
        "name",
        "inference_by_id",
        "inference_by_id_mv",
        "inference_daily_mv",
        "inference_daily_state",
        "inference_feedback",
        "inference_lookup",
        "inferences",
    ]


def test_admin_sql_is_off_without_a_token_even_when_auth_is_off(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    config = write_gateway_config(tmp_path / "variants", fake_upstream)
    server = Gateway(config, tmp_path / "data").start()
    try:
        response = sql(server, "SELECT 1", token=None)
        assert response.status_code == 403
        assert "SWITCHYARD_ADMIN_TOKEN" in response.json()["error"]["message"]
    finally:
        server.stop()


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE IF EXISTS nonexistent",
        "SET max_threads = 1",
        "USE default",
        "SHOW TABLES LIKE 'nothing%'",
    ],
)
def test_a_statement_without_output_is_a_well_formed_answer(gw: Gateway, statement: str) -> None:
    """ClickHouse answers some statements with no bytes at all: rows (none) or a 4xx, never a 500."""
    response = sql(gw, statement)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.json()["rows"] == []
    else:
        assert response.json()["error"]["param"] == "query"
