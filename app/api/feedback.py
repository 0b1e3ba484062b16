"""``POST /v1/feedback`` and its aliases (SPEC §2.2)."""

from __future__ import annotations

from litestar import Request, Response, post

from app.feedback.service import FeedbackService, decode_feedback
from app.wire.response import encoder

FEEDBACK_PATHS = ["/v1/feedback", "/feedback", "/api/v1/feedback"]


@post(
    FEEDBACK_PATHS,
    summary="Record feedback on an inference, completion or episode",
    tags=["feedback"],
    status_code=200,
)
async def submit_feedback(request: Request) -> Response[bytes]:
    principal = request.app.state.auth.authenticate(request.headers.get("authorization"))
    feedback: FeedbackService = request.app.state.feedback
    feedback_id = await feedback.submit(
        decode_feedback(await request.body()), api_key_id=principal.id
    )
    return Response(encoder.encode({"feedback_id": feedback_id}), media_type="application/json")
