"""Password hashing: argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), off the event loop."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _nobody() -> str:
    """Verified against when there is no hash (unknown user), so an unknown name costs what a wrong password does."""
    return _HASHER.hash("relaygate: a password nobody has")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _HASHER.hash, password)


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(hashed or _nobody(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(hashed: str | None, password: str) -> bool:
    """Whether the password matches the hash; None (no such user, no password set) never matches."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(_verify, hashed, password))
