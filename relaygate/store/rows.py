"""Reading, inserting and changing one row by id, with unique names checked first (a taken name is a 409)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, func, select, update

from relaygate.core.errors import Conflict
from relaygate.store.catalog import bump_config_version

Row = dict[str, Any]


def one(conn: Connection, table: Table, ident: int) -> Row | None:
    row = conn.execute(select(table).where(table.c.id == ident)).mappings().first()
    return dict(row) if row is not None else None


def by(conn: Connection, table: Table, column: str, value: Any) -> Row | None:
    row = conn.execute(select(table).where(table.c[column] == value)).mappings().first()
    return dict(row) if row is not None else None


def _check_unique(conn: Connection, table: Table, values: Mapping[str, Any], ident: int | None = None) -> None:
    for col in table.columns:
        if not col.unique or col.name not in values:
            continue
        stmt = select(func.count()).select_from(table).where(col == values[col.name])
        if ident is not None:
            stmt = stmt.where(table.c.id != ident)
        if conn.execute(stmt).scalar():
            what = "key value" if col.name == "key_hash" else f"{table.name[:-1]} named '{values[col.name]}'"
            raise Conflict(f"A {what} already exists; choose another.", param=col.name)


def insert(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    _check_unique(conn, table, values)
    ident = conn.execute(table.insert().values(**values)).inserted_primary_key
    bump_config_version(conn)
    return int(ident[0]) if ident and ident[0] is not None else 0


def change(conn: Connection, table: Table, ident: int, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply `values` to row `ident`; the fields that changed as {field: {"from", "to"}}, None for no such row."""
    before = one(conn, table, ident)
    if before is None:
        return None
    changed = {k: {"from": before[k], "to": v} for k, v in values.items() if before[k] != v}
    if changed:
        _check_unique(conn, table, {k: values[k] for k in changed}, ident)
        conn.execute(update(table).where(table.c.id == ident).values(**{k: values[k] for k in changed}))
        bump_config_version(conn)
    return changed
