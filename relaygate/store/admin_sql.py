"""Operator-facing reads and writes: channels, groups, prices and request logs (users and keys: accounts_sql)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relaygate.store import rows
from relaygate.store.catalog import bump_config_version
from relaygate.store.rows import Row
from relaygate.store.tables import all_tools_models, channels, fetch_allow, groups, prices, request_logs


# channels
def create_channel(conn: Connection, values: Mapping[str, Any]) -> int:
    return rows.insert(conn, channels, {**values, "status": "enabled", "status_reason": "",
                                        "created_at": time.time()})


def get_channel(conn: Connection, channel_id: int) -> Row | None:
    return rows.one(conn, channels, channel_id)


def find_channel(conn: Connection, name: str) -> Row | None:
    return rows.by(conn, channels, "name", name)


def list_channels(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(channels).order_by(channels.c.id)).mappings()]


def update_channel(conn: Connection, channel_id: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
    return rows.change(conn, channels, channel_id, values)


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
def upsert_group(conn: Connection, name: str, multiplier: float, description: str) -> Row | None:
    """Create or change a group; the row as it was (None when new)."""
    return _upsert(conn, groups, "name", {"name": name, "multiplier": multiplier, "description": description})


def list_groups(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(groups).order_by(groups.c.name)).mappings()]


def delete_group(conn: Connection, name: str) -> bool:
    done = conn.execute(delete(groups).where(groups.c.name == name)).rowcount > 0
    bump_config_version(conn)
    return done


def upsert_price(conn: Connection, model: str, values: Mapping[str, Any]) -> Row | None:
    """Set a model's price; the row as it was (None when new)."""
    return _upsert(conn, prices, "model", {"model": model, **values})


def list_prices(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(prices).order_by(prices.c.model)).mappings()]


def delete_price(conn: Connection, model: str) -> bool:
    done = conn.execute(delete(prices).where(prices.c.model == model)).rowcount > 0
    bump_config_version(conn)
    return done


# all-tools models and the fetcher's allow-list
def upsert_all_tools(conn: Connection, model: str, values: Mapping[str, Any]) -> Row | None:
    """Mark a model all-tools; the mark as it was (None when new)."""
    return _upsert(conn, all_tools_models, "model", {"model": model, **values})


def list_all_tools(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(all_tools_models).order_by(all_tools_models.c.model)).mappings()]


def delete_all_tools(conn: Connection, model: str) -> bool:
    done = conn.execute(delete(all_tools_models).where(all_tools_models.c.model == model)).rowcount > 0
    bump_config_version(conn)
    return done


def add_fetch_allow(conn: Connection, entry: str, note: str) -> int:
    """The entry's id; an entry already there keeps its id and takes the new note."""
    found = rows.by(conn, fetch_allow, "entry", entry)
    if found is not None:
        conn.execute(update(fetch_allow).where(fetch_allow.c.id == found["id"]).values(note=note))
        bump_config_version(conn)
        return int(found["id"])
    ident = conn.execute(fetch_allow.insert().values(entry=entry, note=note)).inserted_primary_key
    bump_config_version(conn)
    return int(ident[0]) if ident is not None else 0


def list_fetch_allow(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(fetch_allow).order_by(fetch_allow.c.id)).mappings()]


def delete_fetch_allow(conn: Connection, entry_id: int) -> bool:
    done = conn.execute(delete(fetch_allow).where(fetch_allow.c.id == entry_id)).rowcount > 0
    bump_config_version(conn)
    return done


def _upsert(conn: Connection, table: Table, key: str, values: Mapping[str, Any]) -> Row | None:
    before = rows.by(conn, table, key, values[key])
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[key], set_={k: v for k, v in values.items() if k != key})
    conn.execute(stmt)
    bump_config_version(conn)
    return before


# logs
def query_logs(conn: Connection, *, user_id: int | None = None, key_id: int | None = None,
               model: str | None = None, request_id: str | None = None, since: float | None = None,
               until: float | None = None, status: str | None = None, before: int | None = None,
               limit: int = 100) -> list[Row]:
    stmt = select(request_logs).order_by(request_logs.c.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(request_logs.c.id < before)
    if until is not None:
        stmt = stmt.where(request_logs.c.created_at < until)
    if status == "ok":
        stmt = stmt.where(request_logs.c.status < 400)
    elif status == "error":
        stmt = stmt.where(request_logs.c.status >= 400)
    elif status is not None:
        stmt = stmt.where(request_logs.c.status == int(status))
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
