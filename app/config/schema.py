"""The configuration schema (README.md "Configuration", docs/providers.md). Field names are a
public contract: add, never rename.

Every Struct forbids unknown fields so that a typo in ``variants/`` is reported by
``switchyard config validate`` instead of being silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

# Names of providers, metrics, functions, variants; model names may also hold "/".
ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")

NonNegative = Annotated[float, Meta(ge=0)]
Positive = Annotated[float, Meta(gt=0)]


class _Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every config Struct. msgspec inherits these options at run time; subclasses
    still restate ``frozen=True`` because type checkers read each class's own flags."""


class BreakerConfig(_Config, frozen=True):
    """Circuit breaker of one provider: after ``failures`` consecutive failed attempts the
    provider is skipped for ``cooldown_s``, then one request probes it. ``failures = 0``
    disables it."""

    failures: Annotated[int, Meta(ge=0)] = 5
    cooldown_s: Positive = 30


class DummyProviderConfig(_Config, tag="dummy", tag_field="type", frozen=True):
    """A built-in provider for demos and tests: answers locally, at a configurable pace."""

    mode: Literal["echo", "fixed", "tool_call", "json"] = "echo"
    text: str = "This is a response from the Switchyard dummy provider."
    tool_name: str = "lookup"
    ttft_ms: NonNegative = 0
    tokens_per_s: NonNegative = 0  # 0 = all tokens at once
    timeout_s: Positive = 60
    circuit_breaker: BreakerConfig = BreakerConfig()


class _RemoteProviderConfig(_Config, frozen=True):
    """What every provider reached over HTTP has: where, which key, how long to wait."""

    base_url: str
    api_key_env: str | None = None
    timeout_s: Positive = 60  # whole response (non-streaming) or longest silence (streaming)
    connect_timeout_s: Positive = 10
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    circuit_breaker: BreakerConfig = BreakerConfig()


class OpenAIProviderConfig(_RemoteProviderConfig, tag="openai", tag_field="type", frozen=True):
    """Any OpenAI-compatible server: OpenAI, vLLM, TGI, SambaNova, Together, Groq, ...

    ``params`` declares which request parameters the server accepts: a preset name
    (see :data:`app.config.params.PARAM_PRESETS`) or an explicit list. With the
    request's ``drop_params`` true (the default) the others are not sent.
    """

    params: str | list[str] = "vllm"


class AnthropicProviderConfig(
    _RemoteProviderConfig, tag="anthropic", tag_field="type", frozen=True
):
    """Anthropic's Messages API; requests and replies are translated to and from OpenAI's shape."""

    base_url: str = "https://api.anthropic.com"
    anthropic_version: str = "2023-06-01"
    # Anthropic requires max_tokens; this is sent when neither the request nor the variant sets one.
    max_tokens: Annotated[int, Meta(ge=1)] = 4096


ProviderConfig = DummyProviderConfig | OpenAIProviderConfig | AnthropicProviderConfig


class PriceConfig(_Config, frozen=True):
    """USD per million tokens of one route (docs/spend.md). Cached input defaults to the input
    price; reasoning tokens are billed at the output price."""

    input_per_mtok: NonNegative
    output_per_mtok: NonNegative
    cached_input_per_mtok: NonNegative | None = None


class RouteEntry(_Config, frozen=True):
    provider: str
    name: str
    # Overrides the genai-prices catalogue; without either, the route's cost is unknown (null).
    price: PriceConfig | None = None


class RetryConfig(_Config, frozen=True):
    """Retries of one route before moving to the next: on 429, 5xx and connection errors only.

    The n-th retry waits ``base_delay_ms * 2**n`` (capped at ``max_delay_ms``) with jitter, or the
    provider's ``Retry-After`` when it says longer; a ``Retry-After`` beyond ``max_delay_ms`` skips
    the retries and moves on to the next route.
    """

    max_retries: Annotated[int, Meta(ge=0, le=10)] = msgspec.field(default=2, name="max")
    base_delay_ms: NonNegative = 100
    max_delay_ms: NonNegative = 2000


class CacheConfig(_Config, frozen=True):
    """A model's or function's default ``cache_options`` (docs/operations.md, "Response cache")."""

    enabled: Literal["on", "off", "read_only", "write_only"] = "on"
    max_age_s: Annotated[int, Meta(ge=1)] | None = None


class ModelConfig(_Config, frozen=True):
    routing: Annotated[list[RouteEntry], Meta(min_length=1)]
    description: str = ""
    retries: RetryConfig = RetryConfig()
    # Abort an attempt whose first token (first byte when not streaming) is later than this and
    # try the next route; a request's own max_ttft_ms wins.
    max_ttft_ms: Annotated[int, Meta(ge=1)] | None = None
    # "embedding": served by POST /v1/embeddings (not chat); see docs/providers.md "Embeddings".
    kind: Literal["chat", "embedding"] = "chat"
    # Embedding models: the vector length. The dummy provider needs it; an openai route gets
    # it as the request's default ``dimensions``.
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    cache: CacheConfig | None = None  # off unless set


class MetricConfig(_Config, frozen=True):
    type: Literal["boolean", "float", "comment", "demonstration", "preference"]
    level: Literal["inference", "episode"] = "inference"
    optimize: Literal["max", "min"] = "max"
    description: str = ""


class VariantConfig(_Config, frozen=True):
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
    # Any other provider parameter the variant fixes (e.g. top_k for vLLM, thinking for Anthropic).
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)
    # Which of the function's server-side tools this variant offers; None = all of them.
    tools: list[str] | None = None
    description: str = ""


# Variant fields that are default request parameters, applied unless the request sets them.
VARIANT_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "seed",
)


class CampaignConfig(_Config, frozen=True):
    variants: dict[str, NonNegative]
    sticky_by: Literal["session_id", "user", "episode_id"] = "session_id"
    status: Literal["active", "paused", "ended"] = "active"
    metric: str | None = None
    guardrails: list[str] = msgspec.field(default_factory=list)
    id: str | None = None  # stable id clients may send as ab_campaign; derived when absent
    description: str = ""
    alpha: Annotated[float, Meta(gt=0, lt=1)] = 0.05  # error rate of results (docs/experiments.md)
    # Adaptive campaigns (docs/experiments.md, "Adaptive campaigns"): traffic follows the
    # probability that each variant is best. The settings below only apply to them.
    type: Literal["fixed", "adaptive"] = "fixed"
    update_interval_s: Positive = 60  # how often the allocation is recomputed from ClickHouse
    min_share: Annotated[float, Meta(ge=0, lt=1)] = 0.05  # floor per variant until a decision
    min_samples_per_variant: Annotated[int, Meta(ge=1)] = 30  # equal split until each has these
    on_decision: Literal["hold", "promote"] = "hold"
    # Set by the gateway (a config version authored "switchyard") when on_decision = "promote"
    # and the decision names a winner: every new unit then goes to this variant.
    promoted: str | None = None


class ToolConfig(_Config, frozen=True):
    """A server-side tool of a function, offered to the model as an OpenAI function tool.

    Its key in ``[tools.<name>]`` is both the function name the model sees and the ``id``
    requests use to toggle it (``{"id": "<name>", "enabled": false}``).
    """

    description: str = ""
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool | None = None


class ExactMatchEvaluator(_Config, tag="exact_match", tag_field="type", frozen=True):
    """1 when the output equals the datapoint's reference (ends' whitespace ignored), else 0;
    no score for a datapoint without a reference."""

    case_sensitive: bool = True


class ContainsEvaluator(_Config, tag="contains", tag_field="type", frozen=True):
    """1 when the output contains ``value`` (the reference when no value is given), else 0."""

    value: str | None = None
    case_sensitive: bool = True


class RegexEvaluator(_Config, tag="regex", tag_field="type", frozen=True):
    """1 when ``pattern`` (Python syntax) matches anywhere in the output, else 0."""

    pattern: Annotated[str, Meta(min_length=1)]


class JsonSchemaEvaluator(_Config, tag="json_schema", tag_field="type", frozen=True):
    """1 when the output is JSON valid against ``schema``, else 0."""

    schema: dict[str, Any]


class LlmJudgeEvaluator(_Config, tag="llm_judge", tag_field="type", frozen=True):
    """A configured model grades the output. ``template`` (MiniJinja) renders the judge's
    prompt from ``input`` (the messages), ``output``, ``reference`` and ``system_prompt_args``;
    the judge answers a boolean (true/false, yes/no) or a number from ``min`` to ``max``."""

    model: str
    template: Annotated[str, Meta(min_length=1)]
    output: Literal["boolean", "float"] = "boolean"
    min: float = 0.0
    max: float = 1.0
    system: str = ""  # the judge's system prompt, if any
    temperature: Annotated[float, Meta(ge=0, le=2)] = 0.0


EvaluatorConfig = (
    ExactMatchEvaluator
    | ContainsEvaluator
    | RegexEvaluator
    | JsonSchemaEvaluator
    | LlmJudgeEvaluator
)


class EvaluationConfig(_Config, frozen=True):
    """An offline evaluation of the function's variants on a dataset (docs/evaluations.md)."""

    dataset: Annotated[str, Meta(min_length=1)]
    evaluators: dict[str, EvaluatorConfig]  # at least one (checked with its key)
    description: str = ""


class FunctionConfig(_Config, frozen=True):
    variants: dict[str, VariantConfig]
    description: str = ""
    default_variant: str | None = None
    system_schema: dict[str, Any] | None = None
    campaigns: dict[str, CampaignConfig] = msgspec.field(default_factory=dict)
    tools: dict[str, ToolConfig] = msgspec.field(default_factory=dict)
    # Spend limit of the whole function (docs/spend.md): once reached, its requests get 429.
    budget_usd: Positive | None = None
    budget_period: Literal["day", "month", "total"] = "month"
    cache: CacheConfig | None = None  # wins over the variant's model's; a request's wins over both
    # Offline evaluations (docs/evaluations.md); names are unique across functions.
    evaluations: dict[str, EvaluationConfig] = msgspec.field(default_factory=dict)


class GatewayConfig(_Config, frozen=True):
    """The whole validated configuration: one immutable value per config version."""

    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    metrics: dict[str, MetricConfig]
    functions: dict[str, FunctionConfig]
