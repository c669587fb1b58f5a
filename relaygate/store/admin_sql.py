"""Operator-facing reads and writes: channels, keys, users, groups, prices and request logs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relaygate.store.catalog import bump_config_version
from relaygate.store.tables import all_tools_models, channels, fetch_allow, groups, keys, prices, request_logs, users

Row = dict[str, Any]


class Conflict(Exception):
    """A unique name is already taken."""


def _one(conn: Connection, table: Table, ident: int) -> Row | None:
    row = conn.execute(select(table).where(table.c.id == ident)).mappings().first()
    return dict(row) if row is not None else None


def _insert(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    unique = [c for c in table.columns if c.unique and c.name in values]
    for col in unique:
        if conn.execute(select(func.count()).select_from(table).where(col == values[col.name])).scalar():
            raise Conflict(f"{table.name}.{col.name} '{values[col.name]}' already exists")
    ident = conn.execute(table.insert().values(**values)).inserted_primary_key
    bump_config_version(conn)
    return int(ident[0]) if ident and ident[0] is not None else 0


def _update(conn: Connection, table: Table, ident: int, values: Mapping[str, Any]) -> bool:
    if not values:
        return _one(conn, table, ident) is not None
    done = conn.execute(update(table).where(table.c.id == ident).values(**values)).rowcount > 0
    bump_config_version(conn)
    return done


# users
def create_user(conn: Connection, name: str, role: str, group: str, balance: int) -> int:
    return _insert(conn, users, {"name": name, "role": role, "group_name": group, "balance": balance,
                                 "used_quota": 0, "enabled": True, "created_at": time.time()})


def get_user(conn: Connection, user_id: int) -> Row | None:
    return _one(conn, users, user_id)


def find_user(conn: Connection, name: str) -> Row | None:
    row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    return dict(row) if row is not None else None


def list_users(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(users).order_by(users.c.id)).mappings()]


def update_user(conn: Connection, user_id: int, values: Mapping[str, Any]) -> bool:
    return _update(conn, users, user_id, values)


def top_up(conn: Connection, user_id: int, amount: int) -> bool:
    return conn.execute(
        update(users).where(users.c.id == user_id).values(balance=users.c.balance + amount)
    ).rowcount > 0


# keys
def create_key(conn: Connection, values: Mapping[str, Any]) -> int:
    return _insert(conn, keys, {**values, "used_quota": 0, "created_at": time.time()})


def get_key(conn: Connection, key_id: int) -> Row | None:
    return _one(conn, keys, key_id)


def list_keys(conn: Connection, user_id: int | None = None, kind: str = "client") -> list[Row]:
    stmt = select(keys).where(keys.c.kind == kind).order_by(keys.c.id)
    if user_id is not None:
        stmt = stmt.where(keys.c.user_id == user_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def update_key(conn: Connection, key_id: int, values: Mapping[str, Any]) -> bool:
    return _update(conn, keys, key_id, values)


def admin_key_exists(conn: Connection) -> bool:
    return bool(conn.execute(select(func.count()).select_from(keys).where(keys.c.kind == "admin")).scalar())


def key_by_hash(conn: Connection, key_hash: str) -> Row | None:
    row = conn.execute(select(keys).where(keys.c.key_hash == key_hash)).mappings().first()
    return dict(row) if row is not None else None


# channels
def create_channel(conn: Connection, values: Mapping[str, Any]) -> int:
    return _insert(conn, channels, {**values, "status": "enabled", "status_reason": "", "created_at": time.time()})


def get_channel(conn: Connection, channel_id: int) -> Row | None:
    return _one(conn, channels, channel_id)


def find_channel(conn: Connection, name: str) -> Row | None:
    row = conn.execute(select(channels).where(channels.c.name == name)).mappings().first()
    return dict(row) if row is not None else None


def list_channels(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(channels).order_by(channels.c.id)).mappings()]


def update_channel(conn: Connection, channel_id: int, values: Mapping[str, Any]) -> bool:
    return _update(conn, channels, channel_id, values)


def set_channel_status(conn: Connection, channel_id: int, status: str, reason: str,
                       only_if: str | None = None) -> bool:
    stmt = update(channels).where(channels.c.id == channel_id)
    if only_if is not None:
        stmt = stmt.where(channels.c.status == only_if)
    done = conn.execute(stmt.values(status=status, status_reason=reason[:255])).rowcount > 0
    if done:
        bump_config_version(conn)
    return done


def delete_channel(conn: Connection, channel_id: int) -> bool:
    done = conn.execute(delete(channels).where(channels.c.id == channel_id)).rowcount > 0
    bump_config_version(conn)
    return done


# groups and prices
def upsert_group(conn: Connection, name: str, multiplier: float, description: str) -> None:
    _upsert(conn, groups, "name", {"name": name, "multiplier": multiplier, "description": description})


def list_groups(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(groups).order_by(groups.c.name)).mappings()]


def delete_group(conn: Connection, name: str) -> bool:
    done = conn.execute(delete(groups).where(groups.c.name == name)).rowcount > 0
    bump_config_version(conn)
    return done


def upsert_price(conn: Connection, model: str, values: Mapping[str, Any]) -> None:
    _upsert(conn, prices, "model", {"model": model, **values})


def list_prices(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(prices).order_by(prices.c.model)).mappings()]


def delete_price(conn: Connection, model: str) -> bool:
    done = conn.execute(delete(prices).where(prices.c.model == model)).rowcount > 0
    bump_config_version(conn)
    return done


# all-tools models and the fetcher's allow-list
def upsert_all_tools(conn: Connection, model: str, values: Mapping[str, Any]) -> None:
    _upsert(conn, all_tools_models, "model", {"model": model, **values})


def list_all_tools(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(all_tools_models).order_by(all_tools_models.c.model)).mappings()]


def delete_all_tools(conn: Connection, model: str) -> bool:
    done = conn.execute(delete(all_tools_models).where(all_tools_models.c.model == model)).rowcount > 0
    bump_config_version(conn)
    return done


def add_fetch_allow(conn: Connection, entry: str, note: str) -> int:
    """The entry's id; an entry already there keeps its id and takes the new note."""
    row = conn.execute(select(fetch_allow.c.id).where(fetch_allow.c.entry == entry)).scalar()
    if row is not None:
        _update(conn, fetch_allow, int(row), {"note": note})
        return int(row)
    return _insert(conn, fetch_allow, {"entry": entry, "note": note})


def get_fetch_allow(conn: Connection, entry_id: int) -> Row | None:
    return _one(conn, fetch_allow, entry_id)


def list_fetch_allow(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(fetch_allow).order_by(fetch_allow.c.id)).mappings()]


def delete_fetch_allow(conn: Connection, entry_id: int) -> bool:
    done = conn.execute(delete(fetch_allow).where(fetch_allow.c.id == entry_id)).rowcount > 0
    bump_config_version(conn)
    return done


def _upsert(conn: Connection, table: Table, key: str, values: Mapping[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[key], set_={k: v for k, v in values.items() if k != key})
    conn.execute(stmt)
    bump_config_version(conn)


# logs
def query_logs(conn: Connection, *, user_id: int | None = None, key_id: int | None = None,
               model: str | None = None, request_id: str | None = None, since: float | None = None,
               limit: int = 100) -> list[Row]:
    stmt = select(request_logs).order_by(request_logs.c.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(request_logs.c.user_id == user_id)
    if key_id is not None:
        stmt = stmt.where(request_logs.c.key_id == key_id)
    if model is not None:
        stmt = stmt.where(request_logs.c.model == model)
    if request_id is not None:
        stmt = stmt.where(request_logs.c.request_id == request_id)
    if since is not None:
        stmt = stmt.where(request_logs.c.created_at >= since)
    return [dict(r) for r in conn.execute(stmt).mappings()]
