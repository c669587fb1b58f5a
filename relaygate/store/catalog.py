"""Loading the operator's configuration into records, and the version stamp that invalidates caches."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

from sqlalchemy import Connection, select, update

from relaygate.core.bounds import MAX_MULTIPLIER, MAX_USD, within
from relaygate.core.records import AllToolsRecord, ChannelRecord, GroupRecord, KeyRecord, PriceRecord
from relaygate.store.notices import notify_config_changed
from relaygate.store.tables import (
    all_tools_models,
    channels,
    fetch_allow,
    groups,
    keys,
    prices,
    settings_kv,
    users,
)

log = logging.getLogger("relaygate.catalog")

CONFIG_VERSION = "config_version"
_PRICE_FIELDS = ("input_per_1m", "output_per_1m", "per_call", "cache_read_per_1m", "cache_write_per_1m",
                 "image_input_per_1m", "per_1m_characters", "per_second")


@dataclass(frozen=True, slots=True)
class CatalogRows:
    """Every record the hot path serves from memory, keyed where it is looked up."""

    version: int
    keys_by_hash: dict[str, KeyRecord]
    channels: tuple[ChannelRecord, ...]
    prices: dict[str, PriceRecord]
    groups: dict[str, GroupRecord]
    all_tools: dict[str, AllToolsRecord] = field(default_factory=dict)
    """The operator's all-tools marks, by model."""
    fetch_allow: tuple[str, ...] = ()
    """The fetcher's allow-list entries kept in the store (checked when they were added)."""


def config_version(conn: Connection) -> int:
    value = conn.execute(select(settings_kv.c.value).where(settings_kv.c.name == CONFIG_VERSION)).scalar()
    return int(value or 0)


def bump_config_version(conn: Connection) -> None:
    """Tell every process (this one and other replicas) that cached configuration is stale."""
    done = conn.execute(
        update(settings_kv).where(settings_kv.c.name == CONFIG_VERSION).values(value=settings_kv.c.value + 1)
    ).rowcount
    if not done:
        conn.execute(settings_kv.insert().values(name=CONFIG_VERSION, value=1))
    notify_config_changed(conn)


def channel_record(r: Mapping[Any, Any]) -> ChannelRecord:
    return ChannelRecord(
        id=r["id"],
        name=r["name"],
        type=r["type"],
        base_url=r["base_url"].rstrip("/"),
        credentials=tuple(r["credentials"]),
        models=tuple(r["models"]),
        model_mapping=dict(r["model_mapping"]),
        groups=tuple(r["groups"]),
        priority=r["priority"],
        weight=r["weight"],
        timeout=r["timeout"],
        status=r["status"],
        test_model=r["test_model"],
        options=r["options"],
    )


def load_catalog(conn: Connection) -> CatalogRows:
    version = config_version(conn)
    key_rows = conn.execute(
        select(keys, users.c.group_name.label("user_group"), users.c.enabled.label("user_enabled"),
               users.c.role.label("user_role")).join(users, users.c.id == keys.c.user_id)
    ).mappings()
    keys_by_hash = {}
    for r in key_rows:
        nets = r["allowed_ips"]
        keys_by_hash[r["key_hash"]] = KeyRecord(
            id=r["id"],
            user_id=r["user_id"],
            kind=r["kind"],
            name=r["name"],
            hint=r["key_hint"],
            group=r["group_name"] or r["user_group"],
            unlimited=r["unlimited"],
            expires_at=r["expires_at"],
            allowed_models=frozenset(r["allowed_models"]) if r["allowed_models"] else None,
            allowed_networks=tuple(ip_network(n, strict=False) for n in nets) if nets else None,
            rpm=r["rpm"],
            tpm=r["tpm"],
            enabled=r["enabled"],
            user_enabled=r["user_enabled"],
            user_role=r["user_role"],
            mj_mode=r["mj_mode"],
        )
    channel_records = tuple(
        channel_record(r) for r in conn.execute(select(channels).order_by(channels.c.id)).mappings()
    )
    price_records = {}
    for r in conn.execute(select(prices)).mappings():
        record = _price_record(r)
        if record is None:
            log.warning("the stored price of %r is not a usable number; ignored until it is set again", r["model"])
        else:
            price_records[r["model"]] = record
    group_records = {}
    for r in conn.execute(select(groups)).mappings():
        if within(r["multiplier"], MAX_MULTIPLIER):
            group_records[r["name"]] = GroupRecord(name=r["name"], multiplier=r["multiplier"])
        else:
            log.warning("the stored multiplier of group %r is not a usable number; 1.0 until it is set again",
                        r["name"])
    marks = {
        r["model"]: AllToolsRecord(model=r["model"], base_model=r["base_model"], vision=r["vision"],
                                   context_tokens=r["context_tokens"], enabled=r["enabled"])
        for r in conn.execute(select(all_tools_models)).mappings()
    }
    allowed = tuple(conn.execute(select(fetch_allow.c.entry).order_by(fetch_allow.c.id)).scalars())
    return CatalogRows(version, keys_by_hash, channel_records, price_records, group_records, marks, allowed)


def _price_record(r: Mapping[Any, Any]) -> PriceRecord | None:
    """A price row as a record, None when a value could not be priced with (stored before the admin API bounded
    them: infinite, NaN, absurd): such a model counts as unpriced, which a request is told plainly."""
    ratio = r["completion_ratio"]
    if not within(ratio, MAX_USD) or not within(r["input_per_1m"], MAX_USD):
        return None
    output = r["output_per_1m"] if r["output_per_1m"] is not None else r["input_per_1m"] * ratio
    values = {**{name: r[name] for name in _PRICE_FIELDS}, "output_per_1m": output}
    if not all(within(values[name], MAX_USD, optional=name != "input_per_1m") for name in _PRICE_FIELDS):
        return None
    per_image = r["per_image"] or {}
    if not isinstance(per_image, dict) or not all(isinstance(k, str) and within(v, MAX_USD)
                                                  for k, v in per_image.items()):
        return None
    return PriceRecord(model=r["model"], per_image=dict(per_image), **values)
