"""Readiness checks: each component registers a probe; ``GET /ready`` runs them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Probe = Callable[[], Awaitable[tuple[bool, str]]]


class Readiness:
    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}

    def add(self, name: str, probe: Probe) -> None:
        self._probes[name] = probe

    async def check(self) -> dict[str, dict[str, object]]:
        results: dict[str, dict[str, object]] = {}
        for name, probe in self._probes.items():
            try:
                ok, detail = await probe()
            except Exception as exc:  # noqa: BLE001 - a crashed probe means "not ready", and why
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        return results
