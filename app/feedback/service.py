"""Validates feedback against its metric and target, then hands it to the writer.

Checks, in order (each a clear 4xx): exactly one target id; the metric exists; the target's
level matches the metric's; the value's type matches the metric's type; the target (and for
preferences both completions) exists, including inferences still in the write buffer.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import msgspec

from app.config.holder import ConfigHolder
from app.config.schema import MetricConfig
from app.errors import InvalidRequest, NotFound
from app.feedback.schema import FeedbackRequest, Preference
from app.ids import uuid7_str
from app.records import FeedbackRecord, Level, TargetInfo
from app.wire.response import ToolCall

# The built-in comment metric may target either level; every other metric has one level.
_ANY_LEVEL = "comment"


class Targets(Protocol):
    async def find(self, target_id: str, level: Level) -> TargetInfo | None: ...


class FeedbackSink(Protocol):
    def submit_feedback(self, record: FeedbackRecord) -> None: ...


class FeedbackService:
    def __init__(self, config: ConfigHolder, targets: Targets, sink: FeedbackSink) -> None:
        self._config = config
        self._targets = targets
        self._sink = sink

    async def submit(self, request: FeedbackRequest, *, api_key_id: str = "") -> str:
        target_id, level, param = _target(request)
        metric = self._config.current.metrics.get(request.metric_name)
        if metric is None:
            raise NotFound(
                f"Unknown metric '{request.metric_name}'",
                param="metric_name",
                code="metric_not_found",
            )
        if request.metric_name != _ANY_LEVEL and metric.level != level:
            raise InvalidRequest(
                f"Metric '{request.metric_name}' is {metric.level}-level, but {param} names an {level}",
                param=param,
            )
        numeric, text = _value(metric, request)
        if metric.type == "preference":
            await self._check_preference(_as_preference(request.value, request.metric_name))
        info = await self._targets.find(target_id, level)
        if info is None:
            raise NotFound(f"No {level} with id {target_id}", param=param, code="target_not_found")
        feedback_id = uuid7_str()
        if not request.dryrun:
            self._sink.submit_feedback(
                FeedbackRecord(
                    id=feedback_id,
                    created_at=time.time(),
                    target_id=target_id,
                    target_level=level,
                    inference_id=info.inference_id,
                    episode_id=info.episode_id,
                    metric=request.metric_name,
                    type=metric.type,
                    value=numeric,
                    value_text=text,
                    tags=request.tags or {},
                    comment=request.comment or "",
                    function=info.function,
                    variant=info.variant,
                    campaign=info.campaign,
                    api_key_id=api_key_id,
                )
            )
        return feedback_id

    async def _check_preference(self, preference: Preference) -> None:
        if preference.preferred == preference.other:
            raise InvalidRequest("preferred and other must be different completions", param="value")
        for name, ref in (
            ("value.preferred", preference.preferred),
            ("value.other", preference.other),
        ):
            if await self._targets.find(str(ref), "inference") is None:
                raise NotFound(
                    f"No inference or completion {ref}", param=name, code="target_not_found"
                )


def _as_preference(value: Any, metric: str) -> Preference:
    try:
        return msgspec.convert(value, Preference)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(
            f"Metric '{metric}' is a preference: value must be {{'preferred': completion_id, 'other': completion_id}} ({exc})",
            param="value",
        ) from None


def _target(request: FeedbackRequest) -> tuple[str, Level, str]:
    given = [
        (str(value), level, name)
        for name, level, value in (
            ("inference_id", "inference", request.inference_id),
            ("completion_id", "inference", request.completion_id),
            ("episode_id", "episode", request.episode_id),
        )
        if value is not None
    ]
    if (
        not given
        and request.metric_name
        and isinstance(request.value, dict)
        and "preferred" in request.value
    ):
        return _preferred(request)
    if len(given) != 1:
        raise InvalidRequest(
            "Name exactly one target: inference_id, completion_id or episode_id",
            param="inference_id",
        )
    return given[0]  # type: ignore[return-value]


def _preferred(request: FeedbackRequest) -> tuple[str, Level, str]:
    """A preference without an explicit target is about the preferred completion."""
    return (
        str(_as_preference(request.value, request.metric_name).preferred),
        "inference",
        "value.preferred",
    )


def _value(metric: MetricConfig, request: FeedbackRequest) -> tuple[float | None, str]:
    """(numeric value, text value) for the row; raises 400 when the type is wrong."""
    value = request.value
    if value is msgspec.UNSET:
        raise InvalidRequest("Missing required field 'value'", param="value")
    kind = metric.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidRequest(
                f"Metric '{request.metric_name}' is boolean: value must be true or false",
                param="value",
            )
        return float(value), ""
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequest(
                f"Metric '{request.metric_name}' is float: value must be a number", param="value"
            )
        return float(value), ""
    if kind == "comment":
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(
                f"Metric '{request.metric_name}' is a comment: value must be non-empty text",
                param="value",
            )
        return None, value
    if kind == "demonstration":
        return None, _demonstration(request.metric_name, value)
    return None, msgspec.json.encode(_as_preference(value, request.metric_name)).decode()


def _demonstration(metric: str, value: Any) -> str:
    """A corrected assistant answer: its text, or its tool calls."""
    if isinstance(value, str) and value:
        return value
    try:
        calls = msgspec.convert(value, list[ToolCall])
    except msgspec.ValidationError:
        calls = []
    if not calls:
        raise InvalidRequest(
            f"Metric '{metric}' is a demonstration: value must be the assistant's text or a list of tool calls",
            param="value",
        )
    return msgspec.json.encode(calls).decode()
