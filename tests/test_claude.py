"""Claude channels: the openai SDK calls Claude models exactly as it calls GPT models."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.anthropic_mock import MockAnthropic

MODEL = "claude-3-5-sonnet-20241022"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]


@pytest.fixture(scope="module")
def claude_upstream() -> Iterator[MockAnthropic]:
    server = MockAnthropic(api_keys=[UPSTREAM_KEY], models=[MODEL, "claude-3-5-haiku-20241022"]).start()
    yield server
    server.stop()


@pytest.fixture
def claude(claude_upstream: MockAnthropic) -> MockAnthropic:
    claude_upstream.reset()
    return claude_upstream


@pytest.fixture
def claude_tenant(relaygate: Relaygate, claude: MockAnthropic) -> Tenant:
    return make_tenant(relaygate, [claude.base_url], models=[MODEL, "claude-haiku"],
                       mapping={"claude-haiku": "claude-3-5-haiku-20241022"},
                       channel_fields={"type": "anthropic"})


def _logs(relaygate: Relaygate, t: Tenant) -> list[dict[str, Any]]:
    return relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")  # type: ignore[no-any-return]


def test_text_answer_with_system_extracted_and_headers_set(relaygate: Relaygate, claude_tenant: Tenant,
                                                           claude: MockAnthropic) -> None:
    client = relaygate.client(claude_tenant.key)
    resp = client.chat.completions.create(model=MODEL, temperature=1.6, stop=["NEVER"], messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"},
        {"role": "user", "content": "twice"}])
    assert resp.object == "chat.completion" and resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    sent = claude.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == UPSTREAM_KEY and sent.headers["anthropic-version"]
    body = sent.json
    assert body["system"] == "be brief" and body["max_tokens"] >= 1 and body["temperature"] == 1.0
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "say hello"},
                                                             {"type": "text", "text": "twice"}]}]
    assert body["stop_sequences"] == ["NEVER"]
    assert resp.usage is not None and resp.usage.completion_tokens > 0


def test_mapped_model_and_max_tokens_length(relaygate: Relaygate, claude_tenant: Tenant,
                                            claude: MockAnthropic) -> None:
    client = relaygate.client(claude_tenant.key)
    resp = client.chat.completions.create(model="claude-haiku", max_completion_tokens=2,
                                          messages=[{"role": "user", "content": "hello"}])
    assert claude.requests[-1].json["model"] == "claude-3-5-haiku-20241022"
    assert claude.requests[-1].json["max_tokens"] == 2
    assert resp.choices[0].finish_reason == "length"



def test_parallel_tool_calls_stream_as_indexed_deltas(relaygate: Relaygate, claude_tenant: Tenant,
                                                      claude: MockAnthropic) -> None:
    claude.parallel_tools = True
    client = relaygate.client(claude_tenant.key)
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, tools=TOOLS,
                                                 messages=[{"role": "user", "content": "weather?"}]))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            slot = calls.setdefault(tc.index, {"id": "", "args": ""})
            slot["id"] = tc.id or slot["id"]
            slot["args"] += tc.function.arguments or "" if tc.function else ""
    assert len(calls) == 2 and all(json.loads(c["args"]) == {"location": "Paris"} for c in calls.values())
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_image_input_and_json_output(relaygate: Relaygate, claude_tenant: Tenant, claude: MockAnthropic) -> None:
    client = relaygate.client(claude_tenant.key)
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}])
    assert "2 image" in (resp.choices[0].message.content or "")
    blocks = claude.requests[-1].json["messages"][0]["content"]
    assert blocks[1]["source"]["type"] == "base64" and blocks[1]["source"]["media_type"] == "image/png"
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    answer = client.chat.completions.create(model=MODEL, response_format={"type": "json_object"},
                                            messages=[{"role": "user", "content": "answer in json"}])
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)
    assert "JSON" in claude.requests[-1].json["system"]



def test_overloaded_claude_channel_fails_over_to_the_next(relaygate: Relaygate, claude: MockAnthropic) -> None:
    second = MockAnthropic(api_keys=[UPSTREAM_KEY], models=[MODEL]).start()
    try:
        t = make_tenant(relaygate, [claude.base_url, second.base_url], models=[MODEL],
                        channel_fields={"type": "anthropic"})
        claude.mode = "529"
        second_mode_ok = second.mode == "ok"
        client = relaygate.client(t.key)
        for _ in range(4):
            assert client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert second_mode_ok and second.count("/v1/messages") >= 1
    finally:
        second.stop()



@pytest.mark.parametrize("stream", [False, True])
def test_claude_usage_with_cache_tokens_is_logged_and_billed(relaygate: Relaygate, claude: MockAnthropic,
                                                             stream: bool) -> None:
    t = make_tenant(relaygate, [claude.base_url], models=[MODEL], channel_fields={"type": "anthropic"},
                    quota=10**9)
    relaygate.ok("PUT", f"/api/prices/{MODEL}", {"input_per_1m": 3.0, "output_per_1m": 15.0,
                                                  "cache_read_per_1m": 0.3, "cache_write_per_1m": 3.75})
    claude.cache_read_tokens, claude.cache_creation_tokens = 1000, 200
    client = relaygate.client(t.key)
    messages: Any = [{"role": "user", "content": "cached prompt please"}]
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                     stream_options={"include_usage": True}))
        usage = chunks[-1].usage
    else:
        usage = client.chat.completions.create(model=MODEL, messages=messages).usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1000
    fresh = usage.prompt_tokens - 1200
    assert fresh > 0
    relaygate.wait_for(lambda: len(_logs(relaygate, t)) == 1)
    row = _logs(relaygate, t)[0]
    assert (row["prompt_tokens"], row["cached_tokens"], row["cache_write_tokens"]) == (usage.prompt_tokens, 1000, 200)
    assert row["completion_tokens"] == usage.completion_tokens
    usd = (fresh * 3 + 1000 * Fraction("0.3") + 200 * Fraction("3.75") + usage.completion_tokens * 15) / 10**6
    expected = math.ceil(usd * 500_000)
    assert row["cost"] == expected
    key = relaygate.ok("GET", f"/api/keys/{t.key_id}")
    assert key["remain_quota"] == 10**9 - expected and key["used_quota"] == expected
