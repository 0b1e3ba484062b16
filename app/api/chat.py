"""``POST /v1/chat/completions`` and its aliases (see README, "Endpoints"; docs/providers.md).

This is the one hot endpoint, so it does not go through Litestar's request and response
objects, which cost about 26 µs per request (measured in-process: 34 µs for a plain Litestar
handler, 8 µs for an ASGI one). :func:`handle_chat` reads the request and writes the response
through an :class:`~app.api.exchange.Exchange`: under ``serve`` granian calls it over RSGI
(:mod:`app.api.rsgi`), and Litestar's raw ASGI routes below call it for an in-process app or
``SWITCHYARD_SERVER_INTERFACE=asgi``. It shares the rest with the Litestar routes: the caller
comes from :meth:`AuthService.authenticate` (what :func:`app.api.security.principal_of`
calls), the 405 and 413 errors from :mod:`app.api.errors`, and errors leave in OpenAI's shape.
The operation is added to the OpenAPI document by :func:`document_chat_endpoint`.
"""

from __future__ import annotations

import logging
import re

from litestar import Litestar, asgi
from litestar.openapi.spec import OpenAPIResponse, Operation, PathItem
from litestar.types import HTTPScope, Receive, Send

from app.api.errors import internal_error, method_not_allowed
from app.api.exchange import AsgiExchange, ClientGone, Exchange
from app.api.services import Services, services_of
from app.errors import GatewayError, NotFound
from app.inference.plan import Plan, new_context
from app.tracing import RequestTrace
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
_ROUTES = {path: path for path in CHAT_PATHS} | {path + "/": path for path in CHAT_PATHS}

log = logging.getLogger("switchyard.api")

_JSON = ("content-type", "application/json")
_SSE_HEADERS = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]


def chat_route(path: str) -> str | None:
    """The chat route template a path is served by (what Litestar would match), or None."""
    route = _ROUTES.get(path)
    if route is None and (path == TIR_MOUNT or path.startswith(TIR_MOUNT + "/")):
        return TIR_MOUNT
    return route


async def handle_route(exchange: Exchange, services: Services, route: str, path: str) -> None:
    """Serve a path :func:`chat_route` matched to ``route``."""
    if route == TIR_MOUNT:
        await handle_tir_chat(exchange, services, path)
    else:
        await handle_chat(exchange, services, path, endpoint=None)


@asgi(CHAT_PATHS)
async def chat_completions(scope: HTTPScope, receive: Receive, send: Send) -> None:
    services = services_of(scope["litestar_app"].state)
    await handle_chat(AsgiExchange(scope, receive, send), services, scope["path"], endpoint=None)


@asgi(TIR_MOUNT, is_mount=True)
async def tir_chat_completions(scope: HTTPScope, receive: Receive, send: Send) -> None:
    services = services_of(scope["litestar_app"].state)
    await handle_tir_chat(AsgiExchange(scope, receive, send), services, TIR_MOUNT + scope["path"])


async def handle_tir_chat(exchange: Exchange, services: Services, path: str) -> None:
    """A TIR-style path (``/project/...``): the endpoint it names, or a 404 saying the shape."""
    match = _TIR_PATH.match(path[len(TIR_MOUNT) :])
    if match is None:
        error = NotFound(
            "Expected /project/p-{project}/endpoint/is-{endpoint}/v1/chat/completions",
            param="endpoint",
        )
        await exchange.respond(error.status, [_JSON], encoder.encode(error.body()))
        return
    await handle_chat(exchange, services, path, endpoint=match.group(1))


async def handle_chat(
    exchange: Exchange, services: Services, path: str, endpoint: str | None
) -> None:
    """Serve one chat request; every error leaves as a response in OpenAI's shape."""
    trace = None
    if services.tracing is not None:
        trace = services.tracing.begin("chat", exchange.header("traceparent"))
    try:
        await _serve(exchange, services, path, endpoint, trace)
    except GatewayError as error:
        if trace is not None:  # a no-op when the inference was recorded (and its trace ended)
            trace.fail(error.status, error.message)
        await exchange.respond(
            error.status,
            [_JSON, *((k.lower(), v) for k, v in error.headers.items())],
            encoder.encode(error.body()),
        )
    except ClientGone:
        if trace is not None:
            trace.fail(499, "client disconnected")
    except Exception:  # what Litestar's last-resort handler does for its own routes
        log.exception("unhandled error on %s %s", exchange.method, path)
        if exchange.status == 0:  # nothing sent yet: the client gets a 500 in OpenAI's shape
            await exchange.respond(500, [_JSON], encoder.encode(internal_error().body()))


async def _serve(
    exchange: Exchange,
    services: Services,
    path: str,
    endpoint: str | None,
    trace: RequestTrace | None,
) -> None:
    if exchange.method != "POST":
        raise method_not_allowed(exchange.method, path)
    auth, service = services.auth, services.inference
    principal = auth.authenticate(exchange.header("authorization"))
    context = new_context(api_key_id=principal.id, endpoint=endpoint, trace=trace)
    body = await exchange.read_body(services.settings.max_body_bytes)
    chat = decode_chat_request(body, services.limits)
    plan = service.plan(chat, body, context)
    auth.authorize(principal, plan.function)
    auth.check_budgets(principal, plan.function, plan.snapshot)
    if chat.stream:
        relay = await service.open_stream(plan)
        await exchange.stream([*_SSE_HEADERS, *_routing_headers(plan)], relay)
    else:
        completion = await service.complete(plan)
        await exchange.respond(200, [_JSON, *_routing_headers(plan)], encoder.encode(completion))


def _routing_headers(plan: Plan) -> list[tuple[str, str]]:
    headers = [
        ("x-switchyard-inference-id", plan.inference_id),
        ("x-switchyard-episode-id", plan.episode_id),
    ]
    if plan.variant:
        headers.append(("x-switchyard-variant", plan.variant))
    if plan.context.cache_status:
        headers.append(("x-switchyard-cache", plan.context.cache_status))
    return headers


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
