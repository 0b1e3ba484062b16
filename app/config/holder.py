"""The live config: one snapshot reference, swapped atomically.

A request reads ``holder.current`` once and keeps that snapshot for its whole life, so an
in-flight request finishes on the version it started with even if a reload lands meanwhile.
"""

from __future__ import annotations

from app.config.compile import Snapshot


class ConfigHolder:
    __slots__ = ("current",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot

    def swap(self, snapshot: Snapshot) -> None:
        self.current = snapshot
