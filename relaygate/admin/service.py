"""Operator actions over the store; every change is audited and bumps the configuration version caches watch.

`Operator` is the one facade the REST API (and so the console), the CLI and the YAML file use; users and keys live
in accounts.py, users' own keys in self_service.py, redemption codes in redemptions.py, dashboards in dashboard.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError
from sqlalchemy import Connection

from relaygate.admin import console_schemas as cs
from relaygate.admin import file_schemas as fs
from relaygate.admin import schemas as s
from relaygate.admin.accounts import key_hint, key_out, new_key, user_out
from relaygate.admin.changes import Audit
from relaygate.admin.dashboard import DashboardVerbs
from relaygate.admin.fields import model_name
from relaygate.admin.redemptions import RedemptionVerbs
from relaygate.admin.self_service import SelfServiceVerbs
from relaygate.billing.default_prices import DEFAULT_PRICES
from relaygate.core.errors import BadRequest, NotFound
from relaygate.fetch.allow import parse_allow_list
from relaygate.providers.base import read_options
from relaygate.providers.registry import PROVIDERS, options_model, with_options
from relaygate.relay.all_tools import BUILTIN, known_base
from relaygate.relay.prober import probe_channel
from relaygate.relay.upstream import Transport
from relaygate.store import admin_sql, audit_sql
from relaygate.store.catalog import channel_record
from relaygate.store.rows import Row

__all__ = ["Operator", "channel_out", "key_hint", "key_out", "new_key", "user_out"]

DEFAULT_GROUP = "default"


def channel_out(row: Row) -> s.ChannelOut:
    options = row["options"] or {}
    if row["type"] in PROVIDERS:  # what the channel's type reads, as it reads it
        options = read_options(options_model(row["type"]), options).model_dump(mode="json", exclude_defaults=True)
    return s.ChannelOut(**{**row, "credential_count": len(row["credentials"]), "options": options})


def all_tools_out(model: str, row: Row | None) -> fs.AllToolsOut:
    """A mark as in effect: the operator's row, else the built-in one; unset capabilities as known."""
    if row is None:
        mark = BUILTIN[model]
        row = {"base_model": mark.base_model, "vision": mark.vision, "context_tokens": mark.context_tokens,
               "enabled": mark.enabled}
        builtin = True
    else:
        builtin = False
    vision, context = known_base(row["base_model"])
    return fs.AllToolsOut(model=model, base_model=row["base_model"],
                         vision=row["vision"] if row["vision"] is not None else vision,
                         context_tokens=row["context_tokens"] or context, enabled=row["enabled"], builtin=builtin)


def _option_kind(annotation: str) -> Literal["list", "integer", "number", "text", "boolean"]:
    for marker, kind in (("tuple", "list"), ("list", "list"), ("bool", "boolean"), ("int", "integer"),
                         ("float", "number")):
        if marker in annotation:
            return kind  # type: ignore[return-value]
    return "text"


class Operator(SelfServiceVerbs, RedemptionVerbs, DashboardVerbs):
    """The operator's verbs. `changed` runs after each change (the server reloads its catalog)."""

    # channels
    async def create_channel(self, body: s.ChannelIn) -> s.ChannelOut:
        def run(c: Connection, audit: Audit) -> int:
            cid = admin_sql.create_channel(c, body.model_dump())
            audit("channel.create", f"channel {cid}", body.model_dump())
            return cid
        return await self.channel(await self._write(run))

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
        values = patch.model_dump(exclude_unset=True)
        if values.get("options") is not None:
            row = await self._channel_row(channel_id)
            try:
                values["options"] = s.check_options(row["type"], values["options"])
            except ValidationError as exc:
                first = exc.errors()[0]
                raise BadRequest(f"options.{s.where(first['loc'])}: {first['msg']}", param="options") from None
        if "status" in values:
            values["status_reason"] = "set by the operator"

        def run(c: Connection, audit: Audit) -> None:
            changes = admin_sql.update_channel(c, channel_id, values)
            if changes is None:
                raise NotFound(f"No channel with id {channel_id}.")
            if changes:
                audit("channel.update", f"channel {channel_id}", changes)
        await self._write(run)
        return await self.channel(channel_id)

    async def delete_channel(self, channel_id: int) -> None:
        def run(c: Connection, audit: Audit) -> None:
            row = admin_sql.get_channel(c, channel_id)
            if row is None:
                raise NotFound(f"No channel with id {channel_id}.")
            admin_sql.delete_channel(c, channel_id)
            audit("channel.delete", f"channel {channel_id}", {"name": row["name"]})
        await self._write(run)

    async def channel_types(self) -> list[cs.ChannelTypeOut]:
        return [cs.ChannelTypeOut(type=name, serves=sorted(p.serves), options=[
            cs.OptionField(name=field, kind=_option_kind(str(info.annotation)), description=info.description or "")
            for field, info in p.options.model_fields.items()]) for name, p in PROVIDERS.items()]

    async def test_channel(self, channel_id: int, upstream: Transport) -> s.ChannelTestResult:
        result = await probe_channel(upstream, with_options(channel_record(await self._channel_row(channel_id))))
        return s.ChannelTestResult(ok=result.ok, status=result.status, latency_ms=round(result.latency_ms, 2),
                                   message=result.message)

    # groups
    async def set_group(self, body: s.GroupIn) -> s.GroupOut:
        def run(c: Connection, audit: Audit) -> None:
            before = admin_sql.upsert_group(c, body.name, body.multiplier, body.description)
            changes = {k: v for k, v in body.model_dump().items() if before is None or before[k] != v}
            if changes:
                audit("group.set", f"group {body.name}", changes)
        await self._write(run)
        return s.GroupOut(**body.model_dump())

    async def groups(self) -> list[s.GroupOut]:
        stored = [s.GroupOut(**r) for r in await self._read(admin_sql.list_groups)]
        if not any(g.name == DEFAULT_GROUP for g in stored):
            stored.insert(0, s.GroupOut(name=DEFAULT_GROUP, multiplier=1.0, builtin=True,
                                        description="every user starts here; set it like any other group"))
        return stored

    async def delete_group(self, name: str) -> None:
        def run(c: Connection, audit: Audit) -> None:
            if not admin_sql.delete_group(c, name):
                raise NotFound(f"No group named '{name}'.")
            audit("group.delete", f"group {name}", {})
        await self._write(run)

    # prices
    async def set_price(self, model: str, body: s.PriceIn) -> s.PriceOut:
        model = model_name(model)

        def run(c: Connection, audit: Audit) -> None:
            before = admin_sql.upsert_price(c, model, body.model_dump())
            changes = {k: v for k, v in body.model_dump().items() if before is None or before[k] != v}
            if changes:
                audit("price.set", f"price {model}", changes)
        await self._write(run)
        return s.PriceOut(model=model, **body.model_dump())

    async def prices(self) -> list[s.PriceOut]:
        """Every model's effective price: the operator's where set, else the built-in default (marked)."""
        own = {r["model"]: s.PriceOut(**r) for r in await self._read(admin_sql.list_prices)}
        defaults = {
            m: s.PriceOut(model=m, input_per_1m=p.input_per_1m, output_per_1m=p.output_per_1m, completion_ratio=1.0,
                          per_call=p.per_call, cache_read_per_1m=p.cache_read_per_1m,
                          cache_write_per_1m=p.cache_write_per_1m, image_input_per_1m=p.image_input_per_1m,
                          per_1m_characters=p.per_1m_characters, per_second=p.per_second,
                          per_image=dict(p.per_image) or None, source="default")
            for m, p in DEFAULT_PRICES.items() if m not in own
        }
        return [price for _, price in sorted({**defaults, **own}.items())]

    async def delete_price(self, model: str) -> None:
        def run(c: Connection, audit: Audit) -> None:
            if not admin_sql.delete_price(c, model):
                raise NotFound(f"No price set for '{model}'" + (" (its built-in price cannot be removed)."
                                                               if model in DEFAULT_PRICES else "."))
            audit("price.delete", f"price {model}", {})
        await self._write(run)

    # all-tools models and the fetcher's allow-list
    async def all_tools(self) -> list[fs.AllToolsOut]:
        marked = {r["model"]: r for r in await self._read(admin_sql.list_all_tools)}
        return [all_tools_out(m, marked.get(m)) for m in sorted(set(BUILTIN) | set(marked))]

    async def set_all_tools(self, model: str, body: fs.AllToolsIn) -> fs.AllToolsOut:
        model = model_name(model)
        base = body.base_model or (BUILTIN[model].base_model if model in BUILTIN else None)
        if base is None:
            raise BadRequest(f"'{model}' is not a built-in all-tools model: say which model answers (base_model).",
                             param="base_model")
        if base == model:
            raise BadRequest("An all-tools model cannot answer with itself; name another base_model.",
                             param="base_model")
        values = {"base_model": base, "vision": body.vision, "context_tokens": body.context_tokens,
                  "enabled": body.enabled}

        def run(c: Connection, audit: Audit) -> None:
            before = admin_sql.upsert_all_tools(c, model, values)
            changes = {k: v for k, v in values.items() if before is None or before[k] != v}
            if changes:
                audit("all_tools.set", f"all-tools {model}", changes)
        await self._write(run)
        return all_tools_out(model, values)

    async def delete_all_tools(self, model: str) -> None:
        def run(c: Connection, audit: Audit) -> None:
            if not admin_sql.delete_all_tools(c, model):
                raise NotFound(f"'{model}' has no all-tools mark of the operator's.")
            audit("all_tools.delete", f"all-tools {model}", {})
        await self._write(run)

    async def fetch_allow(self, environment: str = "") -> list[fs.FetchAllowOut]:
        """The allow-list in effect: RELAYGATE_FETCH_ALLOW's entries, then the store's."""
        listed = [fs.FetchAllowOut(id=None, entry=str(e), note="RELAYGATE_FETCH_ALLOW", source="environment")
                  for e in parse_allow_list(environment)]
        return listed + [fs.FetchAllowOut(id=r["id"], entry=r["entry"], note=r["note"], source="store")
                         for r in await self._read(admin_sql.list_fetch_allow)]

    async def add_fetch_allow(self, body: fs.FetchAllowIn) -> fs.FetchAllowOut:
        def run(c: Connection, audit: Audit) -> int:
            entry_id = admin_sql.add_fetch_allow(c, body.entry, body.note)
            audit("fetch_allow.add", f"fetch-allow {entry_id}", {"entry": body.entry, "note": body.note})
            return entry_id
        entry_id = await self._write(run)
        return fs.FetchAllowOut(id=entry_id, entry=body.entry, note=body.note, source="store")

    async def delete_fetch_allow(self, entry_id: int) -> None:
        def run(c: Connection, audit: Audit) -> None:
            if not admin_sql.delete_fetch_allow(c, entry_id):
                raise NotFound(f"No stored allow-list entry with id {entry_id}.")
            audit("fetch_allow.delete", f"fetch-allow {entry_id}", {})
        await self._write(run)

    # logs
    async def logs(self, query: s.LogQuery) -> list[s.LogOut]:
        return [s.LogOut(**r) for r in await self._read(lambda c: admin_sql.query_logs(c, **query.model_dump()))]

    async def audit_log(self, query: s.AuditQuery) -> list[s.AuditOut]:
        return [s.AuditOut(**r) for r in await self._read(lambda c: audit_sql.query(c, **query.model_dump()))]
