"""Rebuilds whole choices from stream deltas, for the inference record and the usage count."""

from __future__ import annotations

from app.providers.base import now
from app.wire.response import AssistantMessage, ChatCompletionChunk, Choice, FunctionCall, ToolCall


class _ChoiceState:
    __slots__ = ("content", "finish_reason", "reasoning", "tools")

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tools: dict[int, ToolCall] = {}
        self.finish_reason: str | None = None


class StreamAccumulator:
    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceState] = {}
        self.first_token_at: float | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            state = self._choices.get(choice.index)
            if state is None:
                state = self._choices[choice.index] = _ChoiceState()
            delta = choice.delta
            if delta.content:
                state.content.append(delta.content)
            if delta.reasoning_content:
                state.reasoning.append(delta.reasoning_content)
            for call in delta.tool_calls or ():
                position = call.index or 0
                tool = state.tools.get(position)
                if tool is None:
                    tool = state.tools[position] = ToolCall(call.id or "", FunctionCall())
                if call.id:
                    tool.id = call.id
                if call.function is not None:
                    tool.function.name += call.function.name or ""
                    tool.function.arguments += call.function.arguments or ""
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
            if self.first_token_at is None and (
                delta.content or delta.reasoning_content or delta.tool_calls
            ):
                self.first_token_at = now()

    def choices(self) -> list[Choice]:
        result = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message = AssistantMessage(
                content="".join(state.content) if state.content or not state.tools else None
            )
            if state.reasoning:
                message.reasoning_content = "".join(state.reasoning)
            if state.tools:
                message.tool_calls = [state.tools[i] for i in sorted(state.tools)]
            result.append(Choice(index=index, message=message, finish_reason=state.finish_reason))
        return result
