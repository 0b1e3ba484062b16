"""Edits to the live config: every write validates the whole resulting document, commits a
new version on top of the one the editor saw (``If-Match``), and swaps it in at once.

Documents are plain dicts (the same shape ``variants/`` loads into), addressed by a path such
as ``("functions", "support-bot", "variants", "concise")``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from app.config.compile import validate_document
from app.config.functions import CompiledCampaign
from app.errors import Conflict, GatewayError, InvalidRequest, NotFound, Unavailable
from app.runtime.reload import LiveConfig
from app.store.sql.engine import is_unreachable
from app.store.sql.repos import StaleVersion, VersionInfo

T = TypeVar("T")
log = logging.getLogger("switchyard.config")
Document = dict[str, Any]
Path = tuple[str, ...]


class ConfigAdmin:
    def __init__(self, live: LiveConfig) -> None:
        self.live = live

    async def current(self) -> tuple[VersionInfo, Document]:
        stored = await self.guard(self.live.versions.latest())
        if stored is None:
            raise NotFound("The config store holds no version yet")
        return stored

    async def version(self, version: int) -> tuple[VersionInfo, Document]:
        stored = await self.guard(self.live.versions.get(version))
        if stored is None:
            raise NotFound(f"Config version {version} does not exist", param="version")
        return stored

    async def history(self, limit: int) -> list[VersionInfo]:
        return await self.guard(self.live.versions.history(limit))

    async def read(self, path: Path) -> tuple[VersionInfo, Any]:
        info, document = await self.current()
        return info, _get(document, path)

    async def write(
        self,
        mutate: Callable[[Document], None],
        *,
        author: str,
        comment: str,
        if_match: int | None,
        target: str,
    ) -> VersionInfo:
        info, document = await self.current()
        if if_match is not None and if_match != info.version:
            raise Conflict(
                f"Config changed since version {if_match} (now {info.version}); reload and retry",
                code="stale_version",
            )
        updated = copy.deepcopy(document)
        mutate(updated)
        check(updated)
        try:
            new = await self.guard(
                self.live.versions.create(
                    updated, parent=info.version, author=author, comment=comment, target=target
                )
            )
        except StaleVersion:
            raise Conflict(
                "Another edit was committed at the same time; reload and retry",
                code="stale_version",
            ) from None
        await self.guard(self.live.refresh())
        return new

    async def rollback(self, version: int, *, author: str, if_match: int | None) -> VersionInfo:
        _, old = await self.version(version)

        def restore(document: Document) -> None:
            document.clear()
            document.update(copy.deepcopy(old))

        return await self.write(
            restore,
            author=author,
            comment=f"rollback to version {version}",
            if_match=if_match,
            target="config",
        )

    async def guard(self, operation: Awaitable[T]) -> T:
        """Await a store operation; a connection-level failure becomes a 503 (and marks the
        store down in ``/ready``). Anything else propagates: bad input is a 400 checked at the
        edge, and a bug is a logged 500, never a misleading "unreachable"."""
        try:
            return await operation
        except (GatewayError, StaleVersion):
            raise
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            self.live.mark_down(exc)
            raise Unavailable(
                "The config store is unreachable; the gateway keeps serving the last loaded"
                " config. Retry later.",
                code="config_store_unavailable",
            ) from None


# The author of config versions the gateway writes itself (adaptive campaigns' promotions).
GATEWAY_AUTHOR = "switchyard"


class _Unchanged(Exception):
    """The edit is already in the current version (another replica wrote it first)."""


async def promote_winner(
    admin: ConfigAdmin, campaign: CompiledCampaign, variant: str, reason: str
) -> VersionInfo | None:
    """Set an adaptive campaign's ``promoted`` variant (``on_decision = "promote"``): a config
    version authored ``switchyard``. None when it is already promoted, or when another edit
    landed at the same time (the next update retries)."""

    def mutate(document: Document) -> None:
        node = _get(document, ("functions", campaign.function, "campaigns", campaign.key))
        if not isinstance(node, dict) or node.get("promoted") == variant:
            raise _Unchanged
        node["promoted"] = variant

    try:
        version = await admin.write(
            mutate,
            author=GATEWAY_AUTHOR,
            comment=f"campaign {campaign.key}: promote the winner '{variant}' ({reason})"[:2000],
            if_match=None,
            target=f"functions.{campaign.function}.campaigns.{campaign.key}",
        )
    except (_Unchanged, Conflict, NotFound):
        return None
    log.info(
        "campaign %s: promoted the winner %s in config version %d",
        campaign.key,
        variant,
        version.version,
    )
    return version


def check(document: Document) -> None:
    problems = validate_document(document)
    if problems:
        raise InvalidRequest(
            f"The config would have {len(problems)} problem(s): "
            + "; ".join(str(p) for p in problems),
            code="invalid_config",
            problems=[{"key": p.key, "message": p.message} for p in problems],
        )


def _get(document: Document, path: Path) -> Any:
    node: Any = document
    for i, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            raise NotFound(f"'{'.'.join(path[: i + 1])}' does not exist in the current config")
        node = node[key]
    return node


def parent_of(document: Document, path: Path) -> dict[str, Any]:
    """The table holding ``path[-1]``. Missing section tables (``models``, a function's
    ``campaigns``) are created; a missing entity on the way (the function) is a 404."""
    node = document
    for depth, key in enumerate(path[:-1]):
        if key not in node:
            if depth % 2 == 1:
                raise NotFound(
                    f"'{'.'.join(path[: depth + 1])}' does not exist in the current config"
                )
            node[key] = {}
        child = node[key]
        if not isinstance(child, dict):
            raise InvalidRequest(f"'{'.'.join(path[: depth + 1])}' is not a table")
        node = child
    return node


def put(path: Path, value: Any, *, must_exist: bool | None) -> Callable[[Document], None]:
    """Set ``path`` to ``value``; must_exist True (replace), False (create), None (either)."""

    def mutate(document: Document) -> None:
        parent = parent_of(document, path)
        exists = path[-1] in parent
        if must_exist is False and exists:
            raise Conflict(f"'{'.'.join(path)}' already exists", code="already_exists")
        if must_exist and not exists:
            raise NotFound(f"'{'.'.join(path)}' does not exist in the current config")
        parent[path[-1]] = value

    return mutate


def merge(path: Path, patch: dict[str, Any]) -> Callable[[Document], None]:
    """JSON Merge Patch (RFC 7386) of the entity at ``path``."""

    def mutate(document: Document) -> None:
        parent = parent_of(document, path)
        if path[-1] not in parent:
            raise NotFound(f"'{'.'.join(path)}' does not exist in the current config")
        parent[path[-1]] = _merge_patch(parent[path[-1]], patch)

    return mutate


def delete(path: Path) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        parent = parent_of(document, path)
        if path[-1] not in parent:
            raise NotFound(f"'{'.'.join(path)}' does not exist in the current config")
        del parent[path[-1]]

    return mutate


def replace_all(new: Document) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        document.clear()
        document.update(new)

    return mutate


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level changes between two documents, as ``{path, op, before, after}``."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append({"path": sub, "op": "removed", "before": old[key], "after": None})
            elif key not in old:
                changes.append({"path": sub, "op": "added", "before": None, "after": new[key]})
            else:
                changes.extend(diff(old[key], new[key], sub))
        return changes
    if msgspec.json.encode(old) != msgspec.json.encode(new):
        return [{"path": path, "op": "changed", "before": old, "after": new}]
    return []
