"""Users, their keys and balances as the operator changes them; no change may take away the last admin access."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, or_, select, update

from relaygate.core.bounds import MAX_QUOTA
from relaygate.core.errors import BadRequest, Conflict
from relaygate.store import rows
from relaygate.store.catalog import bump_config_version
from relaygate.store.rows import Row
from relaygate.store.tables import keys, users

T = TypeVar("T")

LAST_ADMIN = (
    "That would leave no enabled admin with a usable admin key (now, or once its expiry passes), and nobody could "
    "manage relaygate: give another user the admin role and an admin key (without an expiry) first."
)


def admin_access(conn: Connection, now: float, *, lasting: bool = False) -> bool:
    """Whether some enabled admin user holds an enabled, unexpired admin key (`lasting`: one that never expires)."""
    expiry = keys.c.expires_at.is_(None) if lasting else or_(keys.c.expires_at.is_(None), keys.c.expires_at > now)
    stmt = select(func.count()).select_from(keys.join(users, users.c.id == keys.c.user_id)).where(
        users.c.role == "admin", users.c.enabled.is_(True), keys.c.kind == "admin", keys.c.enabled.is_(True), expiry)
    return bool(conn.execute(stmt).scalar())


def keeping_admin_access(conn: Connection, change: Callable[[], T]) -> T:
    """Run `change`; if admin access existed before and not after, refuse it (the transaction rolls back). An
    expiry put on the last admin key that had none is refused too: it would lock everyone out later, unasked."""
    if conn.dialect.name == "postgresql":
        # Two admins demoting each other at once must not both see the other still there: serialise on the
        # admins' rows (SQLite has one writer at a time anyway).
        conn.execute(select(users.c.id).where(users.c.role == "admin").with_for_update())
    now = time.time()
    had, lasted = admin_access(conn, now), admin_access(conn, now, lasting=True)
    result = change()
    if (had and not admin_access(conn, now)) or (lasted and not admin_access(conn, now, lasting=True)):
        raise Conflict(LAST_ADMIN, code="last_admin")
    return result


# users
def create_user(conn: Connection, name: str, role: str, group: str, balance: int) -> int:
    return rows.insert(conn, users, {"name": name, "role": role, "group_name": group, "balance": balance,
                                     "used_quota": 0, "enabled": True, "created_at": time.time()})


def get_user(conn: Connection, user_id: int) -> Row | None:
    return rows.one(conn, users, user_id)


def find_user(conn: Connection, name: str) -> Row | None:
    return rows.by(conn, users, "name", name)


def first_admin(conn: Connection) -> Row | None:
    row = conn.execute(select(users).where(users.c.role == "admin", users.c.enabled.is_(True))
                       .order_by(users.c.id)).mappings().first()
    return dict(row) if row is not None else None


def list_users(conn: Connection) -> list[Row]:
    return [dict(r) for r in conn.execute(select(users).order_by(users.c.id)).mappings()]


def update_user(conn: Connection, user_id: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
    return keeping_admin_access(conn, lambda: rows.change(conn, users, user_id, values))


def add_balance(conn: Connection, user_id: int, amount: int) -> tuple[int, int] | None:
    """Add to a balance, never past MAX_QUOTA; (before, after), or None for no such user."""
    done = conn.execute(update(users).where(users.c.id == user_id, users.c.balance <= MAX_QUOTA - amount)
                        .values(balance=users.c.balance + amount).returning(users.c.balance)).scalar()
    if done is not None:
        return int(done) - amount, int(done)
    row = get_user(conn, user_id)
    if row is None:
        return None
    raise BadRequest(f"The balance would pass the largest relaygate holds ({MAX_QUOTA:,}); it is "
                     f"{row['balance']:,} now, so at most {max(0, MAX_QUOTA - row['balance']):,} can be added.",
                     param="amount")


def set_balance(conn: Connection, user_id: int, balance: int) -> tuple[int, int] | None:
    before = conn.execute(select(users.c.balance).where(users.c.id == user_id).with_for_update()).scalar()
    if before is None:
        return None
    conn.execute(update(users).where(users.c.id == user_id).values(balance=balance))
    return int(before), balance


def delete_user(conn: Connection, user_id: int) -> Row | None:
    """Delete a user and their keys (their log rows stay, naming an id never handed out again)."""
    def remove() -> Row | None:
        row = get_user(conn, user_id)
        if row is not None:
            conn.execute(delete(keys).where(keys.c.user_id == user_id))
            conn.execute(delete(users).where(users.c.id == user_id))
            bump_config_version(conn)
        return row
    return keeping_admin_access(conn, remove)


# keys
def create_key(conn: Connection, values: Mapping[str, Any]) -> int:
    return rows.insert(conn, keys, {**values, "used_quota": 0, "created_at": time.time()})


def get_key(conn: Connection, key_id: int) -> Row | None:
    return rows.one(conn, keys, key_id)


def list_keys(conn: Connection, user_id: int | None = None, kind: str | None = None) -> list[Row]:
    stmt = select(keys).order_by(keys.c.id)
    if user_id is not None:
        stmt = stmt.where(keys.c.user_id == user_id)
    if kind is not None:
        stmt = stmt.where(keys.c.kind == kind)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def update_key(conn: Connection, key_id: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
    return keeping_admin_access(conn, lambda: rows.change(conn, keys, key_id, values))


def key_by_hash(conn: Connection, key_hash: str) -> Row | None:
    return rows.by(conn, keys, "key_hash", key_hash)


def admin_key_exists(conn: Connection) -> bool:
    return bool(conn.execute(select(func.count()).select_from(keys).where(keys.c.kind == "admin")).scalar())
