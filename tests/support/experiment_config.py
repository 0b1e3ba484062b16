"""A gateway config for experiment and feedback tests: instant dummy providers, a two-variant
campaign sticky by session, and a metric of every type at both levels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.analytics import LOGGING_ENV
from tests.support.gateway import Gateway

GATEWAY = """
[providers.instant]
type = "dummy"
mode = "echo"

[models.m]
routing = [{ provider = "instant", name = "m", price = { input_per_mtok = 1, output_per_mtok = 2 } }]

[metrics.success]
type = "boolean"
level = "inference"

[metrics.score]
type = "float"
level = "inference"

[metrics.resolved]
type = "boolean"
level = "episode"

[metrics.preferred]
type = "preference"

[metrics.note]
type = "comment"
level = "episode"
"""

FUNCTION = """
default_variant = "a"

[variants.a]
model = "m"
weight = 1

[variants.b]
model = "m"
weight = 1

[campaigns.ab]
variants = { a = 0.5, b = 0.5 }
sticky_by = "session_id"
metric = "success"
guardrails = ["score", "error_rate"]
status = "active"
"""

OTHER_FUNCTION = """
[variants.only]
model = "m"

[campaigns.elsewhere]
variants = { only = 1 }
status = "active"
"""


def write_experiment_config(directory: Path) -> Path:
    (directory / "functions").mkdir(parents=True, exist_ok=True)
    (directory / "gateway.toml").write_text(GATEWAY)
    (directory / "functions" / "exp.toml").write_text(FUNCTION)
    (directory / "functions" / "other.toml").write_text(OTHER_FUNCTION)
    return directory


def experiment_gateway(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Gateway]:
    """A gateway on this config, logging to its own chDB with a fast flush (for module fixtures)."""
    root = tmp_path_factory.mktemp(name)
    server = Gateway(
        write_experiment_config(root / "variants"), root / "data", env=LOGGING_ENV
    ).start()
    yield server
    server.stop()
