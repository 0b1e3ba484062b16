"""Runs a :class:`Plan` against its provider routes, shapes the answer, and records it.

Thin orchestration over the modules that do each job: :mod:`.fallback` walks the routes
(retries, breakers, fallback), :mod:`.streaming` opens and relays streams, :mod:`.usage`
counts tokens, :mod:`.answer` stamps our ids on the response and :mod:`.recording` builds
and hands over the record. Every request leaves exactly one record, however it ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial

from app.config.holder import ConfigHolder
from app.inference.answer import completion_ids, shape_completion
from app.inference.caching import CachedAnswer, ResponseCache, hit_outcome
from app.inference.fallback import first_success
from app.inference.outcome import Outcome
from app.inference.plan import CallContext, Plan, make_plan
from app.inference.provider_calls import ProviderCalls
from app.inference.recording import answered_attempt, record_inference
from app.inference.streaming import open_until_first_token, relay, replay
from app.inference.usage import price_outcome, usage_of
from app.providers.base import now
from app.providers.registry import Providers
from app.records import Recorder
from app.wire.request import ChatRequest
from app.wire.response import ChatCompletion


class InferenceService:
    def __init__(
        self,
        config: ConfigHolder,
        recorder: Recorder,
        providers: Providers,
        cache: ResponseCache | None = None,
    ) -> None:
        self.config = config
        self.recorder = recorder
        self.providers = providers
        self.cache = cache

    def plan(self, request: ChatRequest, body: bytes, context: CallContext) -> Plan:
        return make_plan(self.config.current, request, body, context)

    async def complete(self, plan: Plan) -> ChatCompletion:
        if self.cache is not None and (hit := await self.cache.lookup(plan)) is not None:
            return self._cached_completion(plan, hit)
        calls = self._calls(plan)
        done = await first_success(plan, calls, calls.complete, self.recorder)
        reply = done.result
        choices = reply.completion.choices
        usage, estimated = usage_of(plan, reply.completion.usage, choices)
        outcome = Outcome(
            route=done.route,
            choices=choices,
            usage=usage,
            usage_estimated=estimated,
            started=done.started,
            first_token_at=reply.first_byte_at,
            ended=now(),
            completion_ids=completion_ids(plan, len(choices)),
        )
        price_outcome(outcome)
        done.attempts.append(
            answered_attempt(
                plan,
                done.route,
                done.wall,
                done.started,
                outcome,
                reply.raw_request,
                reply.raw_response,
            )
        )
        record_inference(self.recorder, plan, outcome, done.attempts)
        if self.cache is not None:
            self.cache.remember(plan, outcome)
        return shape_completion(plan, reply.completion, outcome)

    def _cached_completion(self, plan: Plan, hit: CachedAnswer) -> ChatCompletion:
        outcome = hit_outcome(plan, hit)
        record_inference(self.recorder, plan, outcome, [])
        completion = ChatCompletion(choices=hit.choices, usage=hit.usage, cached=True)
        return shape_completion(plan, completion, outcome)

    async def open_stream(self, plan: Plan) -> AsyncGenerator[list[bytes], None]:
        """Connect to the first route whose stream reaches its first token; the returned
        iterator relays it all, as SSE frames grouped by upstream read. Raising here (before any byte is sent) lets the API answer with
        a plain HTTP error, so falling back stays possible until the first token.
        """
        if self.cache is not None and (hit := await self.cache.lookup(plan)) is not None:
            return replay(plan, hit, self.recorder)
        calls = self._calls(plan)
        opening = partial(open_until_first_token, plan, calls)
        done = await first_success(plan, calls, opening, self.recorder)
        return relay(plan, done, self.recorder, self.cache)

    def _calls(self, plan: Plan) -> ProviderCalls:
        return ProviderCalls(self.providers.table(plan.snapshot.providers), self.providers.upstream)
