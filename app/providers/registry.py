"""Builds provider objects from their config; the one place that knows every provider type."""

from __future__ import annotations

from app.config.schema import (
    AnthropicProviderConfig,
    DummyProviderConfig,
    OpenAIProviderConfig,
    ProviderConfig,
)
from app.providers.anthropic import AnthropicProvider
from app.providers.base import Provider
from app.providers.dummy import DummyProvider
from app.providers.http import HttpPool
from app.providers.openai import OpenAIProvider


def build_provider(name: str, config: ProviderConfig, pool: HttpPool) -> Provider:
    if isinstance(config, DummyProviderConfig):
        return DummyProvider(name, config)
    if isinstance(config, OpenAIProviderConfig):
        return OpenAIProvider(name, config, pool)
    if isinstance(config, AnthropicProviderConfig):
        return AnthropicProvider(name, config, pool)
    raise TypeError(f"no provider implementation for {type(config).__name__}")
