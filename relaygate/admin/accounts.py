"""The operator's verbs on users, balances and keys (client and admin), and admin access at start-up."""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import Connection

from relaygate.admin import schemas as s
from relaygate.admin.changes import Audit, OperatorBase
from relaygate.admin.passwords import hash_password
from relaygate.config import ConfigError
from relaygate.core.errors import BadRequest, NotFound
from relaygate.relay.auth import hash_key
from relaygate.store import accounts_sql, sessions_sql
from relaygate.store.rows import Row

_ALPHABET = string.ascii_letters + string.digits
KEY_CHARS = 48


def new_key() -> str:
    """`sk-` and 48 random characters from the OS's CSPRNG."""
    return "sk-" + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_CHARS))


def key_hint(raw: str) -> str:
    return raw[:6] + "..." + raw[-4:] if len(raw) > 12 else raw[:3] + "..."


def user_out(row: Row) -> s.UserOut:
    return s.UserOut(**{**row, "group": row["group_name"], "has_password": row.get("password_hash") is not None})


def key_out(row: Row) -> s.KeyOut:
    return s.KeyOut(**{**row, "hint": row["key_hint"], "group": row["group_name"]})


_CLIENT_LIMITS = ("quota", "allowed_models", "allowed_ips", "rpm", "tpm", "group", "mj_mode")
"""What governs a client key's calls to /v1; an admin key calls /api, where none of it applies."""


def _no_client_limits(values: dict[str, Any]) -> None:
    """An admin key refuses client-key limits rather than store limits it would silently ignore (an IP range an
    operator believes guards the admin API, say)."""
    given = [name for name in _CLIENT_LIMITS if values.get(name) is not None]
    if values.get("unlimited") is False and "quota" not in given:
        given.append("quota")
    if given:
        raise BadRequest(f"An admin key takes no {given[0]}: it calls /api, which no quota, model list, IP range, "
                         "rate limit, group or MidJourney mode governs; those are for client keys.", param=given[0])


def _renamed(values: dict[str, Any]) -> dict[str, Any]:
    if "group" in values:
        values["group_name"] = values.pop("group")
    return values


class AccountVerbs(OperatorBase):
    # users
    async def create_user(self, body: s.UserIn, action: str = "user.create") -> s.UserOut:
        hashed = await hash_password(body.password) if body.password is not None else None

        def run(c: Connection, audit: Audit) -> int:
            uid = accounts_sql.create_user(c, body.name, body.role, body.group, body.balance)
            if hashed is not None:
                sessions_sql.set_password(c, uid, hashed)
            audit(action, f"user {uid}", {**body.model_dump(exclude={"password"}), "password": hashed is not None})
            return uid
        return await self.user(await self._write(run))

    async def set_password(self, user_id: int, password: str | None, action: str = "user.password",
                           keep_session: str | None = None) -> s.UserOut:
        """Set (None: remove) a user's console password; every session of theirs ends but `keep_session` (the
        hash of the one changing it)."""
        hashed = await hash_password(password) if password is not None else None

        def run(c: Connection, audit: Audit) -> None:
            if not sessions_sql.set_password(c, user_id, hashed, keep_session):
                raise NotFound(f"No user with id {user_id}.")
            audit(action, f"user {user_id}", {"password": "set" if hashed else "removed"})
        await self._write(run, reload=False)
        return await self.user(user_id)

    async def user(self, user_id: int) -> s.UserOut:
        row = await self._read(lambda c: accounts_sql.get_user(c, user_id))
        if row is None:
            raise NotFound(f"No user with id {user_id}.")
        return user_out(row)

    async def users(self) -> list[s.UserOut]:
        return [user_out(r) for r in await self._read(accounts_sql.list_users)]

    async def update_user(self, user_id: int, patch: s.UserPatch | s.SelfPatch) -> s.UserOut:
        values = _renamed(patch.model_dump(exclude_unset=True))

        def run(c: Connection, audit: Audit) -> None:
            changes = accounts_sql.update_user(c, user_id, values)
            if changes is None:
                raise NotFound(f"No user with id {user_id}.")
            if values.get("enabled") is False:
                sessions_sql.end_sessions(c, user_id)
            if changes:
                audit("user.update", f"user {user_id}", changes)
        await self._write(run)
        return await self.user(user_id)

    async def top_up(self, user_id: int, body: s.TopUp) -> s.UserOut:
        def run(c: Connection, audit: Audit) -> None:
            moved = accounts_sql.add_balance(c, user_id, body.amount)
            if moved is None:
                raise NotFound(f"No user with id {user_id}.")
            audit("user.topup", f"user {user_id}", {"balance": {"from": moved[0], "to": moved[1]},
                                                    "amount": body.amount, "note": body.note})
        await self._write(run)
        return await self.user(user_id)

    async def set_balance(self, user_id: int, body: s.BalanceSet) -> s.UserOut:
        def run(c: Connection, audit: Audit) -> None:
            moved = accounts_sql.set_balance(c, user_id, body.balance)
            if moved is None:
                raise NotFound(f"No user with id {user_id}.")
            audit("user.set_balance", f"user {user_id}", {"balance": {"from": moved[0], "to": moved[1]},
                                                          "note": body.note})
        await self._write(run)
        return await self.user(user_id)

    async def delete_user(self, user_id: int) -> None:
        def run(c: Connection, audit: Audit) -> None:
            row = accounts_sql.delete_user(c, user_id)
            if row is None:
                raise NotFound(f"No user with id {user_id}.")
            sessions_sql.end_sessions(c, user_id)
            audit("user.delete", f"user {user_id}", {"name": row["name"], "balance": row["balance"]})
        await self._write(run)

    # keys
    async def create_key(self, body: s.KeyIn) -> s.KeyCreated:
        owner = await self.user(body.user_id)
        if body.kind == "admin" and owner.role != "admin":
            raise BadRequest(f"User {owner.id} does not have the admin role; give it the role first "
                             "(PATCH /api/users/{id} {\"role\": \"admin\"}).", param="kind")
        if body.kind == "admin":
            _no_client_limits(body.model_dump())
        raw = body.key or new_key()
        values = {
            "user_id": body.user_id, "kind": body.kind, "name": body.name, "key_hash": hash_key(raw),
            "key_hint": key_hint(raw), "unlimited": body.quota is None, "remain_quota": body.quota or 0,
            "expires_at": body.expires_at, "allowed_models": body.allowed_models, "allowed_ips": body.allowed_ips,
            "rpm": body.rpm, "tpm": body.tpm, "group_name": body.group, "enabled": True, "mj_mode": body.mj_mode,
        }

        def run(c: Connection, audit: Audit) -> int:
            kid = accounts_sql.create_key(c, values)
            audit("key.create", f"key {kid}", body.model_dump(exclude={"key"}))
            return kid
        out = await self.key(await self._write(run))
        return s.KeyCreated(**out.model_dump(), key=raw)

    async def key(self, key_id: int) -> s.KeyOut:
        row = await self._read(lambda c: accounts_sql.get_key(c, key_id))
        if row is None:
            raise NotFound(f"No key with id {key_id}.")
        return key_out(row)

    async def keys(self, user_id: int | None = None, kind: str | None = None) -> list[s.KeyOut]:
        return [key_out(r) for r in await self._read(lambda c: accounts_sql.list_keys(c, user_id, kind))]

    async def update_key(self, key_id: int, patch: s.KeyPatch, action: str = "key.update") -> s.KeyOut:
        given = patch.model_dump(exclude_unset=True)
        values = _renamed(dict(given))
        if "quota" in values:
            values["remain_quota"] = values.pop("quota") or 0

        def run(c: Connection, audit: Audit) -> None:
            row = accounts_sql.get_key(c, key_id)
            if row is not None and row["kind"] == "admin":
                _no_client_limits(given)
            changes = accounts_sql.update_key(c, key_id, values)
            if changes is None:
                raise NotFound(f"No key with id {key_id}.")
            if changes:
                audit(action, f"key {key_id}", changes)
        await self._write(run)
        return await self.key(key_id)

    async def revoke_key(self, key_id: int) -> s.KeyOut:
        return await self.update_key(key_id, s.KeyPatch(enabled=False), "key.revoke")

    async def rotate_key(self, key_id: int) -> s.KeyCreated:
        """A new value for the key (same id, owner and limits); the old value stops working at once."""
        raw = new_key()

        def run(c: Connection, audit: Audit) -> None:
            if accounts_sql.update_key(c, key_id, {"key_hash": hash_key(raw), "key_hint": key_hint(raw)}) is None:
                raise NotFound(f"No key with id {key_id}.")
            audit("key.rotate", f"key {key_id}", {"key_hint": key_hint(raw)})
        await self._write(run)
        return s.KeyCreated(**(await self.key(key_id)).model_dump(), key=raw)

    # admin access
    async def ensure_admin(self, admin_key: str | None) -> str | None:
        """Make sure an admin can get in: RELAYGATE_ADMIN_KEY's key exists and works (created, or restored:
        enabled, unexpired, its user enabled with the admin role); without it, the first start creates an admin
        and returns a generated key to print once."""
        if not admin_key:
            if await self._read(accounts_sql.admin_key_exists):
                return None
            raw = new_key()
            await self._write(lambda c, audit: _issue_admin_key(c, audit, raw))
            return raw
        row = await self._read(lambda c: accounts_sql.key_by_hash(c, hash_key(admin_key)))
        if row is None:
            await self._write(lambda c, audit: _issue_admin_key(c, audit, admin_key))
        elif row["kind"] != "admin":
            raise ConfigError(f"RELAYGATE_ADMIN_KEY: that value is client key {row['id']}'s; "
                              "set a value no client key has")
        else:
            await self._write(lambda c, audit: _restore_admin_key(c, audit, row))
        return None


    async def ensure_admin_password(self, password: str | None) -> str | None:
        """The first admin gets a console password if it has none: `password` (RELAYGATE_ADMIN_PASSWORD), else a
        generated one, returned to print once (None when the admin had one already)."""
        owner = await self._read(accounts_sql.first_admin)
        if owner is None or owner["password_hash"] is not None:
            return None
        chosen = password or secrets.token_urlsafe(15)
        await self.set_password(owner["id"], chosen, "user.password")
        return None if password else chosen


def _issue_admin_key(c: Connection, audit: Audit, raw: str) -> None:
    owner = accounts_sql.first_admin(c)
    if owner is None:
        name = next(n for n in ("admin", *(f"admin-{i}" for i in range(2, 10_000)))
                    if accounts_sql.find_user(c, n) is None)
        uid = accounts_sql.create_user(c, name, "admin", "default", 0)
        audit("user.create", f"user {uid}", {"name": name, "role": "admin"})
    else:
        uid = owner["id"]
    kid = accounts_sql.create_key(c, {
        "user_id": uid, "kind": "admin", "name": "admin", "key_hash": hash_key(raw), "key_hint": key_hint(raw),
        "unlimited": True, "remain_quota": 0, "enabled": True})
    audit("key.create", f"key {kid}", {"kind": "admin", "user_id": uid})


def _restore_admin_key(c: Connection, audit: Audit, row: Row) -> None:
    key_changes = accounts_sql.update_key(c, row["id"], {"enabled": True, "expires_at": None})
    user_changes = accounts_sql.update_user(c, row["user_id"], {"role": "admin", "enabled": True})
    if key_changes or user_changes:
        audit("admin.restore", f"key {row['id']}", {**(key_changes or {}), **(user_changes or {})})
