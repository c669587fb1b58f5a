"""Redis stopped or frozen under load: fail open keeps serving, fail closed answers clear 503s, both recover by
themselves when Redis is back, and billing stays exact throughout."""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Relaygate, _postgres_database
from tests.services import PrivateRedis
from tests.test_billing import _logs, _priced_tenant
from tests.upstreams.openai_mock import MockOpenAI

LOAD_SECONDS = 3.6
OUTAGE = (0.8, 2.0)
"""Seconds into the load when Redis goes away and when it is back."""


@contextlib.contextmanager
def _pair(tmp_path: Path, redis: PrivateRedis, mode: str) -> Iterator[list[Relaygate]]:
    with contextlib.ExitStack() as stack:
        env = {"RELAYGATE_DATABASE_URL": stack.enter_context(_postgres_database()), "RELAYGATE_REDIS_URL": redis.url,
               "RELAYGATE_REDIS_FAIL_MODE": mode, "RELAYGATE_REDIS_TIMEOUT": "0.2"}
        pair = [Relaygate(tmp_path / name, env=env) for name in "ab"]
        for rg in pair:
            rg.start()
            stack.callback(rg.close)
        yield pair


def _load(urls: list[str], key: str, model: str, redis: PrivateRedis, outage: str) -> list[tuple[float, int, str]]:
    """Four paced clients for LOAD_SECONDS, alternating replicas; Redis goes away and comes back meanwhile. Each result:
    seconds into the load, status, error code."""
    started = time.monotonic()

    def client(n: int) -> list[tuple[float, int, str]]:
        seen = []
        with httpx.Client(timeout=10) as http:
            i = n
            while (at := time.monotonic() - started) < LOAD_SECONDS:
                resp = http.post(urls[i % len(urls)] + "/v1/chat/completions",
                                 headers={"Authorization": f"Bearer {key}"},
                                 json={"model": model, "messages": [{"role": "user", "content": "load"}]})
                code = resp.json()["error"]["code"] if resp.status_code != 200 else ""
                seen.append((at, resp.status_code, code))
                i += 1
                time.sleep(0.02)  # a few hundred requests in all: every log row fits in one /api/logs page
        return seen

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(client, n) for n in range(4)]
        time.sleep(OUTAGE[0])
        redis.freeze() if outage == "frozen" else redis.stop()
        time.sleep(OUTAGE[1] - OUTAGE[0])
        redis.thaw() if outage == "frozen" else redis.start()
        return sorted(r for c in clients for r in c.result())


@pytest.mark.parametrize(("mode", "outage"), [("open", "stopped"), ("open", "frozen"), ("closed", "stopped")])
def test_redis_going_away_mid_load_follows_the_fail_mode_recovers_and_bills_exactly(
        tmp_path: Path, fresh_mock: MockOpenAI, mode: str, outage: str) -> None:
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        with _pair(tmp_path, redis, mode) as (a, b):
            t, model = _priced_tenant(a, fresh_mock, per_call=0.002, balance=10**9, key_fields={"rpm": 100_000})
            b.wait_for(lambda: b.http.get("/v1/models", headers={"Authorization": f"Bearer {t.key}"}).status_code
                       == 200)
            before = fresh_mock.count("/chat/completions")
            results = _load([a.url, b.url], t.key, model, redis, outage)
            upstream_calls = fresh_mock.count("/chat/completions") - before
            ok = [r for r in results if r[1] == 200]
            refused = [r for r in results if r[1] != 200]
            if mode == "open":
                assert refused == []
            else:
                assert refused and {(s, c) for _, s, c in refused} == {(503, "rate_limiter_unavailable")}
                assert all(OUTAGE[0] <= at <= OUTAGE[1] + 1.0 for at, _, _ in refused)
            assert any(at > OUTAGE[1] + 1.0 for at, _, _ in ok), "no request was served after Redis came back"
            # nothing refused went upstream; every answer was billed once, nothing else was
            assert upstream_calls == len(ok)
            rows = _logs(a, key_id=t.key_id)
            assert sorted(r["status"] for r in rows) == sorted(s for _, s, _ in results)
            assert sum(int(r["cost"]) for r in rows) == 1_000 * len(ok)
            user = a.ok("GET", f"/api/users/{t.user_id}")
            assert user["used_quota"] == 1_000 * len(ok) and user["balance"] == 10**9 - 1_000 * len(ok)
            for rg in (a, b):
                metrics = rg.http.get("/metrics").text
                assert "relaygate_redis_up 1.0" in metrics and "relaygate_redis_outages_total 1.0" in metrics
    finally:
        redis.stop()
