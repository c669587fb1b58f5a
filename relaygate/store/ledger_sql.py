"""Balance statements: conditional updates that can never take a key or a user below zero.

They run on the raw DB-API cursor (the ledger's hot path): SQLAlchemy's statement building costs
more than the statement itself here. Placeholders are written `?` and turned into the driver's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from relaygate.core.bounds import MAX_QUOTA

LOG_COLUMNS = (
    "created_at", "request_id", "key_id", "user_id", "channel_id", "endpoint", "model", "upstream_model",
    "is_stream", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost", "latency_ms", "first_chunk_ms", "status",
    "error_code",
)

_SQL = {
    "take_key": "UPDATE keys SET remain_quota = remain_quota - ? WHERE id = ? AND remain_quota >= ?",
    "give_key": "UPDATE keys SET remain_quota = remain_quota + ? WHERE id = ?",
    "take_user": "UPDATE users SET balance = balance - ? WHERE id = ? AND balance >= ?",
    "settle_key": "UPDATE keys SET remain_quota = remain_quota + ?, used_quota = used_quota + ? WHERE id = ?",
    "settle_user": "UPDATE users SET balance = balance + ?, used_quota = used_quota + ? WHERE id = ?",
    "key_left": "SELECT remain_quota FROM keys WHERE id = ?",
    "user_left": "SELECT balance FROM users WHERE id = ?",
    "log": f"INSERT INTO request_logs ({', '.join(LOG_COLUMNS)}) VALUES ({', '.join('?' for _ in LOG_COLUMNS)})",
}
_PG = {name: sql.replace("?", "%s") + (" FOR UPDATE" if name.endswith("_left") else "") for name, sql in _SQL.items()}


class LedgerStatements:
    """The ledger's statements on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._sql = _SQL if conn.dialect.name == "sqlite" else _PG
        self._cur: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def _run(self, name: str, params: Sequence[Any]) -> int:
        self._cur.execute(self._sql[name], params)
        return int(self._cur.rowcount)

    def reserve(self, key_id: int, user_id: int, amount: int, key_limited: bool) -> str | None:
        """Take `amount` from the key (if limited) and the user, or nothing; returns which one fell short."""
        if amount > MAX_QUOTA:
            # no balance or quota holds this much, and past 2^63 the driver could not even send the number
            return "key" if key_limited else "user"
        if key_limited and not self._run("take_key", (amount, key_id, amount)):
            return "key"
        if not self._run("take_user", (amount, user_id, amount)):
            if key_limited:
                self._run("give_key", (amount, key_id))
            return "user"
        return None

    def available(self, key_id: int, user_id: int, key_limited: bool) -> int:
        """What could still be charged on top of a reservation (rows locked on PostgreSQL)."""
        self._cur.execute(self._sql["user_left"], (user_id,))
        left = int(self._cur.fetchone()[0])
        if key_limited:
            self._cur.execute(self._sql["key_left"], (key_id,))
            left = min(left, int(self._cur.fetchone()[0]))
        return left

    def apply(self, keys: dict[int, list[int]], users: dict[int, list[int]]) -> None:
        """Add [refund, charged] per key (refund only to limited keys) and per user, one statement each."""
        if keys:
            self._cur.executemany(self._sql["settle_key"], [(r, c, k) for k, (r, c) in sorted(keys.items())])
        if users:
            self._cur.executemany(self._sql["settle_user"], [(r, c, u) for u, (r, c) in sorted(users.items())])

    def insert_logs(self, rows: Iterable[dict[str, Any]]) -> None:
        values = [tuple(row[c] for c in LOG_COLUMNS) for row in rows]
        if values:
            self._cur.executemany(self._sql["log"], values)
