"""Datasets: logged inferences made reusable for offline evaluation and fine-tuning
(docs/evaluations.md).

A dataset is built once from the log by a filter, then lives on its own: later traffic does not
change it, and its datapoints can be edited (a corrected reference) or added by hand. What the
filter names (the function, its variant and campaign, the metric) is checked against the
config being served, so a typo is a 400 naming the field rather than an empty dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from app.config.compile import Snapshot
from app.config.functions import CompiledFunction
from app.datasets.export import Export, check_format, export
from app.errors import Conflict, InvalidRequest, NotFound
from app.ids import uuid7_str
from app.store.clickhouse.datasets import DatasetStore, Window, now
from app.store.clickhouse.spend import parse_instant
from app.wire.datasets import (
    Datapoint,
    DatapointPage,
    DatapointWrite,
    DatasetCreate,
    DatasetFilter,
    DatasetInfo,
    Reference,
)
from app.wire.request import Message
from app.wire.response import ToolCall

_encoder = msgspec.json.Encoder()
_messages = msgspec.json.Decoder(list[Message])
_message = msgspec.json.Decoder(dict[str, Any])
_choices = msgspec.json.Decoder(list[dict[str, Any]])
_filter = msgspec.json.Decoder(DatasetFilter)
_reference = msgspec.json.Decoder(Reference)
_tool_calls = msgspec.json.Decoder(list[ToolCall])
NUMERIC_METRICS = ("boolean", "float")
MAX_PAGE = 1_000


class DatasetService:
    def __init__(self, store: DatasetStore, snapshot: Callable[[], Snapshot]) -> None:
        self._store = store
        self._snapshot = snapshot

    def function(self, name: str) -> CompiledFunction:
        """A dataset's function as configured now (its templates render SFT exports)."""
        compiled = self._snapshot().functions.get(name)
        if compiled is None:
            raise InvalidRequest(
                f"function '{name}' is no longer configured: export it with format=jsonl",
                param="format",
            )
        return compiled

    async def create(self, request: DatasetCreate) -> DatasetInfo:
        """Build a dataset from the log: 409 if the name is taken."""
        window = check_filter(self._snapshot(), request.function, request.filter)
        if await self._store.datasets(request.name):
            raise Conflict(f"dataset '{request.name}' exists", param="name")
        selected = await self._store.selected(request.function, request.filter, window)
        at = now()
        await self._store.write_datapoints(
            [logged_datapoint(request.name, request.function, row, at) for row in selected]
        )
        await self._store.write_dataset(
            {
                "name": request.name,
                "function": request.function,
                "description": request.description,
                "filter": _encoder.encode(request.filter).decode(),
                "created_at": at,
                "updated_at": at,
                "deleted": 0,
            }
        )
        return await self.info(request.name)

    async def all(self) -> list[DatasetInfo]:
        return [_info(row) for row in await self._store.datasets()]

    async def info(self, name: str) -> DatasetInfo:
        rows = await self._store.datasets(name)
        if not rows:
            raise NotFound(f"no dataset named '{name}'", param="name")
        return _info(rows[0])

    async def page(self, name: str, *, after: str | None, limit: int) -> DatapointPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"'limit' must be from 1 to {MAX_PAGE}", param="limit")
        info = await self.info(name)
        rows = await self._store.datapoints(name, after=after, limit=limit + 1)
        points = [datapoint(row) for row in rows[:limit]]
        more = len(rows) > limit
        return DatapointPage(
            dataset=info, datapoints=points, next=points[-1].id if more and points else None
        )

    async def all_datapoints(self, name: str) -> tuple[DatasetInfo, list[Datapoint]]:
        info = await self.info(name)
        points: list[Datapoint] = []
        after: str | None = None
        while True:
            rows = await self._store.datapoints(name, after=after, limit=10_000)
            points.extend(datapoint(row) for row in rows)
            if len(rows) < 10_000:
                return info, points
            after = points[-1].id

    async def export(self, name: str, fmt: str, variant: str | None = None) -> Export:
        check_format(fmt)
        info, points = await self.all_datapoints(name)
        return export(name, points, fmt, lambda: self.function(info.function), variant)

    async def datapoint(self, name: str, datapoint_id: str) -> Datapoint:
        await self.info(name)
        found = await self._store.datapoint(name, datapoint_id)
        if found is None:
            raise NotFound(f"dataset '{name}' has no datapoint '{datapoint_id}'", param="id")
        return datapoint(found)

    async def write(self, name: str, change: DatapointWrite) -> Datapoint:
        """Add a datapoint (no id) or edit one: only the fields given change."""
        info = await self.info(name)
        at = now()
        if change.id is None:
            if change.input_messages is msgspec.UNSET:
                raise InvalidRequest(
                    "a new datapoint needs 'input_messages'", param="input_messages"
                )
            row = _blank(name, info.function, at)
        else:
            row = _row_of(await self.datapoint(name, change.id))
        row.update(_changes(change), updated_at=at)
        await self._store.write_datapoints([row])
        written = await self._store.datapoint(name, row["id"])
        assert written is not None, "ClickHouse returns an insert it acknowledged"
        return datapoint(written)

    async def delete(self, name: str, datapoint_id: str) -> None:
        row = _row_of(await self.datapoint(name, datapoint_id))
        row.update(updated_at=now(), deleted=1)
        await self._store.write_datapoints([row])


def check_filter(snapshot: Snapshot, function: str, picked: DatasetFilter) -> Window:
    """The filter's time window; a 400 naming the field for anything the config does not know."""
    compiled = snapshot.functions.get(function)
    if compiled is None:
        raise InvalidRequest(f"unknown function '{function}'", param="function")
    if picked.variant is not None and picked.variant not in compiled.variants:
        known = ", ".join(sorted(compiled.variants))
        raise InvalidRequest(
            f"function '{function}' has no variant '{picked.variant}' (it has {known})",
            param="filter.variant",
        )
    if picked.campaign is not None and picked.campaign not in compiled.campaigns:
        raise InvalidRequest(
            f"function '{function}' has no campaign '{picked.campaign}'", param="filter.campaign"
        )
    _check_metric(snapshot, picked)
    window = Window(
        parse_instant(picked.start, "filter.from"), parse_instant(picked.end, "filter.to")
    )
    if window.start and window.end and window.start >= window.end:
        raise InvalidRequest("'filter.from' must be before 'filter.to'", param="filter.from")
    return window


def _check_metric(snapshot: Snapshot, picked: DatasetFilter) -> None:
    bounded = picked.value is not None or picked.min is not None or picked.max is not None
    if picked.metric is None:
        if bounded:
            raise InvalidRequest(
                "'filter.value', 'min' and 'max' need 'filter.metric'", param="filter.metric"
            )
        return
    metric = snapshot.metrics.get(picked.metric)
    if metric is None:
        raise InvalidRequest(f"unknown metric '{picked.metric}'", param="filter.metric")
    if bounded and metric.type not in NUMERIC_METRICS:
        raise InvalidRequest(
            f"metric '{picked.metric}' is a {metric.type}: only boolean and float metrics take a value",
            param="filter.value",
        )
    if picked.value is not None and (picked.min is not None or picked.max is not None):
        raise InvalidRequest("give 'filter.value' or 'min'/'max', not both", param="filter.value")
    if picked.min is not None and picked.max is not None and picked.min > picked.max:
        raise InvalidRequest("'filter.min' is above 'filter.max'", param="filter.min")


def logged_datapoint(
    dataset: str, function: str, row: tuple[Any, ...], at: float
) -> dict[str, Any]:
    """A datapoints row from one selected inference (see ``selection_sql``)."""
    inference_id, variant, messages, args, system_prompt, tools, output, demonstration = row
    reference = demonstration_reference(demonstration) if demonstration else None
    return {
        "dataset": dataset,
        "id": inference_id,
        "function": function,
        "variant": variant,
        "source_inference_id": inference_id,
        "input_messages": messages,
        "system_prompt_args": args,
        "system_prompt": system_prompt,
        "tools": tools,
        "output": _first_message(output),
        "reference_output": None if reference is None else _encoder.encode(reference).decode(),
        "reference_source": "demonstration" if reference is not None else "",
        "created_at": at,
        "updated_at": at,
        "deleted": 0,
    }


def demonstration_reference(text: str) -> Reference:
    """A demonstration's stored text: tool calls (a JSON list of them) or the assistant's text."""
    if text.startswith("["):
        try:
            return _tool_calls.decode(text)
        except msgspec.DecodeError:
            pass
    return text


def _first_message(output: str) -> str:
    """The first choice's assistant message, as JSON ('' when nothing was logged)."""
    if not output:
        return ""
    choices = _choices.decode(output)
    return _encoder.encode(choices[0].get("message")).decode() if choices else ""


def datapoint(row: tuple[Any, ...]) -> Datapoint:
    (dataset, point_id, function, variant, source, messages, args, system_prompt) = row[:8]
    tools, output, reference, reference_source, created_at, updated_at = row[8:]
    return Datapoint(
        id=point_id,
        dataset=dataset,
        function=function,
        variant=variant,
        source_inference_id=source,
        input_messages=_messages.decode(messages),
        system_prompt_args=_message.decode(args) if args and args != "null" else None,
        system_prompt=system_prompt,
        tools=msgspec.json.decode(tools) if tools else None,
        output=_message.decode(output) if output and output != "null" else None,
        reference_output=_reference.decode(reference) if reference else None,
        reference_source=reference_source,
        created_at=created_at,
        updated_at=updated_at,
    )


def _row_of(point: Datapoint) -> dict[str, Any]:
    """The stored row of a datapoint read back, for rewriting it with changes."""
    return {
        "dataset": point.dataset,
        "id": point.id,
        "function": point.function,
        "variant": point.variant,
        "source_inference_id": point.source_inference_id,
        "input_messages": _encoder.encode(point.input_messages).decode(),
        "system_prompt_args": _json_or_empty(point.system_prompt_args),
        "system_prompt": point.system_prompt,
        "tools": _json_or_empty(point.tools),
        "output": _json_or_empty(point.output),
        "reference_output": None
        if point.reference_output is None
        else _encoder.encode(point.reference_output).decode(),
        "reference_source": point.reference_source,
        "created_at": point.created_at,
        "deleted": 0,
    }


def _blank(dataset: str, function: str, at: float) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "id": uuid7_str(),
        "function": function,
        "variant": "",
        "source_inference_id": None,
        "input_messages": "[]",
        "system_prompt_args": "",
        "system_prompt": "",
        "tools": "",
        "output": "",
        "reference_output": None,
        "reference_source": "",
        "created_at": at,
        "deleted": 0,
    }


def _changes(change: DatapointWrite) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if change.input_messages is not msgspec.UNSET:
        updates["input_messages"] = _encoder.encode(change.input_messages).decode()
    if change.system_prompt_args is not msgspec.UNSET:
        updates["system_prompt_args"] = _json_or_empty(change.system_prompt_args)
    if change.tools is not msgspec.UNSET:
        updates["tools"] = _json_or_empty(change.tools)
    if change.output is not msgspec.UNSET:
        updates["output"] = _json_or_empty(change.output)
    if change.reference_output is not msgspec.UNSET:
        reference = change.reference_output
        updates["reference_output"] = (
            None if reference is None else _encoder.encode(reference).decode()
        )
        updates["reference_source"] = "" if reference is None else "edited"
    return updates


def _json_or_empty(value: Any) -> str:
    return "" if value is None else _encoder.encode(value).decode()


def _info(row: tuple[Any, ...]) -> DatasetInfo:
    name, function, description, filter_json, created_at, updated_at, count = row
    return DatasetInfo(
        name=name,
        function=function,
        description=description,
        filter=_filter.decode(filter_json) if filter_json else DatasetFilter(),
        datapoints=int(count),
        created_at=created_at,
        updated_at=updated_at,
    )
