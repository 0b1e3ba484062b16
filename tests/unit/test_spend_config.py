"""Route prices and function budgets in config: resolved once per version, bad values named."""

from __future__ import annotations

from typing import Any

import pytest

from app.config.compile import build_snapshot, validate_document
from app.pricing import Price


def _document(route: dict[str, Any], function: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "providers": {
            "demo": {"type": "dummy"},
            "oai": {"type": "openai", "base_url": "https://api.openai.com/v1"},
            "local": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"},
        },
        "models": {"m": {"routing": [route]}},
        "metrics": {},
        "functions": {"f": {"variants": {"v": {"model": "m"}}, **(function or {})}},
    }


def _price(route: dict[str, Any]) -> Price | None:
    return build_snapshot(_document(route)).models["m"][0].price


def test_explicit_price_wins() -> None:
    price = _price(
        {
            "provider": "oai",
            "name": "gpt-4o-mini",
            "price": {"input_per_mtok": 1, "output_per_mtok": 2, "cached_input_per_mtok": 0.5},
        }
    )
    assert price == Price(input_per_mtok=1, output_per_mtok=2, cached_input_per_mtok=0.5)


def test_catalogue_then_unknown() -> None:
    catalogue = _price({"provider": "oai", "name": "gpt-4o-mini"})
    assert catalogue is not None and catalogue.source == "genai-prices"
    assert _price({"provider": "local", "name": "my-finetune"}) is None
    assert _price({"provider": "demo", "name": "gpt-4o-mini"}) is None


def test_ad_hoc_route_is_priced_from_the_catalogue() -> None:
    snapshot = build_snapshot(_document({"provider": "demo", "name": "x"}))
    routes = snapshot.model_routes("gpt-4o-mini@oai")
    assert routes is not None and routes[0].price is not None


@pytest.mark.parametrize(
    ("price", "key"),
    [
        ({"input_per_mtok": -1, "output_per_mtok": 2}, "price.input_per_mtok"),
        ({"input_per_mtok": 1}, "price"),
        ({"input_per_mtok": 1, "output_per_mtok": "x"}, "price.output_per_mtok"),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "per_call": 3}, "price"),
    ],
)
def test_bad_prices_name_the_key(price: dict[str, Any], key: str) -> None:
    problems = validate_document(_document({"provider": "demo", "name": "x", "price": price}))
    assert problems[0].key == f"models.m.routing[0].{key}", problems


@pytest.mark.parametrize(
    ("function", "key"),
    [
        ({"budget_usd": 0}, "functions.f.budget_usd"),
        ({"budget_usd": -5}, "functions.f.budget_usd"),
        ({"budget_usd": "ten"}, "functions.f.budget_usd"),
        ({"budget_usd": 5, "budget_period": "week"}, "functions.f.budget_period"),
    ],
)
def test_bad_budgets_name_the_key(function: dict[str, Any], key: str) -> None:
    problems = validate_document(_document({"provider": "demo", "name": "x"}, function))
    assert [p.key for p in problems] == [key], problems


def test_good_budget() -> None:
    snapshot = build_snapshot(
        _document({"provider": "demo", "name": "x"}, {"budget_usd": 2.5, "budget_period": "day"})
    )
    config = snapshot.functions["f"].config
    assert (config.budget_usd, config.budget_period) == (2.5, "day")


def test_demo_config_prices_every_route() -> None:
    from app.config.source import directory_document
    from tests.support.gateway import REPO

    _, snapshot = directory_document(str(REPO / "variants"))
    routes = [route for routes in snapshot.models.values() for route in routes]
    assert routes and all(route.price is not None for route in routes)
    for function in snapshot.functions.values():
        for variant in function.variants.values():
            assert all(route.price is not None for route in variant.routes), variant.name
