"""``POST /v1/embeddings``: the request Switchyard accepts and the list it answers with.

Decoding is validation, as for chat (app/wire/request.py): a bad body is a 400 naming the
parameter. ``input`` is one string, a list of strings, one token array or a list of token
arrays (OpenAI's four forms); :func:`inputs` turns each into the list of single inputs.
``encoding_format`` matters: the ``openai`` SDK asks for ``base64`` (little-endian float32)
unless told otherwise, so :func:`encode_vector` serves both forms.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from app.errors import InvalidRequest
from app.wire.limits import Labels
from app.wire.request import PositiveInt, decode_or_400

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
TokenId = Annotated[int, Meta(ge=0)]
SingleInput = str | list[TokenId]


class EmbeddingsRequest(msgspec.Struct, kw_only=True):
    model: str = ""
    input: str | list[str | TokenId | list[TokenId]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: PositiveInt | None = None
    user: str | None = None
    # Switchyard, as on chat requests
    labels: Labels | None = None
    tags: list[str] | str | None = None
    log_query_body: bool = True


class Embedding(msgspec.Struct):
    embedding: list[float] | str  # a base64 string when encoding_format is "base64"
    index: int
    object: str = "embedding"


class EmbeddingsUsage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int
    cost: float | None = None  # USD at the answering route's price (docs/spend.md)


class EmbeddingsResponse(msgspec.Struct, kw_only=True):
    data: list[Embedding]
    model: str
    usage: EmbeddingsUsage
    object: str = "list"


_decoder = msgspec.json.Decoder(EmbeddingsRequest)


def decode_embeddings_request(body: bytes) -> EmbeddingsRequest:
    """Parse and type-check an embeddings request, or raise a 400 naming the parameter."""
    request = decode_or_400(_decoder, body)
    inputs(request)  # checks the list's shape
    return request


def inputs(request: EmbeddingsRequest) -> list[SingleInput]:
    """The single inputs to embed, in order: each a string or a token array."""
    given = request.input
    if isinstance(given, str):
        items: list[SingleInput] = [given]
    elif given and all(isinstance(x, int) for x in given):
        items = [[x for x in given if isinstance(x, int)]]  # one token array
    else:
        items = []
        for i, x in enumerate(given):
            if isinstance(x, int):
                raise InvalidRequest(
                    "input mixes token ids with strings or token arrays", param=f"input[{i}]"
                )
            items.append(x)
    if not items or len(items) > MAX_INPUTS:
        raise InvalidRequest(f"input must hold 1 to {MAX_INPUTS} inputs", param="input")
    for i, item in enumerate(items):
        if not item:
            where = "input" if isinstance(given, str) else f"input[{i}]"
            raise InvalidRequest("An input must not be empty", param=where)
    return items


def encode_vector(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    """A vector as the response carries it: floats, or base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)


def embeddings_response(
    model: str,
    vectors: Sequence[Sequence[float]],
    encoding_format: str,
    prompt_tokens: int,
    cost: float | None = None,
) -> EmbeddingsResponse:
    return EmbeddingsResponse(
        data=[Embedding(encode_vector(v, encoding_format), i) for i, v in enumerate(vectors)],
        model=model,
        usage=EmbeddingsUsage(prompt_tokens, prompt_tokens, cost),
    )
