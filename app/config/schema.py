"""The configuration schema (SPEC §3). Field names are a public contract: add, never rename.

Every Struct forbids unknown fields so that a typo in ``variants/`` is reported by
``switchyard config validate`` instead of being silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

NonNegative = Annotated[float, Meta(ge=0)]
Positive = Annotated[float, Meta(gt=0)]


class _Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class DummyProviderConfig(_Config, tag="dummy", tag_field="type"):
    """A built-in provider for demos and tests: answers locally, at a configurable pace."""

    mode: Literal["echo", "fixed", "tool_call", "json"] = "echo"
    text: str = "This is a response from the Switchyard dummy provider."
    tool_name: str = "lookup"
    ttft_ms: NonNegative = 0
    tokens_per_s: NonNegative = 0  # 0 = all tokens at once
    timeout_s: Positive = 60


class OpenAIProviderConfig(_Config, tag="openai", tag_field="type"):
    """Any OpenAI-compatible server: OpenAI, vLLM, TGI, SambaNova, Together, Groq, ..."""

    base_url: str
    api_key_env: str | None = None
    timeout_s: Positive = 60
    connect_timeout_s: Positive = 10
    headers: dict[str, str] = msgspec.field(default_factory=dict)


ProviderConfig = DummyProviderConfig | OpenAIProviderConfig
PROVIDER_TYPES = ("openai", "dummy")


class RouteEntry(_Config):
    provider: str
    name: str


class ModelConfig(_Config):
    routing: Annotated[list[RouteEntry], Meta(min_length=1)]
    description: str = ""


class MetricConfig(_Config):
    type: Literal["boolean", "float", "comment", "demonstration", "preference"]
    level: Literal["inference", "episode"] = "inference"
    optimize: Literal["max", "min"] = "max"
    description: str = ""


class VariantConfig(_Config):
    model: str
    weight: NonNegative = 1.0
    system_template: str | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    frequency_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    seed: int | None = None
    # Any other provider parameter the variant fixes (e.g. top_k for vLLM).
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)
    description: str = ""


# Variant fields that are default request parameters, applied unless the request sets them.
VARIANT_PARAMS = (
    "temperature", "top_p", "max_tokens", "stop", "frequency_penalty", "presence_penalty", "seed",
)


class CampaignConfig(_Config):
    variants: dict[str, NonNegative]
    sticky_by: Literal["session_id", "user", "episode_id"] = "session_id"
    status: Literal["active", "paused", "ended"] = "active"
    metric: str | None = None
    guardrails: list[str] = msgspec.field(default_factory=list)
    id: str | None = None  # stable id clients may send as ab_campaign; derived when absent
    description: str = ""


class FunctionConfig(_Config):
    variants: dict[str, VariantConfig]
    description: str = ""
    default_variant: str | None = None
    system_schema: dict[str, Any] | None = None
    campaigns: dict[str, CampaignConfig] = msgspec.field(default_factory=dict)


class GatewayConfig(_Config):
    """The whole validated configuration: one immutable value per config version."""

    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    metrics: dict[str, MetricConfig]
    functions: dict[str, FunctionConfig]
