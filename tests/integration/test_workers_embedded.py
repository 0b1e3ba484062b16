"""``serve --workers N`` on the embedded default (chDB and SQLite, one store process owning
chDB; docs/scaling.md, "Workers on the embedded default"), through real processes:

- every inference of a concurrent run, streamed or not, is in ClickHouse exactly once, with 2
  and with 4 workers;
- ``kill -9`` of a worker mid-run loses no request it answered (its journal is adopted);
- the store process killed: workers spill, ``serve`` starts it again, the rows land once;
- a config edit reaches every worker within 2 s; a budget and sticky assignments hold across
  workers; bad input is refused as with one worker.

Requests go on fresh connections, so the kernel spreads them over the workers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.ids import uuid7_str
from tests.integration.test_budgets import FUNCTIONS as BUDGET_FUNCTIONS
from tests.integration.test_budgets import gateway_toml as budget_toml
from tests.support.analytics import ADMIN_TOKEN, LOGGING_ENV, rows, wait_rows
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, copy_demo_config, start_gateway

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def workers_env(n: int) -> dict[str, str]:
    return {**LOGGING_ENV, "SWITCHYARD_WORKERS": str(n), "SWITCHYARD_WRITE_INTERVAL_S": "0.5"}


def demo_gateway(root: Path, workers: int) -> Gateway:
    return Gateway(copy_demo_config(root / "variants"), root / "data", workers_env(workers)).start()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server = demo_gateway(tmp_path_factory.mktemp("workers-2"), 2)
    yield server
    server.stop()


def ask(gateway: Gateway, run: str, i: int, stream: bool = False) -> bool:
    """One request on a new connection; True when it was answered (a 200 read to its end)."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"request {i}"}],
        "labels": {"run": run, "i": str(i)},
        "stream": stream,
    }
    try:
        with httpx.stream(
            "POST", gateway.url + "/v1/chat/completions", json=body, timeout=30
        ) as reply:
            text = reply.read().decode()
    except httpx.HTTPError:
        return False  # the worker holding it was killed: not answered, so not promised
    return reply.status_code == 200 and (not stream or text.rstrip().endswith("[DONE]"))


def logged(gateway: Gateway, run: str, expected: int) -> dict[str, int]:
    found = wait_rows(
        gateway,
        f"SELECT labels['i'] AS i, count() AS n FROM inferences WHERE labels['run'] = '{run}' "
        "GROUP BY i",
        lambda r: len(r) >= expected,
        timeout=30,
    )
    return {str(r["i"]): int(r["n"]) for r in found}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_pids(gateway: Gateway) -> list[int]:
    """granian's workers: the serve process's children but the store process and
    multiprocessing's resource tracker."""
    assert gateway.process is not None
    store = int((gateway.data_dir / "store.pid").read_text())
    pids = []
    for pid in children(gateway.process.pid):
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        if pid != store and b"resource_tracker" not in command:
            pids.append(pid)
    return pids


def busiest(pids: list[int]) -> int:
    """The process that has used the most CPU (user + system ticks)."""

    def ticks(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])

    return max(pids, key=ticks)


@pytest.mark.parametrize("workers", [2, 4])
def test_every_inference_of_a_concurrent_run_is_logged_once(tmp_path: Path, workers: int) -> None:
    gateway = demo_gateway(tmp_path, workers)
    try:
        assert len(worker_pids(gateway)) == workers
        run, total = uuid.uuid4().hex, 240
        with ThreadPoolExecutor(16) as pool:
            answered = list(
                pool.map(lambda i: ask(gateway, run, i, stream=i % 3 == 0), range(total))
            )
        assert all(answered)
        counts = logged(gateway, run, total)
        assert len(counts) == total and set(counts.values()) == {1}
        streamed = rows(
            gateway,
            f"SELECT countIf(streamed) AS s FROM inferences WHERE labels['run'] = '{run}'",
        )
        assert streamed == [{"s": total // 3}]
        # one writer per worker: each opened its own spill directory
        assert len([d for d in (gateway.data_dir / "spill").iterdir() if d.is_dir()]) == workers
    finally:
        gateway.stop()


def test_a_worker_killed_mid_run_loses_no_answered_request(two: Gateway) -> None:
    run, total = uuid.uuid4().hex, 300
    answered: dict[int, bool] = {}
    started = threading.Event()

    def one(i: int) -> None:
        answered[i] = ask(two, run, i, stream=i % 2 == 0)
        if i == 80:
            started.set()

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(total)]
        assert started.wait(60)
        victim = busiest(worker_pids(two))  # the kernel need not spread connections evenly
        os.kill(victim, signal.SIGKILL)
        for future in futures:
            future.result()
    ok = sorted(i for i, done in answered.items() if done)
    assert len(ok) >= total - 20, "the surviving worker kept answering"
    counts = logged(two, run, len(ok))
    missing = [i for i in ok if str(i) not in counts]
    assert not missing, f"answered but not logged: {missing}"
    assert set(counts.values()) == {1}
    # granian replaced the worker
    deadline = time.monotonic() + 30
    while len(worker_pids(two)) < 2:
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.2)
    assert victim not in worker_pids(two)


def test_the_store_process_killed_is_restarted_and_nothing_is_lost(two: Gateway) -> None:
    pid_file = two.data_dir / "store.pid"
    first = int(pid_file.read_text())
    os.kill(first, signal.SIGKILL)
    run, total = uuid.uuid4().hex, 60
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lambda i: ask(two, run, i, stream=i % 2 == 1), range(total)))
    deadline = time.monotonic() + 60
    while int(pid_file.read_text()) == first or httpx.get(two.url + "/ready").status_code != 200:
        assert time.monotonic() < deadline, "the store process did not come back"
        time.sleep(0.2)
    counts = logged(two, run, total)
    assert len(counts) == total and set(counts.values()) == {1}, "replayed once each"


def served_versions(gateway: Gateway) -> dict[int, int]:
    """pid → config version, from ``/ready`` on fresh connections until both workers answered."""
    versions: dict[int, int] = {}
    for _ in range(200):
        ready = httpx.get(gateway.url + "/ready", timeout=10).json()
        detail = ready["checks"]["config_store"]["detail"]
        versions[ready["pid"]] = int(detail.split("version ")[1])
        if len(versions) == 2:
            return versions
    raise AssertionError(f"only {versions} answered")


def test_a_config_edit_reaches_every_worker_within_two_seconds(two: Gateway) -> None:
    path = two.url + "/admin/functions/support-bot/variants/friendly"
    etag = httpx.get(path, headers=ADMIN).headers["etag"]
    edit = httpx.patch(
        path,
        headers={**ADMIN, "If-Match": etag},
        json={"system_template": "Be kind to {{ customer_name }}, always."},
    )
    assert edit.status_code == 200, edit.text
    edited = time.monotonic()
    version = edit.json()["version"]
    while set(served_versions(two).values()) != {version}:
        assert time.monotonic() - edited < 2.0, "a worker still serves the old version"
        time.sleep(0.05)


def test_sticky_assignment_holds_across_workers(two: Gateway) -> None:
    variants: dict[str, set[str]] = {}
    for session in (uuid.uuid4().hex for _ in range(8)):
        for _ in range(5):
            reply = httpx.post(
                two.url + "/v1/chat/completions",
                json={
                    "model": "support-bot",
                    "messages": [{"role": "user", "content": "hello"}],
                    "system_prompt_args": {"customer_name": "Ada"},
                    "session_id": session,
                },
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
            variants.setdefault(session, set()).add(reply.headers["x-switchyard-variant"])
    assert all(len(seen) == 1 for seen in variants.values()), variants


def test_a_key_budget_holds_across_workers(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    env = {**workers_env(2), "FAKE_UPSTREAM_KEY": "sk-test-secret-123"}
    gateway = start_gateway(tmp_path, budget_toml(fake_upstream), BUDGET_FUNCTIONS, env=env)
    try:
        created = httpx.post(
            gateway.url + "/admin/keys",
            json={"name": "shared", "budget_usd": 3, "budget_period": "day"},
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        chat = {"model": "metered", "messages": [{"role": "user", "content": "spend"}]}

        def send() -> int:
            return httpx.post(
                gateway.url + "/v1/chat/completions", json=chat, headers=key, timeout=30
            ).status_code

        # Auth is off while a worker knows no key: wait until every worker refuses a wrong one.
        wrong = {"Authorization": "Bearer sy-not-a-key"}
        deadline = time.monotonic() + 15
        while any(
            httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers=wrong).status_code
            != 401
            for _ in range(10)
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        statuses = [send() for _ in range(3)]  # 3 x $1.234 = $3.702 > $3
        assert statuses == [200, 200, 200], statuses
        time.sleep(2.5)  # every worker has read the shared counter back
        assert {send() for _ in range(12)} == {429}
    finally:
        gateway.stop()


def test_bad_settings_and_bad_input_are_refused(tmp_path: Path, two: Gateway) -> None:
    reply = httpx.post(two.url + "/v1/chat/completions", content=b"{not json", timeout=30)
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"
    refused = httpx.post(
        two.url + "/admin/sql", json={"query": "DROP TABLE inferences"}, headers=ADMIN, timeout=30
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "readonly"
    wrong = httpx.post(two.url + "/admin/sql", json={"query": "SELEC 1"}, headers=ADMIN, timeout=30)
    assert wrong.status_code == 400 and "ClickHouse refused" in wrong.json()["error"]["message"]
    zero = Gateway(
        copy_demo_config(tmp_path / "variants"), tmp_path / "data", {"SWITCHYARD_WORKERS": "0"}
    )
    with pytest.raises(RuntimeError, match="workers must be at least 1"):
        zero.start(timeout=30)


def test_feedback_on_another_workers_fresh_inference_is_accepted(two: Gateway) -> None:
    """The worker taking the feedback may not have served the inference, whose row is still in
    the other worker's writer: a UUIDv7 id younger than the write interval is waited for."""
    statuses = []
    for _ in range(16):
        reply = httpx.post(
            two.url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "rate me"}]},
            timeout=30,
        )
        inference_id = reply.headers["x-switchyard-inference-id"]
        feedback = httpx.post(
            two.url + "/v1/feedback",
            json={"metric_name": "thumbs_up", "inference_id": inference_id, "value": True},
            timeout=30,
        )
        statuses.append(feedback.status_code)
    assert statuses == [200] * 16

    never = uuid7_str()  # minted now, served by no one: 404 once its write window has passed
    started = time.monotonic()
    missing = httpx.post(
        two.url + "/v1/feedback",
        json={"metric_name": "thumbs_up", "inference_id": never, "value": True},
        timeout=30,
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "target_not_found"
    assert time.monotonic() - started < 0.5 + 3.0 + 2.0
    other = httpx.post(
        two.url + "/v1/feedback",
        json={"metric_name": "thumbs_up", "inference_id": str(uuid.uuid4()), "value": True},
        timeout=30,
    )
    assert other.status_code == 404, "a non-UUIDv7 id is not waited for"
