"""Two replicas behind HAProxy on the shipped recipe (deploy/haproxy.cfg): one stopping (SIGTERM) costs clients
nothing, one dying (SIGKILL) costs at most what it was serving, and every answer a client got is billed once."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Relaygate, _postgres_database
from tests.services import HAProxy, shared_redis
from tests.test_billing import _logs, _priced_tenant
from tests.upstreams.openai_mock import MockOpenAI

CLIENTS = 6
LOAD_SECONDS = 4.0
STOP_AT = 1.5


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[HAProxy, list[Relaygate]]]:
    url, prefix = shared_redis()
    with contextlib.ExitStack() as stack:
        env = {"RELAYGATE_DATABASE_URL": stack.enter_context(_postgres_database()), "RELAYGATE_REDIS_URL": url,
               "RELAYGATE_REDIS_PREFIX": prefix, "RELAYGATE_DRAIN_SECONDS": "2",
               "RELAYGATE_RESERVATION_LEASE_SECONDS": "3"}
        replicas = [Relaygate(tmp_path / name, env=env) for name in "ab"]
        for rg in replicas:
            rg.start()
            stack.callback(rg.close)
        lb = HAProxy(tmp_path / "lb", [f"127.0.0.1:{rg.port}" for rg in replicas]).start()
        stack.callback(lb.stop)
        yield lb, replicas


Result = tuple[float, int, str]
"""Seconds into the load, status (0: no answer at all), the answer's request id."""


def _load(lb: HAProxy, key: str, model: str, stop: threading.Event) -> list[Result]:
    started = time.monotonic()

    def client() -> list[Result]:
        seen: list[Result] = []
        with httpx.Client(base_url=lb.url, timeout=15) as http:
            while (at := time.monotonic() - started) < LOAD_SECONDS:
                try:
                    resp = http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                     json={"model": model, "messages": [{"role": "user", "content": "lb"}]})
                    seen.append((at, resp.status_code, resp.headers.get("X-Request-Id", "")))
                except httpx.TransportError:
                    seen.append((at, 0, ""))
                time.sleep(0.03)  # a few hundred requests: every log row fits in one /api/logs page
        return seen

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(client) for _ in range(CLIENTS)]
        time.sleep(STOP_AT)
        stop.set()
        return sorted(r for c in clients for r in c.result())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_replica_stopping_mid_load_behind_the_balancer_fails_at_most_its_in_flight_requests(
        cluster: tuple[HAProxy, list[Relaygate]], mock: MockOpenAI, sig: signal.Signals) -> None:
    lb, (a, b) = cluster
    t, model = _priced_tenant(a, mock, per_call=0.002, balance=10**9)
    b.wait_for(lambda: b.http.get("/v1/models", headers={"Authorization": f"Bearer {t.key}"}).status_code == 200)
    stop = threading.Event()
    stopper = threading.Thread(target=lambda: (stop.wait(), b.stop(sig)))
    stopper.start()
    results = _load(lb, t.key, model, stop)
    stopper.join()
    ok = [r for r in results if r[1] == 200]
    failed = [r for r in results if r[1] != 200]
    assert len(ok) > 100 and any(at > STOP_AT + 1 for at, _, _ in ok)
    if sig is signal.SIGTERM:
        assert failed == []  # readiness turned 503, the balancer moved on, the replica finished what it had
    else:
        assert len(failed) <= CLIENTS and all(STOP_AT - 0.1 <= at <= STOP_AT + 1 for at, _, _ in failed)
    rows = _logs(a, key_id=t.key_id)
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["request_id"]), []).append(row)
    for _, _, request_id in ok:
        assert [(r["status"], r["cost"]) for r in by_id.get(request_id, [])] == [(200, 1_000)], request_id
    charged = [r for r in rows if int(str(r["cost"])) > 0]
    # a request killed after its charge was stored and before its answer left is billed without being seen
    assert len(ok) <= len(charged) <= len(ok) + len(failed)
    # what the killed replica still held comes back through the survivor, each with a log row of its own
    a.wait_for(lambda: (lambda u: u["balance"] == 10**9 - u["used_quota"])(a.ok("GET", f"/api/users/{t.user_id}")))
    user = a.ok("GET", f"/api/users/{t.user_id}")
    assert user["used_quota"] == 1_000 * len(charged)
    released = [r for r in _logs(a, key_id=t.key_id) if r["error_code"] == "released_after_crash"]
    assert all(r["cost"] == 0 for r in released) and len(released) <= len(failed)
    if sig is signal.SIGTERM:
        assert released == []
