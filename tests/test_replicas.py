"""Three replicas on one PostgreSQL and one Redis: rate limits, revocations, channel health and quotas are exact
across them. Their catalog poll is 30 s, so whatever reaches another replica within a second was pushed."""

from __future__ import annotations

import concurrent.futures
import contextlib
import secrets
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from relaygate.billing.estimate import token_estimate
from relaygate.billing.tokens import TokenCounter
from tests.conftest import Relaygate, _postgres_database, make_tenant
from tests.services import shared_redis
from tests.test_billing import _logs, _priced_tenant, _race
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Relaygate]]:
    url, prefix = shared_redis()
    with contextlib.ExitStack() as stack:
        env = {"RELAYGATE_DATABASE_URL": stack.enter_context(_postgres_database()), "RELAYGATE_REDIS_URL": url,
               "RELAYGATE_REDIS_PREFIX": prefix, "RELAYGATE_CONFIG_POLL_INTERVAL": "30",
               "RELAYGATE_PROBE_INTERVAL": "1", "RELAYGATE_LEASE_TTL": "3"}
        root = tmp_path_factory.mktemp("replicas")
        group = [Relaygate(root / name, env=env) for name in "abc"]
        for rg in group:
            stack.callback(rg.close)
        # all at once on a new database, as an orchestrator starts them: they take turns creating the schema
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(Relaygate.start, group))
        yield group


def _post(rg: Relaygate, key: str, body: dict[str, object] = CHAT) -> httpx.Response:
    return rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body)


def _knows(rg: Relaygate, key: str) -> bool:
    return rg.http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def _synced(group: list[Relaygate]) -> None:
    """Every replica's catalog holds every change made so far: a key created now is known everywhere."""
    first = group[0]
    user = first.ok("POST", "/api/users", {"name": "sync-" + secrets.token_hex(4)})
    key = first.ok("POST", "/api/keys", {"user_id": user["id"]})["key"]
    for rg in group:
        rg.wait_for(lambda rg=rg: _knows(rg, key), timeout=1.0)  # type: ignore[misc]


def test_replicas_started_together_on_a_new_database_share_one_schema_and_admin(replicas: list[Relaygate]) -> None:
    for rg in replicas:
        assert rg.http.get("/readyz").status_code == 200
        assert [u["role"] for u in rg.ok("GET", "/api/users")].count("admin") == 1


def test_a_key_with_rpm_10_gets_exactly_10_of_30_requests_alternating_between_replicas(
        replicas: list[Relaygate], mock: MockOpenAI) -> None:
    a, b, _ = replicas
    t = make_tenant(a, [mock.base_url], key_fields={"rpm": 10})
    _synced(replicas)
    statuses = [_post((a, b)[i % 2], t.key).status_code for i in range(30)]
    assert statuses == [200] * 10 + [429] * 20


def test_tpm_counts_real_usage_across_replicas(replicas: list[Relaygate], mock: MockOpenAI) -> None:
    a, b, _ = replicas
    body = {**CHAT, "max_tokens": 200}
    t = make_tenant(a, [mock.base_url])
    used = _post(a, t.key, body).json()["usage"]["total_tokens"]
    estimate = token_estimate(TokenCounter().chat_prompt(body), 200).total_tokens
    # Holding estimates, one request would fit; with each settled to what it used, seven do (k used + estimate).
    tpm = estimate + 6 * used + used // 2
    a.ok("PATCH", f"/api/keys/{t.key_id}", {"tpm": tpm})
    _synced(replicas)
    statuses = [_post((a, b)[i % 2], t.key, body).status_code for i in range(30)]
    assert statuses == [200] * 7 + [429] * 23


def test_a_key_revoked_on_one_replica_is_refused_by_another_within_a_second(
        replicas: list[Relaygate], mock: MockOpenAI) -> None:
    a, b, c = replicas
    t = make_tenant(a, [mock.base_url])
    _synced(replicas)
    assert _post(b, t.key).status_code == 200
    a.ok("DELETE", f"/api/keys/{t.key_id}")
    revoked = time.monotonic()
    for rg in (b, c):
        rg.wait_for(lambda rg=rg: _post(rg, t.key).status_code == 401, timeout=1.0)  # type: ignore[misc]
    assert time.monotonic() - revoked < 1.0


def _probes(upstream: MockOpenAI) -> int:
    return sum(1 for r in list(upstream.requests) if isinstance(r.json, dict) and r.json.get("max_tokens") == 1)


def test_failures_on_two_replicas_add_up_disable_the_channel_everywhere_and_one_replica_probes_it(
        replicas: list[Relaygate], fresh_mock: MockOpenAI) -> None:
    a, b, _ = replicas
    fresh_mock.mode = "500"
    t = make_tenant(a, [fresh_mock.base_url])
    channel = t.channel_ids[0]
    _synced(replicas)
    for rg in (a, a, a, b):
        assert _post(rg, t.key).status_code == 502
    time.sleep(0.3)
    assert a.ok("GET", f"/api/channels/{channel}")["status"] == "enabled"  # 4 < 5, wherever they happened
    assert _post(b, t.key).status_code == 502  # the fifth
    down = time.monotonic()
    for rg in replicas:
        rg.wait_for(lambda rg=rg: _post(rg, t.key).status_code == 503, timeout=1.0)  # type: ignore[misc]
    assert time.monotonic() - down < 1.0
    assert a.ok("GET", f"/api/channels/{channel}")["status"] == "auto_disabled"
    # three replicas probing every second would send ~12 probes in 4 s; the one holding the lease sends ~4
    before = _probes(fresh_mock)
    time.sleep(4)
    probes = _probes(fresh_mock) - before
    assert 2 <= probes <= 5, probes
    fresh_mock.mode = "ok"
    a.wait_for(lambda: a.ok("GET", f"/api/channels/{channel}")["status"] == "enabled", timeout=3)
    up = time.monotonic()
    for rg in replicas:
        rg.wait_for(lambda rg=rg: _post(rg, t.key).status_code == 200, timeout=1.0)  # type: ignore[misc]
    assert time.monotonic() - up < 1.0


def test_200_concurrent_requests_on_a_50_request_quota_split_across_three_replicas_stay_exact(
        replicas: list[Relaygate], mock: MockOpenAI) -> None:
    a = replicas[0]
    t, model = _priced_tenant(a, mock, per_call=0.002, quota=50_000, balance=10**9)
    _synced(replicas)
    statuses = _race([rg.url for rg in replicas], t.key, model, 200)
    assert statuses.count(200) == 50 and statuses.count(403) == 150
    key = a.ok("GET", f"/api/keys/{t.key_id}")
    user = a.ok("GET", f"/api/users/{t.user_id}")
    assert key["remain_quota"] == 0 and key["used_quota"] == 50_000 == user["used_quota"]
    assert sum(int(r["cost"]) for r in _logs(a, key_id=t.key_id)) == 50_000


def test_replicas_export_their_redis_link_on_metrics(replicas: list[Relaygate]) -> None:
    text = replicas[1].http.get("/metrics").text
    assert "relaygate_redis_up 1.0" in text
    assert 'relaygate_redis_fallbacks_total{kind="limiter_local"} 0.0' in text
