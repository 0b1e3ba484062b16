"""Evaluation runs on the wire (docs/evaluations.md): what ``/admin/evaluations`` takes and
answers. The statistics' own types live with their computation (:mod:`app.evaluations.stats`)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

# The label every inference of an evaluation run carries (its value: the run id); such inferences
# are kept out of datasets built from the log.
EVALUATION_LABEL = "switchyard.eval_run"
MAX_VARIANTS = 8
MAX_CONCURRENCY = 256


class RunCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    variants: Annotated[list[str], Meta(min_length=1, max_length=MAX_VARIANTS)]
    concurrency: Annotated[int, Meta(ge=1, le=MAX_CONCURRENCY)] = 8
    limit: Annotated[int, Meta(ge=1)] | None = None  # the first N datapoints (by id)


class VariantResult(msgspec.Struct, kw_only=True):
    variant: str
    done: int  # datapoints answered or errored
    errored: int
    cost: float | None  # USD of the variant's calls (judges not included)
    mean_latency_ms: float | None
    evaluators: dict[str, Any]  # evaluator -> stats.Summary


class Comparison(msgspec.Struct, kw_only=True):
    """``second - first`` per evaluator, paired over the datapoints both variants scored."""

    first: str
    second: str
    evaluators: dict[str, Any]  # evaluator -> stats.Paired


class RunError(msgspec.Struct, kw_only=True):
    variant: str
    datapoint_id: str
    error: str


class RunReport(msgspec.Struct, kw_only=True):
    id: str
    evaluation: str
    function: str
    dataset: str
    variants: list[str]
    status: str  # running | completed | failed | interrupted
    total: int  # datapoints x variants
    done: int
    errored: int
    concurrency: int
    limit: int | None
    started_by: str
    created_at: str
    updated_at: str
    error: str = ""
    results: list[VariantResult] = msgspec.field(default_factory=list)
    comparison: Comparison | None = None
    errors: list[RunError] = msgspec.field(default_factory=list)  # the first few


class RunInfo(msgspec.Struct, kw_only=True):
    id: str
    evaluation: str
    function: str
    dataset: str
    variants: list[str]
    status: str
    total: int
    created_at: str
