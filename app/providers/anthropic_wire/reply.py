"""Anthropic Messages reply → OpenAI chat completion: pure, no I/O.

Text blocks → ``content``, thinking → ``reasoning_content``, ``tool_use`` → ``tool_calls`` (the
input kept as raw JSON, so arguments reach the caller byte for byte). Usage is mapped the OpenAI
way: ``prompt_tokens`` includes cache writes and reads, cache reads also appear as
``prompt_tokens_details.cached_tokens``. The stream translation (``stream.py``) reuses the
structs and the usage and finish-reason mappings defined here.
"""

from __future__ import annotations

import time

import msgspec

from app.wire.response import (
    AssistantMessage,
    ChatCompletion,
    Choice,
    FunctionCall,
    PromptTokensDetails,
    ToolCall,
    Usage,
)

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicUsage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        """OpenAI's prompt_tokens counts cached input too; Anthropic reports it separately."""
        return (
            (self.input_tokens or 0)
            + (self.cache_creation_input_tokens or 0)
            + (self.cache_read_input_tokens or 0)
        )


class ContentBlock(msgspec.Struct):
    type: str
    text: str = ""
    thinking: str = ""
    id: str = ""
    name: str = ""
    input: msgspec.Raw = msgspec.field(
        default_factory=lambda: msgspec.Raw(b"{}")
    )  # raw JSON: the arguments as is


class AnthropicMessage(msgspec.Struct):
    id: str = ""
    model: str = ""
    content: list[ContentBlock] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    usage: AnthropicUsage | None = None


message_decoder = msgspec.json.Decoder(AnthropicMessage)


def to_completion(message: AnthropicMessage) -> ChatCompletion:
    texts, thoughts, calls = [], [], []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, FunctionCall(block.name, bytes(block.input).decode())))
    reply = AssistantMessage(content="".join(texts) if texts or not calls else None)
    if thoughts:
        reply.reasoning_content = "".join(thoughts)
    if calls:
        reply.tool_calls = calls
    usage = message.usage or AnthropicUsage()
    prompt, completion = usage.prompt_tokens, usage.output_tokens or 0
    return ChatCompletion(
        id=message.id,
        created=int(time.time()),
        model=message.model,
        choices=[Choice(index=0, message=reply, finish_reason=finish_reason(message.stop_reason))],
        usage=openai_usage(prompt, completion, usage.cache_read_input_tokens or 0),
    )


def openai_usage(prompt: int, completion: int, cached: int) -> Usage:
    """OpenAI's usage shape; Anthropic's cache reads become ``prompt_tokens_details``."""
    usage = Usage(prompt, completion, prompt + completion)
    if cached:
        usage.prompt_tokens_details = PromptTokensDetails(cached_tokens=cached)
    return usage


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")
