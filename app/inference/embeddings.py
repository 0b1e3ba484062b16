"""``POST /v1/embeddings``: resolve an embedding model, call its routes in order, record it.

An embedding model is a ``[models.X]`` entry with ``kind = "embedding"`` (docs/providers.md,
"Embeddings"); ``X@provider`` sends a name to an openai or dummy provider as is, like chat. The
routes are tried in order: a provider whose circuit is open is skipped, a failure moves on to
the next route unless the provider rejected the request (400: nobody will take it). There
are no per-route retries (an embeddings call is cheap to repeat client-side).

Every request leaves one row in ``inferences`` (so feedback, spend and the console see it
like any inference): ``function`` empty, ``params`` with ``"kind": "embedding"``, the inputs
as ``input_messages`` (only when ``log_query_body``), ``output`` a summary (count and
dimensions: vectors are never stored) and ``prompt_tokens`` (upstream's count, else an
estimate, flagged ``usage_estimated``).
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from app.config.compile import Route, Snapshot, serves_embeddings
from app.config.holder import ConfigHolder
from app.errors import GatewayError, InvalidRequest, NotFound, ProviderFailed
from app.ids import uuid7_str
from app.inference.plan import CallContext
from app.pricing import cost_usd
from app.providers.base import ProviderError, now
from app.providers.embeddings import EmbeddingsCall, EmbeddingsReply, embed
from app.providers.registry import Providers
from app.records import AttemptRecord, InferenceRecord, Recorder
from app.routing.resolve import model_config
from app.wire.embeddings import EmbeddingsRequest, EmbeddingsResponse, embeddings_response, inputs

_encoder = msgspec.json.Encoder()


class EmbeddingsTarget(msgspec.Struct, frozen=True):
    name: str
    routes: tuple[Route, ...]
    dimensions: int | None


class EmbeddingsResult(msgspec.Struct, frozen=True):
    response: EmbeddingsResponse
    inference_id: str


def embeddings_target(snapshot: Snapshot, name: str) -> EmbeddingsTarget:
    """The routes serving embedding model ``name``, or the 4xx saying why there are none."""
    if not name:
        raise InvalidRequest("Missing required parameter 'model'", param="model")
    if name in snapshot.functions or name.partition("/")[0] in snapshot.functions:
        raise InvalidRequest(
            f"'{name}' is a function; embeddings need an embedding model", param="model"
        )
    routes = snapshot.model_routes(name)
    if routes is None:
        raise NotFound(
            f"The model '{name}' does not exist: no embedding model of that name is configured",
            param="model",
            code="model_not_found",
        )
    config = model_config(snapshot, name)
    if config is not None and config.kind != "embedding":
        raise InvalidRequest(
            f"'{name}' is a chat model; embeddings need a model with kind = \"embedding\"",
            param="model",
            code="not_an_embedding_model",
        )
    usable = tuple(r for r in routes if serves_embeddings(snapshot.providers[r.provider_name]))
    if not usable:
        raise InvalidRequest(
            f"No provider of '{name}' serves embeddings (openai and dummy providers do)",
            param="model",
        )
    return EmbeddingsTarget(name, usable, config.dimensions if config else None)


class EmbeddingsService:
    def __init__(self, config: ConfigHolder, recorder: Recorder, providers: Providers) -> None:
        self.config = config
        self.recorder = recorder
        self.providers = providers

    async def embed(self, request: EmbeddingsRequest, context: CallContext) -> EmbeddingsResult:
        snapshot = self.config.current
        target = embeddings_target(snapshot, request.model)
        items = inputs(request)
        dimensions = request.dimensions or target.dimensions
        record = _record(snapshot, request, context, items, dimensions)
        table = self.providers.table(snapshot.providers)
        failures: list[ProviderError] = []
        try:
            for route in target.routes:
                breaker = table[route.provider_name].breaker
                if not breaker.allow():
                    failures.append(
                        ProviderError(route.provider_name, breaker.describe(), kind="circuit_open")
                    )
                    continue
                call = EmbeddingsCall(
                    model=route.model, inputs=items, dimensions=dimensions, user=request.user
                )
                started, wall = now(), time.time()
                try:
                    reply = await embed(
                        route.provider_name,
                        snapshot.providers[route.provider_name],
                        call,
                        self.providers.upstream,
                    )
                except ProviderError as exc:
                    if exc.counts_against_provider:
                        breaker.failure(exc.message)
                    else:
                        breaker.release()
                    record.attempts.append(_attempt(record, route, wall, started, request, exc))
                    failures.append(exc)
                    if not exc.try_next:
                        break
                    continue
                breaker.success()
                record.attempts.append(_attempt(record, route, wall, started, request, reply))
                _answered(record, route, reply, dimensions or len(reply.vectors[0]))
                response = embeddings_response(
                    request.model,
                    reply.vectors,
                    request.encoding_format,
                    reply.prompt_tokens,
                    record.cost,
                )
                return EmbeddingsResult(response, record.id)
            record.status = "error"
            error = _client_error(failures)
            record.error = error.message
            raise error
        except asyncio.CancelledError:
            record.status, record.error = "cancelled", "client disconnected"
            raise
        except Exception as exc:
            if record.status == "ok":  # not a provider failure: a bug, logged by the API layer
                record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record.latency_ms = (now() - context.received_at) * 1000
            self.recorder.record(record)


def _record(
    snapshot: Snapshot,
    request: EmbeddingsRequest,
    context: CallContext,
    items: list[str | list[int]],
    dimensions: int | None,
) -> InferenceRecord:
    tags = request.tags
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else []
    params: dict[str, object] = {"kind": "embedding", "encoding_format": request.encoding_format}
    if dimensions is not None:
        params["dimensions"] = dimensions
    return InferenceRecord(
        id=uuid7_str(),
        created_at=context.created_at,
        config_version=snapshot.version,
        episode_id=uuid7_str(),
        user=request.user or "",
        api_key_id=context.api_key_id,
        model=request.model,
        status="ok",
        input_messages=_encoder.encode(items).decode() if request.log_query_body else "",
        params=_encoder.encode(params).decode(),
        labels=dict(request.labels or {}),
        tags=tag_list if isinstance(tags, str) else list(tags or ()),
    )


def _answered(
    record: InferenceRecord, route: Route, reply: EmbeddingsReply, dimensions: int
) -> None:
    record.provider, record.provider_model = route.provider_name, route.model
    record.served_model = route.served_model
    record.prompt_tokens = reply.prompt_tokens
    record.usage_estimated = reply.usage_estimated
    record.cost = cost_usd(route.price, reply.prompt_tokens, 0)
    summary = {"object": "list", "embeddings": len(reply.vectors), "dimensions": dimensions}
    record.output = _encoder.encode(summary).decode()


def _attempt(
    record: InferenceRecord,
    route: Route,
    wall: float,
    started: float,
    request: EmbeddingsRequest,
    result: EmbeddingsReply | ProviderError,
) -> AttemptRecord:
    failed = isinstance(result, ProviderError)
    raw_response = result.raw_response
    attempt = AttemptRecord(
        id=uuid7_str(),
        inference_id=record.id,
        provider=route.provider_name,
        provider_type=route.provider_type,
        model=route.model,
        started_at=wall,
        latency_ms=(now() - started) * 1000,
        status="error" if failed else "ok",
        raw_request=result.raw_request.decode("utf-8", "replace") if request.log_query_body else "",
        raw_response=raw_response.decode("utf-8", "replace"),
    )
    if isinstance(result, ProviderError):
        attempt.error, attempt.http_status = result.message, result.status
    else:
        attempt.prompt_tokens = result.prompt_tokens
        attempt.cost = cost_usd(route.price, result.prompt_tokens, 0)
    return attempt


def _client_error(failures: list[ProviderError]) -> GatewayError:
    last = failures[-1] if failures else None
    if last is not None and last.kind == "rejected":
        return InvalidRequest(f"The provider rejected the request: {last}")
    detail = "; ".join(str(f) for f in failures) or "no route"
    return ProviderFailed(f"Every embeddings route failed: {detail}")
