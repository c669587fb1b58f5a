"""Regression guard for the hot path: database statements and upstream calls per relayed request."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import event

from relaygate.billing.ledger import Ledger
from relaygate.config import Settings
from relaygate.core.records import LogRow
from relaygate.server.app import create_app
from relaygate.server.state import SERVICES
from relaygate.store import tables
from relaygate.store.database import PAGE_SIZE, Database
from relaygate.store.ledger_sql import ROW_FIELDS
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY, free_port
from tests.upstreams.openai_mock import MockOpenAI

REQUESTS = 40


CHAT = ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


async def _drive(tmp_path: Path, upstream: MockOpenAI,
                 route: tuple[str, dict[str, Any]] = CHAT) -> tuple[Counter[str], int]:
    settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, port=free_port(), config_poll_interval=3600,
                        probe_interval=3600, lease_ttl=3600, access_log=True)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    base = f"http://127.0.0.1:{settings.port}"
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    statements: Counter[str] = Counter()
    try:
        async with aiohttp.ClientSession(base) as http:
            user = await (await http.post("/api/users", headers=admin, json={"name": "hot", "balance": 10**9})).json()
            await http.post("/api/channels", headers=admin, json={
                "name": "hot", "base_url": upstream.base_url, "credentials": [UPSTREAM_KEY], "models": ["gpt-4o-mini"]})
            key = (await (await http.post("/api/keys", headers=admin, json={"user_id": user["id"], "quota": 10**8}))
                   .json())["key"]
            engine = app[SERVICES].db.engine

            def trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
                dbapi_conn.set_trace_callback(lambda sql: statements.update([sql.split()[0].upper()]))

            event.listen(engine, "connect", trace)
            engine.dispose()
            auth = {"Authorization": f"Bearer {key}"}
            path, body = route
            before = upstream.count(path.removeprefix("/v1"))
            for i in range(REQUESTS):
                resp = await http.post(path, headers=auth, json={**body, "stream": i % 2 == 0})
                assert resp.status == 200
                await resp.read()
            calls = upstream.count(path.removeprefix("/v1")) - before
            during = Counter(statements)  # not what shutting down runs (the prober's lease handed back)
    finally:
        await runner.cleanup()
    return during, calls


def test_a_relayed_request_costs_one_upstream_call_and_a_bounded_number_of_statements(
        tmp_path: Path, mock: MockOpenAI) -> None:
    statements, calls = asyncio.run(_drive(tmp_path, mock))
    assert calls == REQUESTS
    assert statements["SELECT"] == 0, statements
    # Sequential requests cannot share a group commit: per request one reserve transaction (UPDATE key,
    # UPDATE user, INSERT the reservation's record) and one settle transaction (DELETE that record, UPDATE key,
    # UPDATE user, INSERT log row, upsert its hour of the usage rollup), BEGIN and COMMIT each.
    assert statements["UPDATE"] <= 4 * REQUESTS, statements
    assert statements["INSERT"] <= 3 * REQUESTS, statements
    assert statements["DELETE"] <= REQUESTS + 4, statements  # and the lease upkeep's sweeps
    # PRAGMAs set up a connection once (there are a handful), never per request
    assert statements["PRAGMA"] <= 8, statements
    assert sum(statements.values()) - statements["PRAGMA"] <= 12 * REQUESTS + 4, statements


def test_a_stored_response_is_remembered_inside_its_settlement(tmp_path: Path, mock: MockOpenAI) -> None:
    """/v1/responses remembers each stored response (its channel and key) with one more INSERT in the settlement's
    transaction: no read, no transaction of its own."""
    chat, _ = asyncio.run(_drive(tmp_path / "chat", mock))
    statements, calls = asyncio.run(_drive(tmp_path / "responses", mock, ("/v1/responses", {
        "model": "gpt-4o-mini", "input": "hi"})))
    assert calls == REQUESTS
    assert statements["SELECT"] == 0, statements
    assert statements["INSERT"] - chat["INSERT"] == REQUESTS, (statements, chat)
    assert statements["BEGIN"] == chat["BEGIN"] and statements["COMMIT"] == chat["COMMIT"], (statements, chat)


def _ledger_db(tmp_path: Path, quota: int, **options: Any) -> Database:
    """A migrated SQLite store with user 1 (a large balance) owning key 1 (`quota` left)."""
    db = Database(f"sqlite:///{tmp_path}/ledger.db", **options)
    db.migrate()
    with db.engine.begin() as conn:
        conn.execute(tables.users.insert().values(id=1, name="u", balance=10**6, created_at=0))
        conn.execute(tables.keys.insert().values(id=1, user_id=1, key_hash="h", key_hint="sk-…", remain_quota=quota,
                                                 created_at=0))
    return db


def _key_left(db: Database) -> int:
    with db.engine.begin() as conn:
        return int(conn.exec_driver_sql("SELECT remain_quota FROM keys WHERE id = 1").scalar_one())


async def _reserve_together(tmp_path: Path, amounts: list[int], quota: int) -> tuple[list[bool], int, Counter[str]]:
    """Reserve `amounts` concurrently on one key through the real ledger; which succeeded, what is left,
    and the UPDATE statements the ledger ran."""
    db = _ledger_db(tmp_path, quota)
    statements: Counter[str] = Counter()
    ledger = Ledger(db)
    await ledger.holding.start()  # once per process, at start-up

    def trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.set_trace_callback(lambda sql: statements.update([sql.split()[0].upper()]))

    event.listen(db.engine, "connect", trace)
    db.engine.dispose()
    outcomes = await asyncio.gather(*(ledger.reserve(1, 1, a, key_limited=True) for a in amounts),
                                    return_exceptions=True)
    left = _key_left(db)
    db.close()
    return [not isinstance(o, BaseException) for o in outcomes], left, statements


def test_concurrent_reservations_on_one_key_share_one_statement(tmp_path: Path) -> None:
    ok, left, statements = asyncio.run(_reserve_together(tmp_path, [10] * 30, quota=1000))
    assert all(ok) and left == 700
    # One batch: the first reservation runs alone, the 29 queued behind it are taken as one sum
    # (key and user: two UPDATEs per batch, not two per request).
    assert statements["UPDATE"] <= 4, statements


def test_reservations_whose_sum_does_not_fit_fall_back_to_one_by_one(tmp_path: Path) -> None:
    ok, left, _ = asyncio.run(_reserve_together(tmp_path, [10] * 30, quota=125))
    assert sum(ok) == 12 and left == 5
    assert sum(ok) * 10 + left == 125


def _log_row(**fields: Any) -> LogRow:
    row: dict[str, Any] = {column: 0 for column in ROW_FIELDS}
    row.update(request_id="req-1", channel_id=None, endpoint="chat", model="m", upstream_model="m", is_stream=False,
               first_chunk_ms=None, status=200, error_code=None)
    return LogRow(**{**row, **fields})


def test_a_lone_request_writes_inline_and_waits_its_turn_when_another_writer_holds_the_lock(tmp_path: Path) -> None:
    async def go() -> tuple[set[int], set[int], float, int]:
        db = _ledger_db(tmp_path, quota=100)
        writers: list[int] = []

        def trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            dbapi_conn.set_trace_callback(lambda sql: writers.append(threading.get_ident())
                                          if sql.startswith("UPDATE") else None)

        event.listen(db.engine, "connect", trace)
        db.engine.dispose()
        ledger = Ledger(db)
        res = await ledger.reserve(1, 1, 10, key_limited=True)
        await ledger.settle(res, 4, _log_row())
        alone, writers[:] = set(writers), []
        # another process holds the write lock for 0.3 s: the inline attempt fails at once, the queued
        # path waits for the lock on a worker thread, and nothing is taken twice
        other = sqlite3.connect(f"{tmp_path}/ledger.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        started = time.monotonic()
        await ledger.reserve(1, 1, 10, key_limited=True)
        waited = time.monotonic() - started
        queued = set(writers)
        left = _key_left(db)
        other.close()
        db.close()
        return alone, queued, waited, left

    alone, queued, waited, left = asyncio.run(go())
    assert alone == {threading.get_ident()}  # both transactions ran on the event loop's thread
    assert threading.get_ident() in queued  # tried inline first, refused at once ...
    assert queued - {threading.get_ident()}  # ... then written by a worker thread once the lock was free
    assert waited >= 0.25
    assert left == 100 - 4 - 10


def test_the_wal_stays_bounded_under_writes_that_never_pause(tmp_path: Path) -> None:
    """A passive checkpoint alone never rewinds a WAL that writers keep appending to; past the threshold the
    background checkpoint restarts it, so the file stops growing while the balance stays exact."""
    writes = 3000

    async def go() -> tuple[int, int, int]:
        db = _ledger_db(tmp_path, quota=0, background_checkpoint=True, wal_restart_frames=100)
        stop = threading.Event()

        def write_forever() -> int:  # a steady stream of small transactions, as the ledger's batches are
            other = sqlite3.connect(f"{tmp_path}/ledger.db", isolation_level=None, timeout=10)
            done = 0
            try:
                while done < writes:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("UPDATE users SET balance = balance - 1 WHERE id = 1")
                    other.execute("COMMIT")
                    done += 1
                    time.sleep(0.0005)
            finally:
                other.close()
                stop.set()
            return done

        def read_forever() -> None:  # a reader is nearly always open (worker threads, the catalog's poll)
            reader = sqlite3.connect(f"{tmp_path}/ledger.db", isolation_level=None, timeout=10)
            while not stop.is_set():
                reader.execute("BEGIN")
                reader.execute("SELECT balance FROM users WHERE id = 1").fetchone()
                time.sleep(0.003)
                reader.execute("COMMIT")
            reader.close()

        loop = asyncio.get_running_loop()
        writer = loop.run_in_executor(None, write_forever)
        reading = loop.run_in_executor(None, read_forever)
        folded = 0
        while not stop.is_set():
            _in_wal, done = await db.checkpoint()
            folded += done
            await asyncio.sleep(0.005)
        await writer
        await reading
        wal = (tmp_path / "ledger.db-wal").stat().st_size
        with db.engine.begin() as conn:
            balance = conn.exec_driver_sql("SELECT balance FROM users WHERE id = 1").scalar_one()
        db.close()
        return wal, folded, balance

    wal, folded, balance = asyncio.run(go())
    assert folded > 0
    assert balance == 10**6 - writes
    assert wal < writes * 4096 // 4, f"the WAL grew to {wal} bytes"




def test_request_ids_sort_by_time_so_the_log_index_grows_at_its_end() -> None:
    from relaygate.server.openai_routes import new_request_id

    earlier = [new_request_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_request_id()
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", rid) for rid in [*earlier, later])
    assert len(set(earlier)) == len(earlier)  # 48 random bits within a millisecond
    assert all(rid < later for rid in earlier)
    assert abs(int(later[4:16], 16) - time.time() * 1000) < 1000  # the prefix is the time in ms


def test_a_lone_request_writes_a_few_kib_of_wal_on_a_new_database(tmp_path: Path) -> None:
    from relaygate.server.openai_routes import new_request_id

    async def go() -> tuple[int, int]:
        db = _ledger_db(tmp_path, quota=10**6, background_checkpoint=True)  # nothing folds the WAL meanwhile
        ledger = Ledger(db)
        wal = Path(f"{tmp_path}/ledger.db-wal")
        before = wal.stat().st_size
        for _ in range(REQUESTS):
            res = await ledger.reserve(1, 1, 10, key_limited=True)
            await ledger.settle(res, 4, _log_row(request_id=new_request_id(), key_id=1, user_id=1))
        grown = wal.stat().st_size - before
        with db.engine.begin() as conn:
            page = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
        db.close()
        return grown, page

    grown, page = asyncio.run(go())
    # Each commit writes every page it touched whole (key, user, log row, three log indexes: ~8 pages a request
    # in its two transactions); with 4 KiB pages that was ~33 KiB a request, written back at every checkpoint.
    assert page == PAGE_SIZE == 1024
    assert grown / REQUESTS <= 12 * 1024, grown / REQUESTS
