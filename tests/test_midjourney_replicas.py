"""MidJourney across processes sharing PostgreSQL: one replica polls at a time (a lease), the other takes over when
it dies, and every task that fails is refunded exactly once — also when two processes sweep at the same moment."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.billing.refunds import REFUND_FAILURE, refund_ended_tasks
from relaygate.core.records import LogRow
from relaygate.store.database import Database
from relaygate.store.ledger_sql import LedgerStatements
from relaygate.store.task_sql import TaskRow, insert_task
from tests.conftest import Relaygate, _postgres_database
from tests.midjourney_env import PRICES, mj_relaygate, mj_tenant, quota
from tests.upstreams.midjourney_mock import MockMidjourney

IMAGINE = quota(PRICES["imagine"])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with _postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney,
         pg_url: str) -> Iterator[list[Relaygate]]:
    root = tmp_path_factory.mktemp("mj-pair")
    with contextlib.ExitStack() as stack:
        group = []
        for name in "ab":
            rg = mj_relaygate(root / name, midjourney_upstream, RELAYGATE_DATABASE_URL=pg_url,
                              RELAYGATE_LEASE_TTL="1")
            stack.callback(rg.close)
            group.append(rg)
        yield group


def _holder_pid(pg_url: str) -> int:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT holder FROM leases WHERE name = 'mj-tasks' AND expires_at > %s",
                           (time.time(),)).fetchone()
    assert row is not None
    return int(str(row[0]).split(":")[1])


def test_two_replicas_refund_every_failed_task_once(pair: list[Relaygate], midjourney: MockMidjourney) -> None:
    a, b = pair
    midjourney.step_seconds = 0.02
    t = mj_tenant(a, midjourney)
    ids = []
    for i in range(12):
        t.rg = (a, b)[i % 2]
        ids.append(t.ok("submit/imagine", {"prompt": f"fox {i}" + (" [mock fail]" if i % 3 else "")})["result"])
    for task_id in ids:
        t.finished(task_id)
    failed = sum(1 for i in range(12) if i % 3)
    a.wait_for(lambda: sum(r["error_code"] == REFUND_FAILURE for r in t.logs()) == failed)
    time.sleep(0.5)
    rows = t.logs()
    assert sum(r["error_code"] == REFUND_FAILURE for r in rows) == failed
    assert t.spent() == (4 * IMAGINE, 4 * IMAGINE)


def test_when_the_polling_replica_dies_the_other_takes_over(pair: list[Relaygate], midjourney: MockMidjourney,
                                                            pg_url: str) -> None:
    midjourney.step_seconds = None
    a, b = pair
    t = mj_tenant(a, midjourney)
    ids = [t.ok("submit/imagine", {"prompt": f"fox {i} [mock fail]"})["result"] for i in range(4)]
    holder_pid = _holder_pid(pg_url)
    dead, alive = (a, b) if a.proc is not None and a.proc.pid == holder_pid else (b, a)
    assert dead.proc is not None and dead.proc.pid == holder_pid
    dead.stop(signal.SIGKILL)
    midjourney.advance(steps=10)
    t.rg = alive
    for task_id in ids:
        assert t.finished(task_id, timeout=10)["status"] == "FAILURE"
    alive.wait_for(lambda: sum(r["error_code"] == REFUND_FAILURE for r in t.logs()) == 4)
    dead.start()
    time.sleep(1.0)
    assert sum(r["error_code"] == REFUND_FAILURE for r in t.logs()) == 4
    assert t.spent() == (0, 0)


@contextlib.contextmanager
def _store(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/race.db"
        return
    with _postgres_database() as url:
        yield url.replace("postgresql://", "postgresql+psycopg://")


async def _failed_tasks(db: Database, count: int, cost: int) -> tuple[int, int]:
    operator = Operator(db)
    user = await operator.create_user(s.UserIn(name="race", balance=10**6))
    key = await operator.create_key(s.KeyIn(user_id=user.id, quota=10**6))
    now = time.time()

    def seed(conn: object) -> None:
        sql = LedgerStatements(conn)  # type: ignore[arg-type]
        for i in range(count):
            insert_task(conn, TaskRow(  # type: ignore[arg-type]
                id=f"t{i}", upstream_id=f"u{i}", channel_id=1, key_id=key.id, user_id=user.id, request_id=f"req{i}",
                action="IMAGINE", mode="fast", status="FAILURE", finished=True, submit_time=int(now * 1000),
                updated_at=now))
            sql.insert_logs([(LogRow(now, f"req{i}", key.id, user.id, 1, "midjourney", "midjourney", "", False, 0, 0,
                                     0, 0, 0, 0, 0.0, 0, 1.0, None, 200, None), cost)])
    await db.run(seed)  # type: ignore[arg-type]
    return user.id, key.id


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_processes_sweeping_at_once_refund_each_task_once(kind: str, tmp_path: Path) -> None:
    with _store(kind, tmp_path) as url:
        setup = Database(url)
        setup.migrate()
        user_id, key_id = asyncio.run(_failed_tasks(setup, 40, 1000))
        start = threading.Barrier(4)
        refunded: list[int] = []

        def sweeper() -> None:
            db = Database(url)
            try:
                start.wait()
                for _ in range(5):
                    refunded.extend(r.amount for r in asyncio.run(refund_ended_tasks(db, limit=15)))
            finally:
                db.close()

        threads = [threading.Thread(target=sweeper) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(refunded) == [1000] * 40
        with setup.engine.begin() as conn:
            balance = conn.exec_driver_sql(f"SELECT balance FROM users WHERE id = {user_id}").scalar_one()
            remain = conn.exec_driver_sql(f"SELECT remain_quota FROM keys WHERE id = {key_id}").scalar_one()
            rows = conn.exec_driver_sql("SELECT count(*) FROM request_logs WHERE cost < 0").scalar_one()
            states = conn.exec_driver_sql("SELECT DISTINCT billing FROM mj_tasks").scalars().all()
        assert (balance, remain, rows, states) == (10**6 + 40_000, 10**6 + 40_000, 40, ["refunded"])
        setup.close()
