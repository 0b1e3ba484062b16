"""Datasets in ClickHouse (migrations 0008, 0013; docs/evaluations.md).

Both tables are ReplacingMergeTree on ``updated_at``: an edit or a delete is a new row with a
later ``updated_at`` (``deleted = 1`` hides it), and every read takes ``FINAL``, so a reader
never sees two versions of a datapoint. A datapoint built from the log takes its inference's
id, so the same inference is one datapoint per dataset however often it is selected.

Filters become fixed SQL fragments with bound parameters: nothing a request says is pasted
into SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from app.store.clickhouse.query import Reader
from app.wire.datasets import DatasetFilter
from app.wire.evaluations import EVALUATION_LABEL

DATASET_COLUMNS = [
    "name",
    "function",
    "description",
    "filter",
    "created_at",
    "updated_at",
    "deleted",
]
DATAPOINT_COLUMNS = [
    "dataset",
    "id",
    "function",
    "variant",
    "source_inference_id",
    "input_messages",
    "system_prompt_args",
    "system_prompt",
    "tools",
    "output",
    "reference_output",
    "reference_source",
    "created_at",
    "updated_at",
    "deleted",
]
_DATAPOINT_SELECT = """
SELECT dataset, toString(id), function, variant,
       if(isNull(source_inference_id), NULL, toString(source_inference_id)),
       input_messages, system_prompt_args, system_prompt, tools, output, reference_output,
       reference_source, toString(created_at), toString(updated_at)
FROM datapoints FINAL
"""
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Window:
    """A filter's time range, already parsed (UTC)."""

    start: datetime | None
    end: datetime | None


def selection_sql(
    function: str, picked: DatasetFilter, window: Window
) -> tuple[str, dict[str, Any]]:
    """The logged inferences a filter selects, newest first, each with the text of its latest
    demonstration (``''`` if none). Only answered inferences whose request body was logged."""
    where = [
        "i.function = {function:String}",
        "i.status = 'ok'",
        "i.input_messages != ''",
        f"NOT mapContains(i.labels, '{EVALUATION_LABEL}')",  # evaluation calls are not traffic
    ]
    params: dict[str, Any] = {"function": function, "limit": picked.limit}
    optional = [
        ("i.variant = {variant:String}", "variant", picked.variant),
        ("i.campaign = {campaign:String}", "campaign", picked.campaign),
        ("i.created_at >= {start:DateTime64(3, 'UTC')}", "start", window.start),
        ("i.created_at < {end:DateTime64(3, 'UTC')}", "end", window.end),
    ]
    for clause, name, value in optional:
        if value is not None:
            where.append(clause)
            params[name] = value
    for index, (key, value) in enumerate(sorted(picked.labels.items())):
        where.append(f"i.labels[{{label_key_{index}:String}}] = {{label_value_{index}:String}}")
        params[f"label_key_{index}"], params[f"label_value_{index}"] = key, value
    if picked.metric is not None:
        where.append(f"i.id IN ({_metric_sql(picked, params)})")
    sql = f"""
SELECT toString(i.id), i.variant, i.input_messages, i.system_prompt_args, i.system_prompt,
       JSONExtractRaw(i.params, 'tools'), i.output, d.demonstration
FROM inferences AS i
LEFT JOIN (
    SELECT assumeNotNull(inference_id) AS inference_id,
           argMax(value_text, created_at) AS demonstration
    FROM feedback
    WHERE type = 'demonstration' AND inference_id IS NOT NULL AND function = {{function:String}}
    GROUP BY inference_id
) AS d ON d.inference_id = i.id
WHERE {" AND ".join(where)}
ORDER BY i.created_at DESC, i.id DESC
LIMIT {{limit:UInt32}}"""
    return sql, params


def _metric_sql(picked: DatasetFilter, params: dict[str, Any]) -> str:
    """Inferences whose latest inference-level feedback of the metric matches the filter."""
    params["metric"] = picked.metric
    having = []
    if picked.value is not None:
        having.append("argMax(value, created_at) = {value:Float64}")
        params["value"] = float(picked.value)
    if picked.min is not None:
        having.append("argMax(value, created_at) >= {min:Float64}")
        params["min"] = picked.min
    if picked.max is not None:
        having.append("argMax(value, created_at) <= {max:Float64}")
        params["max"] = picked.max
    sql = (
        "SELECT assumeNotNull(inference_id) FROM feedback "
        "WHERE metric = {metric:String} AND inference_id IS NOT NULL GROUP BY inference_id"
    )
    return sql + (f" HAVING {' AND '.join(having)}" if having else "")


class DatasetStore:
    """Reads and edits of ``datasets`` and ``datapoints`` through the gateway's reader."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    async def selected(
        self, function: str, picked: DatasetFilter, window: Window
    ) -> list[tuple[Any, ...]]:
        sql, params = selection_sql(function, picked, window)
        return await self._reader.rows(sql, params)

    async def datasets(self, name: str | None = None) -> list[tuple[Any, ...]]:
        """(name, function, description, filter JSON, created, updated, datapoints) of each
        dataset not deleted (or of ``name``)."""
        where = "deleted = 0" + (" AND name = {name:String}" if name is not None else "")
        return await self._reader.rows(
            f"""
            SELECT s.name, s.function, s.description, s.filter, toString(s.created_at),
                   toString(s.updated_at), ifNull(c.n, 0)
            FROM (SELECT * FROM datasets FINAL WHERE {where}) AS s
            LEFT JOIN (
                SELECT dataset, count() AS n FROM datapoints FINAL WHERE deleted = 0
                GROUP BY dataset
            ) AS c ON c.dataset = s.name
            ORDER BY s.name""",
            {"name": name} if name is not None else None,
        )

    async def datapoints(
        self, dataset: str, *, after: str | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """A page of the dataset's datapoints in id order, after the id ``after``.

        Ordered by the id's text, not the UUID: ClickHouse compares UUIDs by their two 64-bit
        halves low half first, which is not the order a client sees, so keyset paging on the
        UUID itself would skip and repeat rows."""
        where = "dataset = {dataset:String} AND deleted = 0"
        params: dict[str, Any] = {"dataset": dataset, "limit": limit}
        if after is not None:
            where += " AND toString(id) > {after:String}"
            params["after"] = after
        return await self._reader.rows(
            f"{_DATAPOINT_SELECT} WHERE {where} ORDER BY toString(id) LIMIT {{limit:UInt32}}",
            params,
        )

    async def datapoint(self, dataset: str, datapoint_id: str) -> tuple[Any, ...] | None:
        rows = await self._reader.rows(
            f"{_DATAPOINT_SELECT} WHERE dataset = {{dataset:String}} AND deleted = 0 "
            "AND id = toUUIDOrZero({id:String})",
            {"dataset": dataset, "id": datapoint_id},
        )
        return rows[0] if rows else None

    async def write_dataset(self, row: dict[str, Any]) -> None:
        await self._insert("datasets", DATASET_COLUMNS, [row])

    async def write_datapoints(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 10_000):  # one insert block per 10,000 datapoints
            await self._insert("datapoints", DATAPOINT_COLUMNS, rows[start : start + 10_000])

    async def _insert(self, table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
        if rows:
            payload = b"\n".join(_encoder.encode(row) for row in rows)
            await self._reader.insert(table, columns, payload)


def now() -> float:
    """``updated_at`` of a write: later than any earlier write's, so ``FINAL`` keeps it."""
    return round(time.time(), 3)
