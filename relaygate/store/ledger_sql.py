"""Balance statements: conditional updates that can never take a key or a user below zero."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, select, update

from relaygate.core.types import JsonObject
from relaygate.store.tables import keys, request_logs, users


def reserve(conn: Connection, key_id: int, user_id: int, amount: int, key_limited: bool) -> str | None:
    """Take `amount` from the key (if limited) and the user, or nothing; returns which one fell short."""
    if key_limited:
        took = conn.execute(
            update(keys)
            .where(keys.c.id == key_id, keys.c.remain_quota >= amount)
            .values(remain_quota=keys.c.remain_quota - amount)
        ).rowcount
        if not took:
            return "key"
    took = conn.execute(
        update(users).where(users.c.id == user_id, users.c.balance >= amount).values(balance=users.c.balance - amount)
    ).rowcount
    if not took:
        if key_limited:
            conn.execute(
                update(keys).where(keys.c.id == key_id).values(remain_quota=keys.c.remain_quota + amount)
            )
        return "user"
    return None


def settle(conn: Connection, key_id: int, user_id: int, reserved: int, actual: int, key_limited: bool) -> int:
    """Turn a reservation into the real charge; returns what was charged (capped by what is left)."""
    charged = actual
    if actual > reserved:
        extra = actual - reserved
        user_left: int = conn.execute(_locked(conn, select(users.c.balance).where(users.c.id == user_id))).scalar_one()
        extra = min(extra, user_left)
        if key_limited:
            key_left: int = conn.execute(
                _locked(conn, select(keys.c.remain_quota).where(keys.c.id == key_id))
            ).scalar_one()
            extra = min(extra, key_left)
        charged = reserved + extra
    refund = reserved - charged
    key_values = {"used_quota": keys.c.used_quota + charged}
    if key_limited:
        key_values["remain_quota"] = keys.c.remain_quota + refund
    conn.execute(update(keys).where(keys.c.id == key_id).values(**key_values))
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(balance=users.c.balance + refund, used_quota=users.c.used_quota + charged)
    )
    return charged


def _locked(conn: Connection, stmt: Select[Any]) -> Select[Any]:
    return stmt if conn.dialect.name == "sqlite" else stmt.with_for_update()


def insert_logs(conn: Connection, rows: Sequence[JsonObject]) -> None:
    if rows:
        conn.execute(request_logs.insert(), list(rows))
