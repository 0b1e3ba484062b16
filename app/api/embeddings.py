"""``POST /v1/embeddings`` under every prefix the chat endpoint has (README, "Endpoints").

Embedding models are bare models, so a key scoped to functions may not call them (as for
chat's bare models). The inference id of the logged row comes back in
``x-switchyard-inference-id``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from app.api.security import principal_of
from app.auth.service import AuthService
from app.inference.embeddings import EmbeddingsService
from app.inference.plan import new_context
from app.wire.embeddings import EmbeddingsRequest, decode_embeddings_request
from app.wire.response import encoder

EMBEDDINGS_PATHS = [
    "/v1/embeddings",
    "/openai/v1/embeddings",
    "/api/v1/embeddings",
    "/v0/embeddings",
]
EMBEDDINGS_BODY = {(path, "post"): EmbeddingsRequest for path in EMBEDDINGS_PATHS}


@post(
    EMBEDDINGS_PATHS,
    summary="Create embeddings (OpenAI-compatible) with a configured embedding model",
    tags=["inference"],
    status_code=200,
)
async def create_embeddings(
    request: Request[Any, Any, Any], embeddings: EmbeddingsService, auth: AuthService
) -> Response[bytes]:
    principal = principal_of(request)
    context = new_context(api_key_id=principal.id)
    embeddings_request = decode_embeddings_request(await request.body())
    auth.authorize(principal, None)
    result = await embeddings.embed(embeddings_request, context)
    return Response(
        encoder.encode(result.response),
        media_type="application/json",
        headers={"x-switchyard-inference-id": result.inference_id},
    )
