"""The Responses API ``response`` object and its stream events, as Switchyard sends them.

Field names follow the ``openai`` SDK's types (openai/types/responses/): the SDK validates these
objects, and its stream accumulator checks event order and item identity. Switchyard's routing
fields (``episode_id``, ``function``, ``variant``...) ride along as extra top-level keys of the
response, as they do on a chat completion; ``usage`` keeps the chat timing fields too.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class OutputText(msgspec.Struct, tag="output_text", tag_field="type"):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class Refusal(msgspec.Struct, tag="refusal", tag_field="type"):
    refusal: str


class OutputMessage(msgspec.Struct, tag="message", tag_field="type"):
    id: str
    content: list[OutputText | Refusal]
    status: str = "completed"
    role: str = "assistant"


class FunctionCallItem(msgspec.Struct, tag="function_call", tag_field="type"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: str = "completed"


class ReasoningText(msgspec.Struct, tag="reasoning_text", tag_field="type"):
    text: str


class ReasoningItem(msgspec.Struct, tag="reasoning", tag_field="type"):
    id: str
    content: list[ReasoningText]
    summary: list[Any] = msgspec.field(default_factory=list)
    status: str = "completed"


OutputItem = OutputMessage | FunctionCallItem | ReasoningItem


class InputTokensDetails(msgspec.Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = msgspec.field(default_factory=OutputTokensDetails)
    # Switchyard's timings in seconds, as on chat completions (app/wire/response.py).
    time_to_first_token: float | UnsetType = UNSET
    throughput_after_first_token: float | UnsetType = UNSET
    model_execution_time: float | UnsetType = UNSET
    queue_time: float | UnsetType = UNSET


class ResponseError(msgspec.Struct):
    code: str
    message: str


class IncompleteDetails(msgspec.Struct):
    reason: str


class Response(msgspec.Struct, kw_only=True):
    id: str
    object: str = "response"
    created_at: int
    status: str
    model: str
    output: list[OutputItem] = msgspec.field(default_factory=list)
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    # Echoed from the request, as OpenAI does.
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    store: bool = True
    temperature: float | None = None
    text: dict[str, Any] = msgspec.field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    top_p: float | None = None
    truncation: str = "disabled"
    user: str | None = None
    # Switchyard's routing fields, as on chat completions.
    episode_id: str | UnsetType = UNSET
    session_id: str | UnsetType | None = UNSET
    function: str | UnsetType | None = UNSET
    variant: str | UnsetType | None = UNSET
    ab_campaign: str | UnsetType | None = UNSET


# -- stream events: ``type`` names the event; field names as in the SDK's *Event types ---------


class LifecycleEvent(msgspec.Struct):
    """``response.created`` / ``.in_progress`` / ``.completed`` / ``.incomplete`` / ``.failed``."""

    type: str
    sequence_number: int
    response: Response


class ItemEvent(msgspec.Struct):
    """``response.output_item.added`` / ``.done``."""

    type: str
    sequence_number: int
    output_index: int
    item: OutputItem


class PartEvent(msgspec.Struct):
    """``response.content_part.added`` / ``.done``."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | Refusal | ReasoningText


class TextDeltaEvent(msgspec.Struct, omit_defaults=True):
    """``response.output_text.delta`` / ``.refusal.delta`` / ``.reasoning_text.delta``."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] | UnsetType = UNSET


class TextDoneEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``response.output_text.done`` (``text``), ``.refusal.done`` (``refusal``), ``.reasoning_text.done``."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str | UnsetType = UNSET
    refusal: str | UnsetType = UNSET
    logprobs: list[Any] | UnsetType = UNSET


class ArgumentsDeltaEvent(msgspec.Struct):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    delta: str


class ArgumentsDoneEvent(msgspec.Struct):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    arguments: str
    name: str  # the function's name (the event carries it, as OpenAI's does)


class ErrorEvent(msgspec.Struct):
    type: str
    sequence_number: int
    message: str
    code: str | None = None
    param: str | None = None


StreamEvent = (
    LifecycleEvent
    | ItemEvent
    | PartEvent
    | TextDeltaEvent
    | TextDoneEvent
    | ArgumentsDeltaEvent
    | ArgumentsDoneEvent
    | ErrorEvent
)
