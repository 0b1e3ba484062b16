"""Routing policy against fake providers over real HTTP: retries with backoff and Retry-After,
circuit breakers, max_ttft_ms, timeouts, and one AttemptRecord per try.

The pipeline runs in the test's process (``tests.support.pipeline``) so each test can read the
records it left and start with fresh breakers; each test uses its own fake path (behaviour).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from app.errors import GatewayTimeout, InvalidRequest, ProviderFailed
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI, free_port
from tests.support.pipeline import Pipeline


@pytest.fixture(autouse=True)
def anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANT_KEY", "sk-ant-test")


def config(ant: FakeAnthropic, oai: FakeOpenAI, models: str, providers: str = "") -> str:
    """Providers named after fake behaviours (``claude-<behaviour>``), plus ``oai`` and the given models."""
    behaviours = ("ra", "ra-long", "b5", "ex", "brk", "slow", "stall")
    claude = "".join(
        f'[providers.claude-{b}]\ntype = "anthropic"\nbase_url = "{ant.url(b)}"\napi_key_env = "ANT_KEY"\n'
        + ("circuit_breaker = { failures = 3, cooldown_s = 1 }\n" if b == "brk" else "")
        + ("timeout_s = 0.3\n" if b == "stall" else "")
        for b in behaviours
    )
    return f"""
{claude}
[providers.oai]
type = "openai"
base_url = "{oai.url("ok")}"
[providers.refused]
type = "openai"
base_url = "http://127.0.0.1:{free_port()}/v1"
connect_timeout_s = 1
[providers.slow-dummy]
type = "dummy"
ttft_ms = 1000
{providers}
{models}
"""


def attempts(pipeline: Pipeline) -> list[tuple[str, str, int | None]]:
    return [(a.provider, a.status, a.http_status) for a in pipeline.recorder.last.attempts]


def user(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


# -- retries ------------------------------------------------------------------------------------


async def test_retry_after_is_honoured(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("ra", 429, retry_after="1")
    models = '[models.m]\nrouting = [{ provider = "claude-ra", name = "c" }]\nretries = { max = 2, base_delay_ms = 10 }'
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        reply = await pipeline.complete({"model": "m", "messages": user("again")})
    assert reply.choices[0].message.content == "echo: again"
    first, second = fake_anthropic.arrivals["ra"][-2:]
    # Never before Retry-After; the upper bound only rules out some other, longer wait.
    assert 1.0 <= second - first < 3.0, f"retried after {second - first:.3f}s"
    assert attempts(pipeline) == [("claude-ra", "error", 429), ("claude-ra", "ok", None)]
    assert "scripted failure 429" in pipeline.recorder.last.attempts[0].error
    assert reply.usage.queue_time >= 1.0  # time before the attempt that answered, the wait included


async def test_retry_after_longer_than_max_delay_moves_on(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("ra-long", 429, retry_after="30")
    models = '[models.m]\nrouting = [{ provider = "claude-ra-long", name = "c" }, { provider = "oai", name = "next" }]'
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        started = time.monotonic()
        reply = await pipeline.complete({"model": "m", "messages": user("moved")})
    assert time.monotonic() - started < 10  # far below the 30 s it would have waited
    assert reply.choices[0].message.content == "echo: moved"
    assert attempts(pipeline) == [("claude-ra-long", "error", 429), ("oai", "ok", None)]


async def test_exponential_backoff_on_server_errors(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("b5", 500, times=2)
    models = '[models.m]\nrouting = [{ provider = "claude-b5", name = "c" }]\nretries = { max = 2, base_delay_ms = 100 }'
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        reply = await pipeline.stream({"model": "m", "messages": user("third time")})
    assert (
        "".join(e["choices"][0]["delta"].get("content", "") for e in reply if e.get("choices"))
        == "echo: third time"
    )
    t = fake_anthropic.arrivals["b5"][-3:]
    # 100 ms then 200 ms steps, jittered in their upper half: the lower bounds show the backoff
    # and its growth; the upper ones are loose for a loaded machine.
    assert 0.05 <= t[1] - t[0] < 1.0 and 0.1 <= t[2] - t[1] < 1.5, t
    assert attempts(pipeline) == [
        ("claude-b5", "error", 500),
        ("claude-b5", "error", 500),
        ("claude-b5", "ok", None),
    ]


async def test_retries_exhausted_then_next_route(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("ex", 503, times=2)
    models = """
[models.m]
routing = [{ provider = "claude-ex", name = "c" }, { provider = "refused", name = "r" }, { provider = "oai", name = "last" }]
retries = { max = 1, base_delay_ms = 1 }
"""
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        await pipeline.complete({"model": "m", "messages": user()})
    assert attempts(pipeline) == [
        ("claude-ex", "error", 503),
        ("claude-ex", "error", 503),  # 5xx: retried
        ("refused", "error", None),
        ("refused", "error", None),  # connection refused: retried
        ("oai", "ok", None),
    ]


async def test_timeouts_and_rejections_are_not_retried(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    models = """
[models.stalling]
routing = [{ provider = "claude-stall", name = "c" }]
[models.rejecting]
routing = [{ provider = "claude-ra", name = "c" }, { provider = "oai", name = "never" }]
"""
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        with pytest.raises(GatewayTimeout) as timeout:
            await pipeline.complete({"model": "stalling", "messages": user()})
        assert timeout.value.status == 504 and timeout.value.type == "timeout_error"
        assert (
            "Every provider for 'stalling' timed out: claude-stall: no complete response within 0.3s"
            in timeout.value.message
        )
        assert attempts(pipeline) == [("claude-stall", "error", None)]

        fake_anthropic.fail_next("ra", 400)
        with pytest.raises(InvalidRequest, match="scripted failure 400"):
            await pipeline.complete({"model": "rejecting", "messages": user()})
        assert attempts(pipeline) == [("claude-ra", "error", 400)]


# -- circuit breaker ----------------------------------------------------------------------------


async def test_circuit_opens_skips_and_half_opens(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    fake_anthropic.fail_next("brk", 500, times=4)  # three to open the circuit, then a failed probe
    models = """
[models.m]
routing = [{ provider = "claude-brk", name = "c" }, { provider = "oai", name = "backup" }]
retries = { max = 0 }
[models.only]
routing = [{ provider = "claude-brk", name = "c" }]
"""
    seen = fake_anthropic.requests["brk"]
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        breaker = pipeline.breaker("claude-brk")
        start = len(seen)
        for _ in range(3):
            await pipeline.complete({"model": "m", "messages": user()})
        assert breaker.state == "open" and len(seen) == start + 3

        for _ in range(5):  # while open, the provider sees nothing and the backup answers at once
            reply = await pipeline.complete({"model": "m", "messages": user("backup")})
            assert reply.choices[0].message.content == "echo: backup"
        assert len(seen) == start + 3
        assert attempts(pipeline) == [("oai", "ok", None)]
        with pytest.raises(
            ProviderFailed,
            match=r"circuit open after 3 consecutive failures \(next probe in .*last: HTTP 500: scripted failure 500",
        ):
            await pipeline.complete({"model": "only", "messages": user()})

        await asyncio.sleep(1.05)
        assert breaker.state == "half_open"
        await pipeline.complete({"model": "m", "messages": user()})  # the probe fails: open again
        assert len(seen) == start + 4 and breaker.state == "open"
        assert attempts(pipeline) == [("claude-brk", "error", 500), ("oai", "ok", None)]

        await asyncio.sleep(1.05)
        reply = await pipeline.complete(
            {"model": "m", "messages": user("recovered")}
        )  # the probe succeeds
        assert attempts(pipeline) == [("claude-brk", "ok", None)] and breaker.state == "closed"
        await pipeline.complete({"model": "m", "messages": user()})
        assert len(seen) == start + 6


# -- max_ttft_ms --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_slow_first_token_falls_back(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI, stream: bool
) -> None:
    models = """
[models.m]
routing = [{ provider = "claude-slow", name = "c" }, { provider = "oai", name = "quick" }]
[models.capped]
routing = [{ provider = "claude-slow", name = "c" }, { provider = "oai", name = "quick" }]
max_ttft_ms = 200
"""
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        for body in ({"model": "m", "max_ttft_ms": 200}, {"model": "capped"}):
            started = time.monotonic()
            call = pipeline.stream if stream else pipeline.complete
            await call({**body, "messages": user("fast please")})
            # The slow provider's first token comes after 1 s; loose bounds for a loaded machine.
            assert time.monotonic() - started < 2.0
            assert attempts(pipeline) == [("claude-slow", "error", None), ("oai", "ok", None)]
            failed = pipeline.recorder.last.attempts[0]
            what = "first token" if stream else "first byte"
            assert failed.error == f"no {what} within 200 ms (max_ttft_ms)"
            assert 190 <= failed.latency_ms < 950  # cut at 200 ms, before the 1 s first token


@pytest.mark.parametrize("stream", [False, True])
async def test_max_ttft_with_no_route_left_is_504(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI, stream: bool
) -> None:
    models = '[models.m]\nrouting = [{ provider = "claude-slow", name = "c" }, { provider = "slow-dummy", name = "d" }]'
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        call = pipeline.stream if stream else pipeline.complete
        started = time.monotonic()
        with pytest.raises(GatewayTimeout) as error:
            await call({"model": "m", "messages": user(), "max_ttft_ms": 150})
        # 2 x 150 ms; without the limit both would answer after 1 s. Loose for a loaded machine.
        assert time.monotonic() - started < 1.8
    what = "first token" if stream else "first byte"
    assert f"claude-slow: no {what} within 150 ms (max_ttft_ms)" in error.value.message
    assert f"slow-dummy: no {what} within 150 ms (max_ttft_ms)" in error.value.message
    assert [a.status for a in pipeline.recorder.last.attempts] == ["error", "error"]
    assert pipeline.recorder.last.status == "error"


async def test_a_missed_max_ttft_does_not_open_the_circuit(
    fake_anthropic: FakeAnthropic, fake_upstream: FakeOpenAI
) -> None:
    """max_ttft_ms is one request's budget: an impatient client must not get a healthy provider skipped."""
    models = '[models.m]\nrouting = [{ provider = "claude-slow", name = "c" }, { provider = "oai", name = "quick" }]'
    async with Pipeline(config(fake_anthropic, fake_upstream, models)) as pipeline:
        for _ in range(6):  # the default breaker opens after 5 failures
            # 300 ms: far below claude-slow's 1 s, and room for the healthy backup to answer
            # on a loaded machine (at 50 ms it, too, missed once in 8 full runs).
            await pipeline.complete({"model": "m", "messages": user(), "max_ttft_ms": 300})
        assert pipeline.breaker("claude-slow").state == "closed"
        assert attempts(pipeline) == [("claude-slow", "error", None), ("oai", "ok", None)]
