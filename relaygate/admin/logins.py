"""Console log-ins: username and password to a server-side session, wrong passwords slowed then locked, log-out.

A session is a random token in an HttpOnly cookie, stored only as its SHA-256, with a CSRF token the console
sends back on every change. Every failure says the same "invalid username or password", and an unknown user
costs one argon2 verification as a wrong password does, so neither the answer nor its time tells who exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from relaygate.admin import console_schemas as cs
from relaygate.admin import schemas as s
from relaygate.admin.accounts import AccountVerbs
from relaygate.admin.actor import Actor
from relaygate.admin.passwords import verify_password
from relaygate.core.errors import BadRequest, Forbidden, RateLimited, Unauthorized
from relaygate.store import sessions_sql
from relaygate.store.sessions_sql import SessionUser

LOCK_AFTER = 5
"""Wrong passwords for one username from one address within LOCK_WINDOW after which it is locked."""
LOCK_WINDOW = 15 * 60.0
SLOW_AFTER = 2
"""Wrong passwords after which each further one is answered only after a pause (0.5 s more each time)."""
INVALID = "invalid username or password"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    """The session cookie's value: shown to the browser once, stored only as its hash."""
    csrf_token: str
    user: s.UserOut
    max_age: int


class Logins:
    """Sessions over the operator's accounts; `session_hours` is how long a log-in lasts."""

    def __init__(self, accounts: AccountVerbs, session_hours: float, registration: bool) -> None:
        self._accounts = accounts
        self._seconds = session_hours * 3600
        self.registration = registration

    async def login(self, body: cs.LoginIn, address: str) -> Login:
        now = time.time()
        name, address = body.username, address[:64]
        failures = await self._accounts.unaudited(
            lambda c: sessions_sql.recent_failures(c, name, address, now - LOCK_WINDOW))
        if len(failures) >= LOCK_AFTER:
            wait = failures[-LOCK_AFTER] + LOCK_WINDOW - now
            raise RateLimited(f"Too many wrong passwords for this username from your address; log-in is locked for "
                              f"{max(1, round(wait / 60))} minute(s). An admin can reset the password meanwhile.",
                              retry_after=max(1.0, wait))
        found = await self._accounts.unaudited(lambda c: sessions_sql.password_of(c, name))
        hashed = found[1] if found is not None and found[2] else None
        if not await verify_password(hashed, body.password) or found is None:
            await self._accounts.unaudited(lambda c: sessions_sql.record_failure(c, name, address, now,
                                                                             now - LOCK_WINDOW))
            if len(failures) + 1 > SLOW_AFTER:
                await asyncio.sleep(0.5 * (len(failures) + 1 - SLOW_AFTER))
            raise Unauthorized(INVALID, code="invalid_credentials")
        user_id = found[0]
        await self._accounts.unaudited(lambda c: sessions_sql.clear_failures(c, name, address))
        return await self.open(user_id)

    async def open(self, user_id: int) -> Login:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()

        def run(c: Connection) -> None:
            sessions_sql.open_session(c, token_hash(token), user_id, csrf, now, now + self._seconds)
        await self._accounts.unaudited(run)
        return Login(token, csrf, await self._accounts.user(user_id), int(self._seconds))

    async def session(self, token: str | None) -> SessionUser | None:
        if not token or len(token) > 256:
            return None
        digest, now = token_hash(token), time.time()
        return await self._accounts.unaudited(lambda c: sessions_sql.session_user(c, digest, now))

    async def logout(self, token: str | None) -> bool:
        if not token or len(token) > 256:
            return False
        digest = token_hash(token)
        return await self._accounts.unaudited(lambda c: sessions_sql.close_session(c, digest))

    async def register(self, body: cs.RegisterIn, address: str) -> Login:
        """Self-registration (RELAYGATE_REGISTRATION): a user in the default group, balance 0, logged in."""
        if not self.registration:
            raise Forbidden("Self-registration is off on this relaygate; ask the operator for an account.",
                            code="registration_closed")
        maker = self._accounts.by(Actor(f"self-registration from {address[:64]}"))
        user = await maker.create_user(s.UserIn(name=body.username, password=body.password), "user.register")
        return await self.open(user.id)

    async def change_password(self, user_id: int, body: cs.PasswordChange, keep: str | None) -> s.UserOut:
        """The user's own password, given the current one; every session but the one in use (`keep`) ends."""
        hashed = await self._accounts.unaudited(lambda c: sessions_sql.password_hash(c, user_id))
        if not await verify_password(hashed, body.current_password):
            raise BadRequest("The current password is wrong.", code="wrong_password", param="current_password")
        return await self._accounts.set_password(user_id, body.new_password, "user.change_password",
                                                 keep_session=token_hash(keep) if keep else None)
