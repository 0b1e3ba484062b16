"""A circuit breaker per provider, so a dead backend costs one skipped route instead of a
connection timeout on every request.

Closed → (``failures`` consecutive failed attempts) → open: the provider is skipped →
(``cooldown_s`` later) → half-open: exactly one request is let through as a probe; its success
closes the breaker, its failure opens it for another cooldown (docs/providers.md, "Circuit
breaker"). Everything runs on one event loop: no locks.

Breakers live in a :class:`BreakerBoard`, one per gateway process, keyed by provider name, so
they survive config versions: a reload that leaves a provider's config as it was keeps its
breaker, open or not. A provider whose config changed (another URL, key variable, timeouts or
breaker settings) gets a fresh breaker: its failures may have described a backend it no longer
calls.
"""

from __future__ import annotations

import time

from app.config.schema import BreakerConfig, ProviderConfig


class CircuitBreaker:
    __slots__ = ("_cooldown", "_failures", "_opened_at", "_probing", "_threshold", "last_error")

    def __init__(self, config: BreakerConfig) -> None:
        self._threshold = config.failures
        self._cooldown = config.cooldown_s
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.last_error = ""

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._probing or self._cooling_left() <= 0 else "open"

    @property
    def failures(self) -> int:
        """Consecutive failed attempts since the last success."""
        return self._failures

    def reopens_in(self) -> float | None:
        """Seconds until an open breaker lets a probe through (0 once it may), None if closed."""
        if self._opened_at is None:
            return None
        return max(0.0, self._cooling_left())

    def allow(self) -> bool:
        """May a request be sent now? In half-open state, True once: the caller is the probe."""
        if self._opened_at is None:
            return True
        if self._probing or self._cooling_left() > 0:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self, error: str) -> None:
        self.last_error = error
        self._failures += 1
        if self._probing or (self._threshold and self._failures >= self._threshold):
            self._opened_at = time.monotonic()
            self._probing = False

    def release(self) -> None:
        """The probe ended without a verdict (the client went away): let another request probe."""
        self._probing = False

    def describe(self) -> str:
        """Why requests are being refused, for the client's error message."""
        wait = self._cooling_left()
        when = f"next probe in {wait:.1f}s" if wait > 0 else "a probe is in flight"
        return f"circuit open after {self._failures} consecutive failures ({when}); last: {self.last_error}"

    def _cooling_left(self) -> float:
        assert self._opened_at is not None
        return self._opened_at + self._cooldown - time.monotonic()


class BreakerBoard:
    """The circuit breaker of each provider name; asked once per provider per config version."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[ProviderConfig, CircuitBreaker]] = {}

    def breaker(self, name: str, config: ProviderConfig) -> CircuitBreaker:
        """``name``'s breaker; a fresh one if its config is not the one the breaker was made for."""
        entry = self._entries.get(name)
        if entry is None or entry[0] != config:
            entry = self._entries[name] = (config, CircuitBreaker(config.circuit_breaker))
        return entry[1]

    def get(self, name: str) -> CircuitBreaker | None:
        """``name``'s breaker if a request has been sent to it in this process, for status pages."""
        entry = self._entries.get(name)
        return entry[1] if entry else None
