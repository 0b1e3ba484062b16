"""Request bodies of the Litestar routes, decoded the way the chat body is.

A route names the type its body decodes to with ``opt=body_of(T)`` and takes the value as its
``payload`` parameter. :func:`provide_body` decodes the raw bytes with a strict msgspec decoder
for ``T`` (``"5"`` is not an integer), so every failure is a 400 naming the field, as on the
chat endpoint (:func:`app.wire.request.decode_or_400`): invalid JSON, invalid UTF-8, nesting
deeper than the interpreter allows, a wrong type or a limit exceeded. Litestar's own ``data``
decoding is lenient (it coerces strings) and lets invalid UTF-8 through as a 500, so no route
uses it.

The same ``T`` describes the body in the OpenAPI document (:func:`app.api.openapi`): one
source of truth.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.di import Provide

from app.errors import InvalidRequest
from app.wire.request import decode_or_400

BODY = "payload"

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def body_of(kind: Any) -> dict[str, Any]:
    """The route ``opt`` that declares the type of its JSON body."""
    return {BODY: kind}


def body_type(opt: dict[str, Any]) -> Any:
    return opt.get(BODY)


def decoder_for(kind: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


async def provide_body(request: Request[Any, Any, Any]) -> Any:
    kind = body_type(request.route_handler.opt)
    if kind is None:  # a programming error: the route takes ``payload`` without declaring it
        raise TypeError(f"{request.url.path} takes a body but declares no opt=body_of(T)")
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest("Request body is empty: send a JSON object")
    return decode_or_400(decoder_for(kind), raw)


BODY_DEPENDENCY = {BODY: Provide(provide_body)}
