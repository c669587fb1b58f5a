"""Gemini channels: the openai SDK calls Gemini models exactly as it calls GPT models."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.gemini_mock import MockGemini

MODEL = "gemini-2.0-flash"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"],
                   "additionalProperties": False}}}]


@pytest.fixture(scope="module")
def gemini_upstream() -> Iterator[MockGemini]:
    server = MockGemini(api_keys=[UPSTREAM_KEY], models=[MODEL, "gemini-2.5-flash"]).start()
    yield server
    server.stop()


@pytest.fixture
def gemini(gemini_upstream: MockGemini) -> MockGemini:
    gemini_upstream.reset()
    return gemini_upstream


@pytest.fixture
def gemini_tenant(relaygate: Relaygate, gemini: MockGemini) -> Tenant:
    return make_tenant(relaygate, [gemini.base_url], models=[MODEL, "gemini-2.5-flash"],
                       channel_fields={"type": "gemini"})


def _logs(relaygate: Relaygate, t: Tenant) -> list[dict[str, Any]]:
    return relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")  # type: ignore[no-any-return]


def test_text_answer_with_system_instruction_and_generation_config(relaygate: Relaygate, gemini_tenant: Tenant,
                                                                   gemini: MockGemini) -> None:
    client = relaygate.client(gemini_tenant.key)
    resp = client.chat.completions.create(model=MODEL, temperature=0.4, top_p=0.9, max_tokens=100, stop=["NEVER"],
                                          messages=[{"role": "system", "content": "be brief"},
                                                    {"role": "user", "content": "say hello"},
                                                    {"role": "assistant", "content": "hello"},
                                                    {"role": "user", "content": "again"}])
    assert resp.choices[0].message.content and resp.choices[0].finish_reason == "stop"
    sent = gemini.requests[-1]
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    body = sent.json
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {"temperature": 0.4, "topP": 0.9, "maxOutputTokens": 100,
                                        "stopSequences": ["NEVER"]}
    assert resp.usage is not None and resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0


def test_streaming_and_several_candidates(relaygate: Relaygate, gemini_tenant: Tenant, gemini: MockGemini) -> None:
    client = relaygate.client(gemini_tenant.key)
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "stream please"}]))
    assert "streamGenerateContent" in gemini.requests[-1].path and gemini.requests[-1].query.get("alt") == "sse"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    plain = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "stream please"}])
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    two = client.chat.completions.create(model=MODEL, n=2, messages=[{"role": "user", "content": "hi"}])
    assert [c.index for c in two.choices] == [0, 1]
    assert gemini.requests[-1].json["generationConfig"]["candidateCount"] == 2



def test_streamed_tool_call(relaygate: Relaygate, gemini_tenant: Tenant, gemini: MockGemini) -> None:
    client = relaygate.client(gemini_tenant.key)
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, tools=TOOLS,
                                                 messages=[{"role": "user", "content": "weather?"}]))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function is not None and calls[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_image_input_and_json_output(relaygate: Relaygate, gemini_tenant: Tenant, gemini: MockGemini) -> None:
    client = relaygate.client(gemini_tenant.key)
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert "1 image" in (resp.choices[0].message.content or "")
    part = gemini.requests[-1].json["contents"][0]["parts"][1]
    assert part["inlineData"]["mimeType"] == "image/png"
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "answer"}],
                                            response_format={"type": "json_schema",
                                                             "json_schema": {"name": "a", "schema": schema}})
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)
    config = gemini.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == schema



@pytest.mark.parametrize("stream", [False, True])
def test_gemini_usage_with_thoughts_is_logged_and_billed(relaygate: Relaygate, gemini: MockGemini,
                                                         stream: bool) -> None:
    model = "gemini-2.5-flash"
    t = make_tenant(relaygate, [gemini.base_url], models=[model], channel_fields={"type": "gemini"}, quota=10**9)
    relaygate.ok("PUT", f"/api/prices/{model}", {"input_per_1m": 0.3, "output_per_1m": 2.5})
    client = relaygate.client(t.key)
    messages: Any = [{"role": "user", "content": "think about it"}]
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True,
                                                     stream_options={"include_usage": True}, reasoning_effort="low"))
        usage = chunks[-1].usage
        assert "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    else:
        resp = client.chat.completions.create(model=model, messages=messages, reasoning_effort="low")
        usage = resp.usage
        assert getattr(resp.choices[0].message, "reasoning_content", None)
    thinking = gemini.requests[-1].json["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingBudget": 1024, "includeThoughts": True}
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens and usage.completion_tokens_details.reasoning_tokens > 0
    relaygate.wait_for(lambda: len(_logs(relaygate, t)) == 1)
    row = _logs(relaygate, t)[0]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
    expected = math.ceil((usage.prompt_tokens * Fraction("0.3") + usage.completion_tokens * Fraction("2.5"))
                         / 10**6 * 500_000)
    assert row["cost"] == expected
    key = relaygate.ok("GET", f"/api/keys/{t.key_id}")
    assert key["remain_quota"] == 10**9 - expected
