"""Configs with an adaptive campaign ``bandit`` on a function ``bot`` (or as TOML text for a
gateway), for the adaptive-campaign tests."""

from __future__ import annotations

from typing import Any


def adaptive_document(variants: tuple[str, ...] = ("a", "b"), **campaign: Any) -> dict[str, Any]:
    """A config document: instant dummy model ``m``, metrics ``success`` (boolean) and
    ``note`` (comment), function ``bot`` with ``variants`` and the campaign ``bandit``
    (adaptive, equal weights, on ``success``) updated by ``campaign``; ``arms=`` replaces its
    variants table."""
    arms = campaign.pop("arms", dict.fromkeys(variants, 1))
    return {
        "providers": {"instant": {"type": "dummy"}},
        "models": {"m": {"routing": [{"provider": "instant", "name": "m"}]}},
        "metrics": {"success": {"type": "boolean"}, "note": {"type": "comment"}},
        "functions": {
            "bot": {
                "variants": {v: {"model": "m"} for v in variants},
                "campaigns": {
                    "bandit": {"type": "adaptive", "variants": arms, "metric": "success"} | campaign
                },
            }
        },
    }


def adaptive_function(campaign: str, **settings: object) -> str:
    """A function file (TOML) with variants ``a`` and ``b`` on model ``m`` and the adaptive
    campaign ``campaign`` on ``success``, plus ``settings``."""
    lines = [f"{key} = {_toml(value)}" for key, value in settings.items()]
    return (
        '[variants.a]\nmodel = "m"\n\n[variants.b]\nmodel = "m"\n\n'
        f'[campaigns.{campaign}]\ntype = "adaptive"\nvariants = {{ a = 1, b = 1 }}\n'
        'metric = "success"\n' + "\n".join(lines) + "\n"
    )


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
