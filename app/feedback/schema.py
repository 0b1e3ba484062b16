"""The feedback wire format and the row it becomes."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

Level = Literal["inference", "episode"]


class FeedbackRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    metric_name: str
    value: Any = msgspec.UNSET
    inference_id: uuid.UUID | None = None
    completion_id: uuid.UUID | None = None
    episode_id: uuid.UUID | None = None
    tags: dict[str, str] | None = None
    comment: str | None = None
    dryrun: bool = False


class Preference(msgspec.Struct, forbid_unknown_fields=True):
    preferred: uuid.UUID
    other: uuid.UUID


class TargetInfo(msgspec.Struct, frozen=True):
    """What an id resolves to: the inference it belongs to (None for an episode) and that
    inference's routing, copied onto the feedback row so results need no join."""

    inference_id: str | None
    episode_id: str
    function: str
    variant: str
    campaign: str


class FeedbackRecord(msgspec.Struct, kw_only=True, tag_field="kind", tag="feedback"):
    """One feedback row; its fields are the columns of the ``feedback`` table."""

    id: str
    created_at: float
    target_id: str
    target_level: Level
    inference_id: str | None
    episode_id: str | None
    metric: str
    type: str
    value: float | None
    value_text: str
    tags: dict[str, str]
    comment: str
    function: str
    variant: str
    campaign: str
    api_key_id: str
