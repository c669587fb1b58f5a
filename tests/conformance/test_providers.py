"""One behaviour table run against every provider type through its strict fake: what an OpenAI client sees of a
channel must not depend on the channel's type (chat, streams, tools, usage and billing, errors, broken streams,
refusals, and the operations each type serves)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import openai
import pytest
from openai.types.responses import Response
from pydantic import TypeAdapter

from relaygate.providers.registry import PROVIDERS
from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.test_responses import parse_events
from tests.upstreams.anthropic_mock import MockAnthropic
from tests.upstreams.gemini_mock import MockGemini
from tests.upstreams.openai_mock import MockOpenAI
from tests.upstreams.server import MockServer

TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"],
                   "additionalProperties": False}}}]
PRICE = {"input_per_1m": 3.0, "output_per_1m": 15.0}
RESPONSE: TypeAdapter[Response] = TypeAdapter(Response)
RESPONSES_PATH = {"openai": "/v1/responses", "azure": "/openai/responses", "openrouter": "/api/v1/responses",
                  "anthropic": "/v1/messages", "gemini": "/v1beta/models/{model}:generateContent"}
"""Where /v1/responses goes: the upstream's own Responses API, or its chat API through the translation."""


@dataclass(frozen=True)
class Case:
    """How one provider type is reached through its fake, and what the table expects of it."""

    type: str
    model: str
    fake: Callable[[], MockServer]
    base_url: Callable[[Any], str]
    options: dict[str, Any]
    refuse: Callable[[Any], None]
    """Make the fake's answers content refusals, the way this type's upstream ends a refused answer."""
    failures: tuple[str, ...] = ()
    """The type's own ways of failing beyond the common ones (Claude's 529 overloaded, Gemini's 503)."""


def _openai() -> MockOpenAI:
    return MockOpenAI(api_keys=[UPSTREAM_KEY], models=["gpt-4o-mini", "text-embedding-3-small"])


def _openai_refuses(fake: MockOpenAI) -> None:
    fake.finish_reason_override = "content_filter"


def _claude_refuses(fake: MockAnthropic) -> None:
    fake.stop_reason_override = "refusal"


def _gemini_refuses(fake: MockGemini) -> None:
    fake.finish_reason_override = "SAFETY"


CASES = [
    Case("openai", "gpt-4o-mini", _openai, lambda f: f.base_url, {}, refuse=_openai_refuses),
    Case("azure", "gpt-4o-mini", _openai, lambda f: f.base_url.removesuffix("/v1"), {"api_version": "2024-06-01"},
         refuse=_openai_refuses),
    Case("openrouter", "gpt-4o-mini", _openai, lambda f: f.base_url.removesuffix("/v1"),
         {"site_url": "https://app.example", "app_name": "Example"}, refuse=_openai_refuses),
    Case("anthropic", "claude-3-5-sonnet-20241022",
         lambda: MockAnthropic(api_keys=[UPSTREAM_KEY], models=["claude-3-5-sonnet-20241022"]),
         lambda f: f.base_url, {}, refuse=_claude_refuses, failures=("529",)),
    Case("gemini", "gemini-2.0-flash", lambda: MockGemini(api_keys=[UPSTREAM_KEY], models=["gemini-2.0-flash"]),
         lambda f: f.base_url, {}, refuse=_gemini_refuses, failures=("503",)),
]


def test_the_table_covers_every_provider_type_that_serves_chat() -> None:
    # a type serving no chat (midjourney: tests/test_midjourney_*.py) has nothing for this table to run
    assert sorted(c.type for c in CASES) == sorted(t for t, p in PROVIDERS.items() if "chat" in p.serves)


@pytest.fixture(scope="module", params=CASES, ids=[c.type for c in CASES])
def upstream(request: pytest.FixtureRequest) -> Iterator[tuple[Case, Any]]:
    case: Case = request.param
    fake = case.fake().start()
    yield case, fake
    fake.stop()


@dataclass
class Channel:
    case: Case
    fake: Any
    tenant: Tenant
    client: openai.OpenAI


@pytest.fixture
def channel(relaygate: Relaygate, upstream: tuple[Case, Any]) -> Channel:
    case, fake = upstream
    fake.reset()
    extra = ["text-embedding-3-small"] if "embeddings" in PROVIDERS[case.type].serves else []
    tenant = make_tenant(relaygate, [case.base_url(fake)], models=[case.model, *extra], quota=10**9,
                         channel_fields={"type": case.type, "options": case.options, "timeout": 2})
    relaygate.ok("PUT", f"/api/prices/{case.model}", PRICE)
    return Channel(case, fake, tenant, relaygate.client(tenant.key))


def _logs(relaygate: Relaygate, t: Tenant, count: int) -> list[dict[str, Any]]:
    relaygate.wait_for(lambda: len(relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")) >= count)
    return relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")  # type: ignore[no-any-return]


def _cost(prompt: int, completion: int) -> int:
    usd = prompt * Fraction(str(PRICE["input_per_1m"])) + completion * Fraction(str(PRICE["output_per_1m"]))
    return math.ceil(usd / 10**6 * 500_000)


def _raw_stream(relaygate: Relaygate, channel: Channel, prompt: str) -> tuple[int, str, bytes]:
    """A stream request as plain HTTP: status, content type, the bytes as they came."""
    headers = {"Authorization": f"Bearer {channel.tenant.key}"}
    body = {"model": channel.case.model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    with relaygate.http.stream("POST", "/v1/chat/completions", headers=headers, json=body) as resp:
        return resp.status_code, resp.headers["content-type"], resp.read()


def _key_spent(relaygate: Relaygate, t: Tenant) -> int:
    return 10**9 - int(relaygate.ok("GET", f"/api/keys/{t.key_id}")["remain_quota"])


def test_a_text_answer_is_billed_at_the_usage_it_reports(relaygate: Relaygate, channel: Channel) -> None:
    resp = channel.client.chat.completions.create(model=channel.case.model, messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}])
    assert resp.object == "chat.completion" and resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert (row["status"], row["endpoint"], row["prompt_tokens"], row["completion_tokens"]) == (
        200, "chat", resp.usage.prompt_tokens, resp.usage.completion_tokens)
    assert row["cost"] == _cost(resp.usage.prompt_tokens, resp.usage.completion_tokens)
    assert _key_spent(relaygate, channel.tenant) == row["cost"]


def test_a_stream_ends_in_done_carries_usage_and_is_billed(relaygate: Relaygate, channel: Channel) -> None:
    chunks = list(channel.client.chat.completions.create(
        model=channel.case.model, messages=[{"role": "user", "content": "count to five"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert row["is_stream"] and row["status"] == 200
    assert row["cost"] == _cost(usage.prompt_tokens, usage.completion_tokens) == _key_spent(relaygate, channel.tenant)


def test_a_raw_stream_is_server_sent_events_ending_in_done(relaygate: Relaygate, channel: Channel) -> None:
    status, content_type, body = _raw_stream(relaygate, channel, "hi")
    assert status == 200 and content_type.startswith("text/event-stream")
    events = [e for e in body.split(b"\n\n") if e.strip()]
    assert events[-1] == b"data: [DONE]"
    for event in events[:-1]:
        assert json.loads(event.removeprefix(b"data: "))["object"] == "chat.completion.chunk"


def test_a_tool_call_round_trip(relaygate: Relaygate, channel: Channel) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = channel.client.chat.completions.create(model=channel.case.model, messages=messages, tools=TOOLS,
                                                   tool_choice="required")
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"location": "Paris"}  # type: ignore[union-attr]
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"}]
    second = channel.client.chat.completions.create(model=channel.case.model, messages=messages, tools=TOOLS)
    assert "sunny, 24 C" in (second.choices[0].message.content or "")


def test_a_streamed_tool_call_arrives_as_deltas(relaygate: Relaygate, channel: Channel) -> None:
    chunks = list(channel.client.chat.completions.create(
        model=channel.case.model, messages=[{"role": "user", "content": "weather in Paris?"}], tools=TOOLS,
        tool_choice="required", stream=True))
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert deltas and deltas[0].function is not None and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function is not None)
    assert json.loads(arguments) == {"location": "Paris"}
    assert any(c.choices and c.choices[0].finish_reason == "tool_calls" for c in chunks)


def test_the_upstreams_refusal_of_the_request_is_passed_through(relaygate: Relaygate, channel: Channel) -> None:
    channel.fake.mode = "400"
    with pytest.raises(openai.BadRequestError) as caught:
        channel.client.chat.completions.create(model=channel.case.model, messages=[{"role": "user", "content": "x"}])
    body = caught.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["message"]
    assert UPSTREAM_KEY not in caught.value.response.text
    assert caught.value.response.headers["x-request-id"].startswith("req_")
    assert _logs(relaygate, channel.tenant, 1)[0]["cost"] == 0 == _key_spent(relaygate, channel.tenant)


@pytest.mark.parametrize("mode", ["500", "429", "401", "timeout", "reset", "own"])
def test_a_failing_upstream_is_a_gateway_error_and_costs_nothing(relaygate: Relaygate, channel: Channel,
                                                                  mode: str) -> None:
    """A channel failure (server error, rate limit, bad credential, silence, reset, the type's own failures) is
    a 502 (504 for silence) in OpenAI's shape, unbilled, never showing the upstream's key."""
    modes = channel.case.failures if mode == "own" else ("403" if mode == "401" and mode not in channel.fake.MODES
                                                         else mode,)
    for n, each in enumerate(modes, start=1):
        channel.fake.mode = each
        channel.fake.hang_seconds = 10
        with pytest.raises(openai.APIStatusError) as caught:
            channel.client.chat.completions.create(model=channel.case.model, timeout=30,
                                                   messages=[{"role": "user", "content": "x"}])
        assert caught.value.status_code == (504 if each == "timeout" else 502), each
        assert set(caught.value.response.json()["error"]) == {"message", "type", "param", "code"}
        assert UPSTREAM_KEY not in caught.value.response.text
        assert all(row["cost"] == 0 for row in _logs(relaygate, channel.tenant, n))
    assert _key_spent(relaygate, channel.tenant) == 0


@pytest.mark.parametrize("mode", ["stream_cut", "stream_error"])
def test_a_stream_broken_by_the_upstream_ends_with_an_error_event_and_costs_nothing(
        relaygate: Relaygate, channel: Channel, mode: str) -> None:
    """Cut mid-way (the connection dropped) or ended by an error event of the upstream's own format."""
    channel.fake.mode = mode
    _, _, body = _raw_stream(relaygate, channel, "tell me a long story")
    last = [e for e in body.split(b"\n\n") if e.strip()][-1]
    assert b"[DONE]" not in body
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_error"
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert (row["status"], row["cost"]) == (502, 0)
    assert _key_spent(relaygate, channel.tenant) == 0


def test_a_content_refusal_finishes_as_content_filter(channel: Channel) -> None:
    channel.case.refuse(channel.fake)
    resp = channel.client.chat.completions.create(model=channel.case.model,
                                                  messages=[{"role": "user", "content": "something harmful"}])
    assert resp.choices[0].finish_reason == "content_filter"


def test_embeddings_and_completions_go_only_where_the_type_serves_them(relaygate: Relaygate,
                                                                       channel: Channel) -> None:
    serves = PROVIDERS[channel.case.type].serves
    auth = {"Authorization": f"Bearer {channel.tenant.key}"}
    before = len(channel.fake.requests)
    model = "text-embedding-3-small" if "embeddings" in serves else channel.case.model
    emb = relaygate.http.post("/v1/embeddings", headers=auth, json={"model": model, "input": "hi"})
    completion = relaygate.http.post("/v1/completions", headers=auth,
                                     json={"model": channel.case.model, "prompt": "Say hi"})
    for resp, operation in ((emb, "embeddings"), (completion, "completions")):
        if operation in serves:
            assert resp.status_code == 200, resp.text
        else:
            assert resp.status_code == 400, resp.text
            assert resp.json()["error"]["param"] == "model" and operation in resp.json()["error"]["message"]
    # what the type does not serve never reached its upstream
    assert len(channel.fake.requests) - before == len(serves & {"embeddings", "completions"})


def test_the_channel_type_reaches_the_upstream_its_own_way(channel: Channel) -> None:
    channel.client.chat.completions.create(model=channel.case.model, messages=[{"role": "user", "content": "hi"}])
    sent = channel.fake.requests[-1]
    expected_path = {
        "openai": "/v1/chat/completions",
        "azure": f"/openai/deployments/{channel.case.model}/chat/completions",
        "openrouter": "/api/v1/chat/completions",
        "anthropic": "/v1/messages",
        "gemini": f"/v1beta/models/{channel.case.model}:generateContent",
    }[channel.case.type]
    assert sent.path == expected_path
    if channel.case.type == "openrouter":
        assert sent.headers["HTTP-Referer"] == "https://app.example" and sent.headers["X-Title"] == "Example"
        assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_a_responses_request_is_a_valid_response_billed_at_its_usage(relaygate: Relaygate, channel: Channel) -> None:
    raw = channel.client.responses.with_raw_response.create(model=channel.case.model, input="say hello",
                                                            instructions="be brief")
    resp = RESPONSE.validate_json(raw.text, strict=True)
    assert resp.status == "completed" and resp.output_text and resp.usage is not None
    assert channel.fake.requests[-1].path == RESPONSES_PATH[channel.case.type].format(model=channel.case.model)
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert (row["endpoint"], row["prompt_tokens"], row["completion_tokens"]) == (
        "responses", resp.usage.input_tokens, resp.usage.output_tokens)
    assert row["cost"] == _cost(resp.usage.input_tokens, resp.usage.output_tokens) == _key_spent(relaygate,
                                                                                                 channel.tenant)


def _responses_stream(relaygate: Relaygate, channel: Channel) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {channel.tenant.key}"}
    body = {"model": channel.case.model, "input": "count to five", "stream": True}
    with relaygate.http.stream("POST", "/v1/responses", headers=headers, json=body) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        return parse_events(resp.read())


def test_a_responses_stream_is_numbered_events_ending_completed_and_billed(relaygate: Relaygate,
                                                                          channel: Channel) -> None:
    events = _responses_stream(relaygate, channel)
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    usage = RESPONSE.validate_python(events[-1]["response"]).usage
    assert usage is not None
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert row["is_stream"] and row["cost"] == _cost(usage.input_tokens, usage.output_tokens)


@pytest.mark.parametrize("mode", ["stream_cut", "stream_error"])
def test_a_broken_responses_stream_ends_failed_and_costs_nothing(relaygate: Relaygate, channel: Channel,
                                                                 mode: str) -> None:
    """Cut (relaygate ends it with response.failed) or failed by the upstream (an upstream speaking the Responses
    API ends it with its own error event, relayed as it is)."""
    channel.fake.mode = mode
    events = _responses_stream(relaygate, channel)
    native = channel.case.type in ("openai", "azure", "openrouter")
    assert events[-1]["type"] == ("error" if native and mode == "stream_error" else "response.failed")
    row = _logs(relaygate, channel.tenant, 1)[0]
    assert (row["status"], row["cost"]) == (502, 0) and _key_spent(relaygate, channel.tenant) == 0
