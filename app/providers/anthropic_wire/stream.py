"""Anthropic Messages SSE events → OpenAI chat completion chunks: pure, no I/O.

One :class:`StreamTranslator` per stream holds that stream's state: id and model from
``message_start``, the OpenAI tool-call index of each ``tool_use`` block (streamed
``input_json_delta`` become argument deltas of that call), and the cumulative usage, sent in a
final choiceless chunk on ``message_stop``. An ``error`` event raises ``ErrorEvent`` with the
HTTP status Anthropic pairs with its error type, so the provider treats it as it would that
status.
"""

from __future__ import annotations

import time

import msgspec

from app.providers.anthropic_wire.reply import (
    AnthropicMessage,
    AnthropicUsage,
    ContentBlock,
    finish_reason,
    openai_usage,
)
from app.providers.wire_format import ErrorEvent
from app.wire.response import ChatCompletionChunk, ChunkChoice, Delta, FunctionCall, ToolCallDelta

# Anthropic error types (in error bodies and stream error events) → the HTTP status they come with.
ERROR_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class _Delta(msgspec.Struct):
    type: str = ""
    text: str = ""
    thinking: str = ""
    partial_json: str = ""
    stop_reason: str | None = None


class ErrorInfo(msgspec.Struct):
    type: str = ""
    message: str = ""


class StreamEvent(msgspec.Struct):
    """Every Anthropic SSE event in one shape; ``type`` says which fields are set."""

    type: str
    index: int = 0
    message: AnthropicMessage | None = None
    content_block: ContentBlock | None = None
    delta: _Delta | None = None
    usage: AnthropicUsage | None = None
    error: ErrorInfo | None = None


event_decoder = msgspec.json.Decoder(StreamEvent)


class StreamTranslator:
    """Turns one stream's events into OpenAI chunks; holds that stream's state."""

    __slots__ = (
        "cached_tokens",
        "completion_tokens",
        "created",
        "done",
        "finished",
        "id",
        "model",
        "prompt_tokens",
        "tool_index",
    )

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.tool_index: dict[int, int] = {}  # content block index → OpenAI tool call index
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.completion_tokens = 0
        self.finished = False  # message_stop seen
        self.done = False  # the same: nothing follows message_stop

    def read(self, data: bytes) -> ChatCompletionChunk | None:
        """One SSE payload; raises ``msgspec.MsgspecError`` or, on an error event, ErrorEvent."""
        event = event_decoder.decode(data)
        if event.type == "error":
            error_type = event.error.type if event.error else ""
            raise ErrorEvent(ERROR_STATUSES.get(error_type, 500))
        return self.feed(event)

    def feed(self, event: StreamEvent) -> ChatCompletionChunk | None:
        kind = event.type
        if kind == "content_block_delta" and event.delta is not None:
            return self._delta(event.index, event.delta)
        if kind == "message_start" and event.message is not None:
            self.id, self.model = event.message.id, event.message.model
            self._count(event.message.usage)
            return self._chunk(Delta(role="assistant", content=""))
        if kind == "content_block_start" and event.content_block is not None:
            return self._start(event.index, event.content_block)
        if kind == "message_delta":
            self._count(event.usage)
            if event.delta is not None and event.delta.stop_reason is not None:
                return self._chunk(Delta(), finish_reason(event.delta.stop_reason))
            return None
        if kind == "message_stop":
            self.finished = self.done = True
            final = ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[]
            )
            final.usage = openai_usage(
                self.prompt_tokens, self.completion_tokens, self.cached_tokens
            )
            return final
        return None  # ping, content_block_stop, and event types added after this was written

    def _start(self, index: int, block: ContentBlock) -> ChatCompletionChunk | None:
        if block.type == "tool_use":
            position = self.tool_index[index] = len(self.tool_index)
            call = ToolCallDelta(position, block.id, "function", FunctionCall(block.name, ""))
            return self._chunk(Delta(tool_calls=[call]))
        if block.type == "text" and block.text:
            return self._chunk(Delta(content=block.text))
        if block.type == "thinking" and block.thinking:
            return self._chunk(Delta(reasoning_content=block.thinking))
        return None

    def _delta(self, index: int, delta: _Delta) -> ChatCompletionChunk | None:
        if delta.type == "text_delta":
            return self._chunk(Delta(content=delta.text))
        if delta.type == "thinking_delta":
            return self._chunk(Delta(reasoning_content=delta.thinking))
        if delta.type == "input_json_delta" and delta.partial_json and index in self.tool_index:
            call = ToolCallDelta(
                self.tool_index[index], function=FunctionCall(arguments=delta.partial_json)
            )
            return self._chunk(Delta(tool_calls=[call]))
        return None  # signature_delta, citations_delta: nothing OpenAI-shaped to say

    def _count(self, usage: AnthropicUsage | None) -> None:
        # Anthropic's counts are cumulative: the latest event has the totals.
        if usage is None:
            return
        if usage.input_tokens is not None:
            self.prompt_tokens = usage.prompt_tokens
            self.cached_tokens = usage.cache_read_input_tokens or 0
        if usage.output_tokens is not None:
            self.completion_tokens = usage.output_tokens

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )
