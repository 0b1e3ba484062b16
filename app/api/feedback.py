"""``POST /v1/feedback`` and its aliases (see docs/experiments.md, "Send feedback")."""

from __future__ import annotations

from litestar import Response, post

from app.api.bodies import body_of
from app.api.security import authenticated
from app.auth.principal import Principal
from app.feedback.schema import FeedbackRequest
from app.feedback.service import FeedbackService
from app.wire.limits import InputLimits, check_labels
from app.wire.response import encoder

FEEDBACK_PATHS = ["/v1/feedback", "/feedback", "/api/v1/feedback"]


@post(
    FEEDBACK_PATHS,
    summary="Record feedback on an inference, completion or episode",
    tags=["feedback"],
    status_code=200,
    guards=[authenticated],
    opt=body_of(FeedbackRequest),
)
async def submit_feedback(
    payload: FeedbackRequest, principal: Principal, feedback: FeedbackService, limits: InputLimits
) -> Response[bytes]:
    if limits.lowered:
        check_labels(payload.tags, "tags", limits)
    feedback_id = await feedback.submit(payload, api_key_id=principal.id)
    return Response(encoder.encode({"feedback_id": feedback_id}), media_type="application/json")
