"""A fake OpenAI-compatible server on 127.0.0.1, run in a background thread.

One server, many behaviours, chosen by the first path segment of the base URL:
``/ok/v1`` answers chat completions (echo, tools, n, streaming, streamed tool calls), ``/fail500/v1`` returns 500, ``/fail429/v1``
returns 429, ``/reject400/v1`` returns 400, ``/stall/v1`` never answers in time, ``/reset/v1``
drops the connection, ``/badsse/v1`` streams an event that is not JSON, ``/slowstream/v1`` streams
slowly (for disconnect tests), ``/usage/v1`` answers like ``/ok/v1`` with :data:`SCRIPTED_USAGE`
(cached and reasoning token details included, streamed too). ``/ok/v1/embeddings`` (and
``/fail500/v1/embeddings``) serve embeddings, kept under ``<behaviour>:embeddings``. Every
request body is kept for assertions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from tests.support.aio_server import ThreadedServer, free_port

__all__ = ["SCRIPTED_USAGE", "FakeOpenAI", "free_port"]

# The exact usage ``/usage/v1`` reports (for cost tests).
SCRIPTED_USAGE: dict[str, Any] = {
    "prompt_tokens": 1234,
    "completion_tokens": 567,
    "total_tokens": 1801,
    "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0},
}


class FakeOpenAI(ThreadedServer):
    route = "/{behaviour}/v1/{endpoint:chat/completions|embeddings}"

    def __init__(self) -> None:
        super().__init__()
        self.disconnects: dict[str, int] = defaultdict(int)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = request.match_info["behaviour"]
        body = await request.json()
        body["_headers"] = dict(request.headers)
        if request.match_info["endpoint"] == "embeddings":
            self.requests[behaviour + ":embeddings"].append(body)
            if behaviour == "fail500":
                return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
            return web.json_response(_embeddings(body))
        self.requests[behaviour].append(body)
        if behaviour.startswith("echo"):  # a provider that quotes the credential back
            return await self._echo(request, behaviour, body)
        if behaviour == "fail500":
            return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
        if behaviour == "fail429":
            return web.json_response({"error": {"message": "slow down"}}, status=429)
        if behaviour == "reject400":
            return web.json_response({"error": {"message": "context length exceeded"}}, status=400)
        if behaviour == "stall":
            await asyncio.sleep(30)
        if behaviour == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if body.get("stream"):
            return await self._stream(request, behaviour, body)
        completion = _completion(body)
        if behaviour == "usage":
            completion["usage"] = SCRIPTED_USAGE
        return web.json_response(completion)

    async def _echo(
        self, request: web.Request, behaviour: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        """``echo401``: a 401 whose message and headers quote the key; ``echo``: an answer
        that does (streamed or not), as some providers and some models do."""
        authorization = request.headers.get("authorization", "")
        key = authorization.removeprefix("Bearer ")
        headers = {"x-echo-authorization": authorization, "x-echo-key": key}
        if behaviour == "echo401":
            message = f"Incorrect API key provided: {key}. Bearer {key}"
            return web.json_response({"error": {"message": message}}, status=401, headers=headers)
        body["_echo"] = key
        if body.get("stream"):
            return await self._stream(request, behaviour, body, headers)
        return web.json_response(_completion(body), headers=headers)

    async def _stream(
        self,
        request: web.Request,
        behaviour: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **(headers or {})}
        )
        await response.prepare(request)
        if behaviour == "badsse":
            await response.write(
                b'data: {"id": "x", "choices": [{"index": 0, "delta": {"content": "ok"}}]}\n\n'
            )
            await response.write(b"data: {this is not json\n\n")
            return response
        pieces = _answer(body).split(" ")
        delay = 0.2 if behaviour == "slowstream" else 0
        try:
            await response.write(_event(body, {"role": "assistant", "content": ""}))
            if body.get("tools"):  # the tool call of _completion, its arguments in two pieces
                call = _completion(body)["choices"][0]["message"]["tool_calls"][0]
                start = {
                    "index": 0,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                await response.write(_event(body, {"tool_calls": [start]}))
                for piece in (call["function"]["arguments"][:3], call["function"]["arguments"][3:]):
                    await response.write(
                        _event(
                            body, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                        )
                    )
                await response.write(_event(body, {}, finish="tool_calls"))
                await response.write(b"data: [DONE]\n\n")
                return response
            for text in _deltas(pieces, behaviour):
                if delay:
                    await asyncio.sleep(delay)
                await response.write(_event(body, {"content": text}))
            await response.write(_event(body, {}, finish="stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {
                    "prompt_tokens": 11,
                    "completion_tokens": len(pieces),
                    "total_tokens": 11 + len(pieces),
                }
                if behaviour == "usage":
                    usage = SCRIPTED_USAGE
                await response.write(
                    b"data: "
                    + json.dumps(
                        {
                            "id": "up",
                            "object": "chat.completion.chunk",
                            "created": 1,
                            "model": body["model"],
                            "choices": [],
                            "usage": usage,
                        }
                    ).encode()
                    + b"\n\n"
                )
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects[behaviour] += 1
            raise
        return response


def _deltas(pieces: list[str], behaviour: str) -> list[str]:
    """The streamed text deltas: a word each; ``echosplit`` streams the last word (the key it
    echoes) in two halves, the way a model's tokens split a key."""
    texts = [piece if i == 0 else " " + piece for i, piece in enumerate(pieces)]
    if behaviour == "echosplit":
        last = texts.pop()
        middle = len(last) // 2
        texts += [last[:middle], last[middle:]]
    return texts


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] == "user":
            content = message["content"]
            return (
                content
                if isinstance(content, str)
                else " ".join(p.get("text", "") for p in content)
            )
    return ""


def _answer(body: dict[str, Any]) -> str:
    if "_echo" in body:
        return f"echo: your key is {body['_echo']}"
    return f"echo: {_last_user(body)}"


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    n = body.get("n") or 1
    message: dict[str, Any] = {"role": "assistant", "content": _answer(body)}
    finish = "stop"
    tools = body.get("tools")
    if tools:
        name = tools[0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": '{"q": "x"}'},
                }
            ],
        }
        finish = "tool_calls"
    if "reasoner" in body["model"]:
        message["reasoning_content"] = "thinking hard"
    choice_extra = {"logprobs": {"content": []}} if body.get("logprobs") else {}
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": i, "message": message, "finish_reason": finish, **choice_extra}
            for i in range(n)
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """``/embeddings``: vector i is [i, len(input i), 0.5] (so tests can check order), and
    usage counts 3 tokens per input."""
    given = body["input"]
    items = [given] if isinstance(given, str) else given
    return {
        "object": "list",
        "model": body["model"],
        "data": [
            {"object": "embedding", "index": i, "embedding": [float(i), float(len(x)), 0.5]}
            for i, x in enumerate(items)
        ],
        "usage": {"prompt_tokens": 3 * len(items), "total_tokens": 3 * len(items)},
    }


def _event(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": body["model"],
        "choices": [
            {"index": i, "delta": delta, "finish_reason": finish} for i in range(body.get("n") or 1)
        ],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"
