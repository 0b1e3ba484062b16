"""`switchyard config validate` and the snapshot builder report every problem with file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config.compile import build_snapshot, validate_document
from app.config.loader import load_directory
from app.config.problems import ConfigError
from tests.support.gateway import REPO

BROKEN_GATEWAY = """
[providers.demo]
type = "dummy"
mode = "shout"

[providers.vendor]
type = "carrier-pigeon"

[models.good]
routing = [{ provider = "demo", name = "x" }]

[models.orphan]
routing = [{ provider = "nowhere", name = "x" }]

[metrics.thumbs]
type = "boolean"
level = "session"
"""

BROKEN_FUNCTION = """
default_variant = "missing"

[system_schema]
type = "object"
required = "customer_name"

[variants.a]
model = "unknown-model"
weight = 0
system_template = "Hello {{ name"

[variants.b]
model = "good"
weight = 0
temperature = 7

[campaigns.exp]
variants = { a = 0.5, ghost = 0.5 }
metric = "no-such-metric"

[campaigns.exp2]
variants = { a = 1 }
"""


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    (tmp_path / "functions").mkdir()
    (tmp_path / "gateway.toml").write_text(BROKEN_GATEWAY)
    (tmp_path / "functions" / "bot.toml").write_text(BROKEN_FUNCTION)
    (tmp_path / "functions" / "syntax.toml").write_text("this is = = not toml")
    return tmp_path


def test_every_problem_is_listed_with_file_and_key(broken_dir: Path) -> None:
    document, sources, problems = load_directory(broken_dir)
    problems += validate_document(document, sources)
    found = {(Path(p.file).name, p.key) for p in problems}
    expected = {
        ("syntax.toml", ""),
        ("gateway.toml", "providers.demo.mode"),
        ("gateway.toml", "providers.vendor.type"),
        ("gateway.toml", "models.orphan.routing[0].provider"),
        ("gateway.toml", "metrics.thumbs.level"),
        ("bot.toml", "functions.bot.variants.b.temperature"),
    }
    assert expected <= found, problems


def test_cross_reference_problems(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "gateway.toml").write_text(
        '[providers.demo]\ntype = "dummy"\n[models.good]\nrouting = [{ provider = "demo", name = "x" }]\n'
    )
    (tmp_path / "functions" / "bot.toml").write_text(BROKEN_FUNCTION.replace("temperature = 7", ""))
    document, sources, _ = load_directory(tmp_path)
    keys = {p.key: p.message for p in validate_document(document, sources)}
    assert "unknown model 'unknown-model'" in keys["functions.bot.variants.a.model"]
    assert "syntax" in keys["functions.bot.variants.a.system_template"]
    assert "invalid JSON Schema" in keys["functions.bot.system_schema"]
    assert "unknown variant 'missing'" in keys["functions.bot.default_variant"]
    assert "unknown variant 'ghost'" in keys["functions.bot.campaigns.exp.variants.ghost"]
    assert "unknown metric" in keys["functions.bot.campaigns.exp.metric"]
    assert "more than one active campaign" in keys["functions.bot.campaigns"]


def test_cli_exits_nonzero_and_prints_every_problem(broken_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "validate", str(broken_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert "problem(s)" in result.stdout
    for fragment in ("providers.demo.mode", "models.orphan.routing[0].provider", "syntax.toml"):
        assert fragment in result.stdout


def test_demo_config_is_valid() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "validate", "variants"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout
    assert "OK" in result.stdout


def test_template_variable_not_in_schema_is_a_problem(tmp_path: Path) -> None:
    document = {
        "providers": {"demo": {"type": "dummy"}},
        "models": {"m": {"routing": [{"provider": "demo", "name": "x"}]}},
        "metrics": {},
        "functions": {
            "f": {
                "system_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                "variants": {
                    "v": {"model": "m", "system_template": "Hi {{ name }} from {{ company }}"}
                },
            }
        },
    }
    with pytest.raises(ConfigError) as info:
        build_snapshot(document)
    assert any("company" in p.message for p in info.value.problems)


def test_dotted_names_in_toml_table_headers_are_joined(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(
        '[providers.demo]\ntype = "dummy"\n[models.llama-3.1-8b]\nrouting = [{ provider = "demo", name = "x" }]\n'
    )
    document, sources, problems = load_directory(tmp_path)
    assert not problems
    assert "llama-3.1-8b" in build_snapshot(document, sources=sources).models
