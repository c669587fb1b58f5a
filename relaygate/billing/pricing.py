"""The one pricing function: usage and a price record to an integer quota charge."""

from __future__ import annotations

import math

from relaygate.core.records import PriceRecord
from relaygate.core.types import Usage

QUOTA_PER_USD = 500_000
"""one-api's unit: 500,000 quota = 1 USD, so operators moving from one-api/new-api keep their numbers."""


def quota_cost(price: PriceRecord, usage: Usage, *, multiplier: float = 1.0, calls: int = 1) -> int:
    """Quota units owed for `usage` at `price`, times the group multiplier, rounded up to a whole unit."""
    cache_read = price.input_per_1m if price.cache_read_per_1m is None else price.cache_read_per_1m
    cache_write = price.input_per_1m if price.cache_write_per_1m is None else price.cache_write_per_1m
    fresh = max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens)
    usd = (fresh * price.input_per_1m + usage.cached_tokens * cache_read + usage.cache_write_tokens * cache_write
           + usage.completion_tokens * price.output_per_1m) / 1e6
    if price.per_call is not None:
        usd += price.per_call * calls
    quota = usd * QUOTA_PER_USD * multiplier
    return max(0, math.ceil(quota - 1e-9))


def usd(quota: int) -> float:
    return quota / QUOTA_PER_USD
