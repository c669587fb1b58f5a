"""/openapi.json documents every route, client and admin, and every error status each can answer."""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
from openapi_spec_validator import validate

from tests.conftest import ADMIN_KEY, Relaygate, make_tenant
from tests.test_admin import ADMIN_ROUTES
from tests.upstreams.openai_mock import MockOpenAI

CLIENT_ROUTES = {("POST", "/v1/chat/completions"), ("POST", "/v1/completions"), ("POST", "/v1/embeddings"),
                 ("GET", "/v1/models"), ("GET", "/v1/models/1"), ("POST", "/v1/messages"),
                 ("POST", "/v1beta/models/1:generateContent"), ("POST", "/v1beta/models/1:streamGenerateContent"),
                 ("POST", "/v1/responses"), ("GET", "/v1/responses/1"), ("DELETE", "/v1/responses/1"),
                 ("POST", "/v1/responses/1/cancel"), ("GET", "/v1/responses/1/input_items"),
                 ("POST", "/v1/responses/input_tokens"),
                 ("POST", "/v1/audio/speech"), ("POST", "/v1/audio/transcriptions"), ("POST", "/v1/audio/translations"),
                 ("POST", "/v1/images/generations"), ("POST", "/v1/images/edits"), ("POST", "/v1/images/variations"),
                 ("POST", "/mj/submit/1"), ("POST", "/mj/insight-face/1"), ("POST", "/mj-1/mj/submit/1"),
                 ("POST", "/mj-1/mj/insight-face/1"),
                 ("GET", "/dashboard/billing/subscription"), ("GET", "/v1/dashboard/billing/subscription"),
                 ("GET", "/dashboard/billing/usage"), ("GET", "/v1/dashboard/billing/usage")}


def _document(rg: Relaygate) -> dict[str, Any]:
    spec: dict[str, Any] = rg.http.get("/openapi.json").json()
    validate(spec)  # a valid OpenAPI 3.1 document
    return spec


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return dict(ops[method.lower()])
    raise AssertionError(f"{method} {path} is not documented")


def test_the_document_covers_the_client_routes_and_the_admin_api(relaygate: Relaygate) -> None:
    spec = _document(relaygate)
    documented = {(m.upper(), re.sub(r"\{[^}]+\}", "1", p)) for p, ops in spec["paths"].items() for m in ops}
    assert documented == set(ADMIN_ROUTES) | CLIENT_ROUTES
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "429", "431", "502", "503", "504", "4XX"} <= set(chat)
    assert "text/event-stream" in chat["200"]["content"]
    assert spec["paths"]["/v1/messages"]["post"]["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnthropicError"}
    speech = spec["paths"]["/v1/audio/speech"]["post"]
    assert {"audio/mpeg", "audio/wav", "text/event-stream"} <= set(speech["responses"]["200"]["content"])
    upload = spec["paths"]["/v1/audio/transcriptions"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"] and "413" in upload["responses"]
    assert "text/plain" in upload["responses"]["200"]["content"]
    patch_user = spec["paths"]["/api/users/{id}"]["patch"]
    assert {"400", "401", "403", "404", "409", "413"} <= set(patch_user["responses"])
    assert patch_user["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    logs = {p["name"] for p in spec["paths"]["/api/logs"]["get"]["parameters"]}
    assert logs == {"key_id", "user_id", "model", "request_id", "status", "since", "until", "before", "limit"}


def test_every_status_a_route_answered_is_documented_for_it(relaygate: Relaygate, mock: MockOpenAI) -> None:
    spec = _document(relaygate)
    t = make_tenant(relaygate, [mock.base_url], key_fields={"rpm": 1})
    admin, client = {"Authorization": f"Bearer {ADMIN_KEY}"}, {"Authorization": f"Bearer {t.key}"}
    taken = relaygate.ok("GET", f"/api/users/{t.user_id}")["name"]
    calls: list[tuple[str, str, dict[str, str], Any]] = [
        ("POST", "/v1/chat/completions", client, {"model": "gpt-4o-mini", "messages": [{"role": "user",
                                                                                        "content": "x"}]}),
        ("POST", "/v1/chat/completions", client, {"model": "gpt-4o-mini"}),
        ("POST", "/v1/chat/completions", client, {"model": "gpt-4o-mini", "messages": [{"role": "user",
                                                                                        "content": "x"}]}),
        ("POST", "/v1/embeddings", {}, {}),
        ("POST", "/v1/audio/speech", client, {"model": "tts-1", "input": "x" * 4097, "voice": "alloy"}),
        ("POST", "/v1/audio/transcriptions", client, {"model": "whisper-1"}),
        ("POST", "/v1/images/generations", client, {"model": "dall-e-3", "prompt": "x", "n": 2}),
        ("POST", "/v1/chat/completions", admin, {}),
        ("GET", "/v1/models/nothing-here", client, None),
        ("GET", "/api/users/abc", admin, None),
        ("GET", "/api/users/2147483647", admin, None),
        ("POST", "/api/users", admin, {"name": taken}),
        ("GET", "/api/users", client, None),
        ("GET", "/api/users", {}, None),
        ("POST", "/v1/messages", {"x-api-key": "sk-wrong"}, {}),
        ("POST", "/v1beta/models/gemini-2.0-flash:generateContent", {"x-goog-api-key": "sk-wrong"}, {}),
    ]
    seen: set[int] = set()
    for method, path, headers, body in calls:
        resp: httpx.Response = relaygate.http.request(method, path, headers=headers, json=body)
        seen.add(resp.status_code)
        assert str(resp.status_code) in _operation(spec, method, path)["responses"], (method, path, resp.status_code)
    assert {200, 400, 401, 403, 404, 409, 429} <= seen
