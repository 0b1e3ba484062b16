"""How hard to try one route before moving on: retries with backoff, and the first-token deadline.

A :class:`RoutePolicy` is compiled once per model and config version and shared by every
request routed through it; nothing here is allocated per request. It is compiled config (a
model's ``retries`` and ``max_ttft_ms``, see docs/providers.md "Routing policy"), so it sits in
the config layer and sees a failed attempt only through :class:`FailedAttempt`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from app.config.schema import RetryConfig


class FailedAttempt(Protocol):
    """What the policy needs of a failed attempt (``app.providers.base.ProviderError``)."""

    @property
    def retryable(self) -> bool: ...

    @property
    def retry_after(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    max_retries: int
    base_delay: float  # seconds
    max_delay: float
    max_ttft: float | None  # seconds; a request's max_ttft_ms wins

    @classmethod
    def from_config(cls, retries: RetryConfig, max_ttft_ms: int | None) -> RoutePolicy:
        ttft = max_ttft_ms / 1000 if max_ttft_ms else None
        return cls(
            retries.max_retries, retries.base_delay_ms / 1000, retries.max_delay_ms / 1000, ttft
        )

    def retry_delay(self, retry: int, error: FailedAttempt) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or None to move on.

        Exponential backoff with "equal jitter" (a random point in the upper half of the step),
        so a burst of failing requests does not come back in lockstep. A ``Retry-After`` longer
        than the backoff is honoured; one longer than ``max_delay`` means this route is not worth
        waiting for.
        """
        if retry >= self.max_retries or not error.retryable:
            return None
        step = min(self.max_delay, self.base_delay * (2**retry))
        delay = random.uniform(step / 2, step)
        if error.retry_after is not None:
            if error.retry_after > self.max_delay:
                return None
            delay = max(delay, error.retry_after)
        return delay


# For routes that belong to no configured model (``name@provider`` sent to the provider as is).
DEFAULT_POLICY = RoutePolicy.from_config(RetryConfig(), None)
