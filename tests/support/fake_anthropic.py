"""A fake Anthropic Messages API on 127.0.0.1, run in a background thread.

It checks each request the way the real API does (headers, alternating roles, block types,
tool_use answered by tool_result, thinking budget, no OpenAI-only fields) and answers 400
``invalid_request_error`` naming the problem, so a translation bug fails loudly.

Behaviours, by the first path segment of the base URL (``url("ok")``):
``ok`` answers like ``fake_openai`` does (``echo: <last user text>``; with tools, a call of the
first tool with ``{"q": "x"}``; after tool results, a text summing them up; a thinking block when
thinking is on), ``parallel`` calls every tool at once, ``overloaded`` is a 529, ``reject`` a
400, ``midstream`` streams a little then an ``error`` event, ``slow`` sends its headers (and
``message_start``) at once but its first token ``slow_s`` later, ``stall`` never answers.
``fail_next(behaviour, status, ...)`` makes the next requests of any behaviour fail first.
Every request is kept (body, headers, arrival time) for assertions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

from tests.support.aio_server import ThreadedServer

ALLOWED_FIELDS = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
    "output_config",
    "service_tier",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class Invalid(Exception):
    pass


class FakeAnthropic(ThreadedServer):
    route = "/{behaviour}/v1/messages"

    def __init__(self, api_key: str = "sk-ant-test") -> None:
        super().__init__()
        self.api_key = api_key
        self.slow_s = 1.0
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # time.monotonic() per request
        self._failures: dict[str, deque[tuple[int, dict[str, str]]]] = defaultdict(deque)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"

    def fail_next(
        self, behaviour: str, status: int, *, times: int = 1, retry_after: str | None = None
    ) -> None:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self._failures[behaviour].append((status, headers))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = request.match_info["behaviour"]
        body = await request.json()
        self.requests[behaviour].append({**body, "_headers": dict(request.headers)})
        self.arrivals[behaviour].append(time.monotonic())
        if self._failures[behaviour]:
            status, headers = self._failures[behaviour].popleft()
            return _error(status, f"scripted failure {status}", headers)
        if behaviour.startswith("echo"):  # a provider that quotes the credential back
            return await self._echo(request, behaviour, body)
        try:
            _check_headers(request, self.api_key)
            _check_body(body)
        except Invalid as exc:
            return _error(400, str(exc))
        if behaviour == "overloaded":
            return _error(529, "Overloaded")
        if behaviour == "reject":
            return _error(400, "prompt is too long: 300000 tokens > 200000 maximum")
        if behaviour == "stall":
            await asyncio.sleep(30)
        if behaviour == "slow" and not body.get("stream"):
            await asyncio.sleep(self.slow_s)
        message = _answer(body, parallel=behaviour == "parallel")
        if body.get("stream"):
            return await self._stream(request, behaviour, message)
        return web.json_response(message)

    async def _echo(
        self, request: web.Request, behaviour: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        """``echo401``: ``invalid x-api-key: <key>`` in the error and its headers; ``echo``: an
        answer that quotes the key (streamed or not); ``echosplit``: the same in two text blocks,
        split inside the key."""
        key = request.headers.get("x-api-key", "")
        headers = {"x-echo-api-key": key, "www-authenticate": f"Bearer {key}"}
        if behaviour == "echo401":
            return _error(401, f"invalid x-api-key: {key}", headers)
        message = _answer(body, parallel=False)
        message["content"] = [{"type": "text", "text": f"your key is {key}"}]
        if behaviour == "echosplit":  # the key in two text blocks, so in two stream deltas
            middle = len(key) // 2
            message["content"] = [
                {"type": "text", "text": f"your key is {key[:middle]}"},
                {"type": "text", "text": key[middle:]},
            ]
        if body.get("stream"):
            return await self._stream(request, behaviour, message, headers)
        return web.json_response(message, headers=headers)

    async def _stream(
        self,
        request: web.Request,
        behaviour: str,
        message: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **(headers or {})}
        )
        await response.prepare(request)

        async def send(kind: str, data: dict[str, Any]) -> None:
            await response.write(
                f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()
            )

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        await send("message_start", {"message": start})
        await send("ping", {})
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
        if behaviour == "midstream":
            await send(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            )
            await send(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": "partial"}},
            )
            await send("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
            return response
        for index, block in enumerate(message["content"]):
            await _stream_block(send, index, block)
        await send(
            "message_delta",
            {
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                },
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
        await send("message_stop", {})
        return response


async def _stream_block(send: Any, index: int, block: dict[str, Any]) -> None:
    kind = block["type"]
    if kind == "text":
        await send(
            "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
        )
        words = block["text"].split(" ")
        for i, word in enumerate(words):
            await send(
                "content_block_delta",
                {
                    "index": index,
                    "delta": {"type": "text_delta", "text": word if i == 0 else " " + word},
                },
            )
    elif kind == "thinking":
        await send(
            "content_block_start",
            {
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        await send(
            "content_block_delta",
            {"index": index, "delta": {"type": "thinking_delta", "thinking": block["thinking"]}},
        )
        await send(
            "content_block_delta",
            {"index": index, "delta": {"type": "signature_delta", "signature": block["signature"]}},
        )
    else:  # tool_use: the arguments arrive as JSON fragments
        await send("content_block_start", {"index": index, "content_block": {**block, "input": {}}})
        raw = json.dumps(block["input"])
        for piece in (raw[:3], raw[3:]):
            await send(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
    await send("content_block_stop", {"index": index})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
    }
    return web.json_response(body, status=status, headers=headers)


# -- what the real API insists on ---------------------------------------------------------------


def _check_headers(request: web.Request, api_key: str) -> None:
    if request.headers.get("x-api-key") != api_key:
        raise Invalid("x-api-key header is missing or wrong")
    if not request.headers.get("anthropic-version"):
        raise Invalid("anthropic-version header is required")


def _check_body(body: dict[str, Any]) -> None:
    for key in body:
        if key not in ALLOWED_FIELDS:
            raise Invalid(f"{key}: Extra inputs are not permitted")
    if (
        not isinstance(body.get("model"), str)
        or not isinstance(body.get("max_tokens"), int)
        or body["max_tokens"] < 1
    ):
        raise Invalid("model and max_tokens are required")
    if not 0 <= body.get("temperature", 0) <= 1:
        raise Invalid("temperature: must be between 0 and 1")
    system = body.get("system")
    if (
        system is not None
        and not isinstance(system, str)
        and not all(b.get("type") == "text" and b.get("text") for b in system)
    ):
        raise Invalid("system: only non-empty text blocks are allowed")
    _check_messages(body.get("messages"))
    for tool in body.get("tools") or ():
        if (
            set(tool) - {"name", "description", "input_schema"}
            or tool.get("input_schema", {}).get("type") != "object"
        ):
            raise Invalid(f"tools: malformed tool {tool}")
    choice = body.get("tool_choice")
    if choice is not None and (
        choice.get("type") not in ("auto", "any", "tool", "none")
        or (choice["type"] == "tool") != ("name" in choice)
    ):
        raise Invalid(f"tool_choice: malformed {choice}")
    thinking = body.get("thinking")
    if thinking is not None:
        budget = thinking.get("budget_tokens", 0)
        if thinking.get("type") != "enabled" or not 1024 <= budget < body["max_tokens"]:
            raise Invalid("thinking.budget_tokens: must be >= 1024 and less than max_tokens")
        if "temperature" in body or "top_k" in body:
            raise Invalid("temperature and top_k may not be set when thinking is enabled")
    output = body.get("output_config")
    if output is not None and (
        output.get("format", {}).get("type") != "json_schema" or "schema" not in output["format"]
    ):
        raise Invalid("output_config.format: expected a json_schema format with a schema")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    pending: set[str] = set()  # tool_use ids the next user turn must answer
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: unexpected role {role!r}")
        if (i == 0 and role != "user") or (i and role == messages[i - 1]["role"]):
            raise Invalid(f"messages.{i}: roles must alternate, starting with user")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if (pending or answered) and answered != pending:
            raise Invalid(
                f"messages.{i}: tool_use ids {sorted(pending)} must be answered by tool_result blocks"
            )
        pending = set()
        seen_other = False
        for j, block in enumerate(blocks):
            _check_block(role, block, f"messages.{i}.content.{j}")
            if block["type"] == "tool_result" and seen_other:
                raise Invalid(f"messages.{i}.content.{j}: tool_result blocks must come first")
            seen_other = seen_other or block["type"] != "tool_result"
            if block["type"] == "tool_use":
                pending.add(block["id"])


def _check_block(role: str, block: dict[str, Any], where: str) -> None:
    kind = block.get("type")
    allowed = {
        "user": {"text", "image", "document", "tool_result"},
        "assistant": {"text", "tool_use", "thinking"},
    }[role]
    if kind not in allowed:
        raise Invalid(f"{where}.type: {kind!r} is not allowed in a {role} message")
    if kind == "text" and not block.get("text"):
        raise Invalid(f"{where}: text content blocks must be non-empty")
    if kind in ("image", "document"):
        source = block.get("source") or {}
        if source.get("type") == "base64":
            if not source.get("media_type") or not source.get("data"):
                raise Invalid(f"{where}.source: base64 needs media_type and data")
        elif not (source.get("type") == "url" and source.get("url", "").startswith("http")):
            raise Invalid(f"{where}.source: expected base64 or url")
    if kind == "tool_use" and not (
        block.get("id") and block.get("name") and isinstance(block.get("input"), dict)
    ):
        raise Invalid(f"{where}: tool_use needs id, name and an input object")
    if kind == "tool_result" and not block.get("tool_use_id"):
        raise Invalid(f"{where}: tool_result needs tool_use_id")


# -- answers ------------------------------------------------------------------------------------


def _answer(body: dict[str, Any], *, parallel: bool) -> dict[str, Any]:
    last = body["messages"][-1]
    blocks = (
        [{"type": "text", "text": last["content"]}]
        if isinstance(last["content"], str)
        else last["content"]
    )
    results = [b for b in blocks if b["type"] == "tool_result"]
    text = " ".join(b["text"] for b in blocks if b["type"] == "text")
    tools = body.get("tools") or []
    choice = (body.get("tool_choice") or {}).get("type")
    content: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") == "enabled" or "reasoner" in body["model"]:
        content.append({"type": "thinking", "thinking": "thinking hard", "signature": "sig-123"})
    stop_reason, stop_sequence = "end_turn", None
    if results:
        content.append(
            {"type": "text", "text": "tool results: " + ", ".join(_result_text(r) for r in results)}
        )
    elif tools and choice != "none":
        chosen = tools if parallel else [tools[0]]
        if choice == "tool":
            chosen = [t for t in tools if t["name"] == body["tool_choice"]["name"]]
        content += [
            {"type": "tool_use", "id": f"toolu_{i}", "name": t["name"], "input": {"q": "x"}}
            for i, t in enumerate(chosen)
        ]
        stop_reason = "tool_use"
    else:
        answer = json.dumps({"answer": text}) if body.get("output_config") else f"echo: {text}"
        for marker in body.get("stop_sequences") or ():
            if marker in answer:
                answer, stop_reason, stop_sequence = (
                    answer[: answer.index(marker)],
                    "stop_sequence",
                    marker,
                )
        words = answer.split(" ")
        if len(words) > body["max_tokens"]:
            answer, stop_reason = " ".join(words[: body["max_tokens"]]), "max_tokens"
        content.append({"type": "text", "text": answer})
    output = sum(len(b.get("text", "").split()) for b in content) or 7
    return {
        "id": "msg_fake_1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": 9, "cache_read_input_tokens": 2, "output_tokens": output},
    }


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content or ())
