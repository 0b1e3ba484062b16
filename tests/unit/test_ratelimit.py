"""The per-key token bucket: exactly N admitted at once, refill at N per minute, honest waits."""

from __future__ import annotations

import pytest

from app.auth.ratelimit import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.mark.parametrize("per_minute", [1, 5, 60, 600])
def test_a_full_bucket_admits_exactly_its_limit(clock: FakeClock, per_minute: int) -> None:
    bucket = TokenBucket(per_minute, clock)
    assert [bucket.take() for _ in range(per_minute)] == [0.0] * per_minute
    assert bucket.take() > 0


def test_refill_is_continuous_at_the_per_minute_rate(clock: FakeClock) -> None:
    bucket = TokenBucket(60, clock)  # one token a second
    for _ in range(60):
        bucket.take()
    assert bucket.take() == pytest.approx(1.0)
    clock.advance(0.5)
    assert bucket.take() == pytest.approx(0.5)  # half a token back, half still owed
    clock.advance(0.5)
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)


def test_refill_never_exceeds_the_capacity(clock: FakeClock) -> None:
    bucket = TokenBucket(3, clock)
    clock.advance(3600)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() > 0


def test_wait_is_the_time_until_the_next_token(clock: FakeClock) -> None:
    bucket = TokenBucket(6, clock)  # one token every 10 s
    for _ in range(6):
        bucket.take()
    assert bucket.take() == pytest.approx(10.0)
    clock.advance(4)
    assert bucket.take() == pytest.approx(6.0)


def test_limiter_answers_whole_seconds_per_key(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    assert [limiter.wait_time("a", 2) for _ in range(2)] == [0, 0]
    assert limiter.wait_time("a", 2) == 30  # 2 per minute: 30 s until the next token
    assert limiter.wait_time("b", 2) == 0  # another key has its own bucket
    clock.advance(29.5)
    assert limiter.wait_time("a", 2) == 1  # 0.5 s rounds up, never to 0
    clock.advance(1)
    assert limiter.wait_time("a", 2) == 0


def test_a_changed_limit_starts_a_fresh_bucket(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    limiter.wait_time("a", 1)
    assert limiter.wait_time("a", 1) > 0
    assert [limiter.wait_time("a", 3) for _ in range(3)] == [0, 0, 0]
    assert limiter.wait_time("a", 3) > 0
