"""Operator actions over the store; every change bumps the configuration version caches watch."""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from relaygate.admin import schemas as s
from relaygate.core.errors import BadRequest, NotFound
from relaygate.providers.base import read_options
from relaygate.providers.registry import PROVIDERS, options_model, with_options
from relaygate.relay.auth import hash_key
from relaygate.relay.prober import probe_channel
from relaygate.relay.upstream import Transport
from relaygate.store import admin_sql
from relaygate.store.admin_sql import Conflict, Row
from relaygate.store.catalog import channel_record
from relaygate.store.database import Database

_ALPHABET = string.ascii_letters + string.digits
KEY_CHARS = 48


def new_key() -> str:
    """`sk-` and 48 random characters from the OS's CSPRNG."""
    return "sk-" + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_CHARS))


def key_hint(raw: str) -> str:
    return raw[:6] + "..." + raw[-4:] if len(raw) > 12 else raw[:3] + "..."


def user_out(row: Row) -> s.UserOut:
    return s.UserOut(**{**row, "group": row["group_name"]})


def key_out(row: Row) -> s.KeyOut:
    return s.KeyOut(**{**row, "hint": row["key_hint"], "group": row["group_name"]})


def channel_out(row: Row) -> s.ChannelOut:
    options = row["options"] or {}
    if row["type"] in PROVIDERS:
        options = read_options(options_model(row["type"]), options).model_dump(mode="json", exclude_defaults=True)
    return s.ChannelOut(**{**row, "credential_count": len(row["credentials"]), "options": options})


class Operator:
    """The operator's verbs. `changed` runs after each change (the server reloads its catalog)."""

    def __init__(self, db: Database, changed: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.db = db
        self.changed = changed

    async def _write(self, fn: Callable[[Connection], Any]) -> Any:
        try:
            result = await self.db.run(fn)
        except Conflict as exc:
            raise BadRequest(str(exc), code="already_exists") from None
        if self.changed is not None:
            await self.changed()
        return result

    async def _read(self, fn: Callable[[Connection], Any]) -> Any:
        return await self.db.run(fn)

    # users
    async def create_user(self, body: s.UserIn) -> s.UserOut:
        uid = await self._write(lambda c: admin_sql.create_user(c, body.name, body.role, body.group, body.balance))
        return await self.user(uid)

    async def user(self, user_id: int) -> s.UserOut:
        row = await self._read(lambda c: admin_sql.get_user(c, user_id))
        if row is None:
            raise NotFound(f"No user with id {user_id}.")
        return user_out(row)

    async def users(self) -> list[s.UserOut]:
        return [user_out(r) for r in await self._read(admin_sql.list_users)]

    async def update_user(self, user_id: int, patch: s.UserPatch | s.SelfPatch) -> s.UserOut:
        values = patch.model_dump(exclude_unset=True)
        if "group" in values:
            values["group_name"] = values.pop("group")
        if not await self._write(lambda c: admin_sql.update_user(c, user_id, values)):
            raise NotFound(f"No user with id {user_id}.")
        return await self.user(user_id)

    async def top_up(self, user_id: int, body: s.TopUp) -> s.UserOut:
        if not await self._write(lambda c: admin_sql.top_up(c, user_id, body.amount)):
            raise NotFound(f"No user with id {user_id}.")
        return await self.user(user_id)

    # keys
    async def create_key(self, body: s.KeyIn, *, kind: str = "client") -> s.KeyCreated:
        await self.user(body.user_id)
        raw = body.key or new_key()
        values = {
            "user_id": body.user_id, "kind": kind, "name": body.name, "key_hash": hash_key(raw),
            "key_hint": key_hint(raw), "unlimited": body.quota is None, "remain_quota": body.quota or 0,
            "expires_at": body.expires_at, "allowed_models": body.allowed_models, "allowed_ips": body.allowed_ips,
            "rpm": body.rpm, "tpm": body.tpm, "group_name": body.group, "enabled": True, "mj_mode": body.mj_mode,
        }
        try:
            kid = await self._write(lambda c: admin_sql.create_key(c, values))
        except BadRequest:
            raise BadRequest("That key value is already in use.", code="already_exists") from None
        out = await self.key(kid, kind=kind)
        return s.KeyCreated(**out.model_dump(), key=raw)

    async def key(self, key_id: int, *, kind: str = "client") -> s.KeyOut:
        row = await self._read(lambda c: admin_sql.get_key(c, key_id))
        if row is None or row["kind"] != kind:
            raise NotFound(f"No key with id {key_id}.")
        return key_out(row)

    async def keys(self, user_id: int | None = None) -> list[s.KeyOut]:
        return [key_out(r) for r in await self._read(lambda c: admin_sql.list_keys(c, user_id))]

    async def update_key(self, key_id: int, patch: s.KeyPatch) -> s.KeyOut:
        await self.key(key_id)
        values = patch.model_dump(exclude_unset=True)
        if "quota" in values:
            values["remain_quota"] = values.pop("quota") or 0
        if "group" in values:
            values["group_name"] = values.pop("group")
        await self._write(lambda c: admin_sql.update_key(c, key_id, values))
        return await self.key(key_id)

    async def revoke_key(self, key_id: int) -> s.KeyOut:
        return await self.update_key(key_id, s.KeyPatch(enabled=False))

    async def ensure_admin(self, admin_key: str | None) -> str | None:
        """Create the admin user and key on first start; returns a generated key to print once."""
        if admin_key:
            digest = hash_key(admin_key)
            if await self._read(lambda c: admin_sql.key_by_hash(c, digest)) is not None:
                return None
        elif await self._read(admin_sql.admin_key_exists):
            return None
        row = await self._read(lambda c: admin_sql.find_user(c, "admin"))
        uid = row["id"] if row else (await self.create_user(s.UserIn(name="admin", role="admin"))).id
        created = await self.create_key(s.KeyIn(user_id=uid, name="admin", key=admin_key or None), kind="admin")
        return None if admin_key else created.key

    # channels
    async def create_channel(self, body: s.ChannelIn) -> s.ChannelOut:
        cid = await self._write(lambda c: admin_sql.create_channel(c, body.model_dump()))
        return await self.channel(cid)

    async def _channel_row(self, channel_id: int) -> Row:
        row = await self._read(lambda c: admin_sql.get_channel(c, channel_id))
        if row is None:
            raise NotFound(f"No channel with id {channel_id}.")
        return dict(row)

    async def channel(self, channel_id: int) -> s.ChannelOut:
        return channel_out(await self._channel_row(channel_id))

    async def channels(self) -> list[s.ChannelOut]:
        return [channel_out(r) for r in await self._read(admin_sql.list_channels)]

    async def update_channel(self, channel_id: int, patch: s.ChannelPatch) -> s.ChannelOut:
        row = await self._channel_row(channel_id)
        values = patch.model_dump(exclude_unset=True)
        if values.get("options") is not None:
            try:
                values["options"] = s.check_options(row["type"], values["options"])
            except ValidationError as exc:
                raise BadRequest(f"options: {exc.errors()[0]['msg']} ({'.'.join(map(str, exc.errors()[0]['loc']))})",
                                 param="options") from None
        if "status" in values:
            values["status_reason"] = "set by the operator"
        await self._write(lambda c: admin_sql.update_channel(c, channel_id, values))
        return await self.channel(channel_id)

    async def delete_channel(self, channel_id: int) -> None:
        await self._channel_row(channel_id)
        await self._write(lambda c: admin_sql.delete_channel(c, channel_id))

    async def test_channel(self, channel_id: int, upstream: Transport) -> s.ChannelTestResult:
        result = await probe_channel(upstream, with_options(channel_record(await self._channel_row(channel_id))))
        return s.ChannelTestResult(ok=result.ok, status=result.status, latency_ms=round(result.latency_ms, 2),
                                   message=result.message)

    # groups, prices, logs
    async def set_group(self, body: s.GroupIn) -> s.GroupOut:
        await self._write(lambda c: admin_sql.upsert_group(c, body.name, body.multiplier, body.description))
        return s.GroupOut(**body.model_dump())

    async def groups(self) -> list[s.GroupOut]:
        return [s.GroupOut(**r) for r in await self._read(admin_sql.list_groups)]

    async def delete_group(self, name: str) -> None:
        if not await self._write(lambda c: admin_sql.delete_group(c, name)):
            raise NotFound(f"No group named '{name}'.")

    async def set_price(self, model: str, body: s.PriceIn) -> s.PriceOut:
        await self._write(lambda c: admin_sql.upsert_price(c, model, body.model_dump()))
        return s.PriceOut(model=model, **body.model_dump())

    async def prices(self) -> list[s.PriceOut]:
        return [s.PriceOut(**r) for r in await self._read(admin_sql.list_prices)]

    async def delete_price(self, model: str) -> None:
        if not await self._write(lambda c: admin_sql.delete_price(c, model)):
            raise NotFound(f"No price set for '{model}'.")

    async def logs(self, **filters: Any) -> list[s.LogOut]:
        return [s.LogOut(**r) for r in await self._read(lambda c: admin_sql.query_logs(c, **filters))]
