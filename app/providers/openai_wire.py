"""The ``openai`` wire format: any server that speaks OpenAI's chat completions API.

Pure, no I/O. Requests are forwarded as they are, filtered to the parameters the server
declares (``params``, see docs/providers.md); replies and chunks are already OpenAI-shaped, so
reading them is decoding plus noticing where a stream may end.
"""

from __future__ import annotations

from typing import Any

from app.config.params import KNOWN_PARAMS, accepted_params
from app.config.schema import OpenAIProviderConfig
from app.providers.base import ProviderRequest
from app.providers.wire_format import ErrorEvent
from app.wire.response import (
    ChatCompletion,
    ChatCompletionChunk,
    chunk_decoder,
    completion_decoder,
    encoder,
)

DONE = b"[DONE]"


class OpenAIWire:
    label = "OpenAI"
    reply_name = "completion"
    unfinished = "stream ended before a finish_reason or [DONE]"

    __slots__ = ("_accepted", "_headers", "_stream_usage", "url")

    def __init__(self, config: OpenAIProviderConfig) -> None:
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Content-Type": "application/json", **config.headers}
        accepted = accepted_params(config.params)
        # None: the server takes every parameter the gateway knows, so there is nothing to filter.
        self._accepted = None if accepted >= KNOWN_PARAMS else accepted
        self._stream_usage = "stream_options" in accepted

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self._headers)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    def body(self, request: ProviderRequest) -> bytes:
        params = request.params
        if request.drop_params and self._accepted is not None:
            params = {k: v for k, v in params.items() if k in self._accepted}
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            **params,
            **request.extra,
        }
        if request.stream:
            body["stream"] = True
            # Asked for whenever the server takes it (even if the client did not), so that recorded
            # token counts are exact; otherwise only when the client insists (drop_params false).
            if self._stream_usage or (request.include_usage and not request.drop_params):
                body["stream_options"] = {"include_usage": True}
        return encoder.encode(body)

    def completion(self, raw: bytes) -> ChatCompletion:
        return completion_decoder.decode(raw)

    def reader(self) -> ChunkReader:
        return ChunkReader()


class ChunkReader:
    """One stream: done at ``[DONE]``; finished once a chunk carried a ``finish_reason``."""

    __slots__ = ("done", "finished")

    def __init__(self) -> None:
        self.finished = False
        self.done = False

    def read(self, data: bytes) -> ChatCompletionChunk | None:
        if data == DONE:
            self.done = self.finished = True
            return None
        if data.startswith(b'{"error"'):
            raise ErrorEvent(500)
        chunk = chunk_decoder.decode(data)
        if not self.finished:
            self.finished = any(c.finish_reason for c in chunk.choices)
        return chunk
