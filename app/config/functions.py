"""The compiled form of a function (variants, campaigns, weight tables) and the checks of a
function's parts: its decoded config, server-side tools, campaigns, JSON Schemas and the
request parameters variants fix.

Split from :mod:`app.config.compile`, which assembles these with the routes (a variant's model
resolved to provider routes); :class:`FunctionChecks` is the compiler's base class so that
every check logs into the one problem list of the document being compiled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import jsonschema_rs
import msgspec

from app.config.evaluations import CompiledEvaluation, EvaluationChecks
from app.config.schema import (
    ENTRY_NAME,
    CampaignConfig,
    FunctionConfig,
    MetricConfig,
    ToolConfig,
    VariantConfig,
)
from app.prompts import SystemTemplate
from app.wire.request import OPENAI_PARAMS, VLLM_PARAMS, ChatRequest, Tool

if TYPE_CHECKING:
    from app.config.compile import Route

# Operational guardrails every campaign can watch without declaring a metric.
BUILTIN_GUARDRAILS = frozenset({"error_rate", "p95_latency_ms", "tokens"})
CAMPAIGN_NAMESPACE = uuid.UUID("6f1c3a52-8c1e-4c55-9a57-0d3b0c7e2a11")
# Campaign settings that only mean something for type = "adaptive".
ADAPTIVE_SETTINGS = (
    "update_interval_s",
    "min_share",
    "min_samples_per_variant",
    "on_decision",
    "promoted",
)
_FIXED_DEFAULTS = CampaignConfig(variants={})
# Request parameters a variant's extra_body may set as defaults (the rest is sent as is).
REQUEST_PARAMS = frozenset(OPENAI_PARAMS + VLLM_PARAMS)


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

    @property
    def adaptive(self) -> bool:
        return self.config.type == "adaptive"


class CampaignState(Protocol):
    """What a running gateway knows about its adaptive campaigns beyond the config version: the
    allocation in use (recomputed from ClickHouse) and the variant each unit first got
    (:class:`app.routing.adaptive.LiveCampaigns`). A snapshot built by the live config carries
    it; one built elsewhere (validation, tests) has none and adaptive campaigns then hash
    into an equal split, statelessly."""

    def choose(self, campaign: CompiledCampaign, unit: str | None) -> str:
        """The variant for ``unit`` (a random draw from the allocation when there is none)."""
        ...

    def shares(self, campaign: CompiledCampaign) -> dict[str, float]:
        """The share of new units each variant of the campaign gets now."""
        ...

    def phase(self, campaign: CompiledCampaign) -> str:
        """Why: equal_split, adaptive, final or promoted (docs/experiments.md)."""
        ...


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
    evaluations: dict[str, CompiledEvaluation] = field(default_factory=dict)


class FunctionChecks(EvaluationChecks):
    """Checks of a function's parts, each logging its problems with the file it came from."""

    def function_config(self, name: str, raw: Any) -> FunctionConfig | None:
        """The function's config; variants and campaigns are decoded one by one so that each
        problem names its own entry."""
        key = f"functions.{name}"
        if not ENTRY_NAME.match(name) or "/" in name:
            self.problem(key, "invalid function name (letters, digits, . _ - : only)")
        if not isinstance(raw, dict):
            self.problem(key, "must be a table")
            return None
        raw = dict(raw)
        variants_raw = raw.pop("variants", None)
        campaigns_raw = raw.pop("campaigns", {}) or {}
        evaluations = self.evaluation_configs(
            raw.pop("evaluations", {}) or {}, f"{key}.evaluations"
        )
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
            or evaluations is None
        ):
            return None
        return msgspec.structs.replace(
            base, variants=variants, campaigns=campaigns, evaluations=evaluations
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
        function: dict[str, Any] = {
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
        if config.type == "adaptive":
            self.check_adaptive(ckey, config, metrics)
        else:
            for name in ADAPTIVE_SETTINGS:
                if getattr(config, name) != getattr(_FIXED_DEFAULTS, name):
                    self.problem(
                        f"{ckey}.{name}", 'only applies to adaptive campaigns (type = "adaptive")'
                    )
        campaign_id = config.id or str(uuid.uuid5(CAMPAIGN_NAMESPACE, f"{function}/{key}"))
        weights = config.variants
        if config.type == "adaptive":  # stateless fallback: an equal split, or the winner
            weights = {v: float(config.promoted in (None, v)) for v in config.variants}
        table = (
            WeightTable.from_weights(weights) if sum(weights.values()) > 0 else WeightTable((), ())
        )
        return CompiledCampaign(key, campaign_id, function, config, table)

    def check_adaptive(
        self, ckey: str, config: CampaignConfig, metrics: dict[str, MetricConfig]
    ) -> None:
        """Settings an adaptive campaign cannot work with, each named by its key."""
        arms = len(config.variants)
        if arms < 2:
            self.problem(f"{ckey}.variants", "an adaptive campaign needs at least two variants")
        for variant, weight in config.variants.items():
            if weight <= 0:
                self.problem(
                    f"{ckey}.variants.{variant}",
                    "weight 0 in an adaptive campaign: remove the variant instead (adaptive "
                    "campaigns start from an equal split, weights only have to be positive)",
                )
        if arms and config.min_share * arms > 1:
            self.problem(
                f"{ckey}.min_share",
                f"min_share {config.min_share:g} x {arms} variants is more than all the traffic"
                f" (at most {1 / arms:.4g})",
            )
        if config.metric is None:
            self.problem(f"{ckey}.metric", "an adaptive campaign needs a metric to adapt to")
        elif config.metric in metrics and metrics[config.metric].type not in ("boolean", "float"):
            self.problem(
                f"{ckey}.metric",
                f"an adaptive campaign needs a boolean or float metric, "
                f"'{config.metric}' is a {metrics[config.metric].type}",
            )
        if config.promoted is not None and config.promoted not in config.variants:
            self.problem(
                f"{ckey}.promoted", f"'{config.promoted}' is not a variant of the campaign"
            )

    def compile_schema(self, schema: dict[str, Any] | None, key: str) -> Any:
        if schema is None:
            return None
        try:
            return jsonschema_rs.validator_for(schema)
        except jsonschema_rs.ValidationError as exc:
            self.problem(key, f"invalid JSON Schema: {str(exc).splitlines()[0]}")
            return None


def declared_args(schema: dict[str, Any] | None) -> set[str] | None:
    """Argument names a schema declares, or None when it declares none (anything goes)."""
    properties = (schema or {}).get("properties")
    return set(properties) if isinstance(properties, dict) and properties else None
