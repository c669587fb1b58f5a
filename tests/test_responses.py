"""/v1/responses on OpenAI and Azure channels, through the official openai SDK: every request passed through as the
client wrote it, every answer and stream event relayed byte for byte, usage (cached and reasoning tokens too) billed
at the model's price."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import openai
import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

MODELS = ["gpt-4o-mini", "o3"]
PRICE = {"input_per_1m": 2.5, "output_per_1m": 10.0, "cache_read_per_1m": 1.25}
RESPONSE: TypeAdapter[Response] = TypeAdapter(Response)
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "weather in a city", "strict": True,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[UPSTREAM_KEY], models=MODELS).start()
    yield server
    server.stop()


@dataclass
class Channel:
    type: str
    fake: MockOpenAI
    tenant: Tenant
    client: openai.OpenAI


@pytest.fixture(params=["openai", "azure"])
def channel(request: pytest.FixtureRequest, relaygate: Relaygate, upstream: MockOpenAI) -> Iterator[Channel]:
    upstream.reset()
    kind = request.param
    base = upstream.base_url if kind == "openai" else upstream.base_url.removesuffix("/v1")
    options = {"api_version": "2024-10-21"} if kind == "azure" else {}
    tenant = make_tenant(relaygate, [base], models=MODELS, quota=10**9,
                         channel_fields={"type": kind, "options": options})
    for model in MODELS:
        relaygate.ok("PUT", f"/api/prices/{model}", PRICE)
    with relaygate.client(tenant.key) as client:
        yield Channel(kind, upstream, tenant, client)


def cost(usage: Any) -> int:
    """What the log must say a response cost: fresh input, cached input and output at their prices."""
    cached = usage.input_tokens_details.cached_tokens
    usd = ((usage.input_tokens - cached) * Fraction(str(PRICE["input_per_1m"]))
           + cached * Fraction(str(PRICE["cache_read_per_1m"]))
           + usage.output_tokens * Fraction(str(PRICE["output_per_1m"])))
    return math.ceil(usd / 10**6 * 500_000)


def logs(relaygate: Relaygate, tenant: Tenant, count: int) -> list[dict[str, Any]]:
    relaygate.wait_for(lambda: len(relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")) >= count)
    return relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")  # type: ignore[no-any-return]


def spent(relaygate: Relaygate, tenant: Tenant) -> int:
    return 10**9 - int(relaygate.ok("GET", f"/api/keys/{tenant.key_id}")["remain_quota"])


def raw_stream(relaygate: Relaygate, tenant: Tenant, body: dict[str, Any]) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with relaygate.http.stream("POST", "/v1/responses", headers=headers, json={**body, "stream": True}) as resp:
        return resp.status_code, resp.headers["content-type"], resp.read()


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """SSE events as OpenAI sends them: `event:` names matching their type, each valid under the SDK's types,
    sequence numbers 0, 1, 2, …, no [DONE]."""
    events = []
    for block in body.decode().strip().split("\n\n"):
        name, data = block.split("\n")
        event = orjson.loads(data.removeprefix("data: "))
        assert name == "event: " + event["type"]
        EVENT.validate_json(data.removeprefix("data: "), strict=True)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def upstream_path(ch: Channel) -> str:
    return "/v1/responses" if ch.type == "openai" else "/openai/responses"


def test_a_response_is_the_upstreams_own_bytes_and_is_billed_at_its_usage(relaygate: Relaygate,
                                                                           channel: Channel) -> None:
    raw = channel.client.responses.with_raw_response.create(
        model="gpt-4o-mini", input="say hello", instructions="be brief", metadata={"team": "a"},
        text={"verbosity": "low"}, max_output_tokens=200)
    resp = RESPONSE.validate_json(raw.text, strict=True)
    stored = channel.fake.responses.stored[resp.id]
    assert raw.content == orjson.dumps(stored.final)  # not one byte changed
    sent = channel.fake.requests[-1]
    assert sent.path == upstream_path(channel)
    if channel.type == "azure":
        assert sent.query == "api-version=2025-04-01-preview" and sent.headers["api-key"] == UPSTREAM_KEY
    assert sent.json == {"model": "gpt-4o-mini", "input": "say hello", "instructions": "be brief",
                         "metadata": {"team": "a"}, "text": {"verbosity": "low"}, "max_output_tokens": 200}
    row = logs(relaygate, channel.tenant, 1)[0]
    assert resp.usage is not None
    assert (row["endpoint"], row["status"], row["prompt_tokens"], row["completion_tokens"]) == (
        "responses", 200, resp.usage.input_tokens, resp.usage.output_tokens)
    assert row["cost"] == cost(resp.usage) == spent(relaygate, channel.tenant)


def test_azure_gets_the_deployment_as_the_model_on_its_responses_route(relaygate: Relaygate) -> None:
    """The model maps to the deployment name, which Azure's Responses API takes in the body; the channel's own
    recent api-version is used; the answer, its model the deployment's, comes back untouched and can be retrieved."""
    with MockOpenAI(api_keys=[UPSTREAM_KEY], models=["prod-mini"]) as fake:
        tenant = make_tenant(relaygate, [fake.base_url.removesuffix("/v1")], models=["gpt-4o-mini"],
                             mapping={"gpt-4o-mini": "prod-mini"}, quota=10**9,
                             channel_fields={"type": "azure", "options": {"api_version": "2025-04-01-preview"}})
        relaygate.ok("PUT", "/api/prices/gpt-4o-mini", PRICE)
        with relaygate.client(tenant.key) as client:
            raw = client.responses.with_raw_response.create(model="gpt-4o-mini", input="hi")
            resp = RESPONSE.validate_json(raw.text, strict=True)
            sent = fake.requests[-1]
            assert (sent.path, sent.query, sent.json["model"]) == ("/openai/responses",
                                                                   "api-version=2025-04-01-preview", "prod-mini")
            assert raw.content == orjson.dumps(fake.responses.stored[resp.id].final) and resp.model == "prod-mini"
            assert client.responses.retrieve(resp.id).output_text == resp.output_text
            assert fake.requests[-1].path == f"/openai/responses/{resp.id}"


def test_nulls_and_unknown_fields_reach_the_upstream_as_sent(relaygate: Relaygate, channel: Channel) -> None:
    headers = {"Authorization": f"Bearer {channel.tenant.key}"}
    body = {"model": "gpt-4o-mini", "input": "hi", "temperature": None, "instructions": None, "store": True}
    assert relaygate.http.post("/v1/responses", headers=headers, json=body).status_code == 200
    assert channel.fake.requests[-1].body == orjson.dumps(body)
    # OpenAI refuses a field it does not know; the refusal shows the field was sent
    resp = relaygate.http.post("/v1/responses", headers=headers, json={**body, "relaygate_probe": 1})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "relaygate_probe" and resp.json()["error"]["code"] == "unknown_parameter"


def test_a_stream_is_relayed_event_for_event_and_billed(relaygate: Relaygate, channel: Channel) -> None:
    channel.fake.stream_chunks = 4
    status, content_type, body = raw_stream(relaygate, channel.tenant, {"model": "gpt-4o-mini", "input": "hello"})
    assert status == 200 and content_type.startswith("text/event-stream")
    events = parse_events(body)
    response_id = events[0]["response"]["id"]
    assert body == channel.fake.responses.streamed[response_id]  # every event unchanged, in order, nothing added
    assert b"[DONE]" not in body and events[-1]["type"] == "response.completed"
    usage = RESPONSE.validate_python(events[-1]["response"]).usage
    row = logs(relaygate, channel.tenant, 1)[0]
    assert row["is_stream"] and row["status"] == 200 and row["first_chunk_ms"] is not None
    assert row["cost"] == cost(usage) == spent(relaygate, channel.tenant)


def test_the_sdk_streams_and_assembles_the_response(relaygate: Relaygate, channel: Channel) -> None:
    events = list(channel.client.responses.create(model="gpt-4o-mini", input="hello", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    with channel.client.responses.stream(model="gpt-4o-mini", input="hello") as stream:
        final = stream.get_final_response()
    assert final.output_text == text and final.status == "completed"


def test_reasoning_and_cached_tokens_are_billed_as_for_chat(relaygate: Relaygate, channel: Channel) -> None:
    first = channel.client.responses.create(model="o3", input="think about it", reasoning={"effort": "low",
                                                                                            "summary": "auto"})
    second = channel.client.responses.create(model="o3", input="and now?", previous_response_id=first.id)
    usage = second.usage
    assert usage is not None and usage.input_tokens_details.cached_tokens > 0
    assert usage.output_tokens_details.reasoning_tokens > 0
    row = logs(relaygate, channel.tenant, 2)[0]
    assert (row["cached_tokens"], row["reasoning_tokens"]) == (usage.input_tokens_details.cached_tokens,
                                                               usage.output_tokens_details.reasoning_tokens)
    assert row["cost"] == cost(usage)
    assert spent(relaygate, channel.tenant) == cost(first.usage) + cost(usage)


def test_a_cut_answer_is_incomplete_and_billed_for_what_it_made(relaygate: Relaygate, channel: Channel) -> None:
    channel.fake.reply_text = " ".join(f"word{i}" for i in range(40))
    status, _, body = raw_stream(relaygate, channel.tenant, {"model": "gpt-4o-mini", "input": "a long story",
                                                             "max_output_tokens": 16})
    events = parse_events(body)
    assert status == 200 and events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    usage = RESPONSE.validate_python(events[-1]["response"]).usage
    assert logs(relaygate, channel.tenant, 1)[0]["cost"] == cost(usage)


def test_a_codex_cli_request_passes_through_unchanged(relaygate: Relaygate, channel: Channel) -> None:
    """Codex CLI: stateless (store=false), streamed, tools, reasoning with summaries, encrypted reasoning back."""
    body = {"model": "o3", "instructions": "You are Codex.", "store": False, "stream": True,
            "tools": [WEATHER], "tool_choice": "auto", "parallel_tool_calls": False,
            "reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "session-1",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}]}
    status, _, raw = raw_stream(relaygate, channel.tenant, body)
    events = parse_events(raw)
    assert status == 200 and channel.fake.requests[-1].body == orjson.dumps(body)
    final = events[-1]["response"]
    assert raw == channel.fake.responses.streamed[final["id"]]
    reasoning, call = final["output"]
    assert reasoning["encrypted_content"] and call["type"] == "function_call"
    # the next turn sends everything back itself, encrypted reasoning included
    body["input"] = [*body["input"], reasoning, call,
                     {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]
    status, _, raw = raw_stream(relaygate, channel.tenant, body)
    assert status == 200 and "The tool said: sunny" in parse_events(raw)[-1]["response"]["output"][1]["content"][0][
        "text"]
    # store=false: relaygate remembers nothing of it either
    with pytest.raises(openai.NotFoundError):
        channel.client.responses.retrieve(final["id"])
