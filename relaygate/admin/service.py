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
from relaygate.fetch.allow import parse_allow_list
from relaygate.providers.base import read_options
from relaygate.providers.registry import PROVIDERS, options_model, with_options
from relaygate.relay.all_tools import BUILTIN, known_base
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


def all_tools_out(model: str, row: Row | None) -> s.AllToolsOut:
    """A mark as in effect: the operator's row, else the built-in one; unset capabilities as known."""
    found = row if row is not None else _builtin_row(model)
    vision, context = known_base(found["base_model"])
    return s.AllToolsOut(model=model, base_model=found["base_model"],
                         vision=found["vision"] if found["vision"] is not None else vision,
                         context_tokens=found["context_tokens"] or context, enabled=found["enabled"],
                         builtin=row is None)


def _builtin_row(model: str) -> Row:
    mark = BUILTIN[model]
    return {"base_model": mark.base_model, "vision": mark.vision, "context_tokens": mark.context_tokens,
            "enabled": mark.enabled}


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
            "rpm": body.rpm, "tpm": body.tpm, "group_name": body.group, "enabled": True,
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

    # all-tools models and the fetcher's allow-list
    async def all_tools(self) -> list[s.AllToolsOut]:
        rows = {r["model"]: r for r in await self._read(admin_sql.list_all_tools)}
        return [all_tools_out(m, rows.get(m)) for m in sorted(set(BUILTIN) | set(rows))]

    async def set_all_tools(self, model: str, body: s.AllToolsIn) -> s.AllToolsOut:
        if not model or len(model) > 128:
            raise BadRequest("A model name is 1 to 128 characters.", param="model")
        base = body.base_model or (BUILTIN[model].base_model if model in BUILTIN else None)
        if base is None:
            raise BadRequest(f"'{model}' is not a built-in all-tools model: say which model answers "
                             "(base_model).", param="base_model")
        if base == model:
            raise BadRequest("An all-tools model cannot answer with itself; name another base_model.",
                             param="base_model")
        values = {"base_model": base, "vision": body.vision, "context_tokens": body.context_tokens,
                  "enabled": body.enabled}
        await self._write(lambda c: admin_sql.upsert_all_tools(c, model, values))
        return all_tools_out(model, values)

    async def delete_all_tools(self, model: str) -> None:
        if not await self._write(lambda c: admin_sql.delete_all_tools(c, model)):
            raise NotFound(f"'{model}' has no all-tools mark of the operator's.")

    async def fetch_allow(self, environment: str = "") -> list[s.FetchAllowOut]:
        """The allow-list in effect: RELAYGATE_FETCH_ALLOW's entries, then the store's."""
        listed = [s.FetchAllowOut(id=None, entry=str(e), note="RELAYGATE_FETCH_ALLOW", source="environment")
                  for e in parse_allow_list(environment)]
        return listed + [s.FetchAllowOut(id=r["id"], entry=r["entry"], note=r["note"], source="store")
                         for r in await self._read(admin_sql.list_fetch_allow)]

    async def add_fetch_allow(self, body: s.FetchAllowIn) -> s.FetchAllowOut:
        entry_id = await self._write(lambda c: admin_sql.add_fetch_allow(c, body.entry, body.note))
        return s.FetchAllowOut(id=entry_id, entry=body.entry, note=body.note, source="store")

    async def delete_fetch_allow(self, entry_id: int) -> None:
        if not await self._write(lambda c: admin_sql.delete_fetch_allow(c, entry_id)):
            raise NotFound(f"No stored allow-list entry with id {entry_id}.")

    async def logs(self, **filters: Any) -> list[s.LogOut]:
        return [s.LogOut(**r) for r in await self._read(lambda c: admin_sql.query_logs(c, **filters))]
