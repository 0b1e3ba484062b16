"""Streaming: open a provider stream up to its first token, then relay it as SSE frames.

A stream falls back to the next route only until its first token: chunks before it (a
role-only chunk, say) are held back, so a stream that fails or stalls before saying anything
can still fall back; a first token later than max_ttft_ms abandons the attempt
(docs/providers.md, "max_ttft_ms"). After the first token the client has bytes in hand, so a
later failure ends the stream with an error event instead. The relay records the inference
however it ends (finished, failed, cancelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import msgspec

from app.config.compile import Route
from app.errors import ProviderFailed
from app.inference.accumulate import StreamAccumulator
from app.inference.answer import completion_ids, set_routing_fields
from app.inference.caching import CachedAnswer, ResponseCache, hit_outcome
from app.inference.fallback import Success, first_token_deadline
from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.inference.provider_calls import ProviderCalls
from app.inference.recording import answered_attempt, record_inference
from app.inference.usage import price_outcome, timed_usage, usage_of
from app.providers.base import ProviderError, ProviderRequest, ProviderStream, now
from app.providers.breaker import CircuitBreaker
from app.records import Recorder
from app.wire.response import (
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    ToolCallDelta,
    Usage,
    encoder,
)

_DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class OpenStream:
    """A provider stream that reached its first token: the chunks read so far, and the rest."""

    stream: ProviderStream
    prelude: list[ChatCompletionChunk]
    accumulator: StreamAccumulator
    breaker: CircuitBreaker  # the streaming provider's: a failure after the first token counts


async def open_until_first_token(
    plan: Plan, calls: ProviderCalls, route: Route, request: ProviderRequest
) -> OpenStream:
    """Open a stream and read it up to its first token (or its end), within max_ttft_ms."""
    stream = calls.stream(route, request)
    accumulator = StreamAccumulator()
    prelude: list[ChatCompletionChunk] = []
    ttft = first_token_deadline(plan, route)
    deadline = asyncio.timeout(ttft)
    error: ProviderError
    try:
        async with deadline:
            async for chunks in stream:
                prelude.extend(chunks)
                if _reaches_first_token(accumulator, chunks):
                    break
    except TimeoutError:
        if ttft is None or not deadline.expired():
            raise
        error = ProviderError(
            route.provider_name,
            f"no first token within {ttft * 1000:g} ms (max_ttft_ms)",
            kind="slow_first_token",
        )
    except ProviderError as exc:
        error = exc
    except asyncio.CancelledError:
        await stream.aclose()
        raise
    else:
        if prelude:
            return OpenStream(stream, prelude, accumulator, calls.breaker(route))
        error = ProviderError(route.provider_name, "stream ended before any chunk", kind="protocol")
    await stream.aclose()
    error.raw_request = stream.raw_request
    raise error


def _reaches_first_token(accumulator: StreamAccumulator, chunks: list[ChatCompletionChunk]) -> bool:
    """Add ``chunks``; true once they hold the first token, usage, or a finish reason."""
    reached = False
    for chunk in chunks:
        accumulator.add(chunk)
        reached = reached or bool(chunk.usage) or any(c.finish_reason for c in chunk.choices)
    return reached or accumulator.first_token_at is not None


async def relay(
    plan: Plan, opened: Success[OpenStream], recorder: Recorder, cache: ResponseCache | None = None
) -> AsyncGenerator[list[bytes], None]:
    """Yield the stream's SSE frames under our ids, the frames of one upstream read together,
    then the usage chunk and ``[DONE]``. A stream that ended well fills the response cache
    when the request may write to it."""
    route, stream, accumulator = opened.route, opened.result.stream, opened.result.accumulator
    n = plan.request.n or 1
    outcome = Outcome(route=route, started=opened.started, completion_ids=completion_ids(plan, n))
    framer = _Framer(plan, opened.result.prelude[0], outcome.completion_ids, n)
    recorded = False

    def record() -> None:
        nonlocal recorded
        recorded = True
        raw_response = encoder.encode(outcome.choices)
        opened.attempts.append(
            answered_attempt(
                plan, route, opened.wall, opened.started, outcome, stream.raw_request, raw_response
            )
        )
        record_inference(recorder, plan, outcome, opened.attempts)

    try:
        if frames := framer.frames(opened.result.prelude):
            yield frames
        async for chunks in stream:
            for chunk in chunks:
                accumulator.add(chunk)
            if frames := framer.frames(chunks):
                yield frames
        _settle(plan, outcome, accumulator, framer.upstream_usage)
        outcome.first_token_at = outcome.first_token_at or outcome.ended
        record()  # before the last frame: a client that saw [DONE] has its row handed off
        if plan.request.include_usage:
            yield [_sse(_usage_chunk(plan, outcome)), _DONE]
        else:
            yield [_DONE]
    except ProviderError as exc:
        if exc.counts_against_provider:
            opened.result.breaker.failure(exc.message)
        outcome.status, outcome.error = "error", str(exc)
        error = ProviderFailed(f"Provider stream failed after it began: {exc}")
        yield [_sse(error.body())]
    except (asyncio.CancelledError, GeneratorExit):
        outcome.status, outcome.error = "cancelled", "client disconnected"
        raise
    finally:
        if not recorded:
            if outcome.status != "ok":
                _settle(plan, outcome, accumulator, framer.upstream_usage)
            record()
        if cache is not None:
            cache.remember(plan, outcome)
        await stream.aclose()


async def replay(
    plan: Plan, hit: CachedAnswer, recorder: Recorder
) -> AsyncGenerator[list[bytes], None]:
    """A cached answer as a stream: per choice its whole message in one chunk, then its finish
    reason, then the usage chunk (when asked) and ``[DONE]``, all in one write."""
    outcome = hit_outcome(plan, hit)
    chunks = [chunk for choice in hit.choices for chunk in _replayed(choice)]
    chunks[0].cached = True
    framer = _Framer(plan, chunks[0], outcome.completion_ids, len(hit.choices))
    frames = framer.frames(chunks)
    if plan.request.include_usage:
        frames.append(_sse(_usage_chunk(plan, outcome)))
    frames.append(_DONE)
    try:
        yield frames
    except (asyncio.CancelledError, GeneratorExit):
        outcome.status, outcome.error = "cancelled", "client disconnected"
        raise
    finally:
        record_inference(recorder, plan, outcome, [])


def _replayed(choice: Choice) -> tuple[ChatCompletionChunk, ChatCompletionChunk]:
    message = choice.message
    delta = Delta(role=message.role, content=message.content)
    if isinstance(message.reasoning_content, str):
        delta.reasoning_content = message.reasoning_content
    if isinstance(message.refusal, str):
        delta.refusal = message.refusal
    if message.tool_calls:
        delta.tool_calls = [
            ToolCallDelta(index=i, id=call.id, type=call.type, function=call.function)
            for i, call in enumerate(message.tool_calls)
        ]
    said = ChatCompletionChunk(choices=[ChunkChoice(index=choice.index, delta=delta)])
    finished = ChatCompletionChunk(
        choices=[ChunkChoice(index=choice.index, finish_reason=choice.finish_reason)]
    )
    return said, finished


class _Framer:
    """Turns provider chunks into SSE frames under our ids, keeping the provider's usage aside
    (the client gets ours, in the usage chunk). Chunks with no choices are dropped, except the
    first, which carries the routing fields."""

    __slots__ = ("completion_ids", "first", "n", "plan", "seen", "upstream_usage")

    def __init__(
        self, plan: Plan, first: ChatCompletionChunk, completion_ids: list[str], n: int
    ) -> None:
        self.plan = plan
        self.first = first
        self.completion_ids = completion_ids
        self.n = n
        self.seen: set[int] = set()
        self.upstream_usage: Usage | None = None
        set_routing_fields(first, plan)

    def frames(self, chunks: list[ChatCompletionChunk]) -> list[bytes]:
        return [data for chunk in chunks if (data := self.frame(chunk)) is not None]

    def frame(self, chunk: ChatCompletionChunk) -> bytes | None:
        if chunk.usage:
            self.upstream_usage = chunk.usage
            chunk.usage = msgspec.UNSET
        if not chunk.choices and chunk is not self.first:
            return None
        chunk.id = self.plan.inference_id
        chunk.model = self.plan.model_name
        for choice in chunk.choices:
            if choice.index not in self.seen and choice.index < self.n:
                self.seen.add(choice.index)
                choice.completion_id = self.completion_ids[choice.index]
        return b"data: " + encoder.encode(chunk) + b"\n\n"


def _settle(
    plan: Plan, outcome: Outcome, accumulator: StreamAccumulator, upstream_usage: Usage | None
) -> None:
    """Fill in how the stream ended, from what was accumulated of it."""
    outcome.ended = now()
    outcome.choices = accumulator.choices()
    outcome.usage, outcome.usage_estimated = usage_of(plan, upstream_usage, outcome.choices)
    price_outcome(outcome)
    outcome.first_token_at = accumulator.first_token_at


def _usage_chunk(plan: Plan, outcome: Outcome) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=plan.inference_id,
        created=int(plan.context.created_at),
        model=plan.model_name,
        choices=[],
        usage=timed_usage(plan, outcome),
    )


def _sse(payload: object) -> bytes:
    return b"data: " + encoder.encode(payload) + b"\n\n"
