"""What a route costs: USD per million tokens, resolved once per config version.

A routing entry's own ``price`` wins; otherwise the ``genai-prices`` package's bundled table is
asked for the provider and model (it ships its data, so no network is needed, and it is never
told to update itself). Anything else is unknown, and its cost is ``None``.

The catalogue lookup costs about 0.5 s the first time (the table loads) and is cached, so it
happens when a config version is compiled, never per request: per request, :func:`cost_usd` is
four multiplications. Tiered catalogue prices (a higher rate past a context size) are priced at
their base tier; docs/spend.md says so.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import msgspec

PER_MTOK = 1_000_000

# Provider types whose public API genai-prices knows by id when no custom base_url is set.
_CATALOGUE_PROVIDER_IDS = {"openai": "openai", "anthropic": "anthropic"}


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens. Cached input defaults to the input price, reasoning tokens to
    the output price (they are part of the completion tokens, as OpenAI reports them)."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    reasoning_per_mtok: float | None = None
    source: str = "config"  # "config" or "genai-prices"


def cost_usd(
    price: Price | None,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> float | None:
    """The cost of one call, or ``None`` when the route has no known price."""
    if price is None:
        return None
    cached = min(cached_tokens, prompt_tokens)
    reasoning = min(reasoning_tokens, completion_tokens)
    cached_rate = (
        price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    )
    reasoning_rate = (
        price.output_per_mtok if price.reasoning_per_mtok is None else price.reasoning_per_mtok
    )
    micro_usd = (
        (prompt_tokens - cached) * price.input_per_mtok
        + cached * cached_rate
        + (completion_tokens - reasoning) * price.output_per_mtok
        + reasoning * reasoning_rate
    )
    return micro_usd / PER_MTOK


def catalogue_price(provider_type: str, base_url: str | None, model: str) -> Price | None:
    """The genai-prices table's price for ``model`` at this provider, or ``None``."""
    return _catalogue_price(provider_type, base_url or "", model)


@functools.lru_cache(maxsize=4096)
def _catalogue_price(provider_type: str, base_url: str, model: str) -> Price | None:
    if provider_type == "dummy":
        return None
    from genai_prices import Usage, calc_price  # loads a 1.6 MB table: only when needed

    where: dict[str, Any]
    if base_url and provider_type not in _default_hosts(base_url):
        where = {"provider_api_url": base_url}
    elif provider_type in _CATALOGUE_PROVIDER_IDS:
        where = {"provider_id": _CATALOGUE_PROVIDER_IDS[provider_type]}
    else:
        return None
    try:
        model_price = calc_price(Usage(input_tokens=1), model, **where).model_price
    except LookupError:
        return None
    input_rate = _base_rate(getattr(model_price, "input_mtok", None))
    output_rate = _base_rate(getattr(model_price, "output_mtok", None))
    if input_rate is None or output_rate is None:
        return None
    return Price(
        input_per_mtok=input_rate,
        output_per_mtok=output_rate,
        cached_input_per_mtok=_base_rate(getattr(model_price, "cache_read_mtok", None)),
        reasoning_per_mtok=_base_rate(getattr(model_price, "output_reasoning_mtok", None)),
        source="genai-prices",
    )


def _default_hosts(base_url: str) -> set[str]:
    """The provider types whose official host ``base_url`` points at (looked up by id)."""
    hosts = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
    return {kind for kind, host in hosts.items() if f"//{host}" in base_url}


def _base_rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    base = getattr(value, "base", None)  # TieredPrices: the rate below the first tier
    return float(base) if isinstance(base, Decimal) else None
