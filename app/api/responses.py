"""``POST /v1/responses`` under every prefix the chat endpoint has (README, "Endpoints").

OpenAI's Responses API on the chat pipeline (:mod:`app.inference.responses_service`): the
same key check and scope check as chat, the same routing headers, and for ``stream: true``
the Responses event stream with chat's SSE headers. A normal Litestar route: it is not the
hot path chat is.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.response import Stream

from app.api.security import principal_of
from app.auth.service import AuthService
from app.inference.plan import Plan
from app.inference.responses_service import ResponsesService
from app.wire.response import encoder
from app.wire.responses import ResponsesRequest

RESPONSES_PATHS = ["/v1/responses", "/openai/v1/responses", "/api/v1/responses", "/v0/responses"]
# The body is read raw (unknown fields pass through to the chat request); its schema is
# published from the type that decodes it (app/api/openapi.py).
RESPONSES_BODY = {(path, "post"): ResponsesRequest for path in RESPONSES_PATHS}

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def routing_headers(plan: Plan) -> dict[str, str]:
    headers = {
        "x-switchyard-inference-id": plan.inference_id,
        "x-switchyard-episode-id": plan.episode_id,
    }
    if plan.variant:
        headers["x-switchyard-variant"] = plan.variant
    return headers


@post(
    RESPONSES_PATHS,
    summary="Create a model response (OpenAI Responses API) on the chat pipeline",
    description=(
        "Translated to a chat completion and served like one: functions, variants, templates, "
        "campaigns, logging. The response id is the inference id (a feedback target); "
        "previous_response_id continues a logged response."
    ),
    tags=["inference"],
    status_code=200,
)
async def create_response(
    request: Request[Any, Any, Any], responses: ResponsesService, auth: AuthService
) -> Response[bytes] | Stream:
    principal = principal_of(request)
    body = await request.body()
    responses_request, plan = await responses.plan(body, principal)
    auth.authorize(principal, plan.function)
    headers = routing_headers(plan)
    if responses_request.stream:
        events = await responses.stream(responses_request, plan)
        return Stream(events, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
    response = await responses.complete(responses_request, plan)
    return Response(encoder.encode(response), media_type="application/json", headers=headers)
