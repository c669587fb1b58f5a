"""Anthropic's and Gemini's own clients use relaygate, with any upstream behind it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.anthropic_mock import MockAnthropic
from tests.upstreams.gemini_mock import MockGemini
from tests.upstreams.openai_mock import MockOpenAI

CLAUDE = "claude-3-5-sonnet-20241022"
GEMINI = "gemini-2.0-flash"
WEATHER_TOOL: Any = {"name": "get_weather", "description": "Weather for a city", "input_schema": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}


@pytest.fixture(scope="module")
def claude() -> Iterator[MockAnthropic]:
    server = MockAnthropic(api_keys=[UPSTREAM_KEY], models=[CLAUDE]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gemini() -> Iterator[MockGemini]:
    server = MockGemini(api_keys=[UPSTREAM_KEY], models=[GEMINI]).start()
    yield server
    server.stop()


@pytest.fixture
def behind(request: pytest.FixtureRequest, relaygate: Relaygate, mock: MockOpenAI, claude: MockAnthropic,
           gemini: MockGemini) -> tuple[Tenant, str, Any]:
    """A tenant whose model `front-model` is served by the upstream type named by the test's parameter."""
    kind = request.param
    upstream: Any = {"openai": mock, "anthropic": claude, "gemini": gemini}[kind]
    upstream.reset()
    target = {"openai": "gpt-4o-mini", "anthropic": CLAUDE, "gemini": GEMINI}[kind]
    t = make_tenant(relaygate, [upstream.base_url], models=["front-model"], mapping={"front-model": target},
                    channel_fields={"type": kind})
    relaygate.ok("PUT", "/api/prices/front-model", {"input_per_1m": 1.0, "output_per_1m": 2.0})
    return t, kind, upstream


def _anthropic(relaygate: Relaygate, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=relaygate.base_url.removesuffix("/v1"), api_key=key, max_retries=0,
                               timeout=30)


ALL = pytest.mark.parametrize("behind", ["openai", "anthropic", "gemini"], indirect=True)


@ALL
def test_anthropic_sdk_messages(relaygate: Relaygate, behind: tuple[Tenant, str, Any]) -> None:
    t, kind, upstream = behind
    client = _anthropic(relaygate, t.key)
    msg = client.messages.create(model="front-model", max_tokens=200, system="be brief",
                                 messages=[{"role": "user", "content": "say hello"}])
    assert msg.type == "message" and msg.role == "assistant" and msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text" and msg.content[0].text
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    if kind == "anthropic":  # pass-through: the client's own body, only the model renamed
        assert upstream.requests[-1].json == {"model": CLAUDE, "max_tokens": 200, "system": "be brief",
                                              "messages": [{"role": "user", "content": "say hello"}]}
    relaygate.wait_for(lambda: len(relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")) == 1)
    row = relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")[0]
    assert row["prompt_tokens"] == msg.usage.input_tokens and row["completion_tokens"] == msg.usage.output_tokens
    assert row["cost"] > 0


@ALL
def test_anthropic_sdk_streaming(relaygate: Relaygate, behind: tuple[Tenant, str, Any]) -> None:
    t, _kind, _upstream = behind
    client = _anthropic(relaygate, t.key)
    with client.messages.stream(model="front-model", max_tokens=200,
                                messages=[{"role": "user", "content": "stream please"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    plain = client.messages.create(model="front-model", max_tokens=200,
                                   messages=[{"role": "user", "content": "stream please"}])
    assert text and text == plain.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@ALL
def test_anthropic_sdk_tool_round_trip(relaygate: Relaygate, behind: tuple[Tenant, str, Any]) -> None:
    t, _kind, _upstream = behind
    client = _anthropic(relaygate, t.key)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.messages.create(model="front-model", max_tokens=200, tools=[WEATHER_TOOL], messages=messages,
                                   tool_choice={"type": "any"})
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"location": "Paris"}
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "sunny, 24 C"}]}]
    second = client.messages.create(model="front-model", max_tokens=200, tools=[WEATHER_TOOL], messages=messages)
    assert "sunny" in second.content[0].text  # type: ignore[union-attr]


def test_anthropic_front_door_errors_have_anthropic_shape(relaygate: Relaygate, tenant: Tenant) -> None:
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        _anthropic(relaygate, "sk-wrong").messages.create(model="gpt-4o-mini", max_tokens=5,
                                                          messages=[{"role": "user", "content": "hi"}])
    assert bad_key.value.body["type"] == "error"  # type: ignore[index]
    assert bad_key.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    raw = relaygate.http.post("/v1/messages", headers={"x-api-key": tenant.key},
                              json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in raw.json()["error"]["message"]
    with pytest.raises(anthropic.NotFoundError):
        _anthropic(relaygate, tenant.key).messages.create(model="no-such-model", max_tokens=5,
                                                          messages=[{"role": "user", "content": "hi"}])
    for body in (b"{", b"[]", b'{"model": "gpt-4o-mini", "max_tokens": 5, "messages": "x"}'):
        resp = relaygate.http.post("/v1/messages", headers={"x-api-key": tenant.key}, content=body)
        assert resp.status_code == 400 and resp.json()["type"] == "error"


def _gemini_url(relaygate: Relaygate, model: str, method: str) -> str:
    return f"/v1beta/models/{model}:{method}"


@ALL
def test_gemini_format_generate_content(relaygate: Relaygate, behind: tuple[Tenant, str, Any]) -> None:
    t, kind, upstream = behind
    body = {"systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"text": "say hello"}]}],
            "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5}}
    resp = relaygate.http.post(_gemini_url(relaygate, "front-model", "generateContent"), json=body,
                               headers={"x-goog-api-key": t.key})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    cand = out["candidates"][0]
    assert cand["content"]["role"] == "model" and cand["content"]["parts"][0]["text"]
    assert cand["finishReason"] == "STOP"
    usage = out["usageMetadata"]
    assert usage["promptTokenCount"] > 0 and usage["totalTokenCount"] >= usage["promptTokenCount"]
    if kind == "gemini":
        assert upstream.requests[-1].json == body
    by_query = relaygate.http.post(_gemini_url(relaygate, "front-model", "generateContent") + f"?key={t.key}",
                                   json=body)
    assert by_query.status_code == 200


@ALL
def test_gemini_format_stream_and_function_call(relaygate: Relaygate, behind: tuple[Tenant, str, Any]) -> None:
    t, _kind, _upstream = behind
    body = {"contents": [{"role": "user", "parts": [{"text": "stream please"}]}]}
    url = _gemini_url(relaygate, "front-model", "streamGenerateContent") + "?alt=sse"
    with relaygate.http.stream("POST", url, json=body, headers={"x-goog-api-key": t.key}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in resp.iter_lines() if line.startswith("data:")]
    text = "".join(p.get("text", "") for e in events for c in e.get("candidates", [])
                   for p in c["content"]["parts"])
    assert text
    assert events[-1]["candidates"][0]["finishReason"] == "STOP" and events[-1]["usageMetadata"]["totalTokenCount"]
    schema = {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}}
    tools = {"functionDeclarations": [{"name": "get_weather", "description": "Weather", "parameters": schema}]}
    call = relaygate.http.post(_gemini_url(relaygate, "front-model", "generateContent"),
                               headers={"x-goog-api-key": t.key},
                               json={"contents": [{"role": "user", "parts": [{"text": "weather in Paris?"}]}],
                                     "tools": [tools], "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}})
    assert call.status_code == 200, call.text
    part = call.json()["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "get_weather" and part["functionCall"]["args"] == {"location": "Paris"}


def test_gemini_front_door_errors_have_google_shape(relaygate: Relaygate, tenant: Tenant) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    bad = relaygate.http.post("/v1beta/models/gpt-4o-mini:generateContent", json=body,
                              headers={"x-goog-api-key": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"]["status"] == "UNAUTHENTICATED"
    missing = relaygate.http.post("/v1beta/models/no-such:generateContent", json=body,
                                  headers={"x-goog-api-key": tenant.key})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
    wrong_role = relaygate.http.post("/v1beta/models/gpt-4o-mini:generateContent",
                                     headers={"x-goog-api-key": tenant.key},
                                     json={"contents": [{"role": "system", "parts": [{"text": "hi"}]}]})
    assert wrong_role.status_code == 400 and wrong_role.json()["error"]["status"] == "INVALID_ARGUMENT"
    method = relaygate.http.post("/v1beta/models/gpt-4o-mini:countTokens", json=body,
                                 headers={"x-goog-api-key": tenant.key})
    assert method.status_code == 404 and method.json()["error"]["status"] == "NOT_FOUND"
