"""Evaluation runs, results and scores in ClickHouse (migration ``0014_evaluations.sql``,
docs/evaluations.md). Writes are direct inserts of whole batches (a run flushes what finished
about once a second), never per datapoint: each insert makes a part, and a part per datapoint
would be the run's bottleneck on chDB.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.store.clickhouse.query import Reader

RUN_COLUMNS = [
    "id",
    "evaluation",
    "function",
    "dataset",
    "variants",
    "concurrency",
    "max_datapoints",
    "total",
    "status",
    "error",
    "config_version",
    "started_by",
    "created_at",
    "heartbeat_at",
    "updated_at",
]
RESULT_COLUMNS = [
    "run_id",
    "variant",
    "datapoint_id",
    "inference_id",
    "status",
    "error",
    "output",
    "cost",
    "latency_ms",
    "created_at",
]
SCORE_COLUMNS = [
    "run_id",
    "variant",
    "evaluator",
    "datapoint_id",
    "inference_id",
    "score",
    "error",
    "judge_inference_id",
    "created_at",
]
_RUN_SELECT = (
    "SELECT toString(id), evaluation, function, dataset, variants, concurrency, max_datapoints, "
    "total, status, error, config_version, started_by, toUnixTimestamp64Milli(created_at), "
    "toUnixTimestamp64Milli(heartbeat_at), toUnixTimestamp64Milli(updated_at) "
    "FROM evaluation_runs FINAL"
)
_encoder = msgspec.json.Encoder()


def _run_row(stored: tuple[Any, ...]) -> dict[str, Any]:
    """A stored run in the shape :meth:`EvaluationStore.write_run` takes (times in seconds)."""
    row = dict(zip(RUN_COLUMNS, stored, strict=True))
    row["variants"] = list(row["variants"])
    for name in ("created_at", "heartbeat_at", "updated_at"):
        row[name] = row[name] / 1000
    return row


def _payload(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(_encoder.encode(row) + b"\n" for row in rows)


class EvaluationStore:
    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    async def write_run(self, row: dict[str, Any]) -> None:
        await self._reader.insert("evaluation_runs", RUN_COLUMNS, _payload([row]))

    async def write_finished(
        self, results: list[dict[str, Any]], scores: list[dict[str, Any]]
    ) -> None:
        """Scores first: a result row is what marks a pair done, so a crash between the two
        inserts re-runs the pair instead of leaving it without its scores."""
        if scores:
            await self._reader.insert("evaluation_scores", SCORE_COLUMNS, _payload(scores))
        if results:
            await self._reader.insert("evaluation_results", RESULT_COLUMNS, _payload(results))

    async def run(self, run_id: str) -> dict[str, Any] | None:
        rows = await self._reader.rows(
            f"{_RUN_SELECT} WHERE id = toUUIDOrZero({{id:String}})", {"id": run_id}
        )
        return _run_row(rows[0]) if rows else None

    async def runs(self, evaluation: str | None, limit: int) -> list[dict[str, Any]]:
        where = "WHERE evaluation = {evaluation:String}" if evaluation else ""
        rows = await self._reader.rows(
            f"{_RUN_SELECT} {where} ORDER BY created_at DESC LIMIT {{limit:UInt32}}",
            {"evaluation": evaluation or "", "limit": limit},
        )
        return [_run_row(row) for row in rows]

    async def done_pairs(self, run_id: str) -> set[tuple[str, str]]:
        """The (variant, datapoint id) pairs the run has a result for."""
        rows = await self._reader.rows(
            "SELECT DISTINCT variant, datapoint_id FROM evaluation_results "
            "WHERE run_id = toUUID({id:String})",
            {"id": run_id},
        )
        return {(variant, datapoint) for variant, datapoint in rows}

    async def result_counts(self, run_id: str) -> list[tuple[Any, ...]]:
        """Per variant: results, errored ones, total cost, mean latency."""
        return await self._reader.rows(
            """
            SELECT variant, count(), countIf(status = 'error'), sum(cost), avg(latency_ms)
            FROM evaluation_results FINAL WHERE run_id = toUUID({id:String})
            GROUP BY variant""",
            {"id": run_id},
        )

    async def scores(self, run_id: str) -> list[tuple[Any, ...]]:
        """Every (variant, evaluator, datapoint, score or None, error) of the run."""
        return await self._reader.rows(
            """
            SELECT variant, evaluator, datapoint_id, score, error
            FROM evaluation_scores FINAL WHERE run_id = toUUID({id:String})""",
            {"id": run_id},
        )

    async def errors(self, run_id: str, limit: int) -> list[tuple[Any, ...]]:
        return await self._reader.rows(
            """
            SELECT variant, datapoint_id, error FROM evaluation_results FINAL
            WHERE run_id = toUUID({id:String}) AND status = 'error'
            ORDER BY datapoint_id LIMIT {limit:UInt32}""",
            {"id": run_id, "limit": limit},
        )
