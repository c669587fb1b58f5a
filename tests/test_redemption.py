"""Redemption codes: created by the admin and shown once, kept hashed, redeemed exactly once — on both stores."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Relaygate, make_tenant
from tests.console import Console, new_user
from tests.upstreams.openai_mock import MockOpenAI


def _codes(rg: Relaygate, count: int, amount: int, **extra: object) -> list[str]:
    made = rg.ok("POST", "/api/redemptions", {"count": count, "amount": amount, **extra})
    assert len(made["codes"]) == len(made["created"]) == count
    return list(made["codes"])


def _redeem(rg: Relaygate, key: str, code: str) -> httpx.Response:
    return rg.http.post("/api/self/redeem", json={"code": code}, headers={"Authorization": f"Bearer {key}"})


def _balance(rg: Relaygate, user_id: int) -> int:
    return int(rg.ok("GET", f"/api/users/{user_id}")["balance"])


def test_codes_are_shown_once_and_stored_only_as_hashes(relaygate: Relaygate) -> None:
    made = relaygate.ok("POST", "/api/redemptions", {"count": 3, "amount": 1_000_000, "name": "launch"})
    for code in made["codes"]:
        assert len(code) >= 12 and all(c.isalnum() or c in "-_" for c in code)
    assert len(set(made["codes"])) == 3
    listed = relaygate.ok("GET", "/api/redemptions")
    ours = [c for c in listed if c["name"] == "launch"]
    assert len(ours) == 3 and {c["status"] for c in ours} == {"unused"} and ours[0]["id"] > ours[-1]["id"]
    assert not any(code in str(listed) for code in made["codes"])
    db = sqlite3.connect(Path(relaygate.env["RELAYGATE_DATA_DIR"]) / "relaygate.db")
    try:
        stored = str(db.execute("SELECT * FROM redemption_codes").fetchall())
    finally:
        db.close()
    assert not any(code in stored for code in made["codes"])


def test_a_code_adds_exactly_its_amount_once_with_a_log_row(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], balance=250_000)
    [code] = _codes(relaygate, 1, 1_500_000)
    resp = _redeem(relaygate, t.key, code)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"amount": 1_500_000, "amount_usd": 3.0, "balance": 1_750_000, "balance_usd": 3.5}
    assert _balance(relaygate, t.user_id) == 1_750_000
    again = _redeem(relaygate, t.key, code)
    assert again.status_code == 409 and "already used" in again.json()["error"]["message"]
    assert again.json()["error"]["code"] == "code_already_used"
    assert _balance(relaygate, t.user_id) == 1_750_000
    [row] = [r for r in relaygate.ok("GET", f"/api/logs?user_id={t.user_id}") if r["endpoint"] == "redeem"]
    assert row["cost"] == -1_500_000 and row["status"] == 200 and row["request_id"] == resp.headers["X-Request-Id"]
    [entry] = relaygate.ok("GET", f"/api/audit?target=user%20{t.user_id}&action=user.redeem")
    assert entry["changes"]["amount"] == 1_500_000 and entry["changes"]["balance"] == {"from": 250_000,
                                                                                        "to": 1_750_000}
    assert code not in str(entry)
    mine = relaygate.http.get("/api/self/redemptions", headers={"Authorization": f"Bearer {t.key}"}).json()
    assert [c["amount"] for c in mine] == [1_500_000] and mine[0]["status"] == "redeemed"
    listed = {c["hint"]: c for c in relaygate.ok("GET", "/api/redemptions")}
    assert listed[mine[0]["hint"]]["redeemed_by"] == t.user_id


def test_unknown_expired_and_malformed_codes_are_refused_clearly(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], balance=0)
    [expired] = _codes(relaygate, 1, 500_000, expires_at=time.time() + 0.5)
    time.sleep(0.6)
    cases = [(expired, 400, "code_expired"), ("ZZZZZZZZ-ZZZZZZZZ-ZZZZZZZZ-ZZZZZZZZ", 404, "code_not_found"),
             ("short", 400, "invalid_code"), ("has spaces in it!", 400, "invalid_code")]
    for code, status, error in cases:
        resp = _redeem(relaygate, t.key, code)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, error), resp.text
    for body in ({}, {"code": 5}, {"code": "x" * 300}, {"code": "A" * 20, "amount": 1}):
        resp = relaygate.http.post("/api/self/redeem", json=body, headers={"Authorization": f"Bearer {t.key}"})
        assert resp.status_code == 400
    assert relaygate.http.post("/api/self/redeem", json={"code": "A" * 20}).status_code == 401
    assert _balance(relaygate, t.user_id) == 0
    statuses = {c["hint"]: c["status"] for c in relaygate.ok("GET", "/api/redemptions")}
    assert statuses[expired[:4] + "..." + expired[-4:]] == "expired"


def test_a_user_redeems_with_their_session(relaygate: Relaygate) -> None:
    user = new_user(relaygate, balance=10)
    [code] = _codes(relaygate, 1, 500_000)
    console = Console(relaygate)
    try:
        console.login(user["name"])
        assert console.call("POST", "/api/self/redeem", {"code": code}, csrf=False).status_code == 403
        assert console.ok("POST", "/api/self/redeem", {"code": code})["balance"] == 500_010
        assert console.call("POST", "/api/self/redeem", {"code": code}).status_code == 409
    finally:
        console.close()


def test_the_admin_deletes_an_unused_code(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], balance=0)
    made = relaygate.ok("POST", "/api/redemptions", {"count": 1, "amount": 5})
    assert relaygate.ok("DELETE", f"/api/redemptions/{made['created'][0]['id']}") == {"ok": True}
    assert _redeem(relaygate, t.key, made["codes"][0]).status_code == 404
    assert relaygate.admin("DELETE", f"/api/redemptions/{made['created'][0]['id']}").status_code == 404
    for body in ({"count": 0, "amount": 5}, {"count": 1001, "amount": 5}, {"count": 1, "amount": 0},
                 {"count": 1, "amount": 5, "extra": 1}):
        assert relaygate.admin("POST", "/api/redemptions", body).status_code == 400


def test_fifty_parallel_redeems_of_one_code_credit_it_once(store_relaygate: Relaygate, mock: MockOpenAI) -> None:
    rg = store_relaygate
    tenants = [make_tenant(rg, [mock.base_url], balance=0) for _ in range(5)]
    [code] = _codes(rg, 1, 2_000_000)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda i: _redeem(rg, tenants[i % 5].key, code), range(50)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 49, [r.text for r in answers if r.status_code not in (200, 409)]
    assert sum(_balance(rg, t.user_id) for t in tenants) == 2_000_000
    rows = [r for t in tenants for r in rg.ok("GET", f"/api/logs?user_id={t.user_id}") if r["endpoint"] == "redeem"]
    assert len(rows) == 1 and len(rg.ok("GET", "/api/audit?action=user.redeem")) == 1


@pytest.mark.parametrize("count", [1, 7])
def test_a_batch_has_count_distinct_codes(relaygate: Relaygate, count: int) -> None:
    codes = _codes(relaygate, count, 1)
    assert len(set(codes)) == count
