"""``POST /v1/chat/completions`` and its aliases (SPEC §2.1)."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.response import Stream

from app.auth.service import AuthService
from app.errors import NotFound
from app.inference.plan import Plan, new_context
from app.inference.service import InferenceService
from app.wire.request import decode_chat_request
from app.wire.response import encoder

CHAT_PATHS = [
    "/v1/chat/completions",
    "/openai/v1/chat/completions",
    "/api/v1/chat/completions",
    "/v0/chat/completions",
]
TIR_PATH = "/project/{project:str}/endpoint/{endpoint:str}/v1/chat/completions"


def _headers(plan: Plan) -> dict[str, str]:
    headers = {
        "x-switchyard-inference-id": plan.inference_id,
        "x-switchyard-episode-id": plan.episode_id,
    }
    if plan.variant:
        headers["x-switchyard-variant"] = plan.variant
    return headers


async def _serve(request: Request, endpoint: str | None = None) -> Response[bytes] | Stream:
    service: InferenceService = request.app.state.inference
    auth: AuthService = request.app.state.auth
    principal = auth.authenticate(request.headers.get("authorization"))
    context = new_context(api_key_id=principal.id, endpoint=endpoint)
    body = await request.body()
    chat = decode_chat_request(body)
    plan = service.plan(chat, body, context)
    auth.authorize(principal, plan.function)
    if chat.stream:
        relay = await service.open_stream(plan)
        headers = _headers(plan)
        headers["cache-control"] = "no-cache"
        headers["x-accel-buffering"] = "no"
        return Stream(relay, media_type="text/event-stream", headers=headers)
    completion = await service.complete(plan)
    return Response(encoder.encode(completion), media_type="application/json", headers=_headers(plan))


class ChatController(Controller):
    tags = ["inference"]

    @post(CHAT_PATHS, summary="Create a chat completion (OpenAI-compatible)", status_code=200)
    async def chat_completions(self, request: Request) -> Response[bytes] | Stream:
        return await _serve(request)

    @post(TIR_PATH, summary="Create a chat completion for a named function or model (TIR style)", status_code=200)
    async def tir_chat_completions(self, request: Request, project: str, endpoint: str) -> Response[bytes] | Stream:
        if not project.startswith("p-") or not endpoint.startswith("is-"):
            raise NotFound("Expected /project/p-{project}/endpoint/is-{endpoint}/v1/chat/completions", param="endpoint")
        return await _serve(request, endpoint=endpoint[3:])
