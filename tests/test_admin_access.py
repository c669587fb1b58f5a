"""Nobody is locked out: the last admin keeps access, several admins each have admin keys (listed, rotated,
revoked), RELAYGATE_ADMIN_KEY restores access at start, and every key is told which kind a route takes."""

from __future__ import annotations

import concurrent.futures
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_KEY, Relaygate, _store_server, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

INVALID = "Incorrect API key provided. Check the key, or ask the operator for a new one."


@pytest.fixture
def rg(store_relaygate: Relaygate) -> Relaygate:
    """This module's own servers: its tests change the admins."""
    return store_relaygate


def _get(rg: Relaygate, path: str, key: str) -> httpx.Response:
    return rg.http.get(path, headers={"Authorization": f"Bearer {key}"})


def _second_admin(rg: Relaygate) -> tuple[int, dict[str, Any]]:
    user = rg.ok("POST", "/api/users", {"name": "admin-" + secrets.token_hex(4), "role": "admin"})
    return user["id"], rg.ok("POST", "/api/keys", {"user_id": user["id"], "kind": "admin", "name": "second"})


def cli(rg: Relaygate, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaygate.cli", *args], env=rg.env, capture_output=True,
                          text=True, timeout=60, cwd=rg.workdir)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/api/users/1", {"role": "user"}),
    ("PATCH", "/api/users/1", {"enabled": False}),
    ("DELETE", "/api/users/1", None),
    ("DELETE", "/api/keys/1", None),
    ("PATCH", "/api/keys/1", {"enabled": False}),
    ("PATCH", "/api/keys/1", {"expires_at": 1.0}),
    ("PATCH", "/api/keys/1", {"expires_at": 253_402_300_799.0}),  # a lock-out later is one too
])
def test_the_last_admin_access_cannot_be_taken_away(rg: Relaygate, method: str, path: str,
                                                    body: dict[str, Any] | None) -> None:
    before = rg.ok("GET", "/api/audit?limit=1")
    resp = rg.admin(method, path, body)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "last_admin" and resp.headers["X-Request-Id"]
    assert rg.ok("GET", "/api/users/1")["role"] == "admin" and rg.ok("GET", "/api/keys/1")["enabled"]
    assert rg.ok("GET", "/api/audit?limit=1") == before
    assert rg.admin("GET", "/api/users").status_code == 200


def test_a_user_with_the_admin_role_gets_admin_access_with_an_admin_key(rg: Relaygate, mock: MockOpenAI) -> None:
    uid, key = _second_admin(rg)
    assert key["kind"] == "admin" and key["user_id"] == uid
    rg.wait_for(lambda: _get(rg, "/api/users", key["key"]).status_code == 200)
    made = rg.admin("POST", "/api/users", {"name": "by-second-" + secrets.token_hex(3)}, key=key["key"])
    entry = rg.ok("GET", f"/api/audit?target=user%20{made.json()['id']}")[0]
    assert (entry["actor_key_id"], entry["actor_user_id"], entry["request_id"]) == (
        key["id"], uid, made.headers["X-Request-Id"])
    client = rg.ok("POST", "/api/keys", {"user_id": uid})  # an admin's client key calls /v1, not /api
    rg.wait_for(lambda: _get(rg, "/api/users", client["key"]).status_code != 401)
    refused = _get(rg, "/api/users", client["key"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"
    t = make_tenant(rg, [mock.base_url])
    resp = rg.admin("POST", "/api/keys", {"user_id": t.user_id, "kind": "admin"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "kind"


def test_admin_keys_are_listed_rotated_and_revoked_through_the_api(rg: Relaygate) -> None:
    uid, key = _second_admin(rg)
    client = rg.ok("POST", "/api/keys", {"user_id": uid})
    admin_keys = rg.ok("GET", "/api/keys?kind=admin")
    assert {1, key["id"]} <= {k["id"] for k in admin_keys} and {k["kind"] for k in admin_keys} == {"admin"}
    everything = {k["id"]: k["kind"] for k in rg.ok("GET", "/api/keys")}
    assert (everything[1], everything[key["id"]], everything[client["id"]]) == ("admin", "admin", "client")
    rotated = rg.ok("POST", f"/api/keys/{key['id']}/rotate")
    assert rotated["id"] == key["id"] and rotated["key"] != key["key"] and rotated["hint"] != key["hint"]
    rg.wait_for(lambda: _get(rg, "/api/users", rotated["key"]).status_code == 200)
    assert _get(rg, "/api/users", key["key"]).json()["error"]["message"] == INVALID
    assert rg.ok("DELETE", f"/api/keys/{key['id']}")["enabled"] is False
    rg.wait_for(lambda: _get(rg, "/api/users", rotated["key"]).status_code == 401)
    assert key["key"] not in str(rg.ok("GET", "/api/audit")) and rotated["key"] not in str(rg.ok("GET", "/api/audit"))


def test_demoting_an_admin_ends_their_admin_keys_access_until_promoted_again(rg: Relaygate) -> None:
    uid, key = _second_admin(rg)
    rg.wait_for(lambda: _get(rg, "/api/users", key["key"]).status_code == 200)
    rg.ok("PATCH", f"/api/users/{uid}", {"role": "user"})
    rg.wait_for(lambda: _get(rg, "/api/users", key["key"]).status_code == 403)
    assert _get(rg, "/api/users", key["key"]).json()["error"]["code"] == "admin_only"
    rg.ok("PATCH", f"/api/users/{uid}", {"role": "admin"})
    rg.wait_for(lambda: _get(rg, "/api/users", key["key"]).status_code == 200)


def test_with_a_second_admin_the_first_may_step_down(rg: Relaygate) -> None:
    uid, key = _second_admin(rg)
    rg.wait_for(lambda: _get(rg, "/api/users", key["key"]).status_code == 200)
    other = rg.ok("POST", "/api/users", {"name": "third-" + secrets.token_hex(3), "role": "admin"})
    assert rg.ok("PATCH", f"/api/users/{other['id']}", {"role": "user"})["role"] == "user"  # it had no admin key
    assert rg.admin("PATCH", f"/api/users/{uid}", {"enabled": False}).status_code == 200
    assert rg.admin("PATCH", f"/api/users/{uid}", {"enabled": True}).status_code == 200


@pytest.mark.parametrize(("field", "value"), [
    ("allowed_ips", ["10.0.0.0/8"]), ("allowed_models", ["gpt-4o"]), ("quota", 5), ("rpm", 60), ("tpm", 1000),
    ("group", "vip"), ("mj_mode", "relax"),
])
def test_an_admin_key_refuses_limits_it_would_ignore(rg: Relaygate, field: str, value: object) -> None:
    # the admin API applies none of them: an IP range stored on an admin key would guard nothing
    refused = rg.admin("POST", "/api/keys", {"user_id": 1, "kind": "admin", field: value})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == field, refused.text
    assert "An admin key takes no" in refused.json()["error"]["message"]
    changed = rg.admin("PATCH", "/api/keys/1", {field: value})
    assert changed.status_code == 400 and changed.json()["error"]["param"] == field, changed.text
    # what the console sends for an admin key's form left empty is taken
    if field != "quota":  # (KeyPatch has no null quota: unlimited says it)
        unchanged = rg.ok("PATCH", "/api/keys/1", {field: None, "unlimited": True, "name": "admin"})
        assert unchanged[field] is None and unchanged["unlimited"] is True
    assert rg.admin("GET", "/api/users").status_code == 200


def test_the_cli_refuses_an_admin_key_with_an_ip_range(rg: Relaygate) -> None:
    done = cli(rg, "key", "create", "--user", "1", "--admin", "--ips", "10.0.0.0/8")
    assert done.returncode == 1 and done.stderr.startswith("relaygate: An admin key takes no allowed_ips"), done.stderr
    done = cli(rg, "key", "update", "1", "--quota", "5")
    assert done.returncode == 1 and "An admin key takes no quota" in done.stderr, done.stderr


def test_the_cli_lists_rotates_and_revokes_admin_keys(rg: Relaygate) -> None:
    uid, _ = _second_admin(rg)
    made = cli(rg, "key", "create", "--user", str(uid), "--admin", "--name", "from-cli")
    created = orjson.loads(made.stdout)
    assert made.returncode == 0 and created["kind"] == "admin"
    listed = [orjson.loads(line) for line in cli(rg, "key", "list", "--kind", "admin").stdout.splitlines()]
    assert {1, created["id"]} <= {k["id"] for k in listed} and created["key"] not in str(listed)
    rotated = orjson.loads(cli(rg, "key", "rotate", str(created["id"])).stdout)
    assert rotated["key"] != created["key"]
    rg.wait_for(lambda: _get(rg, "/api/users", rotated["key"]).status_code == 200)
    assert orjson.loads(cli(rg, "key", "revoke", str(created["id"])).stdout)["enabled"] is False
    entry = rg.ok("GET", f"/api/audit?target=key%20{created['id']}&limit=3")
    assert [e["action"] for e in entry] == ["key.revoke", "key.rotate", "key.create"]
    assert all(e["actor"].startswith("cli (") for e in entry)


def test_an_admin_key_on_v1_and_a_client_key_on_api_are_told_which_key_the_route_needs(
        rg: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(rg, [mock.base_url])
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    for resp in (rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, json=chat),
                 _get(rg, "/v1/models", ADMIN_KEY), _get(rg, "/v1/models/gpt-4o-mini", ADMIN_KEY)):
        err = resp.json()["error"]
        assert resp.status_code == 403 and err["code"] == "client_key_required", resp.text
        assert err["type"] == "permission_error" and "client key" in err["message"] and resp.headers["X-Request-Id"]
    with rg.client(ADMIN_KEY) as sdk, pytest.raises(openai.PermissionDeniedError, match="client key"):
        sdk.chat.completions.create(**chat)  # type: ignore[call-overload]
    native = rg.http.post("/v1/messages", headers={"x-api-key": ADMIN_KEY}, json={
        "model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert native.status_code == 403 and native.json()["error"]["type"] == "permission_error"
    refused = _get(rg, "/api/channels", t.key)
    assert refused.status_code == 403 and "admin key" in refused.json()["error"]["message"]


def test_keys_that_cannot_be_used_all_get_the_same_401(rg: Relaygate, mock: MockOpenAI) -> None:
    disabled, expired, user_off = (make_tenant(rg, [mock.base_url]) for _ in range(3))
    rg.ok("PATCH", f"/api/keys/{disabled.key_id}", {"enabled": False})
    rg.ok("PATCH", f"/api/keys/{expired.key_id}", {"expires_at": time.time() - 1})
    rg.ok("PATCH", f"/api/users/{user_off.user_id}", {"enabled": False})
    _, admin = _second_admin(rg)
    rg.ok("DELETE", f"/api/keys/{admin['id']}")
    keys = [disabled.key, expired.key, user_off.key, admin["key"], "sk-" + "u" * 48]
    rg.wait_for(lambda: all(_get(rg, "/v1/models", k).status_code == 401 for k in keys))
    for path in ("/v1/models", "/api/users", "/api/self"):
        answers = {(r.status_code, r.json()["error"]["message"], r.json()["error"]["code"])
                   for r in (_get(rg, path, k) for k in keys)}
        assert answers == {(401, INVALID, "invalid_api_key")}, (path, answers)


def _lock_out(url: str) -> None:
    """What an older relaygate let happen: the only admin demoted and its key disabled."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'user', enabled = false WHERE id = 1"))
        conn.execute(text("UPDATE keys SET enabled = false, expires_at = 1 WHERE id = 1"))
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_restarting_with_the_admin_key_restores_its_access(tmp_path: Path, backend: str) -> None:
    with _store_server(backend, tmp_path) as rg:
        url = rg.env.get("RELAYGATE_DATABASE_URL") or f"sqlite:///{tmp_path}/data/relaygate.db"
        rg.stop()
        _lock_out(url.replace("postgresql://", "postgresql+psycopg://"))
        rg.start()
        assert rg.admin("GET", "/api/users").status_code == 200
        assert rg.ok("GET", "/api/users/1")["role"] == "admin" and rg.ok("GET", "/api/keys/1")["enabled"]
        restored = rg.ok("GET", "/api/audit?action=admin.restore")[0]
        assert restored["actor"] == "start-up" and restored["target"] == "key 1"
        assert set(restored["changes"]) >= {"role", "enabled", "expires_at"}
        client = rg.ok("POST", "/api/keys", {"user_id": 1})
        rg.stop()
        rg.env["RELAYGATE_ADMIN_KEY"] = client["key"]
        failed = subprocess.run([sys.executable, "-m", "relaygate.cli", "serve"], env=rg.env, capture_output=True,
                                text=True, timeout=60, cwd=tmp_path)
        assert failed.returncode == 2 and "Traceback" not in failed.stderr
        assert failed.stderr.strip().splitlines() == [
            f"relaygate: RELAYGATE_ADMIN_KEY: that value is client key {client['id']}'s; set a value no client "
            "key has"]
        rg.env["RELAYGATE_ADMIN_KEY"] = "sk-another-admin-" + secrets.token_hex(8)
        rg.start()
        assert rg.admin("GET", "/api/users", key=rg.env["RELAYGATE_ADMIN_KEY"]).status_code == 200
        assert rg.admin("GET", "/api/users").status_code == 200  # the first one still works too
        assert rg.ok("GET", "/api/keys?kind=admin")[-1]["user_id"] == 1  # owned by the first admin


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_expiry_on_the_last_admin_key_without_one_is_refused(tmp_path: Path, backend: str) -> None:
    with _store_server(backend, tmp_path) as rg:
        soon = time.time() + 5
        refused = rg.admin("PATCH", "/api/keys/1", {"expires_at": soon})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "last_admin", refused.text
        assert "once its expiry passes" in refused.json()["error"]["message"]
        uid, expiring = _second_admin(rg)
        rg.ok("PATCH", f"/api/keys/{expiring['id']}", {"expires_at": time.time() + 3600})  # key 1 still has none
        assert rg.admin("PATCH", "/api/keys/1", {"expires_at": soon}).status_code == 409  # the other one expires
        lasting = rg.ok("POST", "/api/keys", {"user_id": uid, "kind": "admin"})
        assert rg.ok("PATCH", "/api/keys/1", {"expires_at": soon})["expires_at"] == soon
        for change in ({"expires_at": soon}, {"enabled": False}):
            resp = rg.admin("PATCH", f"/api/keys/{lasting['id']}", change)
            assert resp.status_code == 409 and resp.json()["error"]["code"] == "last_admin", resp.text
        assert rg.admin("DELETE", f"/api/users/{uid}").status_code == 409
        assert rg.ok("PATCH", "/api/keys/1", {"expires_at": None})["expires_at"] is None  # lifted again
        assert rg.ok("DELETE", f"/api/keys/{lasting['id']}")["enabled"] is False


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(tmp_path: Path, backend: str) -> None:
    with _store_server(backend, tmp_path) as rg:
        uid, second = _second_admin(rg)
        rg.wait_for(lambda: _get(rg, "/api/users", second["key"]).status_code == 200)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first_demotes = pool.submit(rg.admin, "PATCH", f"/api/users/{uid}", {"role": "user"})
            second_demotes = pool.submit(rg.admin, "PATCH", "/api/users/1", {"role": "user"}, second["key"])
            statuses = sorted([first_demotes.result().status_code, second_demotes.result().status_code])
        # the loser is refused by the store (409) or, if the winner's change reached its catalog first, is no admin
        assert statuses[0] == 200 and statuses[1] in (403, 409), statuses
        survivor = ADMIN_KEY if first_demotes.result().status_code == 200 else second["key"]
        users = rg.admin("GET", "/api/users", key=survivor).json()
        assert len([u for u in users if u["role"] == "admin"]) == 1
