"""The circuit breaker's state machine, on a fake clock, and the board that keeps breakers
across config versions."""

from __future__ import annotations

import pytest

from app.config.schema import BreakerConfig, DummyProviderConfig
from app.providers import breaker as breaker_module
from app.providers.breaker import BreakerBoard, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(breaker_module.time, "monotonic", clock)
    return clock


def opened(failures: int = 3, cooldown_s: float = 30) -> CircuitBreaker:
    breaker = CircuitBreaker(BreakerConfig(failures=failures, cooldown_s=cooldown_s))
    for i in range(failures):
        breaker.failure(f"boom {i}")
    return breaker


def test_opens_after_the_configured_consecutive_failures(clock: Clock) -> None:
    breaker = CircuitBreaker(BreakerConfig(failures=3, cooldown_s=30))
    breaker.failure("a")
    breaker.failure("b")
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure("c")
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.last_error == "c"


def test_a_success_resets_the_count(clock: Clock) -> None:
    breaker = CircuitBreaker(BreakerConfig(failures=2, cooldown_s=30))
    breaker.failure("a")
    breaker.success()
    breaker.failure("b")
    assert breaker.state == "closed"


def test_zero_failures_turns_it_off(clock: Clock) -> None:
    breaker = CircuitBreaker(BreakerConfig(failures=0, cooldown_s=30))
    for _ in range(100):
        breaker.failure("x")
    assert breaker.state == "closed" and breaker.allow()


def test_half_open_lets_exactly_one_probe_through(clock: Clock) -> None:
    breaker = opened(cooldown_s=30)
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for its verdict
    assert breaker.state == "half_open"


def test_a_successful_probe_closes_it(clock: Clock) -> None:
    breaker = opened()
    clock.now += 31
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_it_for_another_cooldown(clock: Clock) -> None:
    breaker = opened(failures=5, cooldown_s=10)
    clock.now += 11
    assert breaker.allow()
    breaker.failure("still down")  # one failure is enough while probing
    assert breaker.state == "open"
    clock.now += 9
    assert not breaker.allow()
    clock.now += 2
    assert breaker.allow()


def test_a_released_probe_lets_another_request_probe(clock: Clock) -> None:
    breaker = opened()
    clock.now += 31
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_describe_says_why_and_when(clock: Clock) -> None:
    breaker = opened(failures=3, cooldown_s=30)
    clock.now += 10
    text = breaker.describe()
    assert "after 3 consecutive failures" in text
    assert "next probe in 20.0s" in text
    assert text.endswith("last: boom 2")
    clock.now += 25
    breaker.allow()
    assert "a probe is in flight" in breaker.describe()


def test_the_board_keeps_a_breaker_while_its_provider_config_is_unchanged() -> None:
    board = BreakerBoard()
    first = board.breaker("p", DummyProviderConfig())
    first.failure("x")
    # A new config version decodes a new, equal config object: same breaker, state kept.
    assert board.breaker("p", DummyProviderConfig()) is first
    assert board.breaker("q", DummyProviderConfig()) is not first


def test_the_board_gives_a_changed_provider_a_fresh_breaker() -> None:
    board = BreakerBoard()
    old = board.breaker("p", DummyProviderConfig())
    new = board.breaker("p", DummyProviderConfig(ttft_ms=5))
    assert new is not old
    assert board.breaker("p", DummyProviderConfig(ttft_ms=5)) is new
    changed = DummyProviderConfig(circuit_breaker=BreakerConfig(failures=1, cooldown_s=1))
    fresh = board.breaker("p", changed)
    fresh.failure("x")
    assert fresh.state == "open"  # made with the new thresholds
