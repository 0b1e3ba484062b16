"""The request bodies in ``/schema/openapi.json``, from the msgspec types that decode them.

Every route that takes a JSON body declares its type once, ``opt=body_of(T)``
(:mod:`app.api.bodies`); the raw chat handler decodes :class:`app.wire.request.ChatRequest`.
Here those same types become the operations' ``requestBody`` schemas and the document's
components (``msgspec.json.schema_components``), so the published contract cannot drift from
what is enforced, input limits included (``maximum``, ``maxItems``, ``maxProperties``,
``maxLength``, ``propertyNames``). Clients, code generators and the fuzz tests
(tests/fuzz) read it.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from litestar import Litestar
from litestar.openapi.spec import Components, OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.routes import HTTPRoute

from app.api.bodies import body_type

_REF = "#/components/schemas/{name}"


def document_request_bodies(app: Litestar, extra: dict[tuple[str, str], Any]) -> None:
    """Describe the JSON body of every route that declares one, and of the ``extra``
    (path, method) operations that are not Litestar routes (the chat handler)."""
    bodies = dict(extra)
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            kind = body_type(handler.opt)
            if kind is None or not handler.include_in_schema:
                continue
            for method in handler.http_methods:
                bodies[(route.path_format, method.lower())] = kind
    kinds = list(dict.fromkeys(bodies.values()))
    schemas, components = msgspec.json.schema_components(kinds, ref_template=_REF)
    by_kind = dict(zip(kinds, schemas, strict=True))
    openapi = app.openapi_schema
    openapi.components = openapi.components or Components()
    openapi.components.schemas = {
        **(openapi.components.schemas or {}),
        **{name: _raw(schema) for name, schema in components.items()},
    }
    for (path, method), kind in bodies.items():
        item = (openapi.paths or {}).get(path)
        operation: Operation | None = getattr(item, method, None) if item else None
        if operation is None:
            continue
        operation.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(schema=_raw(by_kind[kind]))},
            required=True,
            description="JSON; decoded strictly (a string is no number), limits included",
        )


def _raw(schema: dict[str, Any]) -> Schema:
    """msgspec's JSON Schema as is: Litestar renders a plain dict unchanged (it is typed as
    its own ``Schema`` only)."""
    return cast(Schema, schema)
