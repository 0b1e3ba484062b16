"""The migrations rendered for a ClickHouse cluster (``SWITCHYARD_CLICKHOUSE_CLUSTER``).

The files in ``migrations/clickhouse`` are written for one server and stay the single source:
this module rewrites their statements, one by one, for a cluster (docs/scaling.md, "A
ClickHouse cluster"):

- every DDL statement runs ``ON CLUSTER``, so one gateway's migration reaches every node;
- MergeTree-family engines become their ``Replicated*`` forms, at
  ``/clickhouse/tables/{shard}/{database}/{table}`` with replica ``{replica}`` (both macros
  from each server's config);
- the tables the writer inserts into (:data:`SHARDING_KEYS`), and the tables materialized views
  fill from them, become ``<name>_local`` tables plus a ``Distributed`` table under the name
  the gateway reads and writes, so no query changes. A view on such a table fires on the shard
  where a row lands, so it reads ``<source>_local`` and writes ``<target>_local``;
- the other tables (small, edited in place: datasets, the migration record) are replicated to
  every node (path ``/clickhouse/tables/all/...``), so any node answers for all of them.

Sharding keys hash an id the row is written with (the inference's, feedback's target), so a
replayed batch splits into the same per-shard blocks and the insert deduplication token still
makes it land once. A statement this
renderer does not know is refused with its migration's name, never passed through unreplicated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import msgspec

from app.settings import check_cluster_name

if TYPE_CHECKING:
    from app.store.clickhouse.migrate import Migration

# Tables the writer inserts into, and how their rows are spread over shards.
SHARDING_KEYS = {
    "inferences": "cityHash64(id)",
    "model_inferences": "cityHash64(inference_id)",
    "feedback": "cityHash64(target_id)",
}
LOCAL_SUFFIX = "_local"
SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
EVERY_NODE_PATH = "/clickhouse/tables/all/{database}/{table}"
REPLICA = "{replica}"

_CREATE_TABLE = re.compile(r"^(CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)(.*)$", re.S | re.I)
_CREATE_MV = re.compile(
    r"^(CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)\s+TO\s+(\w+)(\s+AS\s.*)$",
    re.S | re.I,
)
_CREATE_VIEW = re.compile(
    r"^(CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)(.*)$", re.S | re.I
)
_ALTER_TABLE = re.compile(r"^(ALTER\s+TABLE\s+)(\w+)(.*)$", re.S | re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)", re.I)
_SOURCE = re.compile(r"\b(FROM|JOIN)(\s+)(\w+)\b", re.I)
_COLUMN_ACTION = re.compile(r"^\s*(?:ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_NON_REPLICATED_WINDOW = re.compile(r"\bnon_replicated_deduplication_window\b")


class ClusterError(ValueError):
    """A migration statement with no cluster rendering."""


class ClusterRenderer:
    """Renders statements for ``cluster``; knows which tables are sharded across all migrations."""

    def __init__(self, cluster: str, migrations: Iterable[Migration]) -> None:
        self.cluster = check_cluster_name(cluster)
        self.on_cluster = f" ON CLUSTER '{cluster}'"
        self.sharded = _sharded_tables(
            statement for migration in migrations for statement in migration.statements
        )

    def render(self, migration: Migration) -> Migration:
        statements: list[str] = []
        for statement in migration.statements:
            try:
                statements.extend(self.statement(statement))
            except ClusterError as exc:
                raise ClusterError(f"{migration.version:04d}_{migration.name}: {exc}") from None
        return msgspec.structs.replace(migration, statements=tuple(statements))

    def statement(self, statement: str) -> list[str]:
        if match := _CREATE_MV.match(statement):
            head, name, target, select = match.groups()
            return [
                f"{head}{name}{self.on_cluster} TO {self._local(target)}"
                + _SOURCE.sub(lambda m: m[1] + m[2] + self._local(m[3]), select)
            ]
        if match := _CREATE_VIEW.match(statement):
            head, name, rest = match.groups()
            return [f"{head}{name}{self.on_cluster}{rest}"]
        if match := _CREATE_TABLE.match(statement):
            return self._table(*match.groups())
        if match := _ALTER_TABLE.match(statement):
            return self._alter(*match.groups())
        raise ClusterError(f"no cluster rendering for: {statement.splitlines()[0][:80]}")

    def _table(self, head: str, name: str, rest: str) -> list[str]:
        if name not in self.sharded:
            return [f"{head}{name}{self.on_cluster}{_replicated(rest, EVERY_NODE_PATH)}"]
        local = name + LOCAL_SUFFIX
        key = SHARDING_KEYS.get(name)
        # An MV target has no key: its rows reach each shard through the view on that shard,
        # so an insert straight into it is refused instead of landing on the wrong shard.
        engine_args = f"'{self.cluster}', currentDatabase(), '{local}'" + (
            f", {key}" if key else ""
        )
        return [
            f"{head}{local}{self.on_cluster}{_replicated(rest, SHARD_PATH)}",
            f"{head}{name}{self.on_cluster} AS {local}\nENGINE = Distributed({engine_args})",
        ]

    def _alter(self, head: str, name: str, rest: str) -> list[str]:
        if name not in self.sharded:
            return [f"{head}{name}{self.on_cluster}{rest}"]
        statements = [f"{head}{name}{LOCAL_SUFFIX}{self.on_cluster}{rest}"]
        # The Distributed table mirrors the columns (it has no indexes, TTLs or parts).
        if all(_COLUMN_ACTION.match(action) for action in split_top_level(rest)):
            statements.append(f"{head}{name}{self.on_cluster}{rest}")
        return statements

    def _local(self, table: str) -> str:
        return table + LOCAL_SUFFIX if table in self.sharded else table


def render_for_cluster(migrations: list[Migration], cluster: str) -> list[Migration]:
    renderer = ClusterRenderer(cluster, migrations)
    return [renderer.render(migration) for migration in migrations]


def _sharded_tables(statements: Iterable[str]) -> frozenset[str]:
    """The writer's tables, and (transitively) the targets of materialized views over them."""
    views: list[tuple[str, str]] = []
    for statement in statements:
        if match := _CREATE_MV.match(statement):
            first_source = _SOURCE.search(match[4])
            if first_source is not None:
                views.append((match[3], first_source[3]))
    sharded = set(SHARDING_KEYS)
    grown = True
    while grown:
        grown = False
        for target, source in views:
            if source in sharded and target not in sharded:
                sharded.add(target)
                grown = True
    return frozenset(sharded)


def _replicated(rest: str, path: str) -> str:
    """``rest`` of a CREATE TABLE with its MergeTree-family engine made ``Replicated*``."""
    match = _ENGINE.search(rest)
    if match is None:
        raise ClusterError("CREATE TABLE without ENGINE")
    engine = match[1]
    if engine.startswith("Replicated"):
        raise ClusterError(f"{engine}: migrations name the single-node engine")
    if not engine.endswith("MergeTree"):
        return rest  # Memory, Null, Log...: nothing to replicate
    end = match.end()
    args = ""
    if rest[end : end + 1] == "(":
        close = _closing_paren(rest, end)
        args = rest[end + 1 : close].strip()
        end = close + 1
    replicated_args = ", ".join(filter(None, (f"'{path}'", f"'{REPLICA}'", args)))
    rendered = f"{rest[: match.start(1)]}Replicated{engine}({replicated_args}){rest[end:]}"
    # Replicated tables deduplicate inserts by replicated_deduplication_window, same meaning.
    return _NON_REPLICATED_WINDOW.sub("replicated_deduplication_window", rendered)


def _closing_paren(text: str, start: int) -> int:
    depth = 0
    for index, char in _unquoted(text, start):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ClusterError("unbalanced parentheses")


def split_top_level(text: str) -> list[str]:
    """``text`` cut at the commas outside parentheses and quotes (the actions of an ALTER)."""
    parts, depth, start = [], 0, 0
    for index, char in _unquoted(text, 0):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _unquoted(text: str, start: int) -> Iterator[tuple[int, str]]:
    """``(index, char)`` of ``text`` from ``start``, skipping what is inside '...' strings."""
    quoted = False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'" and text[index - 1 : index] != "\\":
            quoted = not quoted
        elif not quoted:
            yield index, char
