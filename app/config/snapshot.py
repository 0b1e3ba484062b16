"""Validate a config document and compile it into an immutable :class:`Snapshot`.

Everything a request would otherwise redo is done here once per config version: templates
compiled, JSON Schemas compiled, model references resolved to provider routes, campaign
weights turned into cumulative tables. The gateway swaps whole snapshots atomically.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jsonschema_rs
import msgspec

from app.config.loader import Sources
from app.config.problems import ConfigError, Problem
from app.config.schema import (
    VARIANT_PARAMS,
    CampaignConfig,
    FunctionConfig,
    GatewayConfig,
    MetricConfig,
    ModelConfig,
    OpenAIProviderConfig,
    ProviderConfig,
    ToolConfig,
    VariantConfig,
)
from app.prompts import SystemTemplate, TemplateProblem, compile_template
from app.providers.capabilities import param_problems
from app.providers.policy import DEFAULT_POLICY, RoutePolicy
from app.wire.request import OPENAI_PARAMS, VLLM_PARAMS, ChatRequest, Tool

T = TypeVar("T")

BUILTIN_METRICS = {
    "comment": MetricConfig(type="comment", description="Free-text comment (built in)"),
    "demonstration": MetricConfig(type="demonstration", description="Corrected answer (built in)"),
}
# Operational guardrails every campaign can watch without declaring a metric.
BUILTIN_GUARDRAILS = frozenset({"error_rate", "p95_latency_ms", "tokens"})
CAMPAIGN_NAMESPACE = uuid.UUID("6f1c3a52-8c1e-4c55-9a57-0d3b0c7e2a11")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
# Request parameters a variant's extra_body may set as defaults (the rest is sent as is).
_REQUEST_PARAMS = frozenset(OPENAI_PARAMS + VLLM_PARAMS)


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a routing list: which provider, the model name it knows, and how hard to
    try it (the model's retry policy and first-token deadline, shared by all its routes).
    Data only: the provider object is looked up by name when a request is sent."""

    provider_name: str
    provider_type: str
    model: str
    policy: RoutePolicy = DEFAULT_POLICY


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    name: str
    config: VariantConfig
    routes: tuple[Route, ...]
    template: SystemTemplate | None
    params: dict[str, Any]  # default request parameters the variant fixes (typed as a request's)
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # extra_body keys no request field knows: sent as is
    tools: dict[str, Tool] = field(default_factory=dict)  # the server-side tools it offers, by name


@dataclass(frozen=True, slots=True)
class WeightTable:
    """Variant names with cumulative weights normalised to end at 1.0."""

    names: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def from_weights(cls, weights: dict[str, float]) -> WeightTable:
        live = [(name, w) for name, w in weights.items() if w > 0]
        total = sum(w for _, w in live)
        running, cumulative = 0.0, []
        for _, weight in live:
            running += weight / total
            cumulative.append(running)
        if cumulative:
            cumulative[-1] = 1.0
        return cls(tuple(n for n, _ in live), tuple(cumulative))

    def pick(self, fraction: float) -> str:
        for name, edge in zip(self.names, self.cumulative, strict=False):
            if fraction < edge:
                return name
        return self.names[-1]


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    key: str
    id: str
    function: str
    config: CampaignConfig
    table: WeightTable

    @property
    def active(self) -> bool:
        return self.config.status == "active"


@dataclass(frozen=True, slots=True)
class CompiledFunction:
    name: str
    config: FunctionConfig
    variants: dict[str, CompiledVariant]
    table: WeightTable | None
    schema: Any  # a compiled jsonschema_rs validator, or None
    campaigns: dict[str, CompiledCampaign]
    active_campaign: CompiledCampaign | None
    tools: dict[str, Tool] = field(
        default_factory=dict
    )  # every server-side tool, by name (= toggle id)


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    config: GatewayConfig
    document: dict[str, Any]
    providers: dict[str, ProviderConfig]
    models: dict[str, tuple[Route, ...]]
    functions: dict[str, CompiledFunction]
    metrics: dict[str, MetricConfig]
    campaigns_by_id: dict[str, CompiledCampaign]
    loaded_at: float = field(default_factory=time.time)

    def model_routes(self, name: str) -> tuple[Route, ...] | None:
        return resolve_model_reference(name, self.models, self.providers)


def resolve_model_reference(
    name: str, models: dict[str, tuple[Route, ...]], providers: dict[str, ProviderConfig]
) -> tuple[Route, ...] | None:
    """``M`` → M's routing list; ``M@P`` → only P's routes of M, or M sent to P as is."""
    routes = models.get(name)
    if routes is not None:
        return routes
    model, at, provider_name = name.rpartition("@")
    if not at or not model or provider_name not in providers:
        return None
    if model in models:
        pinned = tuple(r for r in models[model] if r.provider_name == provider_name)
        return pinned or None
    return (_route(provider_name, providers[provider_name], model),)


def _route(
    provider_name: str, config: ProviderConfig, model: str, policy: RoutePolicy = DEFAULT_POLICY
) -> Route:
    return Route(provider_name, str(config.__struct_config__.tag), model, policy)


def build_snapshot(
    document: dict[str, Any],
    *,
    sources: Sources | None = None,
    version: int = 0,
) -> Snapshot:
    """Validate and compile; raises :class:`ConfigError` listing every problem found."""
    builder = _Builder(document, sources or Sources())
    snapshot = builder.build(version)
    if builder.problems:
        raise ConfigError(builder.problems)
    assert snapshot is not None
    return snapshot


def validate_document(document: dict[str, Any], sources: Sources | None = None) -> list[Problem]:
    try:
        build_snapshot(document, sources=sources)
    except ConfigError as exc:
        return exc.problems
    return []


class _Builder:
    def __init__(self, document: dict[str, Any], sources: Sources) -> None:
        self.document = document
        self.sources = sources
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.sources.file_for(key), key, message))

    def decode(self, raw: Any, kind: type[T], key: str) -> T | None:
        try:
            return msgspec.convert(raw, kind)
        except msgspec.ValidationError as exc:
            text = str(exc)
            path = ""
            if " - at `$" in text:
                text, _, path = text.partition(" - at `$")
                path = path.rstrip("`")
            self.problem(key + path, text)
            return None

    def section(self, name: str, kind: Any, name_pattern: re.Pattern[str]) -> dict[str, Any]:
        raw = self.document.get(name) or {}
        if not isinstance(raw, dict):
            self.problem(name, "must be a table")
            return {}
        decoded = {}
        for item_name, item in raw.items():
            if not name_pattern.match(item_name) or "@" in item_name:
                self.problem(f"{name}.{item_name}", "invalid name (letters, digits, . _ - : only)")
            value = self.decode(item, kind, f"{name}.{item_name}")
            if value is not None:
                decoded[item_name] = value
        return decoded

    def build(self, version: int) -> Snapshot | None:
        unknown = set(self.document) - {"providers", "models", "metrics", "functions"}
        for key in sorted(unknown):
            self.problem(key, "unknown top-level section")
        provider_configs: dict[str, ProviderConfig] = self.section(
            "providers", ProviderConfig, _NAME
        )
        model_configs: dict[str, ModelConfig] = self.section("models", ModelConfig, _MODEL_NAME)
        metric_configs: dict[str, MetricConfig] = self.section("metrics", MetricConfig, _NAME)
        metrics = {**BUILTIN_METRICS, **metric_configs}
        for builtin, config in BUILTIN_METRICS.items():
            if metrics[builtin].type != config.type:
                self.problem(f"metrics.{builtin}", f"is built in with type '{config.type}'")

        providers = {n: c for n, c in provider_configs.items() if self.check_provider(n, c)}
        models = {n: self.model_routes(n, c, providers) for n, c in model_configs.items()}
        function_configs = {
            name: config
            for name, raw in (self.document.get("functions") or {}).items()
            if (config := self.function_config(name, raw)) is not None
        }
        functions = {
            name: self.compile_function(name, config, models, providers, metrics)
            for name, config in function_configs.items()
        }
        campaigns_by_id: dict[str, CompiledCampaign] = {}
        for function in functions.values():
            for campaign in function.campaigns.values():
                if campaign.id in campaigns_by_id:
                    self.problem(
                        f"functions.{function.name}.campaigns.{campaign.key}.id",
                        "campaign id is used twice",
                    )
                campaigns_by_id[campaign.id] = campaign
        if self.problems:
            return None
        config = GatewayConfig(
            providers=provider_configs,
            models=model_configs,
            metrics=metric_configs,
            functions=function_configs,
        )
        return Snapshot(
            version, config, self.document, providers, models, functions, metrics, campaigns_by_id
        )

    def check_provider(self, name: str, config: ProviderConfig) -> bool:
        """Checks a provider's config beyond its types; only a sound one is routed to."""
        problems = param_problems(config.params) if isinstance(config, OpenAIProviderConfig) else []
        for problem in problems:
            self.problem(f"providers.{name}.params", problem)
        return not problems

    def model_routes(
        self, name: str, config: ModelConfig, providers: dict[str, ProviderConfig]
    ) -> tuple[Route, ...]:
        policy = RoutePolicy.from_config(config.retries, config.max_ttft_ms)
        routes = []
        for i, entry in enumerate(config.routing):
            provider = providers.get(entry.provider)
            if provider is None:
                if entry.provider not in (self.document.get("providers") or {}):
                    self.problem(
                        f"models.{name}.routing[{i}].provider",
                        f"unknown provider '{entry.provider}'",
                    )
            else:
                routes.append(_route(entry.provider, provider, entry.name, policy))
        return tuple(routes)

    def function_config(self, name: str, raw: Any) -> FunctionConfig | None:
        key = f"functions.{name}"
        if not _NAME.match(name) or "/" in name:
            self.problem(key, "invalid function name (letters, digits, . _ - : only)")
        if not isinstance(raw, dict):
            self.problem(key, "must be a table")
            return None
        raw = dict(raw)
        variants_raw = raw.pop("variants", None)
        campaigns_raw = raw.pop("campaigns", {}) or {}
        if not isinstance(variants_raw, dict) or not variants_raw:
            self.problem(f"{key}.variants", "a function needs at least one variant")
            variants_raw = {}
        variants = self.decode_each(variants_raw, VariantConfig, f"{key}.variants")
        campaigns = self.decode_each(campaigns_raw, CampaignConfig, f"{key}.campaigns")
        base = self.decode({**raw, "variants": {}}, FunctionConfig, key)
        if (
            base is None
            or len(variants) != len(variants_raw)
            or len(campaigns) != len(campaigns_raw)
        ):
            return None
        return msgspec.structs.replace(base, variants=variants, campaigns=campaigns)

    def decode_each(self, raw: Any, kind: type[T], key: str) -> dict[str, T]:
        if not isinstance(raw, dict):
            self.problem(key, "must be a table")
            return {}
        return {
            name: value
            for name, item in raw.items()
            if (value := self.decode(item, kind, f"{key}.{name}")) is not None
        }

    def compile_function(
        self,
        name: str,
        config: FunctionConfig,
        models: dict[str, tuple[Route, ...]],
        providers: dict[str, ProviderConfig],
        metrics: dict[str, MetricConfig],
    ) -> CompiledFunction:
        key = f"functions.{name}"
        schema = self.compile_schema(config.system_schema, f"{key}.system_schema")
        declared = _declared_args(config.system_schema)
        tools = {
            tool_name: tool
            for tool_name, tool_config in config.tools.items()
            if (tool := self.compile_tool(tool_name, tool_config, f"{key}.tools.{tool_name}"))
            is not None
        }
        variants = {}
        for variant_name, variant in config.variants.items():
            vkey = f"{key}.variants.{variant_name}"
            if "/" in variant_name or not _NAME.match(variant_name):
                self.problem(vkey, "invalid variant name (letters, digits, . _ - : only)")
            routes = resolve_model_reference(variant.model, models, providers)
            if routes is None:
                self.problem(
                    f"{vkey}.model",
                    f"unknown model '{variant.model}' (not a model, nor model@provider)",
                )
            template = None
            if variant.system_template is not None:
                try:
                    template = compile_template(variant.system_template)
                except TemplateProblem as exc:
                    self.problem(f"{vkey}.system_template", str(exc))
            if template is not None and declared is not None:
                for missing in sorted(template.variables - declared):
                    self.problem(
                        f"{vkey}.system_template",
                        f"uses '{missing}', which system_schema does not declare",
                    )
            params = {
                p: getattr(variant, p) for p in VARIANT_PARAMS if getattr(variant, p) is not None
            }
            known = {k: v for k, v in variant.extra_body.items() if k in _REQUEST_PARAMS}
            params.update(self.typed_params(known, f"{vkey}.extra_body"))
            extra = {k: v for k, v in variant.extra_body.items() if k not in _REQUEST_PARAMS}
            offered = config.tools if variant.tools is None else variant.tools
            for tool_name in variant.tools or ():
                if tool_name not in config.tools:
                    self.problem(
                        f"{vkey}.tools",
                        f"unknown tool '{tool_name}' (not in the function's [tools])",
                    )
            variant_tools = {t: tools[t] for t in offered if t in tools}
            variants[variant_name] = CompiledVariant(
                variant_name, variant, routes or (), template, params, extra, variant_tools
            )

        if config.default_variant is not None and config.default_variant not in config.variants:
            self.problem(f"{key}.default_variant", f"unknown variant '{config.default_variant}'")
        weights = {v: c.weight for v, c in config.variants.items()}
        table = WeightTable.from_weights(weights) if sum(weights.values()) > 0 else None
        if table is None and config.default_variant is None and config.variants:
            self.problem(
                f"{key}.variants", "variant weights sum to 0 and there is no default_variant"
            )

        campaigns = {
            ckey: self.compile_campaign(name, ckey, c, config, metrics)
            for ckey, c in config.campaigns.items()
        }
        active = [c for c in campaigns.values() if c.active]
        if len(active) > 1:
            self.problem(
                f"{key}.campaigns",
                f"more than one active campaign ({', '.join(c.key for c in active)})",
            )
        return CompiledFunction(
            name, config, variants, table, schema, campaigns, active[0] if active else None, tools
        )

    def typed_params(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        """Request parameters from config, validated and typed exactly as a request's would be."""
        if not params:
            return {}
        request = self.decode(
            {**params, "messages": [{"role": "user", "content": "-"}]}, ChatRequest, key
        )
        return {name: getattr(request, name) for name in params} if request is not None else {}

    def compile_tool(self, name: str, config: ToolConfig, key: str) -> Tool | None:
        self.compile_schema(config.parameters, f"{key}.parameters")
        function = {
            "name": name,
            "description": config.description or None,
            "parameters": config.parameters,
        }
        if config.strict is not None:
            function["strict"] = config.strict
        return self.decode({"type": "function", "function": function}, Tool, key)

    def compile_campaign(
        self,
        function: str,
        key: str,
        config: CampaignConfig,
        fconfig: FunctionConfig,
        metrics: dict[str, MetricConfig],
    ) -> CompiledCampaign:
        ckey = f"functions.{function}.campaigns.{key}"
        for variant in config.variants:
            if variant not in fconfig.variants:
                self.problem(f"{ckey}.variants.{variant}", f"unknown variant '{variant}'")
        if sum(config.variants.values()) <= 0:
            self.problem(f"{ckey}.variants", "campaign weights must sum to more than 0")
        if config.metric is not None and config.metric not in metrics:
            self.problem(f"{ckey}.metric", f"unknown metric '{config.metric}'")
        for guardrail in config.guardrails:
            if guardrail not in metrics and guardrail not in BUILTIN_GUARDRAILS:
                self.problem(f"{ckey}.guardrails", f"unknown metric '{guardrail}'")
        campaign_id = config.id or str(uuid.uuid5(CAMPAIGN_NAMESPACE, f"{function}/{key}"))
        table = (
            WeightTable.from_weights(config.variants)
            if sum(config.variants.values()) > 0
            else WeightTable((), ())
        )
        return CompiledCampaign(key, campaign_id, function, config, table)

    def compile_schema(self, schema: dict[str, Any] | None, key: str) -> Any:
        if schema is None:
            return None
        try:
            return jsonschema_rs.validator_for(schema)
        except jsonschema_rs.ValidationError as exc:
            self.problem(key, f"invalid JSON Schema: {str(exc).splitlines()[0]}")
            return None


def _declared_args(schema: dict[str, Any] | None) -> set[str] | None:
    """Argument names a schema declares, or None when it declares none (anything goes)."""
    properties = (schema or {}).get("properties")
    return set(properties) if isinstance(properties, dict) and properties else None
