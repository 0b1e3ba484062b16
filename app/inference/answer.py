"""What the client receives besides the provider's text: our ids and the routing fields.

The provider's own ``id`` and ``model`` are replaced by the inference id and the name the
client asked for; each choice gets its own completion id (the first is the inference id), the
handle that feedback and follow-up messages refer to.
"""

from __future__ import annotations

from app.ids import uuid7_str
from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.inference.usage import timed_usage
from app.wire.response import ChatCompletion, ChatCompletionChunk


def completion_ids(plan: Plan, n: int) -> list[str]:
    return [plan.inference_id] + [uuid7_str() for _ in range(max(n, 1) - 1)]


def set_routing_fields(target: ChatCompletion | ChatCompletionChunk, plan: Plan) -> None:
    target.episode_id = plan.episode_id
    target.session_id = plan.session_id
    target.function = plan.function
    target.variant = plan.variant
    target.ab_campaign = plan.campaign


def shape_completion(plan: Plan, completion: ChatCompletion, outcome: Outcome) -> ChatCompletion:
    """The provider's completion, stamped in place as our non-streaming response."""
    completion.id = plan.inference_id
    completion.model = plan.model_name
    for choice, completion_id in zip(completion.choices, outcome.completion_ids, strict=False):
        choice.completion_id = completion_id
    completion.usage = timed_usage(plan, outcome)
    set_routing_fields(completion, plan)
    return completion
