"""Datasets on the wire (docs/evaluations.md): what ``/admin/datasets`` takes and answers.

Decoding is the validation: a body that decodes into these types has names in the allowed
alphabet, a limit in range and messages of the chat request's own shape; what depends on the
config (the function, variant and metric exist) is checked by the datasets service.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from app.wire.request import Message
from app.wire.response import ToolCall

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
DatasetName = Annotated[str, Meta(pattern=NAME_PATTERN)]
MAX_DATAPOINTS = 100_000  # per build from the log; more is a second dataset (or SQL)
DEFAULT_LIMIT = 1_000
# A reference answer, as a demonstration feedback carries it: the assistant's text, or its
# tool calls.
Reference = str | list[ToolCall]


class DatasetFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Which logged inferences of the function become datapoints (the newest ``limit``).
    ``metric`` alone keeps inferences with feedback of that metric; with ``value`` (or
    ``min``/``max``, both ends included) only those whose latest such feedback matches."""

    variant: str | None = None
    campaign: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    metric: str | None = None
    value: bool | float | None = None
    min: float | None = None
    max: float | None = None
    start: str | None = msgspec.field(default=None, name="from")
    end: str | None = msgspec.field(default=None, name="to")
    limit: Annotated[int, Meta(ge=1, le=MAX_DATAPOINTS)] = DEFAULT_LIMIT


class DatasetCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: DatasetName
    function: Annotated[str, Meta(min_length=1)]
    filter: DatasetFilter = msgspec.field(default_factory=DatasetFilter)
    description: str = ""


class DatasetInfo(msgspec.Struct, kw_only=True):
    name: str
    function: str
    description: str
    filter: DatasetFilter
    datapoints: int
    created_at: str
    updated_at: str


class Datapoint(msgspec.Struct, kw_only=True):
    """One logged request made reusable. ``output`` is the assistant message the gateway logged
    (None for a datapoint added without one); ``reference_output`` the answer it should have
    given, from a demonstration feedback (``reference_source`` "demonstration") or edited
    (``"edited"``)."""

    id: str
    dataset: str
    function: str
    variant: str  # the variant that produced ``output``; "" when added by hand
    source_inference_id: str | None
    input_messages: list[Message]
    system_prompt_args: dict[str, Any] | None
    system_prompt: str  # as rendered for ``output``; "" when added by hand
    tools: list[Any] | None
    output: dict[str, Any] | None
    reference_output: Reference | None
    reference_source: str
    created_at: str
    updated_at: str


class DatapointWrite(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Add a datapoint (no ``id``: ``input_messages`` needed) or edit one (its ``id``: only the
    fields given change; ``reference_output: null`` clears the reference)."""

    id: str | None = None
    input_messages: Annotated[list[Message], Meta(min_length=1)] | UnsetType = UNSET
    system_prompt_args: dict[str, Any] | UnsetType | None = UNSET
    tools: list[Any] | UnsetType | None = UNSET
    output: dict[str, Any] | UnsetType | None = UNSET
    reference_output: Reference | UnsetType | None = UNSET


class DatapointPage(msgspec.Struct, kw_only=True):
    dataset: DatasetInfo
    datapoints: list[Datapoint]
    next: str | None  # pass as ``after`` for the next page; None on the last
