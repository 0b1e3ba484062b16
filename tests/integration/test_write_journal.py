"""``kill -9`` of a gateway after it answered: with the write-ahead journal (the default) every
answered inference, streamed or not, is in ClickHouse once the gateway is back; without it the
rows that waited in memory are lost (docs/analytics.md, "The journal").

The writer is told to wait a minute between inserts, so at the kill every record is only in
the journal (or, journal off, in memory): the kill cannot race an insert.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.analytics import LOGGING_ENV, metric, rows, wait_rows
from tests.support.gateway import Gateway, copy_demo_config

SLOW_WRITES = {**LOGGING_ENV, "SWITCHYARD_WRITE_INTERVAL_S": "60"}


def answer(gateway: Gateway, run: str, stream: bool) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"remember me ({run})"}],
        "labels": {"run": run},
        "stream": stream,
    }
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=30) as reply:
        assert reply.status_code == 200
        text = reply.read().decode()
    if stream:
        assert text.rstrip().endswith("data: [DONE]"), text[-200:]


def kill(gateway: Gateway) -> None:
    assert gateway.process is not None
    os.killpg(gateway.process.pid, signal.SIGKILL)
    gateway.process.wait(10)


def logged(gateway: Gateway, run: str) -> list[dict[str, object]]:
    return wait_rows(
        gateway,
        f"SELECT streamed, status FROM inferences WHERE labels['run'] = '{run}' ORDER BY streamed",
        lambda found: len(found) >= 2,
        timeout=30,
    )


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal"])
def test_a_killed_gateway_loses_no_answered_inference_with_the_journal(
    tmp_path: Path, journal: bool
) -> None:
    config = copy_demo_config(tmp_path / "variants")
    env = {**SLOW_WRITES, "SWITCHYARD_WRITE_JOURNAL": "true" if journal else "false"}
    run = uuid.uuid4().hex
    first = Gateway(config, tmp_path / "data", env=env).start()
    try:
        answer(first, run, stream=False)
        answer(first, run, stream=True)
        assert metric(first, "switchyard_rows_written_total") == 0
    finally:
        kill(first)

    second = Gateway(config, tmp_path / "data", env=LOGGING_ENV).start()
    try:
        found = logged(second, run)
        if journal:
            assert found == [
                {"streamed": False, "status": "ok"},
                {"streamed": True, "status": "ok"},
            ]
            again = rows(
                second, f"SELECT count() AS n FROM inferences WHERE labels['run'] = '{run}'"
            )
            assert again == [{"n": 2}], "a replayed journal is inserted once"
        else:
            assert found == [], "without the journal, what waited in memory dies with the process"
    finally:
        second.stop()
