"""The statements of remembered Responses API responses (the kept_responses table).

`keep` runs inside a settlement's transaction (the ledger's batch), so it goes straight to the DB-API cursor as the
ledger's own statements do; placeholders are written `?` and turned into the driver's.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any

from sqlalchemy import Connection


@dataclass(frozen=True, slots=True)
class KeptRow:
    id: str
    key_id: int
    channel_id: int
    model: str
    relayed: bool
    billed: bool
    conversation: str | None
    """JSON items (relayed responses only)."""
    created_at: float
    expires_at: float


_COLUMNS = tuple(f.name for f in fields(KeptRow))
_SQL = {
    # a response id comes back once from its upstream; DO NOTHING keeps a retried settlement from failing its batch
    "keep": f"INSERT INTO kept_responses ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
            "ON CONFLICT (id) DO NOTHING",
    "find": f"SELECT {', '.join(_COLUMNS)} FROM kept_responses WHERE id = ? AND expires_at > ?",
    "forget": "DELETE FROM kept_responses WHERE id = ?",
    "claim": "UPDATE kept_responses SET billed = ? WHERE id = ? AND billed = ?",
    "purge": "DELETE FROM kept_responses WHERE expires_at <= ?",
}
_PG = {name: sql.replace("?", "%s") for name, sql in _SQL.items()}


def _cursor(conn: Connection) -> tuple[Any, dict[str, str]]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    return cursor, (_SQL if conn.dialect.name == "sqlite" else _PG)


def keep(conn: Connection, row: KeptRow) -> None:
    cur, sql = _cursor(conn)
    cur.execute(sql["keep"], astuple(row))


def find(conn: Connection, response_id: str, now: float) -> KeptRow | None:
    """The response, unless it expired."""
    cur, sql = _cursor(conn)
    cur.execute(sql["find"], (response_id, now))
    found = cur.fetchone()
    if found is None:
        return None
    ident, key_id, channel_id, model, relayed, billed, conversation, created_at, expires_at = found
    return KeptRow(str(ident), int(key_id), int(channel_id), str(model), bool(relayed), bool(billed),
                   None if conversation is None else str(conversation), float(created_at), float(expires_at))


def forget(conn: Connection, response_id: str) -> None:
    cur, sql = _cursor(conn)
    cur.execute(sql["forget"], (response_id,))


def claim_billing(conn: Connection, response_id: str) -> bool:
    """Mark a response's usage charged; True for exactly one caller (the one to charge it)."""
    cur, sql = _cursor(conn)
    cur.execute(sql["claim"], (True, response_id, False))
    return int(cur.rowcount) == 1


def purge(conn: Connection, now: float) -> int:
    """Forget every expired response; how many."""
    cur, sql = _cursor(conn)
    cur.execute(sql["purge"], (now,))
    return int(cur.rowcount)
