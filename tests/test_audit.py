"""Operators set and correct balances, delete users, and every change is in the audit log: who, what, on what."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.conftest import ADMIN_KEY, UPSTREAM_KEY, Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI


@pytest.fixture
def rg(shared_store: Relaygate) -> Relaygate:
    return shared_store


def _audit(rg: Relaygate, target: str) -> list[dict[str, Any]]:
    return list(rg.ok("GET", f"/api/audit?target={target.replace(' ', '%20')}"))


def _changed(rg: Relaygate, method: str, path: str, body: Any = None) -> httpx.Response:
    resp = rg.admin(method, path, body)
    assert resp.status_code == 200, resp.text
    return resp


def test_every_change_through_the_api_is_audited_with_who_made_it(rg: Relaygate, mock: MockOpenAI) -> None:
    name = "audited-" + secrets.token_hex(4)
    user = _changed(rg, "POST", "/api/users", {"name": name, "balance": 10})
    uid = user.json()["id"]
    channel = _changed(rg, "POST", "/api/channels", {"name": name, "base_url": mock.base_url,
                                                     "credentials": [UPSTREAM_KEY], "models": ["m"]})
    cid = channel.json()["id"]
    key = _changed(rg, "POST", "/api/keys", {"user_id": uid, "quota": 5})
    kid = key.json()["id"]
    steps = [
        ("PATCH", f"/api/users/{uid}", {"group": "vip"}, "user.update", f"user {uid}"),
        ("POST", f"/api/users/{uid}/topup", {"amount": 90, "note": "refund"}, "user.topup", f"user {uid}"),
        ("PUT", f"/api/users/{uid}/balance", {"balance": 42, "note": "mistake"}, "user.set_balance", f"user {uid}"),
        ("PATCH", f"/api/keys/{kid}", {"rpm": 9}, "key.update", f"key {kid}"),
        ("POST", f"/api/keys/{kid}/rotate", None, "key.rotate", f"key {kid}"),
        ("DELETE", f"/api/keys/{kid}", None, "key.revoke", f"key {kid}"),
        ("PATCH", f"/api/channels/{cid}", {"credentials": ["sk-new-secret-1", "sk-new-secret-2"]}, "channel.update",
         f"channel {cid}"),
        ("POST", f"/api/channels/{cid}/disable", None, "channel.update", f"channel {cid}"),
        ("PUT", "/api/groups", {"name": name, "multiplier": 1.5}, "group.set", f"group {name}"),
        ("DELETE", f"/api/groups/{name}", None, "group.delete", f"group {name}"),
        ("PUT", f"/api/prices/{name}", {"input_per_1m": 2}, "price.set", f"price {name}"),
        ("DELETE", f"/api/prices/{name}", None, "price.delete", f"price {name}"),
        ("DELETE", f"/api/channels/{cid}", None, "channel.delete", f"channel {cid}"),
        ("DELETE", f"/api/users/{uid}", None, "user.delete", f"user {uid}"),
    ]
    made = [(user, "user.create", f"user {uid}"), (channel, "channel.create", f"channel {cid}"),
            (key, "key.create", f"key {kid}")]
    made += [(_changed(rg, m, p, b), action, target) for m, p, b, action, target in steps]
    admin_key_id = rg.ok("GET", "/api/keys?kind=admin")[0]["id"]
    for resp, action, target in made:
        entries = [e for e in _audit(rg, target) if e["request_id"] == resp.headers["X-Request-Id"]]
        assert [e["action"] for e in entries] == [action], (action, target, _audit(rg, target))
        assert entries[0]["actor_key_id"] == admin_key_id and entries[0]["actor"].startswith("admin key ")
    everything = str(rg.ok("GET", "/api/audit?limit=1000"))
    assert "sk-new-secret" not in everything and UPSTREAM_KEY not in everything and key.json()["key"] not in everything
    creds = next(e for e in _audit(rg, f"channel {cid}") if e["action"] == "channel.update" and
                 "credentials" in e["changes"])["changes"]["credentials"]
    assert creds == {"from": "1 credential(s)", "to": "2 credential(s)"}
    balance = next(e for e in _audit(rg, f"user {uid}") if e["action"] == "user.set_balance")["changes"]
    assert balance == {"balance": {"from": 100, "to": 42}, "note": "mistake"}


def test_a_change_that_changes_nothing_leaves_no_entry(rg: Relaygate) -> None:
    user = rg.ok("POST", "/api/users", {"name": "same-" + secrets.token_hex(4)})
    before = _audit(rg, f"user {user['id']}")
    rg.ok("PATCH", f"/api/users/{user['id']}", {"name": user["name"]})
    assert _audit(rg, f"user {user['id']}") == before


def test_setting_a_balance_corrects_it_exactly_and_requests_see_it(rg: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(rg, [mock.base_url], balance=0)
    auth = {"Authorization": f"Bearer {t.key}"}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    assert rg.http.post("/v1/chat/completions", headers=auth, json=chat).status_code == 403
    assert rg.ok("PUT", f"/api/users/{t.user_id}/balance", {"balance": 10**9})["balance"] == 10**9
    assert rg.http.post("/v1/chat/completions", headers=auth, json=chat).status_code == 200
    spent = 10**9 - rg.ok("GET", f"/api/users/{t.user_id}")["balance"]
    assert spent > 0
    assert rg.ok("PUT", f"/api/users/{t.user_id}/balance", {"balance": 0})["balance"] == 0
    assert rg.admin("PUT", "/api/users/2147483647/balance", {"balance": 1}).status_code == 404


def test_deleting_a_user_removes_them_and_their_keys_and_keeps_their_log_rows(rg: Relaygate,
                                                                             mock: MockOpenAI) -> None:
    t = make_tenant(rg, [mock.base_url])
    with rg.client(t.key) as sdk:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert rg.ok("DELETE", f"/api/users/{t.user_id}") == {"ok": True}
    assert rg.admin("GET", f"/api/users/{t.user_id}").status_code == 404
    assert rg.admin("GET", f"/api/keys/{t.key_id}").status_code == 404
    rg.wait_for(lambda: rg.http.get("/v1/models", headers={"Authorization": f"Bearer {t.key}"}).status_code == 401)
    [row] = rg.ok("GET", f"/api/logs?user_id={t.user_id}")
    assert row["key_id"] == t.key_id and row["status"] == 200
    newer = rg.ok("POST", "/api/users", {"name": "after-" + secrets.token_hex(4)})
    assert newer["id"] > t.user_id
    assert rg.admin("DELETE", f"/api/users/{t.user_id}").status_code == 404


def test_audit_entries_can_be_filtered_by_target_action_actor_and_time(rg: Relaygate) -> None:
    since = time.time()
    user = rg.ok("POST", "/api/users", {"name": "filtered-" + secrets.token_hex(4)})
    rg.ok("POST", f"/api/users/{user['id']}/topup", {"amount": 3})
    mine = rg.ok("GET", f"/api/audit?since={since}&limit=1000")
    assert {"user.create", "user.topup"} <= {e["action"] for e in mine}
    assert all(e["created_at"] >= since for e in mine)
    only = rg.ok("GET", f"/api/audit?target=user%20{user['id']}&action=user.topup")
    assert [e["changes"]["amount"] for e in only] == [3]
    assert len(rg.ok("GET", "/api/audit?limit=1")) == 1
    admin_user = rg.ok("GET", "/api/keys?kind=admin")[0]["user_id"]
    assert {e["actor_user_id"] for e in rg.ok("GET", f"/api/audit?actor_user_id={admin_user}&limit=50")} == {
        admin_user}


def test_changes_from_the_cli_are_audited_as_the_cli(rg: Relaygate) -> None:
    name = "cli-audit-" + secrets.token_hex(4)
    done = subprocess.run([sys.executable, "-m", "relaygate.cli", "user", "create", name], env=rg.env,
                          capture_output=True, text=True, timeout=60, cwd=rg.workdir)
    uid = orjson.loads(done.stdout)["id"]
    [entry] = _audit(rg, f"user {uid}")
    assert entry["actor"].startswith("cli (") and entry["actor_key_id"] is None and entry["action"] == "user.create"
    listed = subprocess.run([sys.executable, "-m", "relaygate.cli", "audit", "--target", f"user {uid}"],
                            env=rg.env, capture_output=True, text=True, timeout=60, cwd=rg.workdir)
    assert [orjson.loads(line)["id"] for line in listed.stdout.splitlines()] == [entry["id"]]
    assert ADMIN_KEY not in listed.stdout
