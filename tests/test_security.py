"""No secret — client key, channel credential, admin key — ever appears in a log, error, metric or log row."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx2 as httpx

from tests.conftest import Relaygate
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_canary_secrets_never_leak(tmp_path: Path) -> None:
    admin = "sk-admincanary" + secrets.token_hex(12)
    upstream_secret = "sk-upstreamcanary" + secrets.token_hex(12)
    upstream = MockOpenAI(api_keys=[upstream_secret]).start()
    rg = Relaygate(tmp_path, env={"RELAYGATE_ADMIN_KEY": admin, "RELAYGATE_LOG_LEVEL": "DEBUG"}).start()
    seen: list[str] = []
    try:
        def admin_call(method: str, path: str, body: object = None) -> httpx.Response:
            resp = rg.admin(method, path, body, key=admin)
            seen.append(resp.text)
            return resp

        user = admin_call("POST", "/api/users", {"name": "canary", "balance": 10**9}).json()
        channel = admin_call("POST", "/api/channels", {"name": "canary-ch", "base_url": upstream.base_url,
                                                       "credentials": [upstream_secret], "models": ["gpt-4o-mini"]}
                             ).json()
        client_key = rg.admin("POST", "/api/keys", {"user_id": user["id"]}, key=admin).json()["key"]
        rg.wait_for(lambda: rg.http.get("/v1/models", headers={"Authorization": f"Bearer {client_key}"})
                    .status_code == 200)
        auth = {"Authorization": f"Bearer {client_key}"}
        traffic = [
            lambda: rg.http.post("/v1/chat/completions", headers=auth, json=CHAT),
            lambda: rg.http.post("/v1/chat/completions", headers=auth, json={**CHAT, "stream": True}),
            lambda: rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {client_key}x"}, json=CHAT),
            lambda: rg.http.post("/v1/chat/completions", headers=auth, content=b"{broken"),
            lambda: rg.http.post("/v1/embeddings", headers=auth, json={"model": "gpt-4o-mini", "input": "x"}),
            lambda: rg.http.get("/api/users", headers=auth),
        ]
        for send in traffic:
            seen.append(send().text)
        for mode in ("400", "401", "500", "reset"):
            upstream.mode = mode
            seen.append(rg.http.post("/v1/chat/completions", headers=auth, json=CHAT).text)
            seen.append(admin_call("POST", f"/api/channels/{channel['id']}/test").text)
        upstream.mode = "ok"
        seen.append(admin_call("GET", "/api/channels").text)
        seen.append(admin_call("GET", "/api/logs?limit=1000").text)
        seen.append(admin_call("GET", "/api/keys").text)
        seen.append(rg.http.get("/metrics").text)
    finally:
        rg.close()
        upstream.stop()
    seen.append(rg.logs())
    everything = "\n".join(seen)
    assert "chat.completion" in everything and "upstream_error" in everything
    for secret in (admin, upstream_secret, client_key):
        assert secret not in everything
        assert secret[:20] not in everything
