"""The rate-limiter interface the relay depends on: admit against RPM/TPM, then settle TPM to real usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Limit = Literal["rpm", "tpm"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the limiter did not admit: which budget is spent and when to retry."""

    limit: Limit
    retry_after: float


@dataclass(slots=True)
class Admission:
    """A request counted against its key's budgets. `tokens` is what TPM holds for it until settled; `ticket`
    is the limiter's own handle on that count (a window entry, a bucket), handed back to settle()."""

    tokens: int
    ticket: object = None


UNLIMITED = Admission(0)
"""The admission of a key without limits; settling it does nothing."""


class RateLimiter(Protocol):
    """Admits a request against a key's requests-per-minute and tokens-per-minute budgets."""

    async def acquire(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> Admission | Refusal:
        """Count the request (holding `tokens` of its TPM, the reservation's estimate), or refuse it and count
        nothing."""
        ...

    async def settle(self, key_id: int, admission: Admission, actual: int) -> None:
        """Replace the estimate held for an admitted request by the tokens it really used (0 when it failed)."""
        ...
