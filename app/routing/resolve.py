"""Model-name resolution, in the order README.md "Model names" gives; the first rule that
matches wins."""

from __future__ import annotations

from dataclasses import dataclass

from app.config.compile import Route, Snapshot
from app.config.functions import CompiledFunction
from app.config.schema import ModelConfig
from app.errors import InvalidRequest, NotFound

_FUNCTION_PREFIX = "tensorzero::function_name::"
_MODEL_PREFIX = "tensorzero::model_name::"


@dataclass(frozen=True, slots=True)
class Target:
    """A function (with an optional pinned variant) or a bare model's routing list."""

    function: CompiledFunction | None = None
    pinned_variant: str | None = None
    routes: tuple[Route, ...] = ()


def resolve_target(snapshot: Snapshot, name: str) -> Target:
    if name.startswith(_FUNCTION_PREFIX):
        function = snapshot.functions.get(name[len(_FUNCTION_PREFIX) :])
        if function is None:
            raise _not_found(name, "function")
        return Target(function=function)
    if name.startswith(_MODEL_PREFIX):
        routes = snapshot.model_routes(name[len(_MODEL_PREFIX) :])
        if routes is None:
            raise _not_found(name, "model")
        _refuse_embedding_model(snapshot, name[len(_MODEL_PREFIX) :])
        return Target(routes=routes)

    function_name, slash, variant = name.partition("/")
    if slash and function_name in snapshot.functions:
        function = snapshot.functions[function_name]
        if variant not in function.variants:
            raise NotFound(
                f"Function '{function_name}' has no variant '{variant}'",
                param="model",
                code="variant_not_found",
            )
        return Target(function=function, pinned_variant=variant)

    function = snapshot.functions.get(name)
    if function is not None:
        return Target(function=function)

    routes = snapshot.model_routes(name)
    if routes is not None:
        _refuse_embedding_model(snapshot, name)
        return Target(routes=routes)
    raise _not_found(name, "function or model")


def model_config(snapshot: Snapshot, name: str) -> ModelConfig | None:
    """The configured model a model reference (``M`` or ``M@P``) names, if any."""
    models = snapshot.config.models
    return models.get(name) or models.get(name.rpartition("@")[0])


def _refuse_embedding_model(snapshot: Snapshot, name: str) -> None:
    config = model_config(snapshot, name)
    if config is not None and config.kind == "embedding":
        raise InvalidRequest(
            f"'{name}' is an embedding model: call POST /v1/embeddings with it",
            param="model",
            code="embedding_model",
        )


def _not_found(name: str, what: str) -> NotFound:
    return NotFound(
        f"The model '{name}' does not exist: no {what} of that name is configured",
        param="model",
        code="model_not_found",
    )
