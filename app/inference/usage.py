"""Token usage: the provider's counts or our flagged estimate, plus SambaNova's timing fields
(docs/providers.md, "Timings").

Providers that report no usage (some streams, some local servers) still get token counts in
the record, estimated with :mod:`app.providers.tokens` and marked ``usage_estimated``.
"""

from __future__ import annotations

from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.pricing import cost_usd
from app.providers.tokens import count_prompt_tokens, count_tokens
from app.wire.response import Choice, Usage


def usage_of(plan: Plan, usage: Usage | None, choices: list[Choice]) -> tuple[Usage, bool]:
    """The provider's token counts, or our estimate (flagged) when it reported none."""
    if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
        return Usage(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.prompt_tokens + usage.completion_tokens,
            usage.prompt_tokens_details,
            usage.completion_tokens_details,
        ), False
    prompt = count_prompt_tokens(plan.provider_request.messages)
    completion = sum(_estimated_tokens(choice) for choice in choices)
    return Usage(prompt, completion, prompt + completion), True


def _estimated_tokens(choice: Choice) -> int:
    message = choice.message
    tokens = count_tokens(message.content or "")
    if isinstance(message.reasoning_content, str):
        tokens += count_tokens(message.reasoning_content)
    for call in message.tool_calls or ():
        tokens += count_tokens(call.function.name + call.function.arguments)
    return tokens


def price_outcome(outcome: Outcome) -> None:
    """The outcome's cost: its tokens at the price of the route that answered (None when that
    route has no known price). Four multiplications; the price was resolved at compile time."""
    route, usage = outcome.route, outcome.usage
    if route is None or usage is None:
        outcome.cost = None
        return
    outcome.cost = cost_usd(
        route.price,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
    )


def timed_usage(plan: Plan, outcome: Outcome) -> Usage:
    """Usage plus SambaNova's four timing fields, in seconds."""
    usage = outcome.usage or Usage()
    started = outcome.started or plan.context.received_at
    ended = outcome.ended or started
    first = outcome.first_token_at or ended
    execution = ended - started
    decoding = ended - first
    if decoding > 0.001 and usage.completion_tokens > 1:
        throughput = (usage.completion_tokens - 1) / decoding
    else:
        throughput = usage.completion_tokens / execution if execution > 0 else 0.0
    return Usage(
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        usage.prompt_tokens_details,
        usage.completion_tokens_details,
        time_to_first_token=round(first - started, 6),
        throughput_after_first_token=round(throughput, 3),
        model_execution_time=round(execution, 6),
        queue_time=round(started - plan.context.received_at, 6),
        cost=outcome.cost,
    )
