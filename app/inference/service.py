"""Runs a :class:`Plan` against its provider routes, shapes the answer, and records it.

Fallback: routes are tried in order; a connection error, timeout, 5xx, 429 or auth failure
moves to the next route, a request the provider rejected as malformed (400/413/422) does not.
Before moving on, 429/5xx/connection errors are retried on the same route as the model's
policy allows, and a provider whose circuit breaker is open is skipped. A first token later
than max_ttft_ms abandons the attempt. Streams fall back only until their first token: after
that the client has bytes in hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

import msgspec

from app.config.compile import Route
from app.config.holder import ConfigHolder
from app.errors import GatewayError, GatewayTimeout, InvalidRequest, ProviderFailed
from app.ids import uuid7_str
from app.inference.accumulate import StreamAccumulator
from app.inference.plan import CallContext, Plan, make_plan
from app.providers.base import (
    Provider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
    ProviderStream,
    now,
)
from app.providers.breaker import CircuitBreaker
from app.providers.registry import Providers
from app.providers.tokens import count_prompt_tokens, count_tokens
from app.providers.upstream import Upstream
from app.records import AttemptRecord, InferenceRecord, Recorder
from app.wire.request import ChatRequest
from app.wire.response import ChatCompletion, ChatCompletionChunk, Choice, Usage, encoder

_DONE = b"data: [DONE]\n\n"
T = TypeVar("T")


class Outcome(msgspec.Struct, kw_only=True):
    """How an inference ended; the record is built from a plan plus its outcome."""

    status: str = "ok"
    error: str = ""
    route: Route | None = None
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    usage_estimated: bool = False
    started: float | None = None  # perf_counter at the start of the attempt that answered
    first_token_at: float | None = None
    ended: float | None = None
    completion_ids: list[str] = msgspec.field(default_factory=list)


class InferenceService:
    def __init__(self, config: ConfigHolder, recorder: Recorder, providers: Providers) -> None:
        self.config = config
        self.recorder = recorder
        self.providers = providers
        self._complete_call = partial(_complete, providers.upstream)  # built once

    def plan(self, request: ChatRequest, body: bytes, context: CallContext) -> Plan:
        return make_plan(self.config.current, request, body, context)

    # -- the route walk ------------------------------------------------------------------------

    async def _first_success(
        self, plan: Plan, call: Callable[[Provider, Route, ProviderRequest], Awaitable[T]]
    ) -> _Success[T]:
        """Try the plan's routes in order until ``call`` succeeds on one.

        Per route: skip it while its provider's circuit is open; retry it (same provider) on
        429/5xx/connection errors as its policy allows, sleeping the backoff; move on after any
        other failure, unless the provider rejected the request itself (400: nobody will take it).
        Every try is an :class:`AttemptRecord`. Raises the client's error when no route is left.
        """
        attempts: list[AttemptRecord] = []
        failures: list[ProviderError] = []
        route: Route | None = None
        providers = self.providers.table(plan.snapshot.providers)
        try:
            for route in plan.routes:
                provider = providers[route.provider_name]
                breaker = provider.breaker
                request = _request_for(plan, route)
                retry = 0
                while breaker.allow():
                    started, wall = now(), time.time()
                    try:
                        result = await call(provider, route, request)
                    except ProviderError as exc:
                        attempts.append(
                            _attempt(plan, route, wall, started, exc, raw_request=exc.raw_request)
                        )
                        failures.append(exc)
                        if exc.counts_against_provider:
                            breaker.failure(exc.message)
                        else:
                            breaker.release()
                        if not exc.try_next:
                            raise self._fail(plan, failures, attempts) from None
                        delay = route.policy.retry_delay(retry, exc)
                        if delay is None:
                            break
                        retry += 1
                        await asyncio.sleep(delay)
                        continue
                    except asyncio.CancelledError:
                        breaker.release()
                        attempts.append(_attempt(plan, route, wall, started, "cancelled"))
                        raise
                    breaker.success()
                    return _Success(route, result, started, wall, attempts)
                else:  # the breaker said no: open, or opened by this very request's retries
                    failures.append(
                        ProviderError(route.provider_name, breaker.describe(), kind="circuit_open")
                    )
        except asyncio.CancelledError:
            self._record(
                plan,
                Outcome(status="cancelled", error="client disconnected", route=route),
                attempts,
            )
            raise
        raise self._fail(plan, failures, attempts)

    # -- non-streaming ------------------------------------------------------------------------

    async def complete(self, plan: Plan) -> ChatCompletion:
        done = await self._first_success(plan, self._complete_call)
        reply = done.result
        outcome = self._outcome(plan, done.route, reply, done.started)
        done.attempts.append(_attempt(plan, done.route, done.wall, done.started, reply, outcome))
        self._record(plan, outcome, done.attempts)
        return self._response(plan, reply.completion, outcome)

    def _outcome(self, plan: Plan, route: Route, reply: ProviderReply, started: float) -> Outcome:
        choices = reply.completion.choices
        usage, estimated = _usage(plan, reply.completion.usage, choices)
        return Outcome(
            route=route,
            choices=choices,
            usage=usage,
            usage_estimated=estimated,
            started=started,
            first_token_at=reply.first_byte_at,
            ended=now(),
            completion_ids=_completion_ids(plan, len(choices)),
        )

    def _response(self, plan: Plan, completion: ChatCompletion, outcome: Outcome) -> ChatCompletion:
        completion.id = plan.inference_id
        completion.model = plan.model_name
        for choice, completion_id in zip(completion.choices, outcome.completion_ids, strict=False):
            choice.completion_id = completion_id
        completion.usage = _timed_usage(plan, outcome)
        _set_routing_fields(completion, plan)
        return completion

    # -- streaming ----------------------------------------------------------------------------

    async def open_stream(self, plan: Plan) -> AsyncIterator[bytes]:
        """Connect to the first route whose stream reaches its first token; the returned
        iterator relays it all. Raising here (before any byte is sent) lets the API answer with
        a plain HTTP error, so falling back stays possible until the first token.
        """
        done = await self._first_success(plan, partial(_open_stream, self.providers.upstream, plan))
        return self._relay(plan, done.route, done.result, done.attempts, done.wall, done.started)

    async def _relay(
        self,
        plan: Plan,
        route: Route,
        opened: _OpenStream,
        attempts: list[AttemptRecord],
        wall: float,
        started: float,
    ) -> AsyncIterator[bytes]:
        n = plan.request.n or 1
        outcome = Outcome(route=route, started=started, completion_ids=_completion_ids(plan, n))
        stream, accumulator = opened.stream, opened.accumulator
        upstream_usage: Usage | None = None
        seen: set[int] = set()
        first = opened.prelude[0]
        _set_routing_fields(first, plan)

        def frame(chunk: ChatCompletionChunk) -> bytes | None:
            nonlocal upstream_usage
            if chunk.usage:
                upstream_usage = chunk.usage  # type: ignore[assignment]
                chunk.usage = msgspec.UNSET
            if not chunk.choices and chunk is not first:
                return None
            chunk.id = plan.inference_id
            chunk.model = plan.model_name
            for choice in chunk.choices:
                if choice.index not in seen and choice.index < n:
                    seen.add(choice.index)
                    choice.completion_id = outcome.completion_ids[choice.index]
            return b"data: " + encoder.encode(chunk) + b"\n\n"

        try:
            for chunk in opened.prelude:
                if (data := frame(chunk)) is not None:
                    yield data
            async for chunk in stream:
                accumulator.add(chunk)
                if (data := frame(chunk)) is not None:
                    yield data
            outcome.ended = now()
            outcome.first_token_at = accumulator.first_token_at or outcome.ended
            outcome.choices = accumulator.choices()
            outcome.usage, outcome.usage_estimated = _usage(plan, upstream_usage, outcome.choices)
            if plan.request.include_usage:
                yield b"data: " + encoder.encode(_usage_chunk(plan, outcome)) + b"\n\n"
            yield _DONE
        except ProviderError as exc:
            if exc.counts_against_provider:
                opened.breaker.failure(exc.message)
            outcome.status, outcome.error = "error", str(exc)
            error = ProviderFailed(f"Provider stream failed after it began: {exc}")
            yield b"data: " + encoder.encode(error.body()) + b"\n\n"
        except (asyncio.CancelledError, GeneratorExit):
            outcome.status, outcome.error = "cancelled", "client disconnected"
            raise
        finally:
            if outcome.status != "ok":
                outcome.ended = now()
                outcome.choices = accumulator.choices()
                outcome.usage, outcome.usage_estimated = _usage(
                    plan, upstream_usage, outcome.choices
                )
                outcome.first_token_at = accumulator.first_token_at
            attempts.append(_attempt(plan, route, wall, started, stream, outcome))
            self._record(plan, outcome, attempts)
            await stream.aclose()

    # -- shared -------------------------------------------------------------------------------

    def _fail(
        self, plan: Plan, failures: list[ProviderError], attempts: list[AttemptRecord]
    ) -> GatewayError:
        error = _failure_error(plan, failures)
        self._record(plan, Outcome(status="error", error=error.message), attempts)
        return error

    def _record(self, plan: Plan, outcome: Outcome, attempts: list[AttemptRecord]) -> None:
        if plan.store:
            self.recorder.record(_inference_record(plan, outcome, attempts))


@dataclass(slots=True)
class _Success(Generic[T]):
    """The route that answered, what it returned, and when that attempt began."""

    route: Route
    result: T
    started: float  # perf_counter
    wall: float  # unix seconds
    attempts: list[AttemptRecord]


@dataclass(slots=True)
class _OpenStream:
    """A provider stream that reached its first token: the chunks read so far, and the rest."""

    stream: ProviderStream
    prelude: list[ChatCompletionChunk]
    accumulator: StreamAccumulator
    breaker: CircuitBreaker  # the streaming provider's: a failure after the first token counts


def _request_for(plan: Plan, route: Route) -> ProviderRequest:
    request = plan.provider_request
    ttft = (
        None if request.stream else _first_token_deadline(plan, route)
    )  # streams: see _open_stream
    return msgspec.structs.replace(request, model=route.model, first_byte_timeout=ttft)


def _first_token_deadline(plan: Plan, route: Route) -> float | None:
    """Seconds; the request's max_ttft_ms wins over the model's."""
    return plan.request.max_ttft_ms / 1000 if plan.request.max_ttft_ms else route.policy.max_ttft


async def _complete(
    upstream: Upstream, provider: Provider, route: Route, request: ProviderRequest
) -> ProviderReply:
    return await provider.complete(request, upstream)


async def _open_stream(
    upstream: Upstream, plan: Plan, provider: Provider, route: Route, request: ProviderRequest
) -> _OpenStream:
    """Open a stream and read it up to its first token (or its end), within max_ttft_ms.

    Chunks before the first token (a role-only chunk, say) are held back, so a stream that
    fails or stalls before saying anything can still fall back to the next route.
    """
    stream = provider.stream(request, upstream)
    accumulator = StreamAccumulator()
    prelude: list[ChatCompletionChunk] = []
    ttft = _first_token_deadline(plan, route)
    deadline = asyncio.timeout(ttft)
    try:
        async with deadline:
            async for chunk in stream:
                accumulator.add(chunk)
                prelude.append(chunk)
                if (
                    accumulator.first_token_at is not None
                    or chunk.usage
                    or any(c.finish_reason for c in chunk.choices)
                ):
                    break
    except TimeoutError:
        if not deadline.expired():
            raise
        error = ProviderError(
            route.provider_name,
            f"no first token within {ttft * 1000:g} ms (max_ttft_ms)",
            kind="slow_first_token",
        )  # type: ignore[operator]
    except ProviderError as exc:
        error = exc
    except asyncio.CancelledError:
        await stream.aclose()
        raise
    else:
        if prelude:
            return _OpenStream(stream, prelude, accumulator, provider.breaker)
        error = ProviderError(route.provider_name, "stream ended before any chunk", kind="protocol")
    await stream.aclose()
    error.raw_request = stream.raw_request
    raise error


def _failure_error(plan: Plan, failures: list[ProviderError]) -> GatewayError:
    if failures and not failures[-1].try_next:
        last = failures[-1]
        return InvalidRequest(f"Provider '{last.provider}' rejected the request: {last.message}")
    reasons = "; ".join(str(f) for f in failures) or "no route"
    if failures and all(f.timed_out for f in failures):
        return GatewayTimeout(f"Every provider for '{plan.model_name}' timed out: {reasons}")
    return ProviderFailed(f"All providers failed for '{plan.model_name}': {reasons}")


def _completion_ids(plan: Plan, n: int) -> list[str]:
    return [plan.inference_id] + [uuid7_str() for _ in range(max(n, 1) - 1)]


def _set_routing_fields(target: ChatCompletion | ChatCompletionChunk, plan: Plan) -> None:
    target.episode_id = plan.episode_id
    target.session_id = plan.session_id
    target.function = plan.function
    target.variant = plan.variant
    target.ab_campaign = plan.campaign


def _usage(plan: Plan, usage: Usage | None, choices: list[Choice]) -> tuple[Usage, bool]:
    """The provider's token counts, or our estimate (flagged) when it reported none."""
    if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
        return Usage(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.prompt_tokens + usage.completion_tokens,
        ), False
    prompt = count_prompt_tokens(plan.provider_request.messages)
    completion = 0
    for choice in choices:
        message = choice.message
        completion += count_tokens(message.content or "")
        if isinstance(message.reasoning_content, str):
            completion += count_tokens(message.reasoning_content)
        for call in message.tool_calls or ():
            completion += count_tokens(call.function.name + call.function.arguments)
    return Usage(prompt, completion, prompt + completion), True


def _timed_usage(plan: Plan, outcome: Outcome) -> Usage:
    """Usage plus SambaNova's four timing fields, in seconds."""
    usage = outcome.usage or Usage()
    started = outcome.started or plan.context.received_at
    ended = outcome.ended or started
    first = outcome.first_token_at or ended
    execution = ended - started
    decoding = ended - first
    if decoding > 0.001 and usage.completion_tokens > 1:
        throughput = (usage.completion_tokens - 1) / decoding
    else:
        throughput = usage.completion_tokens / execution if execution > 0 else 0.0
    return Usage(
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        time_to_first_token=round(first - started, 6),
        throughput_after_first_token=round(throughput, 3),
        model_execution_time=round(execution, 6),
        queue_time=round(started - plan.context.received_at, 6),
    )


def _usage_chunk(plan: Plan, outcome: Outcome) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=plan.inference_id,
        created=int(plan.context.created_at),
        model=plan.model_name,
        choices=[],
        usage=_timed_usage(plan, outcome),
    )


def _attempt(
    plan: Plan,
    route: Route,
    wall: float,
    started: float,
    result: ProviderReply | ProviderError | ProviderStream | str,
    outcome: Outcome | None = None,
    *,
    raw_request: bytes = b"",
) -> AttemptRecord:
    record = AttemptRecord(
        id=uuid7_str(),
        inference_id=plan.inference_id,
        provider=route.provider_name,
        provider_type=route.provider_type,
        model=route.model,
        started_at=wall,
        latency_ms=(now() - started) * 1000,
        status="ok",
    )
    if isinstance(result, ProviderError):
        record.status, record.error, record.http_status = "error", result.message, result.status
        response = result.raw_response
    elif isinstance(result, str):
        record.status, record.error = result, "client disconnected"
        response = b""
    elif isinstance(result, ProviderReply):
        raw_request, response = result.raw_request, result.raw_response
    else:  # a stream: the raw response is the reassembled choices
        raw_request, response = (
            result.raw_request,
            encoder.encode(outcome.choices) if outcome else b"",
        )
    if outcome is not None:
        record.status = outcome.status
        record.error = outcome.error
        if outcome.first_token_at is not None:
            record.ttft_ms = (outcome.first_token_at - started) * 1000
        if outcome.usage is not None:
            record.prompt_tokens = outcome.usage.prompt_tokens
            record.completion_tokens = outcome.usage.completion_tokens
    if plan.request.log_query_body:
        record.raw_request = raw_request.decode("utf-8", "replace")
    if plan.request.log_response_body:
        record.raw_response = response.decode("utf-8", "replace")
    return record


def _inference_record(
    plan: Plan, outcome: Outcome, attempts: list[AttemptRecord]
) -> InferenceRecord:
    request = plan.request
    assignment = plan.assignment
    usage = outcome.usage or Usage()
    started = outcome.started if outcome.started is not None else None
    ended = outcome.ended or now()
    route = outcome.route
    return InferenceRecord(
        id=plan.inference_id,
        created_at=plan.context.created_at,
        config_version=plan.snapshot.version,
        function=plan.function or "",
        variant=plan.variant or "",
        campaign=plan.campaign or "",
        sticky_unit=(assignment.unit or "") if assignment else "",
        session_id=plan.session_id or "",
        episode_id=plan.episode_id,
        user=request.user or "",
        api_key_id=plan.context.api_key_id,
        model=plan.model_name,
        provider=route.provider_name if route else "",
        provider_model=route.model if route else "",
        status=outcome.status,
        error=outcome.error,
        input_messages=encoder.encode(request.messages).decode() if request.log_query_body else "",
        system_prompt=plan.system_prompt,
        system_prompt_args=encoder.encode(request.system_prompt_args).decode()
        if request.system_prompt_args
        else "",
        params=encoder.encode(plan.provider_request.params).decode(),
        output=encoder.encode(outcome.choices).decode()
        if request.log_response_body and outcome.choices
        else "",
        finish_reason=next((c.finish_reason for c in outcome.choices if c.finish_reason), "") or "",
        labels=plan.labels,
        tags=plan.tags,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        usage_estimated=outcome.usage_estimated,
        ttft_ms=(outcome.first_token_at - started) * 1000
        if started is not None and outcome.first_token_at
        else None,
        latency_ms=(ended - plan.context.received_at) * 1000,
        queue_ms=((started if started is not None else ended) - plan.context.received_at) * 1000,
        streamed=request.stream,
        completion_ids=outcome.completion_ids or [plan.inference_id],
        parent_completion_ids=plan.parent_completion_ids,
        attempts=attempts,
    )
