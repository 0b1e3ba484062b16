"""Validate a config document and compile it into an immutable :class:`Snapshot`.

Everything a request would otherwise redo is done here once per config version: templates
compiled, JSON Schemas compiled, model references resolved to provider routes, campaign
weights turned into cumulative tables. The gateway swaps whole snapshots atomically
(:class:`app.config.holder.ConfigHolder`). The checks of a function's parts (tools, campaigns,
schemas, typed parameters) and the compiled function types are in :mod:`app.config.functions`.

Length: the builder walks providers, models (routes, prices, embedding checks) and functions in
one pass so every problem is reported with its key; splitting it further broke git's rename
detection during the restructure and would scatter one validation pass over files.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from app.config.evaluations import CompiledEvaluation
from app.config.functions import (
    REQUEST_PARAMS,
    CampaignState,
    CompiledCampaign,
    CompiledFunction,
    CompiledVariant,
    FunctionChecks,
    WeightTable,
    declared_args,
)
from app.config.loader import Sources
from app.config.params import param_problems
from app.config.policy import DEFAULT_POLICY, RoutePolicy
from app.config.problems import ConfigError, Problem
from app.config.schema import (
    ENTRY_NAME,
    MODEL_NAME,
    VARIANT_PARAMS,
    DummyProviderConfig,
    FunctionConfig,
    GatewayConfig,
    MetricConfig,
    ModelConfig,
    OpenAIProviderConfig,
    PriceConfig,
    ProviderConfig,
)
from app.pricing import Price, catalogue_price
from app.prompts import TemplateProblem, compile_template

BUILTIN_METRICS = {
    "comment": MetricConfig(type="comment", description="Free-text comment (built in)"),
    "demonstration": MetricConfig(type="demonstration", description="Corrected answer (built in)"),
}


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a routing list: which provider, the model name it knows, and how hard to
    try it (the model's retry policy and first-token deadline, shared by all its routes).
    Data only: the provider object is looked up by name when a request is sent."""

    provider_name: str
    provider_type: str
    model: str
    policy: RoutePolicy = DEFAULT_POLICY
    price: Price | None = None  # resolved once, when the config version is compiled
    # The configured model this route serves (``M@P`` as named when M is no configured model):
    # what spend reports group by as ``model`` (docs/spend.md).
    served_model: str = ""


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
    # The process's live adaptive-campaign state (allocations, first assignments); it outlives
    # config versions, so every snapshot the live config builds points at the same one.
    campaign_state: CampaignState | None = None
    evaluations: dict[str, CompiledEvaluation] = field(default_factory=dict)  # by global name

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
    return (_route(provider_name, providers[provider_name], model, name),)


def _route(
    provider_name: str,
    config: ProviderConfig,
    model: str,
    served_model: str,
    policy: RoutePolicy = DEFAULT_POLICY,
    price: PriceConfig | None = None,
) -> Route:
    provider_type = str(config.__struct_config__.tag)
    price_ = route_price(config, model, price)
    return Route(provider_name, provider_type, model, policy, price_, served_model)


def route_price(config: ProviderConfig, model: str, explicit: PriceConfig | None) -> Price | None:
    """The routing entry's own price, else the genai-prices catalogue's, else unknown."""
    if explicit is not None:
        return Price(
            input_per_mtok=explicit.input_per_mtok,
            output_per_mtok=explicit.output_per_mtok,
            cached_input_per_mtok=explicit.cached_input_per_mtok,
        )
    base_url = getattr(config, "base_url", None)
    return catalogue_price(str(config.__struct_config__.tag), base_url, model)


def serves_embeddings(config: ProviderConfig) -> bool:
    """Provider types with an embeddings endpoint: openai (``/embeddings``) and dummy."""
    return isinstance(config, OpenAIProviderConfig | DummyProviderConfig)


def build_snapshot(
    document: dict[str, Any],
    *,
    sources: Sources | None = None,
    version: int = 0,
    campaign_state: CampaignState | None = None,
) -> Snapshot:
    """Validate and compile; raises :class:`ConfigError` listing every problem found."""
    builder = _Builder(document, sources or Sources())
    snapshot = builder.build(version)
    if builder.problems:
        raise ConfigError(builder.problems)
    assert snapshot is not None
    if campaign_state is not None:
        snapshot = dataclasses.replace(snapshot, campaign_state=campaign_state)
    return snapshot


def validate_document(document: dict[str, Any], sources: Sources | None = None) -> list[Problem]:
    try:
        build_snapshot(document, sources=sources)
    except ConfigError as exc:
        return exc.problems
    return []


class _Builder(FunctionChecks):
    def __init__(self, document: dict[str, Any], sources: Sources) -> None:
        super().__init__(sources.file_for)
        self.document = document

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
            "providers", ProviderConfig, ENTRY_NAME
        )
        model_configs: dict[str, ModelConfig] = self.section("models", ModelConfig, MODEL_NAME)
        metric_configs: dict[str, MetricConfig] = self.section("metrics", MetricConfig, ENTRY_NAME)
        metrics = {**BUILTIN_METRICS, **metric_configs}
        for builtin, builtin_config in BUILTIN_METRICS.items():
            if metrics[builtin].type != builtin_config.type:
                self.problem(f"metrics.{builtin}", f"is built in with type '{builtin_config.type}'")

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
        evaluations: dict[str, CompiledEvaluation] = {}
        for function in functions.values():
            for evaluation in function.evaluations.values():
                if evaluation.name in evaluations:
                    self.problem(
                        f"functions.{function.name}.evaluations.{evaluation.name}",
                        f"evaluation '{evaluation.name}' is also declared by function "
                        f"'{evaluations[evaluation.name].function}' (names are global)",
                    )
                evaluations[evaluation.name] = evaluation
        if self.problems:
            return None
        gateway = GatewayConfig(
            providers=provider_configs,
            models=model_configs,
            metrics=metric_configs,
            functions=function_configs,
        )
        return Snapshot(
            version,
            gateway,
            self.document,
            providers,
            models,
            functions,
            metrics,
            campaigns_by_id,
            evaluations=evaluations,
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
                if config.kind == "embedding" and not serves_embeddings(provider):
                    self.problem(
                        f"models.{name}.routing[{i}].provider",
                        f"provider '{entry.provider}' (type '{provider.__struct_config__.tag}') "
                        "serves no embeddings (use an openai or dummy provider)",
                    )
                elif (
                    config.kind == "embedding"
                    and isinstance(provider, DummyProviderConfig)
                    and config.dimensions is None
                ):
                    self.problem(
                        f"models.{name}.dimensions",
                        "an embedding model routed to a dummy provider needs 'dimensions'",
                    )
                routes.append(
                    _route(entry.provider, provider, entry.name, name, policy, entry.price)
                )
        if config.kind == "chat" and config.dimensions is not None:
            self.problem(f"models.{name}.dimensions", "only embedding models take 'dimensions'")
        return tuple(routes)

    def is_embedding_model(self, reference: str) -> bool:
        """Whether a variant's ``model`` names an embedding model (M or M@P)."""
        raw_models = self.document.get("models") or {}
        for name in (reference, reference.rpartition("@")[0]):
            entry = raw_models.get(name) if name else None
            if isinstance(entry, dict):
                return entry.get("kind") == "embedding"
        return False

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
        declared = declared_args(config.system_schema)
        tools = {
            tool_name: tool
            for tool_name, tool_config in config.tools.items()
            if (tool := self.compile_tool(tool_name, tool_config, f"{key}.tools.{tool_name}"))
            is not None
        }
        variants = {}
        for variant_name, variant in config.variants.items():
            vkey = f"{key}.variants.{variant_name}"
            if "/" in variant_name or not ENTRY_NAME.match(variant_name):
                self.problem(vkey, "invalid variant name (letters, digits, . _ - : only)")
            routes = resolve_model_reference(variant.model, models, providers)
            if routes is None:
                self.problem(
                    f"{vkey}.model",
                    f"unknown model '{variant.model}' (not a model, nor model@provider)",
                )
            elif self.is_embedding_model(variant.model):
                self.problem(
                    f"{vkey}.model",
                    f"'{variant.model}' is an embedding model (kind = \"embedding\"); "
                    "a function's variants need a chat model",
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
            known = {k: v for k, v in variant.extra_body.items() if k in REQUEST_PARAMS}
            params.update(self.typed_params(known, f"{vkey}.extra_body"))
            extra = {k: v for k, v in variant.extra_body.items() if k not in REQUEST_PARAMS}
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
        evaluations = {
            evaluation: self.compile_evaluation(
                name, evaluation, econfig, partial(self.judge_model_problem, models, providers)
            )
            for evaluation, econfig in config.evaluations.items()
        }
        return CompiledFunction(
            name,
            config,
            variants,
            table,
            schema,
            campaigns,
            active[0] if active else None,
            tools,
            evaluations,
        )

    def judge_model_problem(
        self,
        models: dict[str, tuple[Route, ...]],
        providers: dict[str, ProviderConfig],
        reference: str,
    ) -> str | None:
        """Why ``reference`` cannot be a judge (None when it can): like a variant's model."""
        if resolve_model_reference(reference, models, providers) is None:
            return f"unknown model '{reference}' (not a model, nor model@provider)"
        if self.is_embedding_model(reference):
            return f"'{reference}' is an embedding model; a judge needs a chat model"
        return None
