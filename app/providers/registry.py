"""Provider objects from their config; the one place that knows every provider type.

Compiling a config builds no provider (routes name theirs). The objects are built here, once
per config version, on the first request that needs them: :meth:`Providers.table` is memoised
on the snapshot's (immutable) provider configs, so the request path pays one identity check.
A few recent versions are kept, because requests that started before a reload finish on the
version they started with.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.config.schema import (
    AnthropicProviderConfig,
    DummyProviderConfig,
    OpenAIProviderConfig,
    ProviderConfig,
)
from app.providers.anthropic_wire import AnthropicWire
from app.providers.base import Provider
from app.providers.breaker import BreakerBoard
from app.providers.dummy import DummyProvider
from app.providers.http_provider import HttpProvider
from app.providers.openai_wire import OpenAIWire
from app.providers.redact import Redactor
from app.providers.upstream import Upstream

# Config versions whose provider objects are kept: the current one and those still finishing.
KEPT_VERSIONS = 4

ProviderConfigs = Mapping[str, ProviderConfig]


def build_provider(
    name: str, config: ProviderConfig, board: BreakerBoard, redactor: Redactor | None = None
) -> Provider:
    breaker = board.breaker(name, config)
    if isinstance(config, DummyProviderConfig):
        return DummyProvider(name, config, breaker)
    redactor = redactor or key_redactor({name: config})
    if isinstance(config, OpenAIProviderConfig):
        return HttpProvider(name, config, OpenAIWire(config), breaker, redactor)
    if isinstance(config, AnthropicProviderConfig):
        return HttpProvider(name, config, AnthropicWire(config), breaker, redactor)
    raise TypeError(f"no provider implementation for {type(config).__name__}")


def key_redactor(configs: ProviderConfigs) -> Redactor:
    """Redacts the keys of every provider in a config version (see docs/security.md)."""
    return Redactor(
        config.api_key_env
        for config in configs.values()
        if isinstance(config, OpenAIProviderConfig | AnthropicProviderConfig) and config.api_key_env
    )


def build_providers(configs: ProviderConfigs, board: BreakerBoard) -> dict[str, Provider]:
    redactor = key_redactor(configs)  # one per config version, shared by its providers
    return {name: build_provider(name, config, board, redactor) for name, config in configs.items()}


class Providers:
    """The live side of the providers in one gateway process: the transport they are called
    through, their breakers, and each config version's provider objects."""

    __slots__ = ("_tables", "breakers", "upstream")

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.breakers = BreakerBoard()
        self._tables: dict[int, tuple[ProviderConfigs, dict[str, Provider]]] = {}

    def table(self, configs: ProviderConfigs) -> dict[str, Provider]:
        """The provider objects for one snapshot's provider configs, by name."""
        entry = self._tables.get(id(configs))  # held in the entry, so its id is not reused
        if entry is None:
            if len(self._tables) >= KEPT_VERSIONS:
                del self._tables[next(iter(self._tables))]
            entry = self._tables[id(configs)] = (configs, build_providers(configs, self.breakers))
        return entry[1]
