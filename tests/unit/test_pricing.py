"""Route prices: explicit prices, the genai-prices catalogue, and the cost arithmetic."""

from __future__ import annotations

from genai_prices import Usage, calc_price

from app.pricing import Price, catalogue_price, cost_usd


def test_cost_is_tokens_times_price() -> None:
    price = Price(input_per_mtok=0.15, output_per_mtok=0.60)
    assert abs(cost_usd(price, 1_000, 500) - (1_000 * 0.15 + 500 * 0.60) / 1e6) < 1e-15


def test_cached_and_reasoning_rates() -> None:
    price = Price(input_per_mtok=2.0, output_per_mtok=8.0, cached_input_per_mtok=0.5)
    # 300 of 1,000 prompt tokens cached; reasoning tokens bill at the output rate by default.
    expected = (700 * 2.0 + 300 * 0.5 + 400 * 8.0) / 1e6
    assert (
        abs(cost_usd(price, 1_000, 400, cached_tokens=300, reasoning_tokens=100) - expected) < 1e-15
    )
    with_reasoning_rate = Price(input_per_mtok=2.0, output_per_mtok=8.0, reasoning_per_mtok=1.0)
    expected = (1_000 * 2.0 + 300 * 8.0 + 100 * 1.0) / 1e6
    assert abs(cost_usd(with_reasoning_rate, 1_000, 400, reasoning_tokens=100) - expected) < 1e-15


def test_unknown_price_costs_none() -> None:
    assert cost_usd(None, 10, 10) is None


def test_catalogue_matches_genai_prices() -> None:
    price = catalogue_price("openai", "https://api.openai.com/v1", "gpt-4o-mini")
    assert price is not None and price.source == "genai-prices"
    reference = calc_price(
        Usage(input_tokens=12_345, output_tokens=678), "gpt-4o-mini", provider_id="openai"
    )
    assert abs(cost_usd(price, 12_345, 678) - float(reference.total_price)) < 1e-9
    anthropic = catalogue_price("anthropic", None, "claude-3-5-haiku-latest")
    assert anthropic is not None and anthropic.output_per_mtok > anthropic.input_per_mtok


def test_unknown_models_and_hosts_have_no_catalogue_price() -> None:
    assert catalogue_price("dummy", None, "gpt-4o-mini") is None
    assert catalogue_price("openai", "http://127.0.0.1:8000/v1", "meta-llama/Llama-3.1-8B") is None
    assert catalogue_price("openai", None, "no-such-model-xyz") is None
