"""What clients see is consistent: OpenAI's error types, models listed exactly as callable, CORS for browser apps,
oversized headers answered in JSON that echoes nothing, and prices that cannot fail at request time."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_KEY, Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _chat(rg: Relaygate, key: str, **body: Any) -> httpx.Response:
    return rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={**CHAT, **body})


def _models(rg: Relaygate, key: str, model: str | None = None) -> httpx.Response:
    return rg.http.get("/v1/models" + (f"/{model}" if model else ""), headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize(("key_fields", "body", "code", "type_"), [
    ({"allowed_models": ["gpt-4o"]}, {}, "model_not_allowed", "permission_error"),
    ({"allowed_ips": ["10.0.0.0/8"]}, {}, "ip_not_allowed", "permission_error"),
    ({}, {"model": "zz-unpriced-model"}, "model_price_not_set", "permission_error"),
    ({"quota": 1}, {"max_tokens": 1000}, "insufficient_token_quota", "insufficient_quota"),
])
def test_errors_carry_the_type_openai_uses(relaygate: Relaygate, mock: MockOpenAI, key_fields: dict[str, Any],
                                           body: dict[str, Any], code: str, type_: str) -> None:
    t = make_tenant(relaygate, [mock.base_url], models=["gpt-4o-mini", "zz-unpriced-model"], key_fields=key_fields)
    resp = _chat(relaygate, t.key, **body)
    err = resp.json()["error"]
    assert (resp.status_code, err["code"], err["type"]) == (403, code, type_), resp.text
    with relaygate.client(t.key) as sdk, pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.chat.completions.create(**{**CHAT, **body})  # type: ignore[call-overload]
    assert caught.value.code == code and caught.value.type == type_


def test_an_exhausted_balance_is_insufficient_quota(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], balance=0)
    err = _chat(relaygate, t.key).json()["error"]
    assert (err["code"], err["type"]) == ("insufficient_user_quota", "insufficient_quota")


def test_the_model_list_and_lookup_agree_with_what_the_key_can_call(relaygate: Relaygate, mock: MockOpenAI) -> None:
    tag = secrets.token_hex(3)
    priced, mapped, unpriced = f"agree-priced-{tag}", f"agree-mapped-{tag}", f"agree-unpriced-{tag}"
    t = make_tenant(relaygate, [mock.base_url], models=["gpt-4o-mini", priced, mapped, unpriced, "gpt-4-gizmo-*"],
                    mapping={priced: "gpt-4o-mini", mapped: "gpt-4o-mini", "gpt-4-gizmo-g-abc": "gpt-4o-mini"})
    relaygate.ok("PUT", f"/api/prices/{priced}", {"input_per_1m": 1, "output_per_1m": 1})
    relaygate.wait_for(lambda: _models(relaygate, t.key, priced).status_code == 200)
    listed = [m["id"] for m in _models(relaygate, t.key).json()["data"]]
    assert listed == sorted(["gpt-4o-mini", priced, mapped])  # the unpriced one cannot be called; a pattern is no name
    for model in listed:
        assert _chat(relaygate, t.key, model=model).status_code == 200, model
        assert _models(relaygate, t.key, model).json()["id"] == model
    assert _models(relaygate, t.key, "gpt-4-gizmo-g-abc").status_code == 200
    assert _chat(relaygate, t.key, model="gpt-4-gizmo-g-abc").status_code == 200
    for model in (unpriced, "no-such-model", "gpt-4-gizmo"):
        assert _models(relaygate, t.key, model).status_code == 404
        assert _chat(relaygate, t.key, model=model).status_code in (403, 404)
    narrow = make_tenant(relaygate, [mock.base_url], models=["gpt-4o-mini", "gpt-4o", "gpt-4-gizmo-*"],
                         key_fields={"allowed_models": ["gpt-4o", "gpt-4-gizmo-g-x"]})
    assert [m["id"] for m in _models(relaygate, narrow.key).json()["data"]] == ["gpt-4-gizmo-g-x", "gpt-4o"]
    assert _models(relaygate, narrow.key, "gpt-4o-mini").status_code == 404


PREFLIGHT = {"Origin": "https://chat.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os"}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/v1/embeddings", "/v1/messages",
                                  "/v1beta/models/gemini-2.0-flash:streamGenerateContent"])
def test_browser_preflights_on_the_client_routes_are_answered(relaygate: Relaygate, path: str) -> None:
    resp = relaygate.http.options(path, headers=PREFLIGHT)
    assert resp.status_code == 204, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == PREFLIGHT["Access-Control-Request-Headers"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_answers_to_a_browser_carry_the_cors_headers_errors_too(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url])
    origin = {"Origin": "https://chat.example"}
    for resp in (relaygate.http.post("/v1/chat/completions", json=CHAT, headers={**origin,
                                                                                "Authorization": f"Bearer {t.key}"}),
                 relaygate.http.post("/v1/chat/completions", json={**CHAT, "stream": True},
                                     headers={**origin, "Authorization": f"Bearer {t.key}"}),
                 relaygate.http.post("/v1/chat/completions", json=CHAT,
                                     headers={**origin, "Authorization": "Bearer x"})):
        assert resp.headers["Access-Control-Allow-Origin"] == "*", resp.status_code
        assert "X-Request-Id" in resp.headers["Access-Control-Expose-Headers"]
    plain = _chat(relaygate, t.key)
    assert "Access-Control-Allow-Origin" not in plain.headers  # not a browser: nothing added


def test_the_admin_api_takes_no_browser_calls_by_default(relaygate: Relaygate) -> None:
    resp = relaygate.http.options("/api/users", headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in resp.headers and resp.headers["X-Request-Id"]
    users = relaygate.http.get("/api/users", headers={"Origin": "https://chat.example",
                                                      "Authorization": f"Bearer {ADMIN_KEY}"})
    assert users.status_code == 200 and "Access-Control-Allow-Origin" not in users.headers
    not_preflight = relaygate.http.options("/v1/chat/completions")
    assert not_preflight.status_code == 404 and not_preflight.json()["error"]["code"] == "unknown_url"


def test_operators_list_the_origins_that_may_call(tmp_path: Path) -> None:
    rg = Relaygate(tmp_path, env={"RELAYGATE_CORS_ORIGINS": "https://chat.example, https://lobe.example",
                                  "RELAYGATE_ADMIN_CORS_ORIGINS": "https://console.example"}).start()
    try:
        allowed = rg.http.options("/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://lobe.example"})
        assert allowed.status_code == 204 and allowed.headers["Access-Control-Allow-Origin"] == "https://lobe.example"
        assert "Origin" in allowed.headers["Vary"]
        other = rg.http.options("/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
        answer = rg.http.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert answer.status_code == 401 and "Access-Control-Allow-Origin" not in answer.headers
        console = rg.http.get("/api/users", headers={"Origin": "https://console.example",
                                                     "Authorization": f"Bearer {ADMIN_KEY}"})
        assert console.headers["Access-Control-Allow-Origin"] == "https://console.example"
        assert console.headers["Vary"] == "Origin"
        assert rg.http.options("/api/users", headers={**PREFLIGHT, "Origin": "https://chat.example"}).status_code == 403
    finally:
        rg.close()


def _raw(rg: Relaygate, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", rg.port)) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("header", [b"Authorization: Bearer sk-LEAKME", b"x-api-key: sk-LEAKME", b"Cookie: LEAKME",
                                    b"X-Anything: LEAKME", b"LEAKME" + b"h" * 40_000 + b": v"])
@pytest.mark.parametrize("target", [b"POST /v1/chat/completions", b"GET /api/users", b"GET /healthz",
                                    b"POST /v1beta/models/m:generateContent"])
def test_an_oversized_header_gets_a_json_error_that_echoes_nothing(relaygate: Relaygate, header: bytes,
                                                                   target: bytes) -> None:
    big = header + b"A" * 40_000 if not header.startswith(b"LEAKME") else header
    answer = _raw(relaygate, target + b" HTTP/1.1\r\nHost: x\r\n" + big + b"\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 431 " in head.split(b"\r\n")[0], head
    assert b"Content-Type: application/json" in head and b"X-Request-Id: req_" in head
    assert b"LEAKME" not in answer and b"AAAA" not in answer
    assert httpx.Response(431, content=body).json()["error"]["code"] == "header_too_large"
    relaygate.wait_for(lambda: "malformed request refused" in relaygate.logs())
    assert "LEAKME" not in relaygate.logs()


def test_a_malformed_request_line_gets_json_too(relaygate: Relaygate) -> None:
    answer = _raw(relaygate, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nBad Header\x01: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b" 400 " in head.split(b"\r\n")[0] and b"Bad Header" not in body
    assert httpx.Response(400, content=body).json()["error"]["code"] == "bad_http"


def _store_url(rg: Relaygate) -> str:
    url = rg.env.get("RELAYGATE_DATABASE_URL") or f"sqlite:///{rg.workdir}/data/relaygate.db"
    return url.replace("postgresql://", "postgresql+psycopg://")


def _store_legacy_rows(rg: Relaygate, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Rows as an older relaygate let them be stored (an infinite price, an infinite multiplier)."""
    engine = create_engine(_store_url(rg))
    with engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)
        conn.execute(text("UPDATE settings SET value = value + 1 WHERE name = 'config_version'"))
    engine.dispose()


def test_stored_prices_and_multipliers_that_are_not_numbers_cannot_fail_a_request(shared_store: Relaygate,
                                                                                 mock: MockOpenAI) -> None:
    rg = shared_store
    model = "legacy-" + secrets.token_hex(3)
    t = make_tenant(rg, [mock.base_url], models=[model, "gpt-4o-mini"], mapping={model: "unknown-upstream"})
    _store_legacy_rows(rg, [
        ("INSERT INTO prices (model, input_per_1m, output_per_1m, completion_ratio, per_call) "
         "VALUES (:m, :inf, 1, 1, NULL)", {"m": model, "inf": float("inf")}),
        ("UPDATE groups SET multiplier = :inf WHERE name = :g", {"inf": float("inf"), "g": t.group}),
    ])
    rg.wait_for(lambda: _chat(rg, t.key, model=model).status_code != 200)
    refused = _chat(rg, t.key, model=model)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_price_not_set"
    assert _chat(rg, t.key).status_code == 200  # the group counts at 1 until its multiplier is set again
    group = next(g for g in rg.ok("GET", "/api/groups") if g["name"] == t.group)
    assert group["multiplier"] is None
    assert next(p for p in rg.ok("GET", "/api/prices") if p["model"] == model)["input_per_1m"] is None
    rg.ok("PUT", "/api/groups", {"name": t.group, "multiplier": 2})
    rg.ok("PUT", f"/api/prices/{model}", {"input_per_1m": 1})
    assert next(g for g in rg.ok("GET", "/api/groups") if g["name"] == t.group)["multiplier"] == 2


@pytest.mark.parametrize("max_tokens", [2**31, 2**53, 2**63 - 1])
def test_a_reservation_no_balance_could_hold_is_refused_not_failed(shared_store: Relaygate, mock: MockOpenAI,
                                                                   max_tokens: int) -> None:
    t = make_tenant(shared_store, [mock.base_url], balance=10**8)
    for n in (1, 128):
        resp = _chat(shared_store, t.key, max_tokens=max_tokens, n=n)
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["type"] == "insufficient_quota"


def test_prices_show_every_models_effective_price_marked_operator_or_default(relaygate: Relaygate) -> None:
    from relaygate.billing.default_prices import DEFAULT_PRICES

    model = "text-embedding-ada-002"
    try:
        relaygate.ok("PUT", f"/api/prices/{model}", {"input_per_1m": 0.1, "output_per_1m": 0})
        prices = {p["model"]: p for p in relaygate.ok("GET", "/api/prices")}
        assert set(DEFAULT_PRICES) <= set(prices)
        assert prices[model]["source"] == "operator"
        assert prices["gpt-4o"] == {"model": "gpt-4o", "input_per_1m": 2.5, "output_per_1m": 10.0,
                                    "completion_ratio": 1.0, "per_call": None, "cache_read_per_1m": 1.25,
                                    "cache_write_per_1m": None, "image_input_per_1m": None,
                                    "per_1m_characters": None, "per_second": None, "per_image": None,
                                    "source": "default"}
        assert prices["tts-1"]["per_1m_characters"] == 15.0 and prices["tts-1"]["source"] == "default"
        assert prices["dall-e-3"]["per_image"]["1024x1024/hd"] == 0.08
        assert prices["gpt-4-gizmo-*"]["source"] == "default"
        gone = relaygate.admin("DELETE", "/api/prices/gpt-4o")
        assert gone.status_code == 404 and "built-in" in gone.json()["error"]["message"]
    finally:
        relaygate.ok("DELETE", f"/api/prices/{model}")
