"""Money is exact: reservations, settlement, refunds, concurrency, partial streams and durability."""

from __future__ import annotations

import concurrent.futures
import signal
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.conftest import ADMIN_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

QUOTA_PER_USD = 500_000


@pytest.fixture
def relaygate(store_relaygate: Relaygate) -> Relaygate:
    """Billing must hold on both stores: each test here runs on SQLite and on PostgreSQL."""
    return store_relaygate


def _chat(rg: Relaygate, key: str, model: str, **extra: object) -> httpx.Response:
    return httpx.post(rg.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": "count me"}], **extra})


def _logs(rg: Relaygate, **query: object) -> list[dict[str, object]]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return list(rg.ok("GET", f"/api/logs?limit=1000&{params}"))


def _priced_tenant(rg: Relaygate, upstream: MockOpenAI, *, per_call: float | None = None,
                   input_per_1m: float = 0.0, output_per_1m: float = 0.0, **kw: object) -> tuple[Tenant, str]:
    t = make_tenant(rg, [upstream.base_url], models=["billed-model"], mapping={"billed-model": "gpt-4o-mini"}, **kw)
    model = "billed-" + t.group
    rg.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"models": [model], "model_mapping": {model: "gpt-4o-mini"}})
    rg.ok("PUT", f"/api/prices/{model}", {"input_per_1m": input_per_1m, "output_per_1m": output_per_1m,
                                          "per_call": per_call})
    rg.wait_for(lambda: _chat(rg, "sk-nobody", model).status_code == 401)
    return t, model


def test_a_request_costs_exactly_its_usage_at_the_set_price(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, mock, input_per_1m=2.0, output_per_1m=8.0, balance=10_000_000)
    resp = _chat(relaygate, t.key, model, max_tokens=100)
    assert resp.status_code == 200, resp.text
    usage = resp.json()["usage"]
    expected = -(-(usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) * QUOTA_PER_USD // 1_000_000)
    user = relaygate.ok("GET", f"/api/users/{t.user_id}")
    assert user["balance"] == 10_000_000 - expected
    assert user["used_quota"] == expected
    [row] = _logs(relaygate, key_id=t.key_id)
    assert (row["cost"], row["prompt_tokens"], row["completion_tokens"]) == (
        expected, usage["prompt_tokens"], usage["completion_tokens"])
    assert row["status"] == 200 and row["model"] == model and row["upstream_model"] == "gpt-4o-mini"
    assert row["request_id"] == resp.headers["X-Request-Id"]


def test_group_multiplier_scales_the_charge(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, mock, per_call=0.01, balance=1_000_000)
    relaygate.ok("PUT", "/api/groups", {"name": t.group, "multiplier": 1.5})
    assert _chat(relaygate, t.key, model).status_code == 200
    assert relaygate.ok("GET", f"/api/users/{t.user_id}")["balance"] == 1_000_000 - 7_500


def test_a_failed_request_costs_nothing(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, fresh_mock, per_call=0.01, balance=1_000_000, quota=100_000)
    fresh_mock.mode = "500"
    resp = _chat(relaygate, t.key, model)
    assert resp.status_code == 502
    assert relaygate.ok("GET", f"/api/users/{t.user_id}")["balance"] == 1_000_000
    assert relaygate.ok("GET", f"/api/keys/{t.key_id}")["remain_quota"] == 100_000
    [row] = _logs(relaygate, key_id=t.key_id)
    assert (row["status"], row["cost"], row["error_code"]) == (502, 0, "upstream_error")


def _race(rg_urls: list[str], key: str, model: str, n: int) -> list[int]:
    def one(i: int) -> int:
        url = rg_urls[i % len(rg_urls)]
        return httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                          json={"model": model, "messages": [{"role": "user", "content": "race"}]}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("limit", ["key", "user"])
def test_200_concurrent_requests_on_quota_for_50_never_overdraw(relaygate: Relaygate, mock: MockOpenAI,
                                                                limit: str) -> None:
    price = 0.002  # per call: 1,000 quota units
    if limit == "key":
        t, model = _priced_tenant(relaygate, mock, per_call=price, quota=50_000, balance=10**9)
    else:
        t, model = _priced_tenant(relaygate, mock, per_call=price, balance=50_000)
    statuses = _race([relaygate.url], t.key, model, 200)
    assert statuses.count(200) == 50
    assert statuses.count(403) == 150
    user = relaygate.ok("GET", f"/api/users/{t.user_id}")
    key = relaygate.ok("GET", f"/api/keys/{t.key_id}")
    left = key["remain_quota"] if limit == "key" else user["balance"]
    assert left == 0
    logged = sum(int(r["cost"]) for r in _logs(relaygate, key_id=t.key_id))
    assert logged == 50_000 == user["used_quota"] == key["used_quota"]


def test_two_processes_on_postgresql_share_one_exact_balance(tmp_path: Path, postgres_url: str,
                                                             mock: MockOpenAI) -> None:
    env = {"RELAYGATE_DATABASE_URL": postgres_url}
    first = Relaygate(tmp_path / "a", env=env).start()
    second = Relaygate(tmp_path / "b", env=env).start()
    try:
        t, model = _priced_tenant(first, mock, per_call=0.002, quota=50_000, balance=10**9)
        second.wait_for(lambda: _chat(second, t.key, "nope").status_code == 404)
        statuses = _race([first.url, second.url], t.key, model, 200)
        assert statuses.count(200) == 50 and statuses.count(403) == 150
        key = first.ok("GET", f"/api/keys/{t.key_id}")
        assert key["remain_quota"] == 0 and key["used_quota"] == 50_000
        assert sum(int(r["cost"]) for r in _logs(first, key_id=t.key_id)) == 50_000
    finally:
        first.close()
        second.close()


def test_abandoned_stream_is_billed_for_what_was_generated(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, fresh_mock, input_per_1m=0.0, output_per_1m=1000.0, balance=10**9)
    fresh_mock.stream_chunks = 40
    fresh_mock.stream_delay = 0.05
    fresh_mock.reply_text = " ".join(f"word{i}" for i in range(40))
    with httpx.stream("POST", relaygate.base_url + "/chat/completions",
                      headers={"Authorization": f"Bearer {t.key}"}, timeout=30,
                      json={"model": model, "stream": True, "messages": [{"role": "user", "content": "go"}]}) as resp:
        seen = 0
        for line in resp.iter_lines():
            if line.startswith("data: {") and '"content":"word' in line.replace(" ", ""):
                seen += 1
            if seen >= 3:
                break
    relaygate.wait_for(lambda: len(_logs(relaygate, key_id=t.key_id)) == 1)
    [row] = _logs(relaygate, key_id=t.key_id)
    assert row["status"] == 499
    assert 0 < row["completion_tokens"] < 40 * 2
    assert row["cost"] > 0
    assert relaygate.ok("GET", f"/api/users/{t.user_id}")["used_quota"] == row["cost"]


def test_a_stream_that_arrives_whole_is_relayed_whole_and_charged_before_its_done(
        relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, fresh_mock, per_call=0.002, balance=1_000_000)
    fresh_mock.stream_at_once = True
    fresh_mock.reply_text = "one two three four five"
    with httpx.stream("POST", relaygate.base_url + "/chat/completions",
                      headers={"Authorization": f"Bearer {t.key}"}, timeout=30,
                      json={"model": model, "stream": True, "messages": [{"role": "user", "content": "go"}]}) as resp:
        events = [line for line in resp.iter_lines() if line]
        # read at [DONE], before the connection is gone: the charge and its log row are already stored
        rows = _logs(relaygate, key_id=t.key_id)
        balance = relaygate.ok("GET", f"/api/users/{t.user_id}")["balance"]
    assert events[-1] == "data: [DONE]" and events[0].startswith("data: {")
    text = "".join(orjson.loads(e[6:])["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text == "one two three four five"
    assert [(r["status"], r["cost"]) for r in rows] == [(200, 1_000)] and balance == 1_000_000 - 1_000


def test_charge_and_log_row_survive_sigkill_right_after_the_answer(tmp_path: Path, mock: MockOpenAI) -> None:
    rg = Relaygate(tmp_path).start()
    try:
        t, model = _priced_tenant(rg, mock, per_call=0.002, balance=1_000_000)
        resp = _chat(rg, t.key, model)
        assert resp.status_code == 200
        rg.stop(signal.SIGKILL)
        rg.start()
        assert rg.ok("GET", f"/api/users/{t.user_id}")["balance"] == 1_000_000 - 1_000
        [row] = _logs(rg, key_id=t.key_id)
        assert row["request_id"] == resp.headers["X-Request-Id"] and row["cost"] == 1_000
    finally:
        rg.close()


def test_quota_exhausted_errors_name_the_key_or_the_user(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t, model = _priced_tenant(relaygate, mock, per_call=0.002, quota=10, balance=10**9)
    resp = _chat(relaygate, t.key, model)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "insufficient_token_quota"
    u, model2 = _priced_tenant(relaygate, mock, per_call=0.002, balance=10)
    resp = _chat(relaygate, u.key, model2)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "insufficient_user_quota"
    assert ADMIN_KEY not in resp.text
