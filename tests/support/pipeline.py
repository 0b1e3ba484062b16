"""The inference pipeline in the test's own process, against providers over real HTTP.

For tests that must look inside a request: every :class:`AttemptRecord` it left, its timings,
and the state of provider circuit breakers. Nothing of Switchyard is replaced: the recorder is
the one interface whose other implementation (ClickHouse) lives elsewhere.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from app.config.compile import build_snapshot
from app.config.holder import ConfigHolder
from app.config.loader import ENTRY_MARKERS, join_dotted_names
from app.inference.plan import new_context
from app.inference.service import InferenceService
from app.providers.http import HttpPool
from app.providers.registry import Providers
from app.records import InferenceRecord
from app.wire.request import decode_chat_request
from app.wire.response import ChatCompletion


class ListRecorder:
    def __init__(self) -> None:
        self.records: list[InferenceRecord] = []

    def record(self, record: InferenceRecord) -> None:
        self.records.append(record)

    @property
    def last(self) -> InferenceRecord:
        return self.records[-1]


class Pipeline:
    """``async with Pipeline(toml) as p: await p.complete({...})``; one HTTP pool per test loop."""

    def __init__(self, gateway_toml: str, functions: dict[str, str] | None = None) -> None:
        raw = tomllib.loads(gateway_toml)
        document: dict[str, Any] = {
            section: join_dotted_names(raw.get(section, {}), ENTRY_MARKERS[section])
            for section in ("providers", "models", "metrics")
        }
        document["functions"] = {
            name: tomllib.loads(text) for name, text in (functions or {}).items()
        }
        self.pool = HttpPool()
        self.snapshot = build_snapshot(document)
        self.recorder = ListRecorder()
        self.providers = Providers(self.pool)
        self.service = InferenceService(ConfigHolder(self.snapshot), self.recorder, self.providers)

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.close()

    def breaker(self, provider: str) -> Any:
        return self.providers.table(self.snapshot.providers)[provider].breaker

    async def complete(self, body: dict[str, Any]) -> ChatCompletion:
        raw = json.dumps(body).encode()
        plan = self.service.plan(decode_chat_request(raw), raw, new_context())
        return await self.service.complete(plan)

    async def stream(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The SSE events the client would get, decoded (``[DONE]`` left out)."""
        raw = json.dumps({**body, "stream": True}).encode()
        plan = self.service.plan(decode_chat_request(raw), raw, new_context())
        events = []
        async for frames in await self.service.open_stream(plan):
            for frame in frames:
                data = frame.decode().removeprefix("data: ").strip()
                if data != "[DONE]":
                    events.append(json.loads(data))
        return events
