"""A chat completion → a Responses API ``response`` object: pure, no I/O.

The response id is the completion's id, which the pipeline sets to the inference id, so
feedback on the response id lands on the logged inference. Output items, in order: the
reasoning (``reasoning_content``), the message (text and refusal parts), one ``function_call``
per tool call. Item ids derive from the response id and the item's output index, so a stream
and a non-streamed answer name their items alike. A ``length`` finish is status
``incomplete`` (``max_output_tokens``), a ``content_filter`` one ``incomplete``
(``content_filter``), anything else ``completed``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.wire.response import AssistantMessage, ChatCompletion, ChatCompletionChunk, Usage
from app.wire.responses import ResponsesRequest
from app.wire.responses_output import (
    FunctionCallItem,
    IncompleteDetails,
    OutputItem,
    OutputMessage,
    OutputText,
    ReasoningItem,
    ReasoningText,
    Refusal,
    Response,
    ResponseUsage,
)

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
_ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs"}
_ROUTING_FIELDS = ("episode_id", "session_id", "function", "variant", "ab_campaign")


def to_response(completion: ChatCompletion, request: ResponsesRequest) -> Response:
    """The ``response`` object for a (non-streamed) chat completion answering ``request``."""
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice else AssistantMessage()
    response = response_shell(request, completion, status="completed")
    response.output = output_items(completion.id, message)
    response.usage = response_usage(completion.usage)
    finish(response, choice.finish_reason if choice else None)
    return response


def response_shell(
    request: ResponsesRequest, source: ChatCompletion | ChatCompletionChunk, *, status: str
) -> Response:
    """A response with no output yet: id, model and routing fields from the completion (or
    first chunk), the request's parameters echoed as OpenAI does."""
    response = Response(
        id=source.id,
        created_at=source.created,
        status=status,
        model=source.model,
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
        metadata=request.metadata or {},
        parallel_tool_calls=request.parallel_tool_calls is not False,
        previous_response_id=request.previous_response_id,
        store=request.store,
        temperature=request.temperature,
        text=_text_echo(request),
        tool_choice=msgspec.to_builtins(request.tool_choice or "auto"),
        tools=msgspec.to_builtins(request.tools or []),
        top_p=request.top_p,
        user=request.user,
    )
    for name in _ROUTING_FIELDS:
        setattr(response, name, getattr(source, name))
    return response


def finish(response: Response, finish_reason: str | None) -> None:
    """Set the final status from the chat finish reason."""
    reason = _INCOMPLETE_REASONS.get(finish_reason or "")
    if reason is None:
        response.status = "completed"
    else:
        response.status = "incomplete"
        response.incomplete_details = IncompleteDetails(reason)


def output_items(response_id: str, message: AssistantMessage) -> list[OutputItem]:
    items: list[OutputItem] = []
    if isinstance(message.reasoning_content, str) and message.reasoning_content:
        items.append(
            ReasoningItem(
                id=item_id("reasoning", response_id, len(items)),
                content=[ReasoningText(message.reasoning_content)],
            )
        )
    parts: list[OutputText | Refusal] = []
    if message.content:
        parts.append(OutputText(message.content))
    if isinstance(message.refusal, str) and message.refusal:
        parts.append(Refusal(message.refusal))
    if parts or not message.tool_calls:  # a plain answer always has its message, even empty
        items.append(OutputMessage(id=item_id("message", response_id, len(items)), content=parts))
    for call in message.tool_calls or ():
        items.append(
            FunctionCallItem(
                id=item_id("function_call", response_id, len(items)),
                call_id=call.id,
                name=call.function.name,
                arguments=call.function.arguments,
            )
        )
    return items


def item_id(kind: str, response_id: str, output_index: int) -> str:
    return f"{_ITEM_PREFIXES[kind]}_{response_id}_{output_index}"


def response_usage(usage: Usage | None) -> ResponseUsage | None:
    if usage is None:
        return None
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        time_to_first_token=usage.time_to_first_token,
        throughput_after_first_token=usage.throughput_after_first_token,
        model_execution_time=usage.model_execution_time,
        queue_time=usage.queue_time,
    )


def _text_echo(request: ResponsesRequest) -> dict[str, Any]:
    text = request.text
    fmt = text.format if text and text.format else None
    echo: dict[str, Any] = {"format": msgspec.to_builtins(fmt) if fmt else {"type": "text"}}
    if text and text.verbosity:
        echo["verbosity"] = text.verbosity
    return echo
