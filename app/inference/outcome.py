"""How an inference ended: what the answer, the usage chunk and the record are built from."""

from __future__ import annotations

import msgspec

from app.config.compile import Route
from app.wire.response import Choice, Usage


class Outcome(msgspec.Struct, kw_only=True):
    """Filled in as the inference ends; the record is built from a plan plus its outcome."""

    status: str = "ok"
    error: str = ""
    route: Route | None = None
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    usage_estimated: bool = False
    cost: float | None = None  # USD at the answering route's price; None when unknown
    cached: bool = False  # from the response cache: cost is 0, cost_saved the price of the tokens
    cost_saved: float | None = None
    started: float | None = None  # perf_counter at the start of the attempt that answered
    first_token_at: float | None = None
    ended: float | None = None
    completion_ids: list[str] = msgspec.field(default_factory=list)
