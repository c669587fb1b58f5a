"""Reservations outlive their process: a SIGKILLed relay's reservations come back (with a log row each) at its
restart or through another process, never while their request is alive, and never twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from relaygate.billing.ledger import Ledger
from relaygate.billing.recovery import RELEASED
from relaygate.core.records import LogRow
from relaygate.store import tables
from relaygate.store.database import Database
from relaygate.store.ledger_sql import ROW_FIELDS
from tests.conftest import Relaygate, Tenant, _postgres_database, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

BALANCE = 10**9


@contextlib.contextmanager
def _store(kind: str) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {}
        return
    with _postgres_database() as url:
        yield {"RELAYGATE_DATABASE_URL": url}


def _tenant(rg: Relaygate, upstream: MockOpenAI) -> Tenant:
    t = make_tenant(rg, [upstream.base_url], models=["gpt-4o-mini"], balance=BALANCE, quota=BALANCE)
    rg.ok("PUT", "/api/prices/gpt-4o-mini", {"input_per_1m": 1.0, "output_per_1m": 4.0})
    return t


class HeldStream(threading.Thread):
    """A client stream that reads its first event and then hangs on, until its relay dies or it ends."""

    def __init__(self, rg: Relaygate, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = rg.base_url, key
        self.opened = threading.Event()
        self.request_id = ""
        self.events = 0

    def run(self) -> None:
        body = {"model": "gpt-4o-mini", "stream": True, "max_tokens": 2000,
                "messages": [{"role": "user", "content": "a long story"}]}
        with contextlib.suppress(httpx.HTTPError), httpx.stream(
                "POST", self.url + "/chat/completions", headers={"Authorization": f"Bearer {self.key}"}, json=body,
                timeout=60) as resp:
            self.request_id = resp.headers["X-Request-Id"]
            for line in resp.iter_lines():
                if line:
                    self.events += 1
                    self.opened.set()
        self.opened.set()


def _hold(rg: Relaygate, key: str, n: int) -> list[HeldStream]:
    streams = [HeldStream(rg, key) for _ in range(n)]
    for s in streams:
        s.start()
    for s in streams:
        assert s.opened.wait(15) and s.request_id
    return streams


def _balance(rg: Relaygate, t: Tenant) -> tuple[int, int]:
    return (rg.ok("GET", f"/api/users/{t.user_id}")["balance"], rg.ok("GET", f"/api/keys/{t.key_id}")["remain_quota"])


def _rows(rg: Relaygate, t: Tenant) -> list[dict[str, Any]]:
    return list(rg.ok("GET", f"/api/logs?key_id={t.key_id}&limit=1000"))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_killed_relays_reservations_come_back_at_restart_with_a_log_row_each(
        tmp_path: Path, fresh_mock: MockOpenAI, store: str) -> None:
    fresh_mock.stream_chunks, fresh_mock.stream_delay = 60, 0.5
    with _store(store) as env:
        rg = Relaygate(tmp_path, env=env).start()
        try:
            t = _tenant(rg, fresh_mock)
            streams = _hold(rg, t.key, 3)
            held = _balance(rg, t)
            assert held[0] < BALANCE and held[1] < BALANCE  # three reservations of up to 2,000 tokens each
            rg.stop(signal.SIGKILL)
            rg.start()
            assert _balance(rg, t) == (BALANCE, BALANCE)
            rows = _rows(rg, t)
            assert sorted(r["request_id"] for r in rows) == sorted(s.request_id for s in streams)
            assert all((r["status"], r["error_code"], r["cost"]) == (500, RELEASED, 0) for r in rows)
            rg.stop(signal.SIGKILL)  # again: nothing is held now, so nothing is released twice
            rg.start()
            assert _balance(rg, t) == (BALANCE, BALANCE) and len(_rows(rg, t)) == 3
        finally:
            rg.close()


def test_another_process_releases_what_a_dead_one_held_and_never_what_a_live_one_holds(
        tmp_path: Path, fresh_mock: MockOpenAI) -> None:
    fresh_mock.stream_chunks, fresh_mock.stream_delay = 16, 0.5  # ~8 s a stream: sweeps run many times meanwhile
    with _postgres_database() as url:
        env = {"RELAYGATE_DATABASE_URL": url, "RELAYGATE_RESERVATION_LEASE_SECONDS": "3"}
        a = Relaygate(tmp_path / "a", env=env).start()
        b = Relaygate(tmp_path / "b", env=env).start()
        try:
            t = _tenant(a, fresh_mock)
            b.wait_for(lambda: b.http.get("/v1/models", headers={"Authorization": f"Bearer {t.key}"}).status_code
                       == 200)
            dying = _hold(a, t.key, 2)
            [alive] = _hold(b, t.key, 1)
            a.stop(signal.SIGKILL)
            b.wait_for(lambda: sum(r["error_code"] == RELEASED for r in _rows(b, t)) == 2, timeout=10)
            assert sorted(r["request_id"] for r in _rows(b, t)) == sorted(s.request_id for s in dying)
            alive.join(30)
            assert alive.events >= 16
            b.wait_for(lambda: len(_rows(b, t)) == 3)
            mine = next(r for r in _rows(b, t) if r["request_id"] == alive.request_id)
            assert mine["status"] == 200 and mine["cost"] > 0 and mine["error_code"] is None
            assert _balance(b, t) == (BALANCE - mine["cost"], BALANCE - mine["cost"])
        finally:
            a.close()
            b.close()


def _row(request_id: str) -> LogRow:
    values: dict[str, Any] = dict.fromkeys(ROW_FIELDS, 0)
    values.update(request_id=request_id, key_id=1, user_id=1, channel_id=None, endpoint="chat", model="m",
                  upstream_model="m", is_stream=False, first_chunk_ms=None, status=200, error_code=None)
    return LogRow(**values)


def test_a_process_whose_lease_lapsed_settles_without_a_second_refund(tmp_path: Path) -> None:
    """A process that stalled past its lease had its reservation released by another; when its request then
    finishes, it is charged what it used, once, and the process takes a new lease."""
    async def go() -> tuple[int, int, list[tuple[str, int]]]:
        db = Database(f"sqlite:///{tmp_path}/l.db")
        db.migrate()
        with db.engine.begin() as conn:
            conn.execute(tables.users.insert().values(id=1, name="u", balance=1000, created_at=0))
            conn.execute(tables.keys.insert().values(id=1, user_id=1, key_hash="h", key_hint="-", remain_quota=1000,
                                                     created_at=0))
        stalled, other = Ledger(db, lease_seconds=60), Ledger(db, lease_seconds=60)
        res = await stalled.reserve(1, 1, 100, key_limited=True, request_id="req-stalled", endpoint="chat")
        await other.holding.start()
        assert await other.holding.sweep() == 0  # alive and within its lease: untouched
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE ledger_holders SET expires_at = 0 WHERE id = ?", (stalled.holding.holder,))
        assert await other.holding.sweep() == 1
        assert await other.holding.sweep() == 0
        charged = await stalled.settle(res, 30, _row("req-stalled"))
        await stalled.holding.renew()
        with db.engine.begin() as conn:
            balance = int(conn.exec_driver_sql("SELECT balance FROM users WHERE id = 1").scalar_one())
            rows = [(r[0], int(r[1])) for r in conn.exec_driver_sql(
                "SELECT coalesce(error_code, 'ok'), cost FROM request_logs ORDER BY id")]
        await stalled.close()
        await other.close()
        db.close()
        return charged, balance, rows

    charged, balance, rows = asyncio.run(go())
    assert charged == 30 and balance == 1000 - 30
    assert rows == [(RELEASED, 0), ("ok", 30)]


def test_a_relay_stopped_cleanly_gives_up_its_lease(tmp_path: Path, mock: MockOpenAI) -> None:
    rg = Relaygate(tmp_path).start()
    try:
        t = _tenant(rg, mock)
        assert httpx.post(rg.base_url + "/chat/completions", headers={"Authorization": f"Bearer {t.key}"},
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).status_code \
            == 200
        rg.stop()
        db = Database(f"sqlite:///{tmp_path}/data/relaygate.db")
        with db.engine.begin() as conn:
            holders = conn.exec_driver_sql("SELECT count(*) FROM ledger_holders").scalar_one()
            held = conn.exec_driver_sql("SELECT count(*) FROM reservations").scalar_one()
        db.close()
        assert (holders, held) == (0, 0)
    finally:
        rg.close()
