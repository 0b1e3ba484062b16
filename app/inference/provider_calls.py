"""The pipeline's only contact with provider objects: the two calls and the circuit breaker.

Every other module of :mod:`app.inference` goes through these functions, so how a provider
is obtained and called, and where its breaker lives, change here and nowhere else
(docs/providers.md describes providers, their routing policy and circuit breakers).
"""

from __future__ import annotations

from app.config.snapshot import Route
from app.providers.base import ProviderReply, ProviderRequest, ProviderStream
from app.providers.breaker import CircuitBreaker


async def complete(route: Route, request: ProviderRequest) -> ProviderReply:
    return await route.provider.complete(request)


def stream(route: Route, request: ProviderRequest) -> ProviderStream:
    return route.provider.stream(request)


def breaker(route: Route) -> CircuitBreaker:
    return route.provider.breaker


def provider_type(route: Route) -> str:
    return route.provider.type
