"""Reading a ``variants/`` directory into a validated document and snapshot."""

from __future__ import annotations

from typing import Any

from app.config.compile import Snapshot, build_snapshot
from app.config.loader import load_directory
from app.config.problems import ConfigError


def directory_document(path: str) -> tuple[dict[str, Any], Snapshot]:
    """Load and validate a variants directory; raises ConfigError listing every problem."""
    document, sources, problems = load_directory(path)
    if problems:
        raise ConfigError(problems)
    return document, build_snapshot(document, sources=sources)
