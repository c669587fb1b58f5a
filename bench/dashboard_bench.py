"""Dashboard query time over 1,000,000 request-log rows (SQLite, or PostgreSQL with --database-url).

The rows go through the ledger's own write (LedgerStatements.insert_logs: the log rows and their hourly rollup),
spread over 30 days, 50 users, 12 models and 6 channels with a skew like real traffic (a few busy users and
models); then each dashboard (the admin's and one user's, for every range) is timed, best of 5.

    .venv/bin/python bench/dashboard_bench.py [--rows 1000000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from relaygate.admin import console_schemas as cs
from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.core.records import LogRow
from relaygate.store.database import Database
from relaygate.store.ledger_sql import LedgerStatements

DAYS = 30


def _rows(n: int, now: float, rng: random.Random) -> list[tuple[LogRow, int]]:
    users = [(int(rng.paretovariate(1.2)) - 1) % 50 + 1 for _ in range(4096)]
    models = [f"model-{(int(rng.paretovariate(1.5)) - 1) % 12}" for _ in range(4096)]
    out = []
    for i in range(n):
        at = now - DAYS * 86400 * (i / n)
        prompt, completion = rng.randint(10, 2000), rng.randint(1, 800)
        row = LogRow(at, f"req_{i}", users[i % 4096], users[i % 4096], i % 6 + 1, "chat", models[(i * 7) % 4096],
                     "", False, prompt, completion, 0, 0, 0, 0, 0.0, 0, 120.0, None, 200 if i % 50 else 502, None)
        out.append((row, prompt * 2 + completion * 6))
    return out


def _fill(db: Database, rows: list[tuple[LogRow, int]]) -> float:
    started = time.perf_counter()
    for i in range(0, len(rows), 2000):
        batch = rows[i:i + 2000]
        db.run_sync(lambda c, b=batch: LedgerStatements(c).insert_logs(b))  # type: ignore[misc]
    return time.perf_counter() - started


async def _time(op: Operator, query: cs.DashboardQuery, user_id: int | None) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        await op.dashboard(query, "UTC", user_id)
        runs.append(time.perf_counter() - started)
    return min(runs) * 1000


async def _measure(db: Database) -> None:
    op = Operator(db)
    await op.create_user(s.UserIn(name="busy"))  # user 1, the busiest
    for who, user_id in (("admin", None), ("user 1", 1)):
        for rng in ("24h", "7d", "30d", "90d"):
            ms = await _time(op, cs.DashboardQuery(range=rng), user_id)  # type: ignore[arg-type]
            print(f"dashboard {who:6} {rng:>4}: {ms:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        db.migrate()
        rows = _rows(args.rows, time.time(), random.Random(7))
        print(f"wrote {args.rows:,} log rows in {_fill(db, rows):.1f} s")
        count = db.run_sync(lambda c: c.exec_driver_sql("SELECT count(*) FROM usage_rollup").scalar())
        print(f"rollup rows: {count:,} ({args.rows / max(1, count or 1):.1f} log rows each)")
        asyncio.run(_measure(db))
        db.close()


if __name__ == "__main__":
    main()
