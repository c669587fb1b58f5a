"""The one pricing function: usage in any unit and a price record to an integer quota charge."""

from __future__ import annotations

import math

from relaygate.core.records import PriceRecord
from relaygate.core.types import Usage

QUOTA_PER_USD = 500_000
"""one-api's unit: 500,000 quota = 1 USD, so operators moving from one-api/new-api keep their numbers."""
MAX_COST = 2**53
"""The most one request can be charged: beyond any balance the store holds, exact as a float and an int. A price
that would compute more (or a non-finite one that slipped past the admin checks) is charged this, never an error."""


def quota_cost(price: PriceRecord, usage: Usage, *, multiplier: float = 1.0) -> int:
    """Quota units owed for `usage` at `price`, times the group multiplier, rounded up to a whole unit."""
    cache_read = price.input_per_1m if price.cache_read_per_1m is None else price.cache_read_per_1m
    cache_write = price.input_per_1m if price.cache_write_per_1m is None else price.cache_write_per_1m
    image_in = price.input_per_1m if price.image_input_per_1m is None else price.image_input_per_1m
    fresh = max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens - usage.image_tokens)
    usd = (fresh * price.input_per_1m + usage.cached_tokens * cache_read + usage.cache_write_tokens * cache_write
           + usage.image_tokens * image_in + usage.completion_tokens * price.output_per_1m) / 1e6
    if price.per_call is not None:
        usd += price.per_call * usage.calls
    if price.per_1m_characters is not None:
        usd += usage.characters * price.per_1m_characters / 1e6
    if price.per_second is not None:
        usd += usage.seconds * price.per_second
    if usage.images:
        usd += usage.images * price.image_price(usage.image_variant)
    quota = usd * QUOTA_PER_USD * multiplier
    if not quota < MAX_COST:  # NaN too: an unreadable price never makes a request free
        return MAX_COST
    return max(0, math.ceil(quota - 1e-9))


def usd(quota: int) -> float:
    return quota / QUOTA_PER_USD
