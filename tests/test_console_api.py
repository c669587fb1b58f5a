"""Console log-ins over the admin API: sessions in cookies, CSRF, lockout, passwords, registration, self-service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.conftest import ADMIN_KEY, Relaygate, Tenant, make_tenant
from tests.console import PASSWORD, Console, new_user
from tests.test_admin import ADMIN_ROUTES
from tests.upstreams.openai_mock import MockOpenAI


@pytest.fixture
def browser(relaygate: Relaygate) -> Iterator[Console]:
    console = Console(relaygate)
    yield console
    console.close()


def test_the_session_check_answers_200_with_no_user_before_login(relaygate: Relaygate, browser: Console) -> None:
    resp = browser.http.get("/api/auth/session")
    assert resp.status_code == 200
    assert resp.json()["user"] is None and resp.json()["registration"] is False


def test_logging_in_sets_an_httponly_lax_session_cookie_and_answers_with_the_user(relaygate: Relaygate,
                                                                                  browser: Console) -> None:
    user = new_user(relaygate)
    resp = browser.login(user["name"])
    assert resp.status_code == 200, resp.text
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("relaygate_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    body = resp.json()
    assert body["user"]["name"] == user["name"] and body["csrf_token"]
    assert PASSWORD not in resp.text and "password_hash" not in resp.text
    session = browser.http.get("/api/auth/session").json()
    assert session["user"]["id"] == user["id"] and session["csrf_token"] == body["csrf_token"]
    assert browser.ok("GET", "/api/self")["id"] == user["id"]


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(relaygate: Relaygate, browser: Console) -> None:
    user = new_user(relaygate)
    disabled = new_user(relaygate)
    relaygate.ok("PATCH", f"/api/users/{disabled['id']}", {"enabled": False})
    no_password = new_user(relaygate, password=None)
    answers = [browser.login(name, password) for name, password in (
        (user["name"], "wrong password"), ("nobody-" + user["name"], PASSWORD), (disabled["name"], PASSWORD),
        (no_password["name"], PASSWORD))]
    for resp in answers:
        assert resp.status_code == 401 and "set-cookie" not in resp.headers
        assert resp.json()["error"]["message"] == "invalid username or password"
    assert browser.http.get("/api/self").status_code == 401


def test_logging_out_ends_the_session_on_the_server(relaygate: Relaygate, browser: Console) -> None:
    user = new_user(relaygate)
    browser.login(user["name"])
    old = browser.http.cookies["relaygate_session"]
    assert browser.ok("POST", "/api/auth/logout") == {"ok": True}
    assert browser.http.get("/api/auth/session").json()["user"] is None
    replay = httpx.get(relaygate.url + "/api/self", cookies={"relaygate_session": old})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_session"


def test_a_change_made_with_a_session_needs_its_csrf_token(relaygate: Relaygate, browser: Console) -> None:
    user = new_user(relaygate)
    browser.login(user["name"])
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        resp = browser.http.post("/api/self/keys", json={"name": "x"}, headers=headers)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed", resp.text
        assert browser.http.post("/api/auth/logout", headers=headers).status_code == 403
    assert browser.ok("GET", "/api/self/keys") == []  # reads need no token, and nothing was made
    created = browser.ok("POST", "/api/self/keys", {"name": "mine"})
    assert created["key"].startswith("sk-") and created["user_id"] == user["id"]


def test_a_browsers_same_origin_request_needs_no_csrf_token(relaygate: Relaygate, browser: Console) -> None:
    """Fetch Metadata: the browser says who made the request; only its own origin's pages pass without the token."""
    user = new_user(relaygate)
    browser.login(user["name"])
    for site in ("cross-site", "same-site", "none"):
        resp = browser.http.post("/api/self/keys", json={"name": "x"}, headers={"Sec-Fetch-Site": site})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed", (site, resp.text)
    made = browser.http.post("/api/self/keys", json={"name": "mine"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert made.status_code == 200 and made.json()["user_id"] == user["id"], made.text


def test_keys_keep_working_without_a_csrf_token(relaygate: Relaygate, tenant: Tenant) -> None:
    resp = relaygate.http.patch("/api/self", json={"name": "renamed-" + tenant.group},
                                headers={"Authorization": f"Bearer {tenant.key}"})
    assert resp.status_code == 200


@pytest.mark.parametrize(("method", "path"), [r for r in ADMIN_ROUTES if not r[1].startswith(("/api/self",
                                                                                              "/api/auth/"))])
def test_a_users_session_is_refused_by_every_admin_route(relaygate: Relaygate, method: str, path: str,
                                                         user_console: Console) -> None:
    resp = user_console.call(method, path, {})
    assert resp.status_code in (401, 403), (method, path, resp.text)
    assert resp.json()["error"]["code"] in ("admin_only", "csrf_failed")


@pytest.fixture(scope="module")
def user_console(relaygate: Relaygate) -> Iterator[Console]:
    console = Console(relaygate)
    assert console.login(new_user(relaygate)["name"]).status_code == 200
    yield console
    console.close()


def test_an_admins_session_reaches_the_admin_routes(relaygate: Relaygate, browser: Console) -> None:
    admin = new_user(relaygate, role="admin")
    browser.login(admin["name"])
    assert any(u["id"] == admin["id"] for u in browser.ok("GET", "/api/users"))
    user = browser.ok("POST", "/api/users", {"name": "made-by-" + admin["name"], "password": "p" * 12})
    assert user["has_password"] is True
    entry = relaygate.ok("GET", f"/api/audit?target=user%20{user['id']}")[0]
    assert entry["actor_user_id"] == admin["id"] and "console session" in entry["actor"]
    assert entry["changes"]["password"] is True and "p" * 12 not in str(entry)


def test_five_wrong_passwords_lock_one_username_from_one_address(relaygate: Relaygate, browser: Console) -> None:
    user, other = new_user(relaygate), new_user(relaygate)
    for _ in range(4):
        assert browser.login(user["name"], "wrong").status_code == 401
    assert browser.login(user["name"]).status_code == 200  # not locked before the 5th failure; success clears
    started = time.monotonic()
    for _ in range(5):
        assert browser.login(user["name"], "wrong").status_code == 401
    assert time.monotonic() - started >= 1.0  # slowed from the 3rd failure on
    locked = browser.login(user["name"])
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
    assert "locked" in locked.json()["error"]["message"] and "set-cookie" not in locked.headers
    assert browser.login(other["name"]).status_code == 200  # another username is not locked
    relaygate.ok("PUT", f"/api/users/{user['id']}/password", {"password": "a new password"})
    assert browser.login(user["name"], "a new password").status_code == 429  # a reset does not lift the lock


def test_users_change_their_own_password_and_their_other_sessions_end(relaygate: Relaygate) -> None:
    user = new_user(relaygate)
    here, elsewhere = Console(relaygate), Console(relaygate)
    try:
        here.login(user["name"])
        elsewhere.login(user["name"])
        wrong = here.call("POST", "/api/self/password", {"current_password": "nope", "new_password": "n" * 10})
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "current_password"
        short = here.call("POST", "/api/self/password", {"current_password": PASSWORD, "new_password": "short"})
        assert short.status_code == 400
        here.ok("POST", "/api/self/password", {"current_password": PASSWORD, "new_password": "n" * 10})
        assert here.ok("GET", "/api/self")["id"] == user["id"]
        assert elsewhere.call("GET", "/api/self").status_code == 401
        assert elsewhere.login(user["name"], "n" * 10).status_code == 200
    finally:
        here.close()
        elsewhere.close()


def test_an_admin_reset_of_a_password_ends_the_users_sessions(relaygate: Relaygate, browser: Console) -> None:
    user = new_user(relaygate)
    browser.login(user["name"])
    assert relaygate.admin("PUT", f"/api/users/{user['id']}/password", {"password": "x"}).status_code == 400
    relaygate.ok("PUT", f"/api/users/{user['id']}/password", {"password": "reset by the admin"})
    assert browser.call("GET", "/api/self").status_code == 401
    assert browser.login(user["name"], "reset by the admin").status_code == 200


def test_users_manage_only_their_own_keys(relaygate: Relaygate, browser: Console, mock: MockOpenAI) -> None:
    other = make_tenant(relaygate, [mock.base_url])
    user = new_user(relaygate)
    browser.login(user["name"])
    mine = browser.ok("POST", "/api/self/keys", {"name": "mine", "quota": 500_000, "allowed_models": ["gpt-4o"]})
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", mine["key"]) and mine["kind"] == "client"
    listed = browser.ok("GET", "/api/self/keys")
    assert [k["id"] for k in listed] == [mine["id"]] and mine["key"] not in str(listed)
    assert browser.ok("PATCH", f"/api/self/keys/{mine['id']}", {"rpm": 10})["rpm"] == 10
    for method, body in (("PATCH", {"rpm": 1}), ("DELETE", None)):
        resp = browser.call(method, f"/api/self/keys/{other.key_id}", body)
        assert resp.status_code == 404, resp.text
    assert browser.call("POST", "/api/self/keys", {"name": "x", "group": "vip"}).status_code == 400
    assert browser.ok("DELETE", f"/api/self/keys/{mine['id']}")["enabled"] is False
    by_key = relaygate.http.post("/api/self/keys", json={"name": "x"}, headers={"Authorization": f"Bearer {other.key}"})
    assert by_key.status_code == 403 and by_key.json()["error"]["code"] == "session_required"


def test_billing_routes_answer_as_one_api_does(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], quota=1_000_000)
    relaygate.client(t.key).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    key = relaygate.ok("GET", f"/api/keys/{t.key_id}")
    auth = {"Authorization": f"Bearer {t.key}"}
    for prefix in ("", "/v1"):
        sub = relaygate.http.get(prefix + "/dashboard/billing/subscription", headers=auth)
        assert sub.status_code == 200 and sub.headers["X-Request-Id"]
        limit = (key["remain_quota"] + key["used_quota"]) / 500_000
        assert sub.json() == {"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": limit,
                              "hard_limit_usd": limit, "system_hard_limit_usd": limit, "access_until": 0}
        usage = relaygate.http.get(prefix + "/dashboard/billing/usage?start_date=2024-01-01&end_date=2024-02-01",
                                   headers=auth).json()
        assert key["used_quota"] > 0 and usage == {"object": "list",
                                                   "total_usage": pytest.approx(key["used_quota"] / 5000)}
    unlimited = make_tenant(relaygate, [mock.base_url])
    sub = relaygate.http.get("/v1/dashboard/billing/subscription",
                             headers={"Authorization": f"Bearer {unlimited.key}"}).json()
    assert sub["hard_limit_usd"] == 100_000_000
    for headers in ({}, {"Authorization": "Bearer sk-nope"}, {"Authorization": f"Bearer {ADMIN_KEY}"}):
        resp = relaygate.http.get("/v1/dashboard/billing/usage", headers=headers)
        assert resp.status_code in (401, 403) and resp.json()["error"]["code"]


@pytest.fixture(scope="module")
def open_relaygate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    rg = Relaygate(tmp_path_factory.mktemp("registration"), env={
        "RELAYGATE_REGISTRATION": "true", "RELAYGATE_ADMIN_PASSWORD": "the admin's own password",
        "RELAYGATE_TIME_ZONE": "Asia/Shanghai"}).start()
    yield rg
    rg.close()


def test_self_registration_is_off_by_default(relaygate: Relaygate, browser: Console) -> None:
    resp = browser.http.post("/api/auth/register", json={"username": "walk-in", "password": "p" * 10})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "registration_closed"


def test_self_registration_when_the_operator_allows_it(open_relaygate: Relaygate) -> None:
    console = Console(open_relaygate)
    try:
        assert console.http.get("/api/auth/session").json()["registration"] is True
        resp = console.http.post("/api/auth/register", json={"username": "walk-in", "password": "p" * 10})
        assert resp.status_code == 200, resp.text
        me = console.ok("GET", "/api/self")
        assert (me["name"], me["role"], me["balance"], me["group"]) == ("walk-in", "user", 0, "default")
        again = httpx.post(open_relaygate.url + "/api/auth/register", json={"username": "walk-in",
                                                                            "password": "q" * 10})
        assert again.status_code == 409
        assert console.call("GET", "/api/users").status_code == 403
    finally:
        console.close()


def test_the_admin_logs_in_with_the_password_it_was_given_at_first_start(open_relaygate: Relaygate,
                                                                         relaygate: Relaygate) -> None:
    console = Console(open_relaygate)
    try:
        assert console.login("admin", "the admin's own password").status_code == 200
        assert console.ok("GET", "/api/auth/session")["time_zone"] == "Asia/Shanghai"
    finally:
        console.close()
    assert "the admin's own password" not in open_relaygate.logs()
    printed = re.search(r"user 'admin', password shown this once: (\S+)", relaygate.logs())
    assert printed is not None, relaygate.logs()
    other = Console(relaygate)
    try:
        assert other.login("admin", printed.group(1)).status_code == 200
    finally:
        other.close()


def test_a_restart_prints_no_new_password(tmp_path: Path) -> None:
    rg = Relaygate(tmp_path).start()
    try:
        rg.stop()
        first = rg.logs().count("password shown this once")
        rg.start()
        assert first == 1 and rg.logs().count("password shown this once") == 1
    finally:
        rg.close()


def _cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAYGATE_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "relaygate.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, input=stdin)


def test_the_cli_sets_passwords_and_makes_redemption_codes(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").returncode == 0
    carol = orjson.loads(_cli(tmp_path, "user", "create", "carol", "--password", "carol's password").stdout)
    assert carol["has_password"] is True
    reset = _cli(tmp_path, "user", "password", str(carol["id"]), stdin="read from stdin\n")
    assert reset.returncode == 0 and "read from stdin" not in reset.stdout
    short = _cli(tmp_path, "user", "password", str(carol["id"]), "--password", "short")
    assert short.returncode == 2 and "password" in short.stderr
    made = orjson.loads(_cli(tmp_path, "redemption", "create", "--count", "2", "--amount", "500000").stdout)
    assert len(made["codes"]) == 2
    listed = _cli(tmp_path, "redemption", "list").stdout
    assert listed.count('"status":"unused"') == 2 and made["codes"][0] not in listed
    rg = Relaygate(tmp_path).start()
    try:
        console = Console(rg)
        assert console.login("carol", "read from stdin").status_code == 200
        assert console.ok("POST", "/api/self/redeem", {"code": made["codes"][1]})["balance"] == 500_000
        console.close()
    finally:
        rg.close()
