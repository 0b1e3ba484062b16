"""Where the live config comes from at start-up."""

from __future__ import annotations

from app.config.loader import load_directory
from app.config.problems import ConfigError
from app.config.snapshot import Snapshot, build_snapshot
from app.providers.http import HttpPool
from app.settings import Settings


def load_directory_snapshot(path: str, pool: HttpPool | None = None, version: int = 0) -> Snapshot:
    document, sources, problems = load_directory(path)
    if problems:
        raise ConfigError(problems)
    return build_snapshot(document, sources=sources, version=version, pool=pool)


def load_initial_snapshot(settings: Settings, pool: HttpPool) -> Snapshot:
    return load_directory_snapshot(settings.config_dir, pool)
