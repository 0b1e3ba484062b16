"""``POST /v1/chat/completions`` and its aliases (see README, "Endpoints"; docs/providers.md).

This is the one hot endpoint, so it is a raw ASGI handler: it reads the body and writes the
response itself instead of going through Litestar's request and response objects, which cost
about 26 µs per request (measured in-process: 34 µs for a plain Litestar handler, 8 µs for
an ASGI one). It shares the rest with the Litestar routes: the caller comes from
:meth:`AuthService.authenticate` (what :func:`app.api.security.principal_of` calls), the 405 and
413 errors from :mod:`app.api.errors`, and errors leave in OpenAI's shape. The operation is
added to the OpenAPI document by :func:`document_chat_endpoint`.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar import Litestar, asgi
from litestar.openapi.spec import OpenAPIResponse, Operation, PathItem
from litestar.types import HTTPScope, Receive, Send

from app.api.errors import method_not_allowed, payload_too_large
from app.api.services import services_of
from app.auth.service import AuthService
from app.errors import GatewayError, NotFound
from app.inference.plan import Plan, new_context
from app.inference.service import InferenceService
from app.tracing import RequestTrace
from app.wire.limits import InputLimits
from app.wire.request import ChatRequest, decode_chat_request
from app.wire.response import encoder

CHAT_PATHS = [
    "/v1/chat/completions",
    "/openai/v1/chat/completions",
    "/api/v1/chat/completions",
    "/v0/chat/completions",
]
# TIR style: /project/p-{project}/endpoint/is-{endpoint}/v1/chat/completions, where the path
# names the function or model. Served by a mount on /project, parsed here (Litestar's ASGI
# routes do not take path parameters).
TIR_MOUNT = "/project"
_TIR_PATH = re.compile(r"^/p-[^/]+/endpoint/is-([^/]+)/v1/chat/completions/?$")

_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _ClientGone(Exception):
    pass


@asgi(CHAT_PATHS)
async def chat_completions(scope: HTTPScope, receive: Receive, send: Send) -> None:
    await _handle(scope, receive, send, endpoint=None)


@asgi(TIR_MOUNT, is_mount=True)
async def tir_chat_completions(scope: HTTPScope, receive: Receive, send: Send) -> None:
    match = _TIR_PATH.match(scope["path"])
    if match is None:
        error = NotFound(
            "Expected /project/p-{project}/endpoint/is-{endpoint}/v1/chat/completions",
            param="endpoint",
        )
        await _send_body(send, error.status, [_JSON], encoder.encode(error.body()))
        return
    await _handle(scope, receive, send, endpoint=match.group(1))


async def _handle(scope: HTTPScope, receive: Receive, send: Send, endpoint: str | None) -> None:
    services = services_of(scope["litestar_app"].state)
    trace = None
    if services.tracing is not None:
        trace = services.tracing.begin("chat", _header(scope, b"traceparent"))
    try:
        await _serve(
            scope,
            receive,
            send,
            services.inference,
            services.auth,
            services.settings.max_body_bytes,
            services.limits,
            endpoint,
            trace,
        )
    except GatewayError as error:
        if trace is not None:  # a no-op when the inference was recorded (and its trace ended)
            trace.fail(error.status, error.message)
        await _send_body(
            send,
            error.status,
            [_JSON, *_encode_headers(error.headers)],
            encoder.encode(error.body()),
        )
    except _ClientGone:
        if trace is not None:
            trace.fail(499, "client disconnected")


async def _serve(
    scope: HTTPScope,
    receive: Receive,
    send: Send,
    service: InferenceService,
    auth: AuthService,
    limit: int,
    limits: InputLimits,
    endpoint: str | None,
    trace: RequestTrace | None,
) -> None:
    if scope["method"] != "POST":
        path = scope["path"] if endpoint is None else TIR_MOUNT + scope["path"]
        raise method_not_allowed(scope["method"], path)
    principal = auth.authenticate(_header(scope, b"authorization"))
    context = new_context(api_key_id=principal.id, endpoint=endpoint, trace=trace)
    body = await _read_body(scope, receive, limit)
    chat = decode_chat_request(body, limits)
    plan = service.plan(chat, body, context)
    auth.authorize(principal, plan.function)
    auth.check_budgets(principal, plan.function, plan.snapshot)
    if chat.stream:
        relay = await service.open_stream(plan)
        await _send_stream(send, receive, [*_SSE_HEADERS, *_routing_headers(plan)], relay)
    else:
        completion = await service.complete(plan)
        await _send_body(send, 200, [_JSON, *_routing_headers(plan)], encoder.encode(completion))


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(scope: HTTPScope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise payload_too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise payload_too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _routing_headers(plan: Plan) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-switchyard-inference-id", plan.inference_id.encode()),
        (b"x-switchyard-episode-id", plan.episode_id.encode()),
    ]
    if plan.variant:
        headers.append((b"x-switchyard-variant", plan.variant.encode()))
    if plan.context.cache_status:
        headers.append((b"x-switchyard-cache", plan.context.cache_status.encode()))
    return headers


def _encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


async def _send_body(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_stream(
    send: Send, receive: Receive, headers: list[tuple[bytes, bytes]], relay: Any
) -> None:
    """Relay SSE chunks; a client that disconnects cancels the relay (and so the provider call).

    The relay records the inference as ``cancelled`` when it is cancelled or closed early.
    """
    streaming = asyncio.current_task()
    assert streaming is not None
    gone = False

    async def watch_disconnect() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        streaming.cancel()

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for frames in relay:
            body = frames[0] if len(frames) == 1 else b"".join(frames)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not gone:
            raise
        streaming.uncancel()
    except OSError:  # the server reports a write to a closed connection
        await relay.aclose()
    finally:
        watcher.cancel()


def document_chat_endpoint(app: Litestar) -> None:
    """Add the chat operation, which an ASGI handler does not describe, to ``/schema``."""
    operation = Operation(
        tags=["inference"],
        summary="Create a chat completion (OpenAI-compatible)",
        description=(
            "Routes to a function/variant or model (see README: model names). Also served at "
            + ", ".join(CHAT_PATHS[1:])
            + " and /project/p-{project}/endpoint/is-{endpoint}/v1/chat/completions."
        ),
        # The body: ChatRequest's schema, added by app.api.openapi with the other bodies.
        responses={
            "200": OpenAPIResponse(
                description="chat.completion, or text/event-stream of chat.completion.chunk"
            ),
            "400": OpenAPIResponse(description="invalid request (OpenAI error shape, param named)"),
            "401": OpenAPIResponse(description="missing or unknown API key"),
            "403": OpenAPIResponse(description="the key may not use this function"),
            "413": OpenAPIResponse(description="body larger than SWITCHYARD_MAX_BODY_BYTES"),
            "429": OpenAPIResponse(description="rate limited"),
            "404": OpenAPIResponse(description="unknown model, function or variant"),
            "502": OpenAPIResponse(description="every provider failed"),
            "504": OpenAPIResponse(description="timeout"),
        },
    )
    openapi = app.openapi_schema
    openapi.paths = openapi.paths or {}
    openapi.paths[CHAT_PATHS[0]] = PathItem(post=operation)


CHAT_BODY = {(CHAT_PATHS[0], "post"): ChatRequest}
