"""Dashboards: what the rollup written with each log row says equals what the logs say, per user, model and
channel, by hour or day in the operator's time zone, and fast on many rows."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from relaygate.admin import console_schemas as cs
from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.core.records import LogRow
from relaygate.store.database import Database
from relaygate.store.ledger_sql import LedgerStatements
from tests.conftest import Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}


def _row(at: float, user: int | None, channel: int | None, model: str, prompt: int, completion: int,
         status: int = 200) -> LogRow:
    return LogRow(at, "req_x", user, user, channel, "chat", model, model, False, prompt, completion, 0, 0, 0, 0, 0.0,
                  0, 10.0, None, status, None)


def test_a_users_dashboard_shows_their_own_traffic_and_balance(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], balance=5_000_000)
    other = make_tenant(relaygate, [mock.base_url])
    client = relaygate.client(t.key)
    for _ in range(3):
        client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
    relaygate.client(other.key).chat.completions.create(**CHAT)  # type: ignore[call-overload]
    logs = relaygate.ok("GET", f"/api/logs?user_id={t.user_id}")
    board = relaygate.http.get("/api/self/dashboard?range=24h", headers={"Authorization": f"Bearer {t.key}"}).json()
    today = board["today"]
    assert today["requests"] == 3 and today["failures"] == 0
    assert today["tokens"] == sum(r["prompt_tokens"] + r["completion_tokens"] for r in logs) > 0
    assert today["cost"] == sum(r["cost"] for r in logs) > 0 and today["cost_usd"] == today["cost"] / 500_000
    assert [m["model"] for m in board["models_today"]] == ["gpt-4o-mini"]
    assert board["granularity"] == "hour" and len(board["series"]) == 24
    assert sum(p["requests"] for p in board["series"]) == 3 and board["series"][-1]["requests"] == 3
    user = relaygate.ok("GET", f"/api/users/{t.user_id}")
    assert (board["balance"], board["used_quota"]) == (user["balance"], user["used_quota"])
    assert board["balance_usd"] == user["balance"] / 500_000 and board["channels"] == []


def test_the_admin_dashboard_breaks_usage_down_by_model_and_channel(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url])
    before = relaygate.ok("GET", "/api/dashboard?range=7d")
    relaygate.client(t.key).chat.completions.create(**CHAT)  # type: ignore[call-overload]
    after = relaygate.ok("GET", "/api/dashboard?range=7d&granularity=hour")
    assert after["today"]["requests"] == before["today"]["requests"] + 1
    assert after["granularity"] == "hour" and len(after["series"]) == 7 * 24
    [channel] = [c for c in after["channels"] if c["channel_id"] == t.channel_ids[0]]
    assert channel["name"] == f"{t.group}-ch0" and channel["requests"] == 1
    assert sum(m["requests"] for m in after["models"]) == sum(c["requests"] for c in after["channels"])
    daily = relaygate.ok("GET", "/api/dashboard?range=30d")
    assert daily["granularity"] == "day" and len(daily["series"]) == 30
    assert sum(p["requests"] for p in daily["series"]) == sum(m["requests"] for m in daily["models"])
    for bad in ("range=1y", "granularity=minute", "range="):
        assert relaygate.admin("GET", f"/api/dashboard?{bad}").status_code == 400


def test_the_rollup_equals_the_request_logs(store_relaygate: Relaygate, mock: MockOpenAI) -> None:
    rg = store_relaygate
    t = make_tenant(rg, [mock.base_url], balance=10**12)
    client = rg.client(t.key)
    for i in range(6):
        client.chat.completions.create(**{**CHAT, "stream": i % 2 == 0, "max_tokens": 5 + i})  # type: ignore
    refused = rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {t.key}"},
                           json={**CHAT, "model": "no-such-model"})
    assert refused.status_code == 404
    pg = rg.env.get("RELAYGATE_DATABASE_URL")
    db = Database(_pg(pg) if pg else f"sqlite:///{Path(rg.env['RELAYGATE_DATA_DIR']) / 'relaygate.db'}")
    try:
        logs = db.run_sync(lambda c: c.execute(text(
            "SELECT count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), sum(prompt_tokens), "
            "sum(completion_tokens), sum(cost) FROM request_logs WHERE user_id = :u"), {"u": t.user_id}).one())
        rollup = db.run_sync(lambda c: c.execute(text(
            "SELECT sum(requests), sum(failures), sum(prompt_tokens), sum(completion_tokens), sum(cost) "
            "FROM usage_rollup WHERE user_id = :u"), {"u": t.user_id}).one())
    finally:
        db.close()
    assert tuple(logs) == tuple(rollup) and logs[0] == 7 and logs[1] == 1


def _pg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def test_days_begin_at_midnight_in_the_operators_time_zone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tz.db'}")
    db.migrate()
    now = datetime(2026, 1, 2, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    evening = datetime(2026, 1, 1, 20, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # Jan 2, 04:30 in Shanghai
    db.run_sync(lambda c: LedgerStatements(c).insert_logs([(_row(evening, 1, 1, "m", 10, 5), 100),
                                                           (_row(now - 60, 1, 1, "m", 1, 1, 502), 0)]))

    async def boards() -> tuple[cs.DashboardOut, cs.DashboardOut]:
        op = Operator(db)
        await op.create_user(s.UserIn(name="u"))
        query = cs.DashboardQuery(range="7d")
        return await op.dashboard(query, "UTC", 1, now=now), await op.dashboard(query, "Asia/Shanghai", 1, now=now)
    try:
        utc, shanghai = asyncio.run(boards())
    finally:
        db.close()
    assert (utc.today.requests, utc.today.failures, utc.today.cost) == (1, 1, 0)
    assert (shanghai.today.requests, shanghai.today.tokens, shanghai.today.cost) == (2, 17, 100)
    assert datetime.fromtimestamp(shanghai.today_start, ZoneInfo("Asia/Shanghai")).hour == 0
    assert [p.requests for p in utc.series[-2:]] == [1, 1] and [p.requests for p in shanghai.series[-2:]] == [0, 2]


def test_the_migration_sums_the_logs_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    db.upgrade("0005")
    db.run_sync(lambda c: c.execute(text(
        "INSERT INTO request_logs (created_at, request_id, user_id, channel_id, endpoint, model, upstream_model, "
        "is_stream, prompt_tokens, completion_tokens, cost, latency_ms, status) VALUES "
        "(7200.5, 'a', 3, 2, 'chat', 'm', 'm', 0, 10, 20, 30, 1, 200), "
        "(7300.0, 'b', 3, 2, 'chat', 'm', 'm', 0, 1, 2, 3, 1, 429), "
        "(3599.0, 'c', NULL, NULL, 'chat', 'm', 'm', 0, 0, 0, 0, 1, 401)")))
    db.migrate()
    rows = db.run_sync(lambda c: c.execute(text("SELECT * FROM usage_rollup ORDER BY bucket")).all())
    db.close()
    assert [tuple(r) for r in rows] == [(0, 0, 0, "m", 1, 1, 0, 0, 0), (7200, 3, 2, "m", 2, 1, 11, 22, 33)]


def test_dashboards_read_the_hourly_rollup_never_the_request_logs(tmp_path: Path) -> None:
    """What keeps a dashboard fast on millions of log rows, held without timing anything (bench/dashboard_bench.py
    measures it: README, Console): every statement a dashboard runs reads usage_rollup, none reads request_logs,
    and the rollup holds one row per hour, user, channel and model however many requests there were."""
    db = Database(f"sqlite:///{tmp_path / 'many.db'}")
    db.migrate()
    now = time.time()
    rows = [(_row(now - 30 * 86400 * i / 20_000, i % 4 + 1, i % 2 + 1, f"model-{i % 3}", 100, 50), 7)
            for i in range(20_000)]
    for i in range(0, len(rows), 5000):
        db.run_sync(lambda c, b=rows[i:i + 5000]: LedgerStatements(c).insert_logs(b))  # type: ignore[misc]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    async def boards() -> None:
        op = Operator(db)
        await op.create_user(s.UserIn(name="u"))
        statements.clear()
        for user_id in (None, 1):
            for rng in ("24h", "7d", "30d", "90d"):
                board = await op.dashboard(cs.DashboardQuery(range=rng), "UTC", user_id)  # type: ignore[arg-type]
                if rng == "90d":
                    assert sum(p.requests for p in board.series) == (20_000 if user_id is None else 5_000)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        asyncio.run(boards())
        reads = [q for q in statements if q.lstrip().upper().startswith(("SELECT", "WITH"))]
        assert reads and not [q for q in reads if "request_logs" in q], reads
        assert [q for q in reads if "usage_rollup" in q]
        rollup = db.run_sync(lambda c: c.execute(text("SELECT count(*) FROM usage_rollup")).scalar_one())
        assert rollup <= (30 * 24 + 2) * 12  # at most the 12 (user, channel, model) of these rows in each hour
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
        db.close()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_a_start_up_error(zone: str) -> None:
    from pydantic import ValidationError

    from relaygate.config import Settings

    with pytest.raises(ValidationError, match="time zone"):
        Settings(time_zone=zone)
