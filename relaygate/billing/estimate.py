"""Reservations: what a request may cost at most, set aside before it goes upstream."""

from __future__ import annotations

from relaygate.billing.pricing import quota_cost
from relaygate.core.records import PriceRecord
from relaygate.core.types import Usage


def prompt_margin(counted: int) -> int:
    """Prompt tokens to reserve for a prompt counted locally: upstream tokenizers differ from cl100k_base by a
    few percent either way, and chat templates add a few tokens per conversation."""
    return counted + counted // 10 + 16


def token_estimate(prompt_tokens: int, max_output: int, *, choices: int = 1) -> Usage:
    """The most a token-priced request can use: its prompt (with margin) and `choices` answers of max_output."""
    return Usage(prompt_tokens=prompt_margin(prompt_tokens), completion_tokens=max_output * choices)


def reservation(price: PriceRecord, expected: Usage, *, multiplier: float) -> int:
    """Quota units to reserve for `expected` usage: priced exactly as the settlement will be."""
    return quota_cost(price, expected, multiplier=multiplier)
