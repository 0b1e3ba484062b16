"""Adaptive campaign settings: defaults, and nonsensical settings rejected naming the key,
through ``switchyard config validate`` and the snapshot builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config.compile import build_snapshot, validate_document
from tests.support.adaptive_config import adaptive_document, adaptive_function
from tests.support.experiment_config import GATEWAY
from tests.support.gateway import REPO

KEY = "functions.bot.campaigns.bandit"


def _document(**campaign: Any) -> dict[str, Any]:
    return adaptive_document(("a", "b", "c"), **campaign)


def _problems(**campaign: Any) -> dict[str, str]:
    return {p.key: p.message for p in validate_document(_document(**campaign))}


def test_defaults() -> None:
    campaign = build_snapshot(_document()).functions["bot"].campaigns["bandit"]
    assert campaign.adaptive
    config = campaign.config
    assert (config.update_interval_s, config.min_share, config.min_samples_per_variant) == (
        60,
        0.05,
        30,
    )
    assert config.on_decision == "hold" and config.promoted is None
    # without a running gateway's state, an adaptive campaign hashes into an equal split
    assert campaign.table.names == ("a", "b", "c")
    assert campaign.table.cumulative[0] == pytest.approx(1 / 3)
    fixed = _document()
    del fixed["functions"]["bot"]["campaigns"]["bandit"]["type"]
    assert not build_snapshot(fixed).functions["bot"].campaigns["bandit"].adaptive


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        ({"type": "bandit"}, f"{KEY}.type", "Invalid enum value 'bandit'"),
        ({"min_share": 0.4}, f"{KEY}.min_share", "more than all the traffic"),
        ({"min_share": 1.5}, f"{KEY}.min_share", "Expected `float` < 1"),
        ({"min_share": -0.1}, f"{KEY}.min_share", "Expected `float` >= 0"),
        ({"update_interval_s": 0}, f"{KEY}.update_interval_s", "Expected `float` > 0"),
        ({"update_interval_s": -5}, f"{KEY}.update_interval_s", "Expected `float` > 0"),
        ({"min_samples_per_variant": 0}, f"{KEY}.min_samples_per_variant", ">= 1"),
        ({"on_decision": "celebrate"}, f"{KEY}.on_decision", "Invalid enum value"),
        ({"metric": None}, f"{KEY}.metric", "needs a metric"),
        ({"metric": "note"}, f"{KEY}.metric", "needs a boolean or float metric"),
        ({"arms": {"a": 1}}, f"{KEY}.variants", "at least two variants"),
        ({"arms": {"a": 1, "b": 0}}, f"{KEY}.variants.b", "weight 0"),
        ({"promoted": "z"}, f"{KEY}.promoted", "not a variant of the campaign"),
    ],
)
def test_nonsensical_settings_name_the_key(
    settings: dict[str, Any], key: str, message: str
) -> None:
    if settings.get("metric", "") is None:
        document = _document()
        del document["functions"]["bot"]["campaigns"]["bandit"]["metric"]
        problems = {p.key: p.message for p in validate_document(document)}
    else:
        problems = _problems(**settings)
    assert key in problems, problems
    assert message in problems[key]


def test_min_share_at_the_limit_is_fine() -> None:
    assert _problems(min_share=1 / 3) == {}
    assert _problems(min_share=0) == {}


def test_adaptive_settings_on_a_fixed_campaign_are_rejected() -> None:
    problems = _problems(type="fixed", min_share=0.1, on_decision="promote")
    assert set(problems) == {f"{KEY}.min_share", f"{KEY}.on_decision"}
    assert "only applies to adaptive campaigns" in problems[f"{KEY}.min_share"]


def test_cli_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "gateway.toml").write_text(GATEWAY)
    (tmp_path / "functions" / "bot.toml").write_text(
        adaptive_function("bandit", min_share=0.6, update_interval_s=0)
    )
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "bot.toml: functions.bot.campaigns.bandit.update_interval_s" in output, output
