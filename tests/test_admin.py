"""Operators manage everything through /api and the CLI; nobody else can."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relaygate.config import Settings
from relaygate.server.app import create_app
from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.openai_mock import MockOpenAI


def _admin_routes() -> list[tuple[str, str]]:
    app = create_app(Settings())
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api") and route.method != "HEAD":
            routes.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(set(routes))


ADMIN_ROUTES = _admin_routes()


def test_the_route_enumeration_finds_the_admin_api() -> None:
    assert ("POST", "/api/channels") in ADMIN_ROUTES and ("GET", "/api/logs") in ADMIN_ROUTES
    assert len(ADMIN_ROUTES) >= 25


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_refuses_callers_without_the_admin_key(relaygate: Relaygate, tenant: Tenant,
                                                                 mock: MockOpenAI, method: str, path: str) -> None:
    disabled = make_tenant(relaygate, [mock.base_url])
    relaygate.ok("PATCH", f"/api/keys/{disabled.key_id}", {"enabled": False})
    expired = make_tenant(relaygate, [mock.base_url])
    relaygate.ok("PATCH", f"/api/keys/{expired.key_id}", {"expires_at": time.time() - 5})
    if path.startswith("/api/auth/"):
        return  # log-in, log-out and the session check take no key (tests/test_console_api.py)
    self_service = path.startswith("/api/self")
    for key in (None, tenant.key, disabled.key, expired.key, "sk-" + "x" * 48):
        if self_service and key == tenant.key:
            continue
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        resp = relaygate.http.request(method, path, headers=headers, json={})
        assert resp.status_code in (401, 403), (method, path, key, resp.text)
        assert resp.json()["error"]["code"] in ("invalid_api_key", "admin_only")


def test_users_cannot_raise_their_own_role_balance_or_limits(relaygate: Relaygate, tenant: Tenant) -> None:
    own = {"Authorization": f"Bearer {tenant.key}"}
    before = relaygate.http.get("/api/self", headers=own).json()
    for body in ({"role": "admin"}, {"balance": 10**12}, {"name": "x", "group": "vip"}, {"name": "x", "quota": 1},
                 {"name": "x", "used_quota": 0, "enabled": True}):
        resp = relaygate.http.patch("/api/self", headers=own, json=body)
        assert resp.status_code == 400, resp.text
    resp = relaygate.http.patch("/api/self", headers=own, json={"name": "renamed-" + tenant.group})
    assert resp.status_code == 200 and resp.json()["name"] == "renamed-" + tenant.group
    after = relaygate.http.get("/api/self", headers=own).json()
    assert (after["role"], after["balance"], after["group"]) == (before["role"], before["balance"], before["group"])
    refused = relaygate.http.post("/api/keys", headers=own, json={"user_id": tenant.user_id, "quota": None})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"
    key = relaygate.ok("GET", f"/api/keys/{tenant.key_id}")
    resp = relaygate.admin("PATCH", f"/api/keys/{tenant.key_id}", {"key_hash": "x", "user_id": 1, "kind": "admin"})
    assert resp.status_code == 400
    assert relaygate.ok("GET", f"/api/keys/{tenant.key_id}") == key


def test_self_service_logs_show_only_the_callers_requests(relaygate: Relaygate, tenant: Tenant,
                                                          mock: MockOpenAI) -> None:
    other = make_tenant(relaygate, [mock.base_url])
    for t in (tenant, other):
        relaygate.client(t.key).chat.completions.create(model="gpt-4o-mini",
                                                        messages=[{"role": "user", "content": "x"}])
    rows = relaygate.http.get("/api/self/logs", headers={"Authorization": f"Bearer {tenant.key}"}).json()
    assert rows and {r["user_id"] for r in rows} == {tenant.user_id}


def test_crud_round_trip_and_validation(relaygate: Relaygate, mock: MockOpenAI) -> None:
    ch = relaygate.ok("POST", "/api/channels", {"name": "crud-ch", "base_url": mock.base_url,
                                                 "credentials": [UPSTREAM_KEY], "models": ["gpt-4o"]})
    assert ch["credential_count"] == 1 and "credentials" not in ch
    assert relaygate.admin("POST", "/api/channels", {"name": "crud-ch", "base_url": mock.base_url,
                                                     "credentials": ["k"], "models": ["m"]}).status_code == 409
    bad = relaygate.admin("POST", "/api/channels", {"name": "x", "base_url": "ftp://x", "credentials": ["k"],
                                                    "models": ["m"]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "base_url"
    assert relaygate.ok("PATCH", f"/api/channels/{ch['id']}", {"priority": 3})["priority"] == 3
    assert relaygate.ok("POST", f"/api/channels/{ch['id']}/disable")["status"] == "disabled"
    assert relaygate.ok("DELETE", f"/api/channels/{ch['id']}") == {"ok": True}
    assert relaygate.admin("GET", f"/api/channels/{ch['id']}").status_code == 404
    assert relaygate.admin("GET", "/api/channels/abc").status_code == 400
    user = relaygate.ok("POST", "/api/users", {"name": "crud-user"})
    assert relaygate.ok("POST", f"/api/users/{user['id']}/topup", {"amount": 250})["balance"] == 250
    assert relaygate.admin("POST", f"/api/users/{user['id']}/topup", {"amount": -5}).status_code == 400
    created = relaygate.ok("POST", "/api/keys", {"user_id": user["id"], "quota": 10})
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", created["key"])
    listed = relaygate.ok("GET", f"/api/keys?user_id={user['id']}")
    assert created["key"] not in str(listed) and listed[0]["hint"].startswith("sk-")
    assert relaygate.admin("POST", "/api/keys", {"user_id": user["id"], "allowed_ips": ["nope"]}).status_code == 400
    assert relaygate.ok("DELETE", f"/api/keys/{created['id']}")["enabled"] is False
    price = relaygate.ok("PUT", "/api/prices/crud-model", {"input_per_1m": 1.0, "completion_ratio": 3})
    assert price["model"] == "crud-model"
    assert any(p["model"] == "crud-model" for p in relaygate.ok("GET", "/api/prices"))
    assert relaygate.ok("DELETE", "/api/prices/crud-model") == {"ok": True}


def test_openapi_documents_every_admin_route_and_docs_render(relaygate: Relaygate) -> None:
    spec = relaygate.http.get("/openapi.json").json()
    documented = {(m.upper(), re.sub(r"\{[^}]+\}", "1", p)) for p, ops in spec["paths"].items() for m in ops}
    assert set(ADMIN_ROUTES) <= documented  # and the client routes: tests/test_openapi.py
    page = relaygate.http.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert relaygate.http.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAYGATE_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "relaygate.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def test_the_cli_sets_up_a_working_relay(tmp_path: Path, mock: MockOpenAI) -> None:
    import orjson

    assert _cli(tmp_path, "migrate").returncode == 0
    user = orjson.loads(_cli(tmp_path, "user", "create", "carol", "--balance", "1000").stdout)
    assert orjson.loads(_cli(tmp_path, "user", "topup", str(user["id"]), "500000").stdout)["balance"] == 501_000
    ch = _cli(tmp_path, "channel", "add", "--name", "cli-ch", "--base-url", mock.base_url, "--key", UPSTREAM_KEY,
              "--models", "gpt-4o-mini,cli-model", "--mapping", "cli-model=gpt-4o")
    channel = orjson.loads(ch.stdout)
    assert channel["model_mapping"] == {"cli-model": "gpt-4o"}
    test = _cli(tmp_path, "channel", "test", str(channel["id"]))
    assert test.returncode == 0 and orjson.loads(test.stdout)["ok"] is True
    assert "cli-ch" in _cli(tmp_path, "channel", "list").stdout
    claude = orjson.loads(_cli(tmp_path, "channel", "add", "--name", "cli-claude", "--type", "anthropic",
                               "--base-url", "https://api.anthropic.com", "--key", "sk-ant-x", "--models",
                               "claude-*", "--api-version", "2023-06-01", "--default-max-tokens", "2048").stdout)
    assert claude["type"] == "anthropic" and claude["options"]["default_max_tokens"] == 2048
    bad_type = _cli(tmp_path, "channel", "add", "--name", "x", "--type", "nope", "--base-url", "https://x",
                    "--key", "k", "--models", "m")
    assert bad_type.returncode == 2 and "invalid choice" in bad_type.stderr
    assert orjson.loads(_cli(tmp_path, "price", "set", "claude-x", "--input", "3", "--cache-read", "0.3").stdout)[
        "cache_read_per_1m"] == 0.3
    assert orjson.loads(_cli(tmp_path, "price", "set", "cli-model", "--per-call", "0.001").stdout)["per_call"] == 0.001
    tts = orjson.loads(_cli(tmp_path, "price", "set", "tts-x", "--per-1m-characters", "15").stdout)
    assert tts["per_1m_characters"] == 15
    assert orjson.loads(_cli(tmp_path, "price", "set", "stt-x", "--per-minute", "0.006").stdout)["per_second"] == 0.0001
    per_second = orjson.loads(_cli(tmp_path, "price", "set", "stt-y", "--per-second", "0.0002").stdout)
    assert per_second["per_second"] == 0.0002
    image = orjson.loads(_cli(tmp_path, "price", "set", "img-x", "--per-image", "1024x1024/hd=0.08",
                              "--per-image", "*=0.04").stdout)
    assert image["per_image"] == {"1024x1024/hd": 0.08, "*": 0.04}
    tokens = orjson.loads(_cli(tmp_path, "price", "set", "gpt-image-x", "--input", "5", "--image-input", "10",
                               "--output", "40").stdout)
    assert (tokens["input_per_1m"], tokens["image_input_per_1m"], tokens["output_per_1m"]) == (5, 10, 40)
    bad_image = _cli(tmp_path, "price", "set", "img-x", "--per-image", "1024x1024")
    assert bad_image.returncode == 2 and "SIZE[/QUALITY]=USD" in bad_image.stderr
    # an option of another channel type is refused by the chosen type's own options model
    wrong = _cli(tmp_path, "channel", "add", "--name", "cli-gem", "--type", "gemini", "--base-url", "https://g",
                 "--key", "k", "--models", "gemini-x", "--default-max-tokens", "10")
    assert wrong.returncode == 2 and "default_max_tokens" in wrong.stderr
    router = orjson.loads(_cli(tmp_path, "channel", "add", "--name", "cli-or", "--type", "openrouter", "--base-url",
                               "https://openrouter.ai", "--key", "sk-or", "--models", "x", "--app-name", "Demo").stdout)
    assert router["options"] == {"app_name": "Demo"}
    key = orjson.loads(_cli(tmp_path, "key", "create", "--user", str(user["id"]), "--quota", "100000").stdout)
    listing = _cli(tmp_path, "key", "list").stdout
    assert key["hint"] in listing and key["key"] not in listing
    bad = _cli(tmp_path, "key", "create", "--user", "999")
    assert bad.returncode == 1 and "No user" in bad.stderr
    rg = Relaygate(tmp_path).start()
    try:
        resp = rg.client(key["key"]).chat.completions.create(model="cli-model",
                                                             messages=[{"role": "user", "content": "x"}])
        assert resp.choices[0].message.content
        assert rg.ok("GET", f"/api/users/{user['id']}")["balance"] == 501_000 - 500
        assert orjson.loads(_cli(tmp_path, "channel", "disable", str(channel["id"])).stdout)["status"] == "disabled"
        rg.wait_for(lambda: rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key['key']}"},
                                         json={"model": "cli-model", "messages": [{"role": "user", "content": "x"}]}
                                         ).status_code == 503)
        assert orjson.loads(_cli(tmp_path, "key", "revoke", str(key["id"])).stdout)["enabled"] is False
    finally:
        rg.close()


def test_serve_config_file_declares_channels_keys_and_prices(tmp_path: Path, mock: MockOpenAI) -> None:
    config = tmp_path / "relaygate.yaml"
    config.write_text(f"""
groups: [{{name: vip, multiplier: 2.0}}]
users: [{{name: dora, group: vip, balance: 1000000}}]
channels:
  - {{name: yaml-ch, base_url: "${{YAML_UPSTREAM}}", credentials: [{UPSTREAM_KEY}],
     models: [gpt-4o-mini], groups: [vip]}}
keys: [{{key: sk-declared-key-0001, user: dora, name: declared}}]
prices:
  gpt-4o-mini: {{per_call: 0.001, input_per_1m: 0, output_per_1m: 0}}
  tts-yaml: {{per_1m_characters: 15}}
  stt-yaml: {{per_minute: 0.006}}
  dalle-yaml: {{per_image: {{"1024x1024/hd": 0.08, "*": 0.04}}}}
""")
    rg = Relaygate(tmp_path, env={"YAML_UPSTREAM": mock.base_url})
    for _ in range(2):
        rg.start("--config", str(config))
        resp = rg.client("sk-declared-key-0001").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert resp.choices[0].message.content
        rg.stop()
    rg.start("--config", str(config))
    try:
        users = [u for u in rg.ok("GET", "/api/users") if u["name"] == "dora"]
        assert len(users) == 1 and users[0]["balance"] == 1_000_000 - 2 * 1_000
        prices = {p["model"]: p for p in rg.ok("GET", "/api/prices")}
        assert (prices["tts-yaml"]["per_1m_characters"], prices["stt-yaml"]["per_second"]) == (15.0, 0.0001)
        assert prices["dalle-yaml"]["per_image"] == {"1024x1024/hd": 0.08, "*": 0.04}
    finally:
        rg.close()


def test_admin_key_from_the_environment_and_first_start_printing(tmp_path: Path) -> None:
    rg = Relaygate(tmp_path, env={"RELAYGATE_ADMIN_KEY": ""}).start()
    try:
        printed = re.search(r"shown this once: (sk-[A-Za-z0-9]{48})", rg.logs())
        assert printed is not None
        assert rg.admin("GET", "/api/users", key=printed.group(1)).status_code == 200
        assert rg.admin("GET", "/api/users").status_code == 401
    finally:
        rg.close()
    again = Relaygate(tmp_path, env={"RELAYGATE_ADMIN_KEY": ""})
    again.stdout_path = tmp_path / "second.out"
    again.start()
    try:
        assert "shown this once" not in again.stdout_path.read_text()
    finally:
        again.close()
