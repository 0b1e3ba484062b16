"""Embedding calls: the ``openai`` provider's ``/embeddings`` and the deterministic ``dummy``.

The pipeline asks :func:`embed` for the vectors of a list of inputs on one route; like chat,
a remote call goes through the shared :class:`Upstream` (the process's pooled HTTP client) and
every failure becomes a :class:`ProviderError` whose ``kind`` decides whether the next route
may be tried. The upstream is always asked for floats (``encoding_format`` is the gateway's
business towards its client). The ``dummy`` answers with :func:`dummy_embedding` vectors of
the model's configured ``dimensions`` (or the request's), and estimates its token count.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import aiohttp
import msgspec

from app.config.schema import DummyProviderConfig, OpenAIProviderConfig, ProviderConfig
from app.providers.base import ProviderError
from app.providers.dummy_content import dummy_embedding
from app.providers.tokens import count_tokens
from app.providers.upstream import Upstream, http_error

SingleInput = str | list[int]


class EmbeddingsCall(msgspec.Struct, frozen=True, kw_only=True):
    """What one route is asked: the provider's model name, the inputs, the options."""

    model: str
    inputs: Sequence[SingleInput]
    dimensions: int | None = None  # the request's, else the model's configured one
    user: str | None = None


class EmbeddingsReply(msgspec.Struct, kw_only=True):
    vectors: list[list[float]]
    prompt_tokens: int
    usage_estimated: bool
    raw_request: bytes
    raw_response: bytes  # the upstream's body with its vectors left out (see _summary)


class _Item(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0


class _Reply(msgspec.Struct):
    data: list[_Item]
    usage: _Usage | None = None
    model: str = ""


_reply_decoder = msgspec.json.Decoder(_Reply)
_encoder = msgspec.json.Encoder()


async def embed(
    name: str, config: ProviderConfig, call: EmbeddingsCall, upstream: Upstream
) -> EmbeddingsReply:
    """The vectors of ``call.inputs``, in order, from provider ``name``."""
    if isinstance(config, DummyProviderConfig):
        return dummy_embeddings(call)
    if isinstance(config, OpenAIProviderConfig):
        return await openai_embeddings(name, config, call, upstream)
    raise ProviderError(name, "this provider type serves no embeddings", kind="config")


def dummy_embeddings(call: EmbeddingsCall) -> EmbeddingsReply:
    dimensions = call.dimensions or 256
    vectors = [dummy_embedding(item, dimensions) for item in call.inputs]
    tokens = sum(count_tokens(x) if isinstance(x, str) else len(x) for x in call.inputs)
    raw_request = _encoder.encode(_request_body(call))
    summary = {"object": "list", "model": call.model, "embeddings": len(vectors)}
    return EmbeddingsReply(
        vectors=vectors,
        prompt_tokens=tokens,
        usage_estimated=True,
        raw_request=raw_request,
        raw_response=_encoder.encode(summary),
    )


async def openai_embeddings(
    name: str, config: OpenAIProviderConfig, call: EmbeddingsCall, upstream: Upstream
) -> EmbeddingsReply:
    body = _encoder.encode(_request_body(call))
    url = config.base_url.rstrip("/") + "/embeddings"
    headers = {"Content-Type": "application/json", **config.headers}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise _sent(
                ProviderError(
                    name, f"environment variable {config.api_key_env} is not set", kind="config"
                ),
                body,
            )
        headers["Authorization"] = f"Bearer {key}"
    timeout = aiohttp.ClientTimeout(total=config.timeout_s, sock_connect=config.connect_timeout_s)
    try:
        response = await upstream.send(url, body, headers, timeout)
        try:
            raw = await response.read()
        finally:
            response.release()
    except TimeoutError:
        error = ProviderError(
            name, f"no complete response within {config.timeout_s:g}s", kind="timeout"
        )
        raise _sent(error, body) from None
    except aiohttp.ClientError as exc:
        error = ProviderError(
            name, f"connection failed: {exc or type(exc).__name__}", kind="connect"
        )
        raise _sent(error, body) from None
    if response.status >= 400:
        raise _sent(http_error(name, response.status, raw, response.headers), body)
    try:
        reply = _reply_decoder.decode(raw)
    except msgspec.MsgspecError as exc:
        error = ProviderError(
            name, f"malformed embeddings reply: {exc}", kind="protocol", raw_response=raw[:2000]
        )
        raise _sent(error, body) from None
    items = sorted(reply.data, key=lambda item: item.index)
    if len(items) != len(call.inputs):
        error = ProviderError(
            name,
            f"{len(items)} embeddings for {len(call.inputs)} inputs",
            kind="protocol",
            raw_response=raw[:2000],
        )
        raise _sent(error, body)
    vectors = [item.embedding for item in items]
    if reply.usage is not None:
        tokens, estimated = reply.usage.prompt_tokens, False
    else:
        tokens = sum(count_tokens(x) if isinstance(x, str) else len(x) for x in call.inputs)
        estimated = True
    return EmbeddingsReply(
        vectors=vectors,
        prompt_tokens=tokens,
        usage_estimated=estimated,
        raw_request=body,
        raw_response=_summary(reply, len(vectors)),
    )


def _request_body(call: EmbeddingsCall) -> dict[str, Any]:
    body: dict[str, Any] = {"model": call.model, "input": list(call.inputs)}
    body["encoding_format"] = "float"
    if call.dimensions is not None:
        body["dimensions"] = call.dimensions
    if call.user is not None:
        body["user"] = call.user
    return body


def _summary(reply: _Reply, count: int) -> bytes:
    """The upstream reply as logged: its model and usage, not its vectors."""
    usage = {"prompt_tokens": reply.usage.prompt_tokens} if reply.usage else None
    return _encoder.encode(
        {"object": "list", "model": reply.model, "embeddings": count, "usage": usage}
    )


def _sent(error: ProviderError, body: bytes) -> ProviderError:
    error.raw_request = body
    return error
