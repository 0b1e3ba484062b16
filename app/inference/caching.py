"""The response cache's rules (docs/operations.md, "Response cache"): when a request may use
it, what its key is, what an entry holds, and how a hit becomes an outcome.

Key: a BLAKE2b hash of what the route is sent after routing and rendering: the provider's
name, the provider model, the messages (the rendered system prompt included), the sampling
parameters, tools and response format, and the extra body fields. So two variants never share
an entry, a template edit misses, and a request differing only in how it is delivered
(streamed or not, with or without a usage chunk) hits. Only complete answers are stored: a
failed, cancelled or cut-off stream never is.

A hit costs nothing: its outcome has ``cost = 0`` and ``cost_saved`` = what its original tokens
cost at the route's price today; budgets count the 0 and the record keeps the token counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

import msgspec

from app.config.compile import Route
from app.inference.answer import completion_ids
from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.inference.usage import price_outcome
from app.metrics import REGISTRY, Counter
from app.providers.base import ProviderRequest, now
from app.store.response_cache import ResponseCacheStore
from app.wire.response import Choice, Usage

# Delivery options, not part of the answer: a streamed request may hit a non-streamed entry.
_DELIVERY_PARAMS = frozenset({"stream_options"})
_key_encoder = msgspec.msgpack.Encoder(order="deterministic")

LOOKUPS = REGISTRY.add(
    Counter(
        "switchyard_cache_lookups_total",
        "Response cache lookups by result (hit, miss)",
        ("function", "result"),
    )
)


class CachedAnswer(msgspec.Struct, kw_only=True, gc=False):
    """One stored answer: what a provider said, and when."""

    created_at: float  # unix seconds
    choices: list[Choice]
    usage: Usage | None


_entry_encoder = msgspec.json.Encoder()
_entry_decoder = msgspec.json.Decoder(CachedAnswer)


def cache_key(route: Route, request: ProviderRequest) -> str:
    params = {k: v for k, v in request.params.items() if k not in _DELIVERY_PARAMS}
    payload = _key_encoder.encode(
        (route.provider_name, route.model, request.messages, params, request.extra)
    )
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ResponseCache:
    """Looks answers up for a plan and stores the ones its requests produced. Stores happen in
    the background: the response never waits for them."""

    def __init__(self, store: ResponseCacheStore, default_ttl_s: float) -> None:
        self.store = store
        self.default_ttl_s = default_ttl_s
        self._writes: set[asyncio.Task[None]] = set()

    async def lookup(self, plan: Plan) -> CachedAnswer | None:
        policy = plan.cache
        if policy is None or not plan.routes:
            return None
        if not policy.read:
            plan.context.cache_status = "miss"
            return None
        raw = await self.store.get(cache_key(plan.routes[0], plan.provider_request))
        hit = _decoded(raw, policy.max_age_s)
        LOOKUPS.inc((plan.function or "", "hit" if hit else "miss"))
        plan.context.cache_status = "hit" if hit else "miss"
        return hit

    def remember(self, plan: Plan, outcome: Outcome) -> None:
        policy = plan.cache
        if policy is None or not policy.write or outcome.status != "ok" or outcome.route is None:
            return
        if outcome.cached or not outcome.choices:
            return
        entry = CachedAnswer(created_at=time.time(), choices=outcome.choices, usage=outcome.usage)
        key = cache_key(outcome.route, plan.provider_request)
        ttl = policy.max_age_s or self.default_ttl_s
        task = asyncio.create_task(self.store.put(key, _entry_encoder.encode(entry), ttl))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        if self._writes:
            await asyncio.wait(self._writes, timeout=2)
        await self.store.close()


def _decoded(raw: bytes | None, max_age_s: int | None) -> CachedAnswer | None:
    if raw is None:
        return None
    try:
        entry = _entry_decoder.decode(raw)
    except msgspec.DecodeError:  # written by another version: a miss, overwritten on store
        return None
    if max_age_s is not None and time.time() - entry.created_at > max_age_s:
        return None
    return entry


def hit_outcome(plan: Plan, hit: CachedAnswer) -> Outcome:
    """The outcome of a request answered from the cache: the stored choices and token counts
    on the plan's first route, at no cost."""
    moment = now()
    outcome = Outcome(
        route=plan.routes[0],
        choices=hit.choices,
        usage=hit.usage,
        started=moment,
        first_token_at=moment,
        ended=moment,
        completion_ids=completion_ids(plan, len(hit.choices)),
        cached=True,
    )
    price_outcome(outcome)
    outcome.cost_saved, outcome.cost = outcome.cost, 0.0
    return outcome
