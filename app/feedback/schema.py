"""The feedback wire format (the records it becomes live in :mod:`app.records`)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from app.wire.limits import Labels


class FeedbackRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    metric_name: str
    value: Any = msgspec.UNSET
    inference_id: uuid.UUID | None = None
    completion_id: uuid.UUID | None = None
    episode_id: uuid.UUID | None = None
    tags: Labels | None = None
    comment: str | None = None
    dryrun: bool = False


class Preference(msgspec.Struct, forbid_unknown_fields=True):
    preferred: uuid.UUID
    other: uuid.UUID
