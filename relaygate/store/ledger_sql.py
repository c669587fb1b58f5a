"""Balance statements: conditional updates that can never take a key or a user below zero, the log rows, and the
durable record of reservations in flight.

They run on the raw DB-API cursor (the ledger's hot path): SQLAlchemy's statement building costs
more than the statement itself here. Placeholders are written `?` and turned into the driver's.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection

from relaygate.core.bounds import MAX_QUOTA
from relaygate.core.records import LogRow

ROW_FIELDS = tuple(f.name for f in fields(LogRow))
LOG_COLUMNS = (*ROW_FIELDS, "cost")
_row_values = operator.attrgetter(*ROW_FIELDS)
ROLLUP_HOUR = 3600
_ROLLUP_SUMS = ("requests", "failures", "prompt_tokens", "completion_tokens", "cost")
RESERVATION_COLUMNS = ("id", "holder", "request_id", "key_id", "user_id", "amount", "key_limited", "endpoint",
                       "model", "created_at")

_SQL = {
    "take_key": "UPDATE keys SET remain_quota = remain_quota - ? WHERE id = ? AND remain_quota >= ?",
    "give_key": "UPDATE keys SET remain_quota = remain_quota + ? WHERE id = ?",
    "take_user": "UPDATE users SET balance = balance - ? WHERE id = ? AND balance >= ?",
    "settle_key": "UPDATE keys SET remain_quota = remain_quota + ?, used_quota = used_quota + ? WHERE id = ?",
    "settle_user": "UPDATE users SET balance = balance + ?, used_quota = used_quota + ? WHERE id = ?",
    "key_left": "SELECT remain_quota FROM keys WHERE id = ?",
    "user_left": "SELECT balance FROM users WHERE id = ?",
    "log": f"INSERT INTO request_logs ({', '.join(LOG_COLUMNS)}) VALUES ({', '.join('?' for _ in LOG_COLUMNS)})",
    "rollup": "INSERT INTO usage_rollup (bucket, user_id, channel_id, model, " + ", ".join(_ROLLUP_SUMS) + ") "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, user_id, channel_id, model) DO UPDATE SET "
              + ", ".join(f"{c} = usage_rollup.{c} + excluded.{c}" for c in _ROLLUP_SUMS),
    "hold": f"INSERT INTO reservations ({', '.join(RESERVATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in RESERVATION_COLUMNS)})",
    "new_holder": "INSERT INTO ledger_holders (host, pid, started_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id",
    "renew_holder": "UPDATE ledger_holders SET expires_at = ? WHERE id = ?",
    "holders": "SELECT id, host, pid, expires_at FROM ledger_holders",
    "drop_holder": "DELETE FROM ledger_holders WHERE id = ? RETURNING id",
    "drop_held": "DELETE FROM reservations WHERE holder = ? RETURNING " + ", ".join(RESERVATION_COLUMNS),
    "drop_orphans": "DELETE FROM reservations WHERE holder NOT IN (SELECT id FROM ledger_holders) RETURNING "
                    + ", ".join(RESERVATION_COLUMNS),
}
_PG = {name: sql.replace("?", "%s") + (" FOR UPDATE" if name.endswith("_left") else "") for name, sql in _SQL.items()}


@dataclass(frozen=True, slots=True)
class Holder:
    id: int
    host: str
    pid: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class HeldReservation:
    """A reservation read back from the store when its holder is gone."""

    id: int
    request_id: str
    key_id: int
    user_id: int
    amount: int
    key_limited: bool
    endpoint: str
    model: str


class LedgerStatements:
    """The ledger's statements on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._sqlite = conn.dialect.name == "sqlite"
        self._sql = _SQL if self._sqlite else _PG
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

    def insert_logs(self, rows: Iterable[tuple[LogRow, int]]) -> None:
        """Write log rows, each with the cost charged for it, and add them to the hourly usage rollup (one
        upsert per hour, user, channel and model in the batch: what the dashboard reads)."""
        pairs = list(rows)
        if not pairs:
            return
        self._cur.executemany(self._sql["log"], [(*_row_values(row), cost) for row, cost in pairs])
        sums: dict[tuple[int, int, int, str], list[int]] = {}
        for row, cost in pairs:
            key = (int(row.created_at) // ROLLUP_HOUR * ROLLUP_HOUR, row.user_id or 0, row.channel_id or 0, row.model)
            s = sums.get(key)
            if s is None:
                s = sums[key] = [0, 0, 0, 0, 0]
            s[0] += 1
            s[1] += row.status >= 400
            s[2] += row.prompt_tokens
            s[3] += row.completion_tokens
            s[4] += cost
        # sorted: concurrent batches on PostgreSQL lock rollup rows in one order (no deadlock)
        self._cur.executemany(self._sql["rollup"], [(*k, *v) for k, v in sorted(sums.items())])

    def hold(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Record reservations just taken (values in RESERVATION_COLUMNS order)."""
        if rows:
            self._cur.executemany(self._sql["hold"], rows)

    def unhold(self, ids: Sequence[int]) -> set[int]:
        """Delete the records of reservations being settled or released; returns the ids that were still there
        (a missing one was released by recovery after its holder's lease lapsed)."""
        if not ids:
            return set()
        marks = ", ".join("?" if self._sqlite else "%s" for _ in ids)
        self._cur.execute(f"DELETE FROM reservations WHERE id IN ({marks}) RETURNING id", tuple(ids))
        return {int(r[0]) for r in self._cur.fetchall()}

    def new_holder(self, host: str, pid: int, now: float, expires_at: float) -> int:
        self._cur.execute(self._sql["new_holder"], (host, pid, now, expires_at))
        return int(self._cur.fetchone()[0])

    def renew_holder(self, holder: int, expires_at: float) -> bool:
        return self._run("renew_holder", (expires_at, holder)) > 0

    def holders(self) -> list[Holder]:
        self._cur.execute(self._sql["holders"], ())
        return [Holder(int(i), str(h), int(p), float(e)) for i, h, p, e in self._cur.fetchall()]

    def take_over(self, holder: int) -> list[HeldReservation] | None:
        """Remove a holder that is gone and hand back its reservations, each exactly once (None when another
        process took it over first)."""
        self._cur.execute(self._sql["drop_holder"], (holder,))
        if self._cur.fetchone() is None:
            return None
        self._cur.execute(self._sql["drop_held"], (holder,))
        return self._held()

    def orphans(self) -> list[HeldReservation]:
        """Reservations whose holder is gone from the table (written by a process after it was taken over)."""
        self._cur.execute(self._sql["drop_orphans"], ())
        return self._held()

    def _held(self) -> list[HeldReservation]:
        return [HeldReservation(int(i), str(rid), int(k), int(u), int(a), bool(lim), str(e), str(m))
                for i, _h, rid, k, u, a, lim, e, m, _c in self._cur.fetchall()]
