"""The pipeline's only contact with provider objects: the two calls and the circuit breaker.

Every other module of :mod:`app.inference` goes through :class:`ProviderCalls`, so how a
provider is obtained and called, and where its breaker lives, change here and nowhere else
(docs/providers.md describes providers, their routing policy and circuit breakers).
Providers are looked up by name in the table built once per config version
(:class:`app.providers.registry.Providers`) and get the shared transport at call time.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.config.compile import Route
from app.providers.base import Provider, ProviderReply, ProviderRequest, ProviderStream
from app.providers.breaker import CircuitBreaker
from app.providers.upstream import Upstream


class ProviderCalls:
    """One request's view of the providers: its snapshot's provider table and the transport."""

    __slots__ = ("_table", "_upstream")

    def __init__(self, table: Mapping[str, Provider], upstream: Upstream) -> None:
        self._table = table
        self._upstream = upstream

    async def complete(self, route: Route, request: ProviderRequest) -> ProviderReply:
        return await self._table[route.provider_name].complete(request, self._upstream)

    def stream(self, route: Route, request: ProviderRequest) -> ProviderStream:
        return self._table[route.provider_name].stream(request, self._upstream)

    def breaker(self, route: Route) -> CircuitBreaker:
        return self._table[route.provider_name].breaker
