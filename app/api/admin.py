"""Admin API (SPEC §2.4): versioned config edits, history, diff, rollback, validation, keys.

Every write answers with the new version in the body and an ``ETag``; send it back as
``If-Match`` to make the next write conditional (409 when someone else wrote in between).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import Provide

from app.auth.keys import create_api_key
from app.auth.service import Principal
from app.config.compile import validate_document
from app.errors import InvalidRequest, NotFound
from app.runtime import admin as edits
from app.runtime.admin import ConfigAdmin
from app.store.sql.repos import VersionInfo
from app.wire.response import encoder

COLLECTIONS = ("providers", "models", "metrics", "functions")
SUBCOLLECTIONS = ("variants", "campaigns")


def admin_principal(request: Request) -> Principal:
    return request.app.state.auth.authenticate_admin(request.headers.get("authorization"))


def _json(body: Any, status: int = 200, version: int | None = None) -> Response[bytes]:
    headers = {"ETag": f'"{version}"'} if version is not None else {}
    return Response(
        encoder.encode(body), status_code=status, media_type="application/json", headers=headers
    )


def _written(info: VersionInfo, status: int = 200) -> Response[bytes]:
    return _json(
        {
            "version": info.version,
            "parent": info.parent,
            "author": info.author,
            "comment": info.comment,
        },
        status,
        info.version,
    )


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidRequest(
            f'If-Match must be a version ETag like "12", got {raw!r}', param="If-Match"
        )
    return int(value)


async def _body(request: Request) -> Any:
    try:
        return msgspec.json.decode(await request.body())
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None


async def _object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return body


def _comment(request: Request, what: str) -> str:
    return (
        request.headers.get("x-switchyard-comment") or request.query_params.get("comment") or what
    )


def _collection(name: str) -> str:
    if name not in COLLECTIONS:
        raise NotFound(f"No admin collection '{name}' (expected one of {', '.join(COLLECTIONS)})")
    return name


def _entity_path(
    collection: str, name: str, sub: str | None = None, item: str | None = None
) -> tuple[str, ...]:
    path: tuple[str, ...] = (_collection(collection), name)
    if sub is not None and item is not None:
        if collection != "functions" or sub not in SUBCOLLECTIONS:
            raise NotFound(f"No admin collection '{collection}/{name}/{sub}'")
        path += (sub, item)
    return path


class ConfigAdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    dependencies = {"principal": Provide(admin_principal, sync_to_thread=False)}

    # -- whole config and its history ---------------------------------------------------------

    @get("/config", summary="The current config document")
    async def get_config(self, request: Request, principal: Principal) -> Response[bytes]:
        info, document = await _admin(request).current()
        return _json({"version": info.version, "document": document}, version=info.version)

    @put("/config", summary="Replace the whole config document")
    async def put_config(self, request: Request, principal: Principal) -> Response[bytes]:
        body = await _object(request)
        document = body.get("document", body)
        info = await _admin(request).write(
            edits.replace_all(document),
            author=principal.name,
            comment=_comment(request, "replace config"),
            if_match=_if_match(request),
            target="config",
        )
        return _written(info)

    @get("/config/versions", summary="Config version history, newest first")
    async def versions(
        self, request: Request, principal: Principal, limit: int = 100
    ) -> Response[bytes]:
        return _json({"versions": await _admin(request).history(limit)})

    @get("/config/versions/{version:int}", summary="One config version")
    async def version(
        self, request: Request, principal: Principal, version: int
    ) -> Response[bytes]:
        info, document = await _admin(request).version(version)
        return _json(
            {
                "version": info.version,
                "parent": info.parent,
                "author": info.author,
                "comment": info.comment,
                "created_at": info.created_at,
                "document": document,
            },
            version=info.version,
        )

    @get(
        "/config/diff",
        summary="Changes between two versions (default: the newest against its parent)",
    )
    async def diff(
        self,
        request: Request,
        principal: Principal,
        from_version: int | None = None,
        to_version: int | None = None,
    ) -> Response[bytes]:
        admin = _admin(request)
        new_info, new = await (admin.version(to_version) if to_version else admin.current())
        old_version = from_version if from_version is not None else new_info.parent
        old = (await admin.version(old_version))[1] if old_version else {}
        return _json({"from": old_version, "to": new_info.version, "changes": edits.diff(old, new)})

    @post(
        "/config/rollback/{version:int}",
        summary="Make an old version current again (as a new version)",
    )
    async def rollback(
        self, request: Request, principal: Principal, version: int
    ) -> Response[bytes]:
        info = await _admin(request).rollback(
            version, author=principal.name, if_match=_if_match(request)
        )
        return _written(info)

    @post(
        "/config/validate",
        summary="Validate a config document without applying it",
        status_code=200,
    )
    async def validate(self, request: Request, principal: Principal) -> Response[bytes]:
        body = await _object(request)
        problems = validate_document(body.get("document", body))
        return _json(
            {
                "valid": not problems,
                "problems": [{"key": p.key, "message": p.message} for p in problems],
            }
        )

    @get("/audit", summary="Recent admin actions")
    async def audit(
        self, request: Request, principal: Principal, limit: int = 100
    ) -> Response[bytes]:
        return _json({"entries": await request.app.state.live.audit.recent(limit)})

    # -- entities: providers, models, metrics, functions and their variants/campaigns ---------

    @get("/{collection:str}", summary="List providers, models, metrics or functions")
    async def list_entities(
        self, request: Request, principal: Principal, collection: str
    ) -> Response[bytes]:
        info, document = await _admin(request).current()
        return _json(document.get(_collection(collection), {}), version=info.version)

    @get(
        ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"],
        summary="Read one entity",
    )
    async def get_entity(
        self,
        request: Request,
        principal: Principal,
        collection: str,
        name: str,
        sub: str | None = None,
        item: str | None = None,
    ) -> Response[bytes]:
        info, value = await _admin(request).read(_entity_path(collection, name, sub, item))
        return _json(value, version=info.version)

    @post(
        ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"],
        summary="Create an entity (409 if it exists)",
        status_code=201,
    )
    async def create_entity(
        self,
        request: Request,
        principal: Principal,
        collection: str,
        name: str,
        sub: str | None = None,
        item: str | None = None,
    ) -> Response[bytes]:
        path = _entity_path(collection, name, sub, item)
        return _written(
            await self._write(
                request,
                principal,
                edits.put(path, await _object(request), must_exist=False),
                path,
                "create",
            ),
            201,
        )

    @put(
        ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"],
        summary="Create or replace an entity",
    )
    async def put_entity(
        self,
        request: Request,
        principal: Principal,
        collection: str,
        name: str,
        sub: str | None = None,
        item: str | None = None,
    ) -> Response[bytes]:
        path = _entity_path(collection, name, sub, item)
        return _written(
            await self._write(
                request,
                principal,
                edits.put(path, await _object(request), must_exist=None),
                path,
                "put",
            )
        )

    @patch(
        ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"],
        summary="Merge-patch an entity (RFC 7386)",
    )
    async def patch_entity(
        self,
        request: Request,
        principal: Principal,
        collection: str,
        name: str,
        sub: str | None = None,
        item: str | None = None,
    ) -> Response[bytes]:
        path = _entity_path(collection, name, sub, item)
        return _written(
            await self._write(
                request, principal, edits.merge(path, await _object(request)), path, "patch"
            )
        )

    @delete(
        ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"],
        summary="Delete an entity",
        status_code=200,
    )
    async def delete_entity(
        self,
        request: Request,
        principal: Principal,
        collection: str,
        name: str,
        sub: str | None = None,
        item: str | None = None,
    ) -> Response[bytes]:
        path = _entity_path(collection, name, sub, item)
        return _written(await self._write(request, principal, edits.delete(path), path, "delete"))

    async def _write(
        self, request: Request, principal: Principal, mutate: Any, path: tuple[str, ...], verb: str
    ) -> VersionInfo:
        target = ".".join(path)
        return await _admin(request).write(
            mutate,
            author=principal.name,
            comment=_comment(request, f"{verb} {target}"),
            if_match=_if_match(request),
            target=target,
        )


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    role: str = "client"
    functions: list[str] | None = None
    rpm_limit: int | None = None


class KeysController(Controller):
    path = "/admin/keys"
    tags = ["admin"]
    dependencies = {"principal": Provide(admin_principal, sync_to_thread=False)}

    @get("/", summary="List API keys (never the keys themselves)")
    async def list_keys(self, request: Request, principal: Principal) -> Response[bytes]:
        return _json({"keys": await _guarded(request, request.app.state.live.keys.list())})

    @post("/", summary="Create an API key; the key is in this response only", status_code=201)
    async def create_key(self, request: Request, principal: Principal) -> Response[bytes]:
        try:
            spec = msgspec.json.decode(await request.body(), type=KeyCreate)
        except msgspec.MsgspecError as exc:
            raise InvalidRequest(f"Invalid key request: {exc}") from None
        info, key = await _guarded(
            request,
            create_api_key(
                request.app.state.live.keys,
                name=spec.name,
                role=spec.role,
                functions=spec.functions,
                rpm_limit=spec.rpm_limit,
                actor=principal.name,
            ),
        )
        await _guarded(request, request.app.state.live.refresh())
        return _json({**msgspec.structs.asdict(info), "key": key}, 201)

    @delete("/{key_id:str}", summary="Revoke an API key (by id or visible prefix)", status_code=200)
    async def revoke_key(
        self, request: Request, principal: Principal, key_id: str
    ) -> Response[bytes]:
        info = await _guarded(
            request, request.app.state.live.keys.revoke(key_id, actor=principal.name)
        )
        if info is None:
            raise NotFound(f"No API key '{key_id}'", param="key_id")
        await _guarded(request, request.app.state.live.refresh())
        return _json(info)


def _admin(request: Request) -> ConfigAdmin:
    return request.app.state.config_admin


async def _guarded(request: Request, operation: Any) -> Any:
    return await _admin(request).guard(operation)
