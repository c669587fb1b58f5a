"""The largest values relaygate accepts and stores: what both databases hold, with room for the arithmetic."""

from __future__ import annotations

INT32_MAX = 2**31 - 1
"""Ids, RPM/TPM limits, priorities and weights are INTEGER columns: 32 bits on PostgreSQL."""

MAX_QUOTA = 2**53 - 1
"""Balances, key quotas, top-ups (quota units; ≈ 18 billion USD). BIGINT holds 2^63 - 1, but SQLite turns an
integer sum past that into a float and JavaScript clients lose integers past 2^53: below this bound every
balance, and the used_quota a balance can ever spend into, stays an exact integer everywhere."""

MAX_USD = 1_000_000.0
"""A price (USD per 1M tokens, per call) above this is a typing mistake, not a price."""

MAX_MULTIPLIER = 1_000.0
"""A group's price multiplier."""

MAX_UNIX_TIME = 253_402_300_799.0
"""9999-12-31T23:59:59Z: the latest expiry or `since` accepted."""

MAX_TIMEOUT = 86_400.0
"""A channel's read timeout, in seconds."""


def within(value: object, high: float, *, optional: bool = False) -> bool:
    """A stored number the pricing arithmetic can use: finite, 0 ≤ value ≤ high (or None, when optional)."""
    if value is None:
        return optional
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= high
