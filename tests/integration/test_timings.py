"""SambaNova's four timing fields (seed 004), checked against providers whose pace is known.

The dummy provider sends its first token ``ttft_ms`` after the call starts and each further
one ``1/tokens_per_s`` later, so: time_to_first_token ≈ ttft, throughput_after_first_token ≈
tokens_per_s, model_execution_time ≈ ttft + (tokens - 1) / tokens_per_s, and queue_time ≈ 0.
"""

from __future__ import annotations

import msgspec
import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import Pipeline

TTFT, RATE = 0.15, 50.0
WORDS = " ".join(f"w{i}" for i in range(21))  # the dummy echoes it: 21 tokens

PACED = f"""
[providers.paced]
type = "dummy"
ttft_ms = {TTFT * 1000:g}
tokens_per_s = {RATE:g}
[models.paced]
routing = [{{ provider = "paced", name = "echo" }}]
"""


def usage_of(events: list[dict]) -> dict:
    return next(e["usage"] for e in events if e.get("usage"))


@pytest.mark.parametrize("stream", [False, True])
async def test_timings_match_a_provider_of_known_pace(stream: bool) -> None:
    async with Pipeline(PACED) as pipeline:
        body = {"model": "paced", "messages": [{"role": "user", "content": WORDS}]}
        if stream:
            usage = usage_of(
                await pipeline.stream({**body, "stream_options": {"include_usage": True}})
            )
        else:
            usage = msgspec.to_builtins((await pipeline.complete(body)).usage)
    # Sleeps never end early but overrun on a loaded machine, so each bound is tight on the side
    # a wrong measurement would land and loose on the side a busy scheduler pushes it.
    ttft, execution = usage["time_to_first_token"], usage["model_execution_time"]
    decoding = 20 / RATE  # 0.4 s for the 20 tokens after the first
    assert usage["completion_tokens"] == 21
    assert TTFT <= ttft < TTFT + 0.15  # the first token, not the whole answer (TTFT + 0.4 s)
    assert TTFT + decoding - 0.01 <= execution < TTFT + decoding + 0.4
    assert usage["throughput_after_first_token"] == pytest.approx(20 / (execution - ttft), rel=0.01)
    assert RATE * 0.5 < usage["throughput_after_first_token"] <= RATE * 1.05
    assert 0 <= usage["queue_time"] < 0.1  # no provider time in it (that would be >= TTFT)
    record = pipeline.recorder.last
    assert record.ttft_ms == pytest.approx(usage["time_to_first_token"] * 1000, abs=0.5)
    assert record.attempts[0].ttft_ms == pytest.approx(record.ttft_ms, abs=0.5)


async def test_streaming_ttft_is_the_first_token_not_the_first_byte(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake Anthropic ``slow`` path sends message_start at once and its first text 1 s later."""
    monkeypatch.setenv("ANT_KEY", "sk-ant-test")
    config = f"""
[providers.slow]
type = "anthropic"
base_url = "{fake_anthropic.url("slow")}"
api_key_env = "ANT_KEY"
[models.slow]
routing = [{{ provider = "slow", name = "c" }}]
"""
    async with Pipeline(config) as pipeline:
        events = await pipeline.stream(
            {
                "model": "slow",
                "messages": [{"role": "user", "content": "a b c"}],
                "stream_options": {"include_usage": True},
            }
        )
    usage = usage_of(events)
    # The first byte comes at once; the first token 1 s later. Loose above for a loaded machine.
    assert fake_anthropic.slow_s <= usage["time_to_first_token"] < fake_anthropic.slow_s + 0.5
    assert usage["model_execution_time"] >= usage["time_to_first_token"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (
        11,
        4,
    )  # Anthropic's own counts, not estimates


async def test_usage_is_estimated_when_the_provider_reports_none(fake_upstream: FakeOpenAI) -> None:
    """A server declared without stream_options sends no usage on streams: Switchyard counts."""
    config = f"""
[providers.plain]
type = "openai"
base_url = "{fake_upstream.url("ok")}"
params = ["temperature", "max_tokens"]
[models.plain]
routing = [{{ provider = "plain", name = "m" }}]
"""
    async with Pipeline(config) as pipeline:
        events = await pipeline.stream(
            {
                "model": "plain",
                "messages": [{"role": "user", "content": "hello world"}],
                "stream_options": {"include_usage": True},
            }
        )
    assert "stream_options" not in fake_upstream.last("ok")
    usage = usage_of(events)
    # "echo: hello world" → echo, :, hello, world; the prompt: 2 words + 3 per message
    assert (usage["completion_tokens"], usage["prompt_tokens"]) == (4, 5)
    assert pipeline.recorder.last.usage_estimated is True
