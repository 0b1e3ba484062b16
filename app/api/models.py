"""``GET /v1/models`` (and ``GET /v1/models/{id}``) under every prefix the chat endpoint has
(README, "Endpoints").

Lists what the caller's key may call: every function and model for an unscoped key (the
configured models, and the ``M@P`` names of providers' own models that variants call), only its
functions for a key scoped to some (scoped keys call no bare models, see
:func:`app.auth.principal.require_function`). Embedding models are listed with
``kind: "embedding_model"``. The body is :func:`app.wire.models.model_list`'s.
"""

from __future__ import annotations

from litestar import Response, get

from app.api.security import authenticated
from app.auth.principal import Principal
from app.config.compile import Snapshot
from app.errors import NotFound
from app.inference.service import InferenceService
from app.wire.models import ModelEntry, ModelList, model_list
from app.wire.response import encoder

MODELS_PATHS = ["/v1/models", "/openai/v1/models", "/api/v1/models", "/v0/models"]


def callable_models(snapshot: Snapshot, principal: Principal) -> ModelList:
    """The functions and models ``principal`` may call in ``snapshot``."""
    scope = principal.functions
    functions = [name for name in snapshot.functions if scope is None or name in scope]
    if scope is not None:
        return model_list(functions, ())
    models = snapshot.config.models
    chat = [name for name, config in models.items() if config.kind == "chat"]
    embedding = [name for name, config in models.items() if config.kind == "embedding"]
    return model_list(functions, [*chat, *_provider_models(snapshot)], embedding)


def _provider_models(snapshot: Snapshot) -> list[str]:
    """The ``M@P`` names variants call where M is no configured model (a provider's own model
    name, ``gpt-4o@openai``): configured only there, and callable by that name too."""
    models = snapshot.config.models
    return [
        reference
        for function in snapshot.functions.values()
        for variant in function.variants.values()
        if (reference := variant.config.model) not in models
        and reference.rpartition("@")[0] not in models
    ]


@get(
    MODELS_PATHS,
    summary="List the functions and models this key may call (OpenAI-compatible)",
    tags=["inference"],
    guards=[authenticated],
)
async def list_models(principal: Principal, inference: InferenceService) -> Response[bytes]:
    body = callable_models(inference.config.current, principal)
    return Response(encoder.encode(body), media_type="application/json")


@get(
    [path + "/{model_id:path}" for path in MODELS_PATHS],
    summary="One function or model this key may call (OpenAI-compatible)",
    tags=["inference"],
    guards=[authenticated],
)
async def retrieve_model(
    model_id: str, principal: Principal, inference: InferenceService
) -> Response[bytes]:
    name = model_id.lstrip("/")
    entry = _find(callable_models(inference.config.current, principal), name)
    if entry is None:
        raise NotFound(
            f"The model '{name}' does not exist or this key may not call it",
            param="model",
            code="model_not_found",
        )
    return Response(encoder.encode(entry), media_type="application/json")


def _find(models: ModelList, name: str) -> ModelEntry | None:
    return next((entry for entry in models.data if entry.id == name), None)
