"""The ``dummy`` provider: a real provider that answers locally, for demos, tests and benchmarks.

It honours what a model would (``n``, ``max_tokens``, ``stop``, tools, a forced
``tool_choice``, ``response_format``) and paces its output by
``ttft_ms`` and ``tokens_per_s``: the first token after ``ttft_ms``, each further one
``1/tokens_per_s`` later. So timings, streaming and cancellation behave as they do against a
real backend, and the gateway's reported timings can be checked against known values. It takes
the :class:`Upstream` like every provider, and never uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from app.config.schema import DummyProviderConfig
from app.providers.base import GeneratorStream, ProviderError, ProviderReply, ProviderRequest, now
from app.providers.breaker import CircuitBreaker
from app.providers.dummy_content import json_object_answer, schema_answer, tool_results_answer
from app.providers.tokens import count_prompt_tokens, message_text
from app.providers.upstream import Upstream
from app.wire.response import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    ToolCall,
    ToolCallDelta,
    Usage,
    encoder,
)

_TOKEN = re.compile(r"\s*\S+")


class _Answer(msgspec.Struct):
    text: str
    tool_call: ToolCall | None
    finish_reason: str
    tokens: list[str]


class DummyProvider:
    def __init__(self, name: str, config: DummyProviderConfig, breaker: CircuitBreaker) -> None:
        self.name = name
        self.config = config
        self.breaker = breaker
        self._ttft = config.ttft_ms / 1000
        self._per_token = 1 / config.tokens_per_s if config.tokens_per_s else 0.0
        self._ids = itertools.count()

    async def complete(self, request: ProviderRequest, upstream: Upstream) -> ProviderReply:
        raw_request = _encode_request(request)
        answer = self._answer(request)
        deadline = request.first_byte_timeout
        if deadline is not None and self._ttft > deadline:
            await asyncio.sleep(deadline)
            raise ProviderError(
                self.name,
                f"no first byte within {deadline * 1000:g} ms (max_ttft_ms)",
                kind="slow_first_token",
            )
        if self._ttft:
            await asyncio.sleep(self._ttft)
        first_byte_at = now()
        if self._per_token and len(answer.tokens) > 1:
            await asyncio.sleep(self._per_token * (len(answer.tokens) - 1))
        n = request.params.get("n") or 1
        message = (
            AssistantMessage(content=None, tool_calls=[answer.tool_call])
            if answer.tool_call
            else AssistantMessage(content=answer.text)
        )
        completion = ChatCompletion(
            id=self._id(),
            created=int(time.time()),
            model=request.model,
            choices=[
                Choice(index=i, message=message, finish_reason=answer.finish_reason)
                for i in range(n)
            ],
            usage=self._usage(request, answer, n),
        )
        return ProviderReply(completion, raw_request, encoder.encode(completion), first_byte_at)

    def stream(self, request: ProviderRequest, upstream: Upstream) -> GeneratorStream:
        return GeneratorStream(_encode_request(request), self._chunks(request))

    async def _chunks(self, request: ProviderRequest) -> AsyncIterator[list[ChatCompletionChunk]]:
        answer = self._answer(request)
        n = request.params.get("n") or 1
        ident, created = self._id(), int(time.time())

        def chunk(deltas: list[Delta], finish: str | None = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(
                id=ident,
                created=created,
                model=request.model,
                choices=[
                    ChunkChoice(index=i, delta=d, finish_reason=finish)
                    for i, d in enumerate(deltas)
                ],
            )

        if self._ttft:
            await asyncio.sleep(self._ttft)
        yield [chunk([Delta(role="assistant", content="") for _ in range(n)])]
        if answer.tool_call:
            call = answer.tool_call
            head = ToolCallDelta(0, call.id, "function", FunctionCall(call.function.name, ""))
            yield [chunk([Delta(tool_calls=[head]) for _ in range(n)])]
        for i, token in enumerate(answer.tokens):
            if i and self._per_token:
                await asyncio.sleep(self._per_token)
            if answer.tool_call:
                delta = Delta(tool_calls=[ToolCallDelta(0, function=FunctionCall(arguments=token))])
            else:
                delta = Delta(content=token)
            yield [chunk([delta] * n)]
        # Always, like a server asked for stream usage: the pipeline decides what the client sees.
        final = chunk([])
        final.usage = self._usage(request, answer, n)
        yield [chunk([Delta()] * n, answer.finish_reason), final]

    def _answer(self, request: ProviderRequest) -> _Answer:
        """The answer: a tool call when ``tool_choice`` forces one, or in ``tool_call`` mode
        until the tools have answered; else text shaped by ``response_format`` when there is
        one, else by the mode."""
        mode = self.config.mode
        prompt = _last_user_text(request.messages)
        tool_results = tool_results_answer(request.messages)
        tool = _tool_to_call(request, self.config.tool_name, call_by_mode=mode == "tool_call")
        if tool is not None:
            name, parameters = tool
            arguments = _arguments(prompt, parameters)
            call = ToolCall(f"call_{uuid.uuid4().hex[:24]}", FunctionCall(name, arguments))
            return _Answer("", call, "tool_calls", _TOKEN.findall(arguments))
        formatted = _formatted(request.params.get("response_format"), prompt)
        if formatted is not None:
            text = formatted
        elif mode == "tool_call" and tool_results is not None:
            text = tool_results
        elif mode == "json":
            text = json_object_answer(prompt)
        elif mode == "fixed":
            text = self.config.text
        else:
            text = prompt
        return _truncate(text, request.params)

    def _usage(self, request: ProviderRequest, answer: _Answer, n: int) -> Usage:
        prompt = count_prompt_tokens(request.messages)
        completion = len(answer.tokens) * n
        return Usage(prompt, completion, prompt + completion)

    def _id(self) -> str:
        return f"chatcmpl-dummy-{next(self._ids)}"


def _truncate(text: str, params: dict[str, Any]) -> _Answer:
    finish = "stop"
    stop = params.get("stop")
    for marker in [stop] if isinstance(stop, str) else stop or ():
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    tokens = _TOKEN.findall(text)
    limit = params.get("max_completion_tokens") or params.get("max_tokens")
    if limit is not None and len(tokens) > limit:
        tokens, finish = tokens[:limit], "length"
        text = "".join(tokens)
    return _Answer(text, None, finish, tokens)


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message_text(message)
    return ""


def _tool_to_call(
    request: ProviderRequest, default: str, *, call_by_mode: bool
) -> tuple[str, Any] | None:
    """The tool to call (name, parameter schema), or None to answer with text.

    A ``tool_choice`` naming a function forces that one, ``required`` the first offered tool
    not yet called in the conversation (so an agent's final-output tool comes after its
    tools), ``none`` forbids calls. Otherwise the ``tool_call`` mode calls the first offered
    tool (or ``default``) until the conversation ends with tool results.
    """
    choice = request.params.get("tool_choice")
    tools = [f for t in request.params.get("tools") or () if (f := _get(t, "function")) is not None]
    offered = [(str(_get(f, "name")), _get(f, "parameters")) for f in tools]
    if choice == "none":
        return None
    named = _get(_get(choice, "function"), "name") if isinstance(choice, dict) else None
    if named is not None:
        return next((tool for tool in offered if tool[0] == named), (str(named), None))
    if choice == "required" and offered:
        called = {call.function.name for m in request.messages for call in (m.tool_calls or ())}
        return next((tool for tool in offered if tool[0] not in called), offered[0])
    if call_by_mode and tool_results_answer(request.messages) is None:
        return offered[0] if offered else (default, None)
    return None


def _arguments(prompt: str, parameters: Any) -> str:
    """``{"query": prompt}``, or an object valid against the tool's parameters when they
    declare properties and no ``query`` (so a structured-output tool gets parsable input)."""
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if properties and "query" not in properties:
        return schema_answer(parameters)
    return msgspec.json.encode({"query": prompt}).decode()


def _formatted(response_format: Any, prompt: str) -> str | None:
    """The text ``response_format`` asks for: a schema-valid object for ``json_schema``, a JSON
    object for ``json_object``; None for ``text`` or no format."""
    kind = _get(response_format, "type")
    if kind == "json_object":
        return json_object_answer(prompt)
    if kind == "json_schema":
        schema = _get(_get(response_format, "json_schema"), "schema")
        return schema_answer(schema if isinstance(schema, dict) else {})
    return None


def _get(value: Any, name: str) -> Any:
    """A field of a request Struct or of the same thing as a dict (variant extra_body)."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _encode_request(request: ProviderRequest) -> bytes:
    return encoder.encode(
        {"model": request.model, "messages": request.messages, **request.params, **request.extra}
    )
