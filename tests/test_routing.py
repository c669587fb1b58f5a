"""Channels: priority and weights, retries on failure, auto-disable and re-enable, credential rotation."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx2 as httpx
import pytest

from relaygate.core.records import ChannelRecord
from relaygate.relay.routing import ProcessChannelHealth, attempt_order
from tests.conftest import UPSTREAM_KEY, Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _channel(cid: int, priority: int = 0, weight: int = 1, status: str = "enabled",
             credentials: tuple[str, ...] = ("k",)) -> ChannelRecord:
    return ChannelRecord(id=cid, name=f"c{cid}", type="openai", base_url="http://x", credentials=credentials,
                         models=("m",), model_mapping={}, groups=("default",), priority=priority, weight=weight,
                         timeout=None, status=status, test_model=None)


def test_attempt_order_puts_higher_priority_first_and_skips_disabled() -> None:
    chans = [_channel(1, priority=10), _channel(2, priority=5), _channel(3, priority=10, status="auto_disabled")]
    order = attempt_order(sorted(chans, key=lambda c: -c.priority), random.Random(1))
    assert [c.id for c in order] == [1, 2]


def test_weights_share_traffic_inside_a_priority() -> None:
    rng = random.Random(42)
    chans = [_channel(1, weight=1), _channel(2, weight=3)]
    firsts = Counter(attempt_order(chans, rng)[0].id for _ in range(4000))
    assert 0.70 < firsts[2] / 4000 < 0.80


def test_health_reports_the_threshold_once_and_rotates_credentials() -> None:
    health = ProcessChannelHealth(disable_after=3)

    async def four_failures() -> list[bool]:
        return [await health.failed(1) for _ in range(4)]

    assert asyncio.run(four_failures()) == [False, False, True, False]
    ch = _channel(1, credentials=("a", "b", "c"))
    assert [health.credential(ch) for _ in range(4)] == ["a", "b", "c", "a"]


def _post(rg: Relaygate, key: str, body: dict[str, object] = CHAT) -> httpx.Response:
    return rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body)


@pytest.mark.parametrize("failure", ["500", "429", "reset", "timeout", "401"])
def test_failover_gives_clients_full_success_and_disables_the_bad_channel(
        relaygate: Relaygate, fresh_mock: MockOpenAI, mock: MockOpenAI, failure: str) -> None:
    fresh_mock.mode = failure
    fresh_mock.hang_seconds = 2
    t = make_tenant(relaygate, [fresh_mock.base_url, mock.base_url], channel_fields={"timeout": 0.3})
    bad, good = t.channel_ids
    relaygate.ok("PATCH", f"/api/channels/{bad}", {"priority": 10})
    relaygate.ok("PATCH", f"/api/channels/{good}", {"timeout": 5})
    statuses = [_post(relaygate, t.key).status_code for _ in range(8)]
    assert statuses == [200] * 8
    channel = relaygate.ok("GET", f"/api/channels/{bad}")
    assert channel["status"] == "auto_disabled"
    assert "auto-disabled" in channel["status_reason"]
    fresh_mock.mode = "ok"
    relaygate.wait_for(lambda: relaygate.ok("GET", f"/api/channels/{bad}")["status"] == "enabled", timeout=15)


def test_streams_fail_over_before_the_first_byte(relaygate: Relaygate, fresh_mock: MockOpenAI,
                                                 mock: MockOpenAI) -> None:
    fresh_mock.mode = "500"
    t = make_tenant(relaygate, [fresh_mock.base_url, mock.base_url])
    relaygate.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"priority": 10})
    chunks = list(relaygate.client(t.key).chat.completions.create(stream=True, **CHAT))  # type: ignore[call-overload]
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    assert fresh_mock.count("/chat/completions") == 1


def test_retries_stop_at_the_configured_count(relaygate: Relaygate) -> None:
    mocks = [MockOpenAI(api_keys=[UPSTREAM_KEY]).start() for _ in range(4)]
    try:
        for m in mocks:
            m.mode = "500"
        t = make_tenant(relaygate, [m.base_url for m in mocks])
        assert _post(relaygate, t.key).status_code == 502
        assert sum(m.count("/chat/completions") for m in mocks) == 3
    finally:
        for m in mocks:
            m.stop()


def test_higher_priority_channel_takes_all_healthy_traffic(relaygate: Relaygate, fresh_mock: MockOpenAI,
                                                           mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url, mock.base_url])
    relaygate.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"priority": 5})
    for _ in range(5):
        assert _post(relaygate, t.key).status_code == 200
    assert fresh_mock.count("/chat/completions") == 5


def test_channel_credentials_rotate(relaygate: Relaygate) -> None:
    upstream = MockOpenAI(api_keys=["sk-one", "sk-two"]).start()
    try:
        t = make_tenant(relaygate, [upstream.base_url])
        relaygate.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"credentials": ["sk-one", "sk-two"]})
        for _ in range(4):
            assert _post(relaygate, t.key).status_code == 200
        used = [r.headers["Authorization"] for r in upstream.requests if r.path.endswith("/chat/completions")]
        assert used == ["Bearer sk-one", "Bearer sk-two"] * 2
    finally:
        upstream.stop()


def test_channel_test_endpoint_probes_the_upstream(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url])
    result = relaygate.ok("POST", f"/api/channels/{t.channel_ids[0]}/test")
    assert result["ok"] is True and result["status"] == 200
    fresh_mock.mode = "401"
    result = relaygate.ok("POST", f"/api/channels/{t.channel_ids[0]}/test")
    assert result["ok"] is False and result["status"] == 401
    assert UPSTREAM_KEY not in result["message"]


def test_embeddings_go_past_a_higher_priority_claude_channel_to_one_that_serves_them(
        relaygate: Relaygate, mock: MockOpenAI) -> None:
    from tests.upstreams.anthropic_mock import MockAnthropic

    claude = MockAnthropic(api_keys=[UPSTREAM_KEY]).start()
    try:
        t = make_tenant(relaygate, [claude.base_url], models=["text-embedding-3-small"],
                        channel_fields={"type": "anthropic", "priority": 10})
        relaygate.ok("POST", "/api/channels", {
            "name": f"{t.group}-openai", "base_url": mock.base_url, "credentials": [UPSTREAM_KEY],
            "models": ["text-embedding-3-small"], "groups": [t.group], "priority": 0})
        relaygate.wait_for(lambda: len([c for c in relaygate.ok("GET", "/api/channels")
                                        if t.group in c["groups"]]) == 2)
        before = mock.count("/embeddings")
        relaygate.wait_for(lambda: httpx.post(relaygate.base_url + "/embeddings", json={
            "model": "text-embedding-3-small", "input": "x"}, headers={"Authorization": f"Bearer {t.key}"}
        ).status_code == 200)
        emb = relaygate.client(t.key).embeddings.create(model="text-embedding-3-small", input="hello")
        assert emb.data[0].embedding and mock.count("/embeddings") > before
        assert claude.requests == []
    finally:
        claude.stop()
