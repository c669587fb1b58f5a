"""The rate-limiter interface the relay depends on."""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Admits a request against a key's requests-per-minute and tokens-per-minute budgets."""

    async def acquire(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> float | None:
        """Count the request and return None, or return seconds to wait and count nothing."""
        ...
