"""Loading the operator's configuration into records, and the version stamp that invalidates caches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

from sqlalchemy import Connection, select, update

from relaygate.core.records import ChannelRecord, GroupRecord, KeyRecord, PriceRecord
from relaygate.store.notices import notify_config_changed
from relaygate.store.tables import channels, groups, keys, prices, settings_kv, users

CONFIG_VERSION = "config_version"


@dataclass(frozen=True, slots=True)
class CatalogRows:
    """Every record the hot path serves from memory, keyed where it is looked up."""

    version: int
    keys_by_hash: dict[str, KeyRecord]
    channels: tuple[ChannelRecord, ...]
    prices: dict[str, PriceRecord]
    groups: dict[str, GroupRecord]


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


def price_record(r: Mapping[Any, Any]) -> PriceRecord:
    output = r["output_per_1m"]
    return PriceRecord(
        model=r["model"],
        input_per_1m=r["input_per_1m"],
        output_per_1m=output if output is not None else r["input_per_1m"] * r["completion_ratio"],
        per_call=r["per_call"],
        cache_read_per_1m=r["cache_read_per_1m"],
        cache_write_per_1m=r["cache_write_per_1m"],
        image_input_per_1m=r["image_input_per_1m"],
        per_1m_characters=r["per_1m_characters"],
        per_second=r["per_second"],
        per_image=dict(r["per_image"] or {}),
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
    price_records = {r["model"]: price_record(r) for r in conn.execute(select(prices)).mappings()}
    group_records = {
        r["name"]: GroupRecord(name=r["name"], multiplier=r["multiplier"])
        for r in conn.execute(select(groups)).mappings()
    }
    return CatalogRows(version, keys_by_hash, channel_records, price_records, group_records)
