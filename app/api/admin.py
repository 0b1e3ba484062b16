"""Admin API (see docs/admin.md): versioned config edits, history, diff, rollback, validation,
keys.

Every write answers with the new version in the body and an ``ETag``; send it back as
``If-Match`` to make the next write conditional (409 when someone else wrote in between).
Config documents are free-form (validated as a whole by the compiler), so their bodies decode
to plain dicts; key requests decode to :class:`KeyCreate`.

Length: two controllers (config and keys) whose routes are one-liners over the runtime's
admin service; the file is their route table more than their logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Parameter

from app.api.bodies import body_of
from app.api.security import requires_admin
from app.auth.keys import create_api_key
from app.auth.principal import Principal
from app.config.compile import validate_document
from app.errors import InvalidRequest, NotFound
from app.runtime import admin as edits
from app.runtime.admin import ConfigAdmin
from app.runtime.reload import LiveConfig
from app.store.sql.repos import VersionInfo
from app.wire.response import encoder

COLLECTIONS = ("providers", "models", "metrics", "functions")
SUBCOLLECTIONS = ("variants", "campaigns")
ENTITY_PATHS = ["/{collection:str}/{name:str}", "/{collection:str}/{name:str}/{sub:str}/{item:str}"]

Document = dict[str, Any]
EntityPath = tuple[str, ...]

# Query and path integers are bounded here, at the edge: past the store's column types they
# would overflow the database driver (a 400 naming the parameter, not a 5xx).
MAX_VERSION = 2**31 - 1  # config_versions.version is an INTEGER
MAX_LIST = 10_000
Version = Annotated[int, Parameter(ge=1, le=MAX_VERSION, description="A config version number")]
OptionalVersion = Annotated[
    int | None, Parameter(ge=1, le=MAX_VERSION, description="A config version number")
]
Limit = Annotated[int, Parameter(ge=1, le=MAX_LIST, description="How many entries, newest first")]


@dataclass(frozen=True, slots=True)
class Edit:
    """Who writes, why (``X-Switchyard-Comment`` or ``?comment=``), and on top of which
    version (``If-Match``)."""

    author: str
    comment: str | None
    if_match: int | None

    def comment_or(self, default: str) -> str:
        return self.comment or default


def provide_edit(
    principal: Principal,
    if_match: Annotated[str | None, Parameter(header="if-match")] = None,
    comment_header: Annotated[str | None, Parameter(header="x-switchyard-comment")] = None,
    comment: str | None = None,
) -> Edit:
    return Edit(principal.name, comment_header or comment, _version_tag(if_match))


def provide_entity(
    collection: str, name: str, sub: str | None = None, item: str | None = None
) -> EntityPath:
    """The document path an entity route addresses, e.g. ``functions/support-bot/variants/x``."""
    path: EntityPath = (_collection(collection), name)
    if sub is not None and item is not None:
        if collection != "functions" or sub not in SUBCOLLECTIONS:
            raise NotFound(f"No admin collection '{collection}/{name}/{sub}'")
        path += (sub, item)
    return path


def _version_tag(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise InvalidRequest(
            f'If-Match must be a version ETag like "12", got {raw!r}', param="If-Match"
        )
    return int(value)


def _collection(name: str) -> str:
    if name not in COLLECTIONS:
        raise NotFound(f"No admin collection '{name}' (expected one of {', '.join(COLLECTIONS)})")
    return name


def _json(body: Any, status: int = 200, version: int | None = None) -> Response[bytes]:
    headers = {"ETag": f'"{version}"'} if version is not None else {}
    return Response(
        encoder.encode(body), status_code=status, media_type="application/json", headers=headers
    )


def _written(info: VersionInfo, status: int = 200) -> Response[bytes]:
    body = {
        "version": info.version,
        "parent": info.parent,
        "author": info.author,
        "comment": info.comment,
    }
    return _json(body, status, info.version)


def _document(body: Document) -> Document:
    """A whole document may come bare or as ``{"document": ...}`` (what GET returns)."""
    document: Document = body.get("document", body)
    return document


class ConfigAdminController(Controller):
    path = "/admin"
    tags = ("admin",)
    guards = (requires_admin,)
    dependencies = MappingProxyType(
        {
            "edit": Provide(provide_edit, sync_to_thread=False),
            "entity": Provide(provide_entity, sync_to_thread=False),
        }
    )

    # -- whole config and its history ---------------------------------------------------------

    @get("/config", summary="The current config document")
    async def get_config(self, config_admin: ConfigAdmin) -> Response[bytes]:
        info, document = await config_admin.current()
        return _json({"version": info.version, "document": document}, version=info.version)

    @put("/config", summary="Replace the whole config document", opt=body_of(Document))
    async def put_config(
        self, payload: Document, edit: Edit, config_admin: ConfigAdmin
    ) -> Response[bytes]:
        info = await config_admin.write(
            edits.replace_all(_document(payload)),
            author=edit.author,
            comment=edit.comment_or("replace config"),
            if_match=edit.if_match,
            target="config",
        )
        return _written(info)

    @get("/config/versions", summary="Config version history, newest first")
    async def versions(self, config_admin: ConfigAdmin, limit: Limit = 100) -> Response[bytes]:
        return _json({"versions": await config_admin.history(limit)})

    @get("/config/versions/{version:int}", summary="One config version")
    async def version(self, config_admin: ConfigAdmin, version: Version) -> Response[bytes]:
        info, document = await config_admin.version(version)
        body = {
            "version": info.version,
            "parent": info.parent,
            "author": info.author,
            "comment": info.comment,
            "created_at": info.created_at,
            "document": document,
        }
        return _json(body, version=info.version)

    @get(
        "/config/diff",
        summary="Changes between two versions (default: the newest against its parent)",
    )
    async def diff(
        self,
        config_admin: ConfigAdmin,
        from_version: OptionalVersion = None,
        to_version: OptionalVersion = None,
    ) -> Response[bytes]:
        new_info, new = await (
            config_admin.version(to_version) if to_version else config_admin.current()
        )
        old_version = from_version if from_version is not None else new_info.parent
        old = (await config_admin.version(old_version))[1] if old_version else {}
        return _json({"from": old_version, "to": new_info.version, "changes": edits.diff(old, new)})

    @post(
        "/config/rollback/{version:int}",
        summary="Make an old version current again (as a new version)",
    )
    async def rollback(
        self, config_admin: ConfigAdmin, edit: Edit, version: Version
    ) -> Response[bytes]:
        info = await config_admin.rollback(version, author=edit.author, if_match=edit.if_match)
        return _written(info)

    @post(
        "/config/validate",
        summary="Validate a config document without applying it",
        status_code=200,
        opt=body_of(Document),
    )
    async def validate(self, payload: Document) -> Response[bytes]:
        problems = validate_document(_document(payload))
        return _json(
            {
                "valid": not problems,
                "problems": [{"key": p.key, "message": p.message} for p in problems],
            }
        )

    @get("/audit", summary="Recent admin actions")
    async def audit(self, live: LiveConfig, limit: Limit = 100) -> Response[bytes]:
        return _json({"entries": await live.audit.recent(limit)})

    # -- entities: providers, models, metrics, functions and their variants/campaigns ---------

    @get("/{collection:str}", summary="List providers, models, metrics or functions")
    async def list_entities(self, config_admin: ConfigAdmin, collection: str) -> Response[bytes]:
        info, document = await config_admin.current()
        return _json(document.get(_collection(collection), {}), version=info.version)

    @get(ENTITY_PATHS, summary="Read one entity")
    async def get_entity(self, config_admin: ConfigAdmin, entity: EntityPath) -> Response[bytes]:
        info, value = await config_admin.read(entity)
        return _json(value, version=info.version)

    @post(
        ENTITY_PATHS,
        summary="Create an entity (409 if it exists)",
        status_code=201,
        opt=body_of(Document),
    )
    async def create_entity(
        self, payload: Document, config_admin: ConfigAdmin, edit: Edit, entity: EntityPath
    ) -> Response[bytes]:
        mutate = edits.put(entity, payload, must_exist=False)
        return _written(await _write(config_admin, edit, mutate, entity, "create"), 201)

    @put(ENTITY_PATHS, summary="Create or replace an entity", opt=body_of(Document))
    async def put_entity(
        self, payload: Document, config_admin: ConfigAdmin, edit: Edit, entity: EntityPath
    ) -> Response[bytes]:
        mutate = edits.put(entity, payload, must_exist=None)
        return _written(await _write(config_admin, edit, mutate, entity, "put"))

    @patch(ENTITY_PATHS, summary="Merge-patch an entity (RFC 7386)", opt=body_of(Document))
    async def patch_entity(
        self, payload: Document, config_admin: ConfigAdmin, edit: Edit, entity: EntityPath
    ) -> Response[bytes]:
        mutate = edits.merge(entity, payload)
        return _written(await _write(config_admin, edit, mutate, entity, "patch"))

    @delete(ENTITY_PATHS, summary="Delete an entity", status_code=200)
    async def delete_entity(
        self, config_admin: ConfigAdmin, edit: Edit, entity: EntityPath
    ) -> Response[bytes]:
        mutate = edits.delete(entity)
        return _written(await _write(config_admin, edit, mutate, entity, "delete"))


async def _write(
    config_admin: ConfigAdmin, edit: Edit, mutate: Any, entity: EntityPath, verb: str
) -> VersionInfo:
    target = ".".join(entity)
    return await config_admin.write(
        mutate,
        author=edit.author,
        comment=edit.comment_or(f"{verb} {target}"),
        if_match=edit.if_match,
        target=target,
    )


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    role: str = "client"
    functions: list[str] | None = None
    rpm_limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)] | None = None
    budget_usd: float | None = None  # USD per budget_period (docs/spend.md)
    budget_period: str | None = None  # day | month (the default) | total


class KeysController(Controller):
    path = "/admin/keys"
    tags = ("admin",)
    guards = (requires_admin,)

    @get("/", summary="List API keys (never the keys themselves)")
    async def list_keys(self, live: LiveConfig, config_admin: ConfigAdmin) -> Response[bytes]:
        return _json({"keys": await config_admin.guard(live.keys.list())})

    @post(
        "/",
        summary="Create an API key; the key is in this response only",
        status_code=201,
        opt=body_of(KeyCreate),
    )
    async def create_key(
        self, payload: KeyCreate, principal: Principal, live: LiveConfig, config_admin: ConfigAdmin
    ) -> Response[bytes]:
        info, key = await config_admin.guard(
            create_api_key(
                live.keys,
                name=payload.name,
                role=payload.role,
                functions=payload.functions,
                rpm_limit=payload.rpm_limit,
                actor=principal.name,
                budget_usd=payload.budget_usd,
                budget_period=payload.budget_period,
            )
        )
        await config_admin.guard(live.refresh())
        return _json({**msgspec.structs.asdict(info), "key": key}, 201)

    @delete("/{key_id:str}", summary="Revoke an API key (by id or visible prefix)", status_code=200)
    async def revoke_key(
        self, key_id: str, principal: Principal, live: LiveConfig, config_admin: ConfigAdmin
    ) -> Response[bytes]:
        info = await config_admin.guard(live.keys.revoke(key_id, actor=principal.name))
        if info is None:
            raise NotFound(f"No API key '{key_id}'", param="key_id")
        await config_admin.guard(live.refresh())
        return _json(info)
