"""A fake OpenAI-compatible upstream whose answer is a known function of the prompt, so every
evaluation score is known exactly (tests/integration/test_evaluations.py).

The system prompt picks the answer: ``MODE upper`` / ``MODE lower`` answer the last user message
in that case, ``MODE json`` wraps it as ``{"answer": ...}``. A user message starting ``JUDGE``
is graded: ``true`` when its ``output:`` line equals its ``reference:`` line; ``SCORE`` answers
the length of its ``output:`` line modulo 5. Behaviours (the first path segment): ``ok``;
``halffail`` answers 500 to every other request; ``slow`` waits 0.25 s first.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.support.aio_server import ThreadedServer


class FakeGrader(ThreadedServer):
    route = "/{behaviour}/v1/chat/completions"

    def __init__(self) -> None:
        super().__init__()
        self._calls = itertools.count()

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = request.match_info["behaviour"]
        body = await request.json()
        self.requests[behaviour].append(body)
        if behaviour == "halffail" and next(self._calls) % 2 == 1:
            return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
        if behaviour == "slow":
            await asyncio.sleep(0.25)
        return web.json_response(
            {
                "id": "chatcmpl-grader",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer(body["messages"])},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )


def answer(messages: list[dict[str, Any]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if user.startswith("JUDGE"):
        fields = _fields(user)
        return "true" if fields.get("output") == fields.get("reference") else "false"
    if user.startswith("SCORE"):
        return str(len(_fields(user).get("output", "")) % 5)
    if system.startswith("MODE upper"):
        return user.upper()
    if system.startswith("MODE lower"):
        return user.lower()
    if system.startswith("MODE json"):
        return json.dumps({"answer": user})
    return user


def _fields(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)
