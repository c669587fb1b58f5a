"""Every error a client can meet is OpenAI-shaped, carries a request id, and never a stack trace."""

from __future__ import annotations

import socket
import time

import httpx2 as httpx
import openai
import pytest

from tests.conftest import Relaygate, Tenant, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _post(rg: Relaygate, key: str | None, body: object = None, *, content: bytes | None = None,
          path: str = "/v1/chat/completions") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if content is not None:
        headers["Content-Type"] = "application/json"
        return rg.http.post(path, headers=headers, content=content)
    return rg.http.post(path, headers=headers, json=CHAT if body is None else body)


def _assert_error(resp: httpx.Response, status: int, code: str, param: str | None = None) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code
    assert err["message"] and "Traceback" not in err["message"]
    if param is not None:
        assert err["param"] == param
    assert resp.headers["X-Request-Id"].startswith("req_")
    return dict(err)


def test_missing_key_is_401(relaygate: Relaygate) -> None:
    _assert_error(_post(relaygate, None), 401, "invalid_api_key")


@pytest.mark.parametrize("junk", [
    "sk-doesnotexist", "' OR 1=1 --", "sk-" + "A" * 10_000, "sk-\u00e9\u00e8", "Bearer sk-x", "x" * 257,
])
def test_any_wrong_key_gets_the_same_401(relaygate: Relaygate, junk: str) -> None:
    headers = {"Authorization": ("Bearer " + junk).encode("utf-8")}
    resp = relaygate.http.post("/v1/chat/completions", headers=headers, json=CHAT)  # type: ignore[arg-type]
    err = _assert_error(resp, 401, "invalid_api_key")
    assert err["message"] == "Incorrect API key provided. Check the key, or ask the operator for a new one."


def test_nul_and_crlf_in_the_key_header_never_reach_a_500(relaygate: Relaygate) -> None:
    for raw_key in (b"sk-a\x00b", b"sk-a\rb"):
        with socket.create_connection(("127.0.0.1", relaygate.port)) as sock:
            body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}'
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + raw_key
                         + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        assert status in (400, 401), answer[:200]


def test_openai_sdk_raises_authentication_error(relaygate: Relaygate) -> None:
    with pytest.raises(openai.AuthenticationError):
        relaygate.client("sk-wrong").chat.completions.create(**CHAT)  # type: ignore[call-overload]


def test_disabled_and_expired_keys_are_401(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    relaygate.ok("PATCH", f"/api/keys/{tenant.key_id}", {"enabled": False})
    _assert_error(_post(relaygate, tenant.key), 401, "invalid_api_key")
    other = make_tenant(relaygate, [mock.base_url])
    relaygate.ok("PATCH", f"/api/keys/{other.key_id}", {"expires_at": time.time() - 1})
    _assert_error(_post(relaygate, other.key), 401, "invalid_api_key")


def test_model_not_allowed_is_403(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], key_fields={"allowed_models": ["gpt-4o"]})
    _assert_error(_post(relaygate, t.key), 403, "model_not_allowed", "model")


def test_ip_not_allowed_is_403(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], key_fields={"allowed_ips": ["10.0.0.0/8"]})
    _assert_error(_post(relaygate, t.key), 403, "ip_not_allowed")
    ok = make_tenant(relaygate, [mock.base_url], key_fields={"allowed_ips": ["127.0.0.0/8", "::1/128"]})
    assert _post(relaygate, ok.key).status_code == 200


def test_unknown_model_is_404(relaygate: Relaygate, tenant: Tenant) -> None:
    _assert_error(_post(relaygate, tenant.key, {**CHAT, "model": "no-such-model"}), 404, "model_not_found", "model")


def test_rate_limit_is_429_with_retry_after(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], key_fields={"rpm": 2})
    assert _post(relaygate, t.key).status_code == 200
    assert _post(relaygate, t.key).status_code == 200
    resp = _post(relaygate, t.key)
    _assert_error(resp, 429, "rate_limit_exceeded")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


def test_token_rate_limit_is_429_and_counts_real_usage(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], key_fields={"tpm": 300})
    # each holds its estimate (~210 tokens) while it runs and the 15 it really used once answered
    assert _post(relaygate, t.key, {**CHAT, "max_tokens": 200}).status_code == 200
    assert _post(relaygate, t.key, {**CHAT, "max_tokens": 200}).status_code == 200
    _assert_error(_post(relaygate, t.key, {**CHAT, "max_tokens": 290}), 429, "rate_limit_exceeded")


@pytest.mark.parametrize(("content", "param"), [
    (b"{not json", None),
    (b"[1, 2]", None),
    (b"", None),
    (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"model": 5, "messages": []}', "model"),
    (b'{"model": "gpt-4o-mini"}', "messages"),
    (b'{"model": "gpt-4o-mini", "messages": "hello"}', "messages"),
    (b'{"model": "gpt-4o-mini", "messages": [{"content": "x"}]}', "messages[0]"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}', "max_tokens"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
     "temperature"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 0}', "n"),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream_options": 1}',
     "stream_options"),
])
def test_malformed_bodies_are_400_with_the_param(relaygate: Relaygate, tenant: Tenant, content: bytes,
                                                 param: str | None) -> None:
    err = _assert_error(_post(relaygate, tenant.key, content=content), 400, "invalid_request_error")
    assert err["param"] == param


@pytest.mark.parametrize(("path", "content", "param"), [
    ("/v1/embeddings", b'{"model": "text-embedding-3-small"}', "input"),
    ("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": []}', "input"),
    ("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": "x", "encoding_format": "hex"}',
     "encoding_format"),
    ("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": "x", "stream": true}', "stream"),
    ("/v1/completions", b'{"model": "gpt-4o-mini", "prompt": {"a": 1}}', "prompt"),
])
def test_malformed_embeddings_and_completions_are_400(relaygate: Relaygate, tenant: Tenant, path: str,
                                                      content: bytes, param: str) -> None:
    _assert_error(_post(relaygate, tenant.key, content=content, path=path), 400, "invalid_request_error", param)


def test_body_over_the_size_limit_is_413(relaygate: Relaygate, tenant: Tenant) -> None:
    big = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "' + b"a" * (21 * 1024 * 1024) + b'"}]}'
    _assert_error(_post(relaygate, tenant.key, content=big), 413, "request_too_large")


def test_upstream_failure_is_502_naming_its_status(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url])
    fresh_mock.mode = "500"
    err = _assert_error(_post(relaygate, t.key), 502, "upstream_error")
    assert "HTTP 500" in str(err["message"])
    assert "sk-upstream-test" not in str(err["message"])


def test_upstream_timeout_is_504(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url], channel_fields={"timeout": 0.3})
    fresh_mock.mode = "timeout"
    fresh_mock.hang_seconds = 2
    _assert_error(_post(relaygate, t.key), 504, "upstream_timeout")


def test_no_available_channel_is_503(relaygate: Relaygate, tenant: Tenant) -> None:
    relaygate.ok("POST", f"/api/channels/{tenant.channel_ids[0]}/disable")
    _assert_error(_post(relaygate, tenant.key), 503, "no_available_channel")


def test_upstream_4xx_caused_by_the_client_is_passed_through(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url])
    fresh_mock.mode = "400"
    err = _assert_error(_post(relaygate, t.key), 400, "context_length_exceeded", "messages")
    assert "maximum context length" in str(err["message"])
    assert fresh_mock.count("/chat/completions") == 1


def test_unknown_routes_are_openai_shaped_404(relaygate: Relaygate) -> None:
    _assert_error(relaygate.http.get("/v1/nothing-here"), 404, "unknown_url")
    _assert_error(relaygate.http.get("/v2/anything"), 404, "unknown_url")


def test_a_model_without_any_price_is_refused(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url], models=["zz-unpriced-model"])
    _assert_error(_post(relaygate, t.key, {**CHAT, "model": "zz-unpriced-model"}), 403, "model_price_not_set", "model")
    assert fresh_mock.count("/chat/completions") == 0


@pytest.mark.parametrize("content", [
    b"[" * 5000 + b"]" * 5000,
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "text"}, 5]}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e400}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 99999999999999999999999}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x", "tool_calls": {"a": 1}}]}',
    b'{"model": "' + b"m" * 5000 + b'", "messages": [{"role": "user", "content": "x"}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": null}], "stream": null}',
    b'\xff\xfe{"model": 1}',
    b'{"model": "gpt-4o-mini", "prompt": [[1, 2], ["x"]]}',
])
def test_strange_bodies_never_get_a_500(relaygate: Relaygate, tenant: Tenant, content: bytes) -> None:
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
        resp = _post(relaygate, tenant.key, content=content, path=path)
        assert resp.status_code < 500, (path, resp.text)
        assert resp.headers["X-Request-Id"]
