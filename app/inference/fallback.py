"""The route walk: try a plan's routes in order until one answers.

Fallback: a connection error, timeout, 5xx, 429 or auth failure moves to the next route, a
request the provider rejected as malformed (400/413/422) does not. Before moving on,
429/5xx/connection errors are retried on the same route as the model's policy allows, and a
provider whose circuit breaker is open is skipped (docs/providers.md, "Routing policy" and
"Circuit breaker"). What "answers" means is the caller's ``call``: a reply for a completion,
a first token for a stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from app.config.compile import Route
from app.errors import GatewayError, GatewayTimeout, InvalidRequest, ProviderFailed
from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.inference.provider_calls import ProviderCalls
from app.inference.recording import cancelled_attempt, failed_attempt, record_inference
from app.providers.base import ProviderError, ProviderRequest, now
from app.records import AttemptRecord, Recorder
from app.tracing import RequestTrace

T = TypeVar("T")


@dataclass(slots=True)
class Success(Generic[T]):
    """The route that answered, what it returned, and when that attempt began."""

    route: Route
    result: T
    started: float  # perf_counter
    wall: float  # unix seconds
    attempts: list[AttemptRecord]  # the failed tries before it


async def first_success(
    plan: Plan,
    calls: ProviderCalls,
    call: Callable[[Route, ProviderRequest], Awaitable[T]],
    recorder: Recorder,
) -> Success[T]:
    """Try the plan's routes in order until ``call`` succeeds on one.

    Per route: skip it while its provider's circuit is open; retry it (same provider) on
    429/5xx/connection errors as its policy allows, sleeping the backoff; move on after any
    other failure, unless the provider rejected the request itself (400: nobody will take it).
    Every try is an :class:`AttemptRecord`. Raises the client's error when no route is left,
    after recording the inference (as when the client goes away meanwhile).
    """
    attempts: list[AttemptRecord] = []
    failures: list[ProviderError] = []
    route: Route | None = None
    trace = plan.context.trace
    try:
        for index, route in enumerate(plan.routes):
            if index and trace is not None:
                trace.event("fallback", {"switchyard.provider": route.provider_name})
            breaker = calls.breaker(route)
            request = request_for(plan, route)
            retry = 0
            while breaker.allow():
                started, wall = now(), time.time()
                try:
                    result = await call(route, traced(request, trace, route))
                except ProviderError as exc:
                    attempts.append(failed_attempt(plan, route, wall, started, exc))
                    failures.append(exc)
                    if trace is not None:
                        trace.attempt_failed(exc.kind, exc.message, exc.status)
                    if exc.counts_against_provider:
                        breaker.failure(exc.message)
                    else:
                        breaker.release()
                    if not exc.try_next:
                        raise _fail(plan, failures, attempts, recorder) from None
                    delay = route.policy.retry_delay(retry, exc)
                    if delay is None:
                        break
                    retry += 1
                    if trace is not None:
                        trace.event("retry", _retry_event(route, retry, delay, exc))
                    await asyncio.sleep(delay)
                    continue
                except asyncio.CancelledError:
                    breaker.release()
                    attempts.append(cancelled_attempt(plan, route, wall, started))
                    if trace is not None:
                        trace.attempt_failed("cancelled", "client disconnected")
                    raise
                breaker.success()
                return Success(route, result, started, wall, attempts)
            else:  # the breaker said no: open, or opened by this very request's retries
                reason = breaker.describe()
                failures.append(ProviderError(route.provider_name, reason, kind="circuit_open"))
                if trace is not None:
                    trace.event(
                        "breaker_skip",
                        {"switchyard.provider": route.provider_name, "switchyard.reason": reason},
                    )
    except asyncio.CancelledError:
        outcome = Outcome(status="cancelled", error="client disconnected", route=route)
        record_inference(recorder, plan, outcome, attempts)
        raise
    raise _fail(plan, failures, attempts, recorder)


def request_for(plan: Plan, route: Route) -> ProviderRequest:
    """The plan's provider request for one route: its model name and, when not streaming, the
    first-byte deadline (streams are held to theirs chunk by chunk, in :mod:`.streaming`)."""
    request = plan.provider_request
    ttft = None if request.stream else first_token_deadline(plan, route)
    return msgspec.structs.replace(request, model=route.model, first_byte_timeout=ttft)


def traced(request: ProviderRequest, trace: RequestTrace | None, route: Route) -> ProviderRequest:
    """The request as sent for one attempt: with tracing on, the attempt's client span is opened
    and its ``traceparent`` goes to the provider (docs/operations.md, "Traces")."""
    if trace is None:
        return request
    traceparent = trace.start_attempt(route.provider_name, route.provider_type, route.model)
    return msgspec.structs.replace(request, headers={"traceparent": traceparent})


def _retry_event(route: Route, retry: int, delay: float, exc: ProviderError) -> dict[str, Any]:
    return {
        "switchyard.provider": route.provider_name,
        "switchyard.retry": retry,
        "switchyard.delay_s": delay,
        "error.type": exc.kind,
    }


def first_token_deadline(plan: Plan, route: Route) -> float | None:
    """Seconds; the request's max_ttft_ms wins over the model's."""
    return plan.request.max_ttft_ms / 1000 if plan.request.max_ttft_ms else route.policy.max_ttft


def _fail(
    plan: Plan, failures: list[ProviderError], attempts: list[AttemptRecord], recorder: Recorder
) -> GatewayError:
    error = _failure_error(plan, failures)
    record_inference(recorder, plan, Outcome(status="error", error=error.message), attempts)
    return error


def _failure_error(plan: Plan, failures: list[ProviderError]) -> GatewayError:
    if failures and not failures[-1].try_next:
        last = failures[-1]
        return InvalidRequest(f"Provider '{last.provider}' rejected the request: {last.message}")
    reasons = "; ".join(str(f) for f in failures) or "no route"
    if failures and all(f.timed_out for f in failures):
        return GatewayTimeout(f"Every provider for '{plan.model_name}' timed out: {reasons}")
    return ProviderFailed(f"All providers failed for '{plan.model_name}': {reasons}")
