"""Password hashing: argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), off the event loop."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@functools.cache
def _hasher() -> PasswordHasher:
    # imported at the first log-in, not at start: a relay whose console nobody uses does not carry it (≈ 2 MiB)
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _nobody() -> str:
    """Verified against when there is no hash (unknown user), so an unknown name costs what a wrong password does."""
    return _hasher().hash("relaygate: a password nobody has")


def _hash(password: str) -> str:
    return _hasher().hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _hash, password)


def _verify(hashed: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(hashed or _nobody(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(hashed: str | None, password: str) -> bool:
    """Whether the password matches the hash; None (no such user, no password set) never matches."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(_verify, hashed, password))
