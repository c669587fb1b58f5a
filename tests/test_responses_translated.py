"""/v1/responses on Claude and Gemini channels: translated through chat both ways and checked by their strict fakes
(which refuse any request the real APIs refuse); every Response object and stream event valid under the openai SDK's
types; the conversation of a response relaygate produced is kept (per key, for the configured time) and sent with
the next turn."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import Response
from pydantic import BaseModel, TypeAdapter

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.test_responses import WEATHER, parse_events, raw_stream
from tests.upstreams.anthropic_mock import MockAnthropic
from tests.upstreams.gemini_mock import MockGemini
from tests.upstreams.server import MockServer

CLAUDE, GEMINI = "claude-sonnet-4-20250514", "gemini-2.5-flash"
PRICE = {"input_per_1m": 3.0, "output_per_1m": 15.0}
RESPONSE: TypeAdapter[Response] = TypeAdapter(Response)


@dataclass(frozen=True)
class Kind:
    type: str
    model: str
    fake: Callable[[], MockServer]


KINDS = [Kind("anthropic", CLAUDE, lambda: MockAnthropic(api_keys=[UPSTREAM_KEY], models=[CLAUDE])),
         Kind("gemini", GEMINI, lambda: MockGemini(api_keys=[UPSTREAM_KEY], models=[GEMINI]))]


@pytest.fixture(scope="module", params=KINDS, ids=[k.type for k in KINDS])
def upstream(request: pytest.FixtureRequest) -> Iterator[tuple[Kind, Any]]:
    kind: Kind = request.param
    fake = kind.fake().start()
    yield kind, fake
    fake.stop()


@dataclass
class Channel:
    kind: Kind
    fake: Any
    tenant: Tenant
    client: openai.OpenAI

    @property
    def model(self) -> str:
        return self.kind.model

    def sent(self) -> dict[str, Any]:
        return self.fake.requests[-1].json  # type: ignore[no-any-return]


def open_channel(relaygate: Relaygate, upstream: tuple[Kind, Any]) -> Iterator[Channel]:
    kind, fake = upstream
    fake.reset()
    tenant = make_tenant(relaygate, [fake.base_url], models=[kind.model], quota=10**9,
                         channel_fields={"type": kind.type})
    relaygate.ok("PUT", f"/api/prices/{kind.model}", PRICE)
    with relaygate.client(tenant.key) as client:
        yield Channel(kind, fake, tenant, client)


@pytest.fixture
def channel(relaygate: Relaygate, upstream: tuple[Kind, Any]) -> Iterator[Channel]:
    yield from open_channel(relaygate, upstream)


def create(ch: Channel, **body: Any) -> Response:
    raw = ch.client.responses.with_raw_response.create(model=ch.model, **body)
    return RESPONSE.validate_json(raw.text, strict=True)


def cost(usage: Any) -> int:
    usd = usage.input_tokens * Fraction(str(PRICE["input_per_1m"])) + usage.output_tokens * Fraction(
        str(PRICE["output_per_1m"]))
    return math.ceil(usd / 10**6 * 500_000)


def logs(relaygate: Relaygate, tenant: Tenant) -> list[dict[str, Any]]:
    return relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")  # type: ignore[no-any-return]


def spent(relaygate: Relaygate, tenant: Tenant) -> int:
    return 10**9 - int(relaygate.ok("GET", f"/api/keys/{tenant.key_id}")["remain_quota"])


def system_of(ch: Channel) -> str:
    body = ch.sent()
    if ch.kind.type == "anthropic":
        system = body["system"]
        return system if isinstance(system, str) else "".join(b["text"] for b in system)
    return "".join(p["text"] for p in body["systemInstruction"]["parts"])


def turns_of(ch: Channel) -> list[str]:
    """The texts of the conversation the upstream was sent, turn by turn."""
    body = ch.sent()
    if ch.kind.type == "anthropic":
        return [" ".join(b.get("text") or json.dumps(b.get("input") or b.get("content")) for b in m["content"])
                if isinstance(m["content"], list) else m["content"] for m in body["messages"]]
    return [" ".join(p.get("text") or json.dumps(p.get("functionCall") or p.get("functionResponse"))
                     for p in c["parts"]) for c in body["contents"]]


def test_a_text_answer_is_a_valid_response_billed_at_its_usage(relaygate: Relaygate, channel: Channel) -> None:
    resp = create(channel, input="say hello", instructions="be brief", temperature=0.5, max_output_tokens=300,
                  metadata={"team": "a"}, store=True, prompt_cache_key="k1", truncation="auto")
    assert resp.id.startswith("resp_") and resp.status == "completed" and resp.output_text
    assert resp.output[0].type == "message" and resp.output[0].id.startswith("msg_")
    assert (resp.model, resp.instructions, resp.temperature, resp.metadata) == (channel.model, "be brief", 0.5,
                                                                                 {"team": "a"})
    assert system_of(channel) == "be brief"
    assert resp.usage is not None and resp.usage.output_tokens > 0
    row = logs(relaygate, channel.tenant)[0]
    assert (row["endpoint"], row["prompt_tokens"], row["completion_tokens"]) == (
        "responses", resp.usage.input_tokens, resp.usage.output_tokens)
    assert row["cost"] == cost(resp.usage) == spent(relaygate, channel.tenant)


def test_a_stream_is_the_responses_event_sequence(relaygate: Relaygate, channel: Channel) -> None:
    status, content_type, body = raw_stream(relaygate, channel.tenant, {"model": channel.model, "input": "hello",
                                                                        "instructions": "be brief"})
    events = parse_events(body)
    assert status == 200 and content_type.startswith("text/event-stream") and b"[DONE]" not in body
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert "response.output_text.delta" in kinds
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert all(e["logprobs"] == [] for e in events if e["type"] == "response.output_text.delta")
    final = RESPONSE.validate_python(events[-1]["response"], strict=False)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert final.output_text == text and final.usage is not None
    assert logs(relaygate, channel.tenant)[0]["cost"] == cost(final.usage) == spent(relaygate, channel.tenant)


def test_the_sdk_stream_helper_assembles_the_translated_response(channel: Channel) -> None:
    with channel.client.responses.stream(model=channel.model, input="hello", tools=[WEATHER],  # type: ignore[list-item]
                                         tool_choice="none") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.status == "completed"


def test_the_sdk_stream_helper_assembles_reasoning_and_a_call_that_goes_back_as_it_came(channel: Channel) -> None:
    """An agent loop without previous_response_id: the SDK's stream helper accumulates a reasoning item and a
    function call, and its output items (the SDK's own objects) are sent back with the function's output."""
    ask = "What is the weather in Paris?"
    with channel.client.responses.stream(model=channel.model, input=ask, tools=[WEATHER],  # type: ignore[list-item]
                                         reasoning={"effort": "low", "summary": "auto"}) as stream:
        final = stream.get_final_response()
    reasoning, call = final.output
    assert reasoning.type == "reasoning" and reasoning.summary and reasoning.summary[0].text
    assert call.type == "function_call" and call.parsed_arguments
    turn = [{"role": "user", "content": ask}, *final.output,
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24 C"}]
    with channel.client.responses.stream(model=channel.model, input=turn,  # type: ignore[arg-type]
                                         tools=[WEATHER], reasoning={"effort": "low"}) as stream:  # type: ignore[list-item]
        answer = stream.get_final_response()
    assert "sunny, 24 C" in answer.output_text and answer.status == "completed"
    assert turns_of(channel)[0] == ask


def test_a_streamed_response_is_kept_and_continued(channel: Channel) -> None:
    with channel.client.responses.stream(model=channel.model, input="My name is Ada.") as stream:
        first = stream.get_final_response()
    with channel.client.responses.stream(model=channel.model, input="Name?", previous_response_id=first.id) as stream:
        second = stream.get_final_response()
    assert turns_of(channel) == ["My name is Ada.", first.output_text, "Name?"]
    assert second.previous_response_id == first.id and second.output_text


def test_an_answer_cut_at_max_output_tokens_is_incomplete(relaygate: Relaygate, channel: Channel) -> None:
    channel.fake.reply_text = " ".join(f"word{i}" for i in range(50))
    whole = create(channel, input="tell me a long story", max_output_tokens=16)
    assert whole.status == "incomplete" and whole.incomplete_details is not None
    assert whole.incomplete_details.reason == "max_output_tokens"
    _, _, body = raw_stream(relaygate, channel.tenant, {"model": channel.model, "input": "again",
                                                        "max_output_tokens": 16})
    events = parse_events(body)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_function_tool_round_trip_over_previous_response_id(channel: Channel) -> None:
    first = create(channel, input="What is the weather in Paris?", tools=[WEATHER], tool_choice="required")
    (call,) = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)
    second = create(channel, previous_response_id=first.id, tools=[WEATHER],
                    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24 C"}])
    assert "sunny, 24 C" in second.output_text
    turns = turns_of(channel)
    assert "What is the weather in Paris?" in turns[0] and "sunny, 24 C" in turns[-1]


def test_the_conversation_is_kept_and_sent_with_each_turn(channel: Channel) -> None:
    first = create(channel, input="My name is Ada.", instructions="first turn only")
    second = create(channel, input="What is my name?", previous_response_id=first.id)
    assert not {"system", "systemInstruction"} & set(channel.sent())  # instructions are not carried to the next turn
    third = create(channel, input="And again?", previous_response_id=second.id, instructions="third")
    turns = turns_of(channel)
    assert turns[0] == "My name is Ada." and turns[1] == first.output_text
    assert turns[2] == "What is my name?" and turns[3] == second.output_text and turns[4] == "And again?"
    assert system_of(channel) == "third" and third.previous_response_id == second.id


def test_reasoning_effort_becomes_a_thinking_budget_with_its_rules(channel: Channel) -> None:
    resp = create(channel, input="think first", reasoning={"effort": "medium", "summary": "auto"},
                  max_output_tokens=2000, temperature=0.3, top_p=0.5)
    body = channel.sent()
    if channel.kind.type == "anthropic":
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
        assert body["max_tokens"] > 8192 and "temperature" not in body and "top_p" not in body
    else:
        assert body["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 8192
    create(channel, input="think a little", reasoning={"effort": "low"}, max_output_tokens=100)
    if channel.kind.type == "anthropic":  # the smallest budget Claude takes, under max_tokens
        assert channel.sent()["thinking"]["budget_tokens"] == 1024 < channel.sent()["max_tokens"]
    reasoning = [o for o in resp.output if o.type == "reasoning"]
    assert reasoning and reasoning[0].summary and reasoning[0].summary[0].text


def test_a_json_schema_format_is_carried(channel: Channel) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
              "additionalProperties": False}
    resp = create(channel, input="answer in JSON", text={"format": {"type": "json_schema", "name": "answer",
                                                                    "schema": schema, "strict": True}})
    assert json.loads(resp.output_text)
    assert resp.text is not None and resp.text.format is not None and resp.text.format.type == "json_schema"

    class Answer(BaseModel):
        answer: str

    parsed = channel.client.responses.parse(model=channel.model, input="answer in JSON", text_format=Answer)
    assert parsed.output_parsed is not None and parsed.output_parsed.answer


def test_image_and_text_parts_reach_the_upstream(channel: Channel) -> None:
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
           "AAAABJRU5ErkJggg==")
    create(channel, input=[{"role": "user", "content": [{"type": "input_text", "text": "what is this"},
                                                        {"type": "input_image", "image_url": png, "detail": "auto"}]}])
    body = channel.sent()
    parts = body["messages"][0]["content"] if channel.kind.type == "anthropic" else body["contents"][0]["parts"]
    assert len(parts) == 2


def test_a_codex_cli_request_is_served_without_a_server_error(relaygate: Relaygate, channel: Channel) -> None:
    body = {"model": channel.model, "instructions": "You are Codex.", "store": False, "stream": True,
            "tools": [WEATHER, {"type": "local_shell"}, {"type": "web_search"}], "tool_choice": "auto",
            "parallel_tool_calls": False, "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": "session-1", "text": {"verbosity": "low"},
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather in Paris?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB0123"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]}
    status, _, raw = raw_stream(relaygate, channel.tenant, body)
    events = parse_events(raw)
    assert status == 200 and events[-1]["type"] == "response.completed"
    with pytest.raises(openai.NotFoundError):  # store=false: not kept
        channel.client.responses.retrieve(events[0]["response"]["id"])


def test_a_broken_stream_ends_with_response_failed_and_costs_nothing(relaygate: Relaygate, channel: Channel) -> None:
    for n, mode in enumerate(("stream_cut", "stream_error"), start=1):
        channel.fake.mode = mode
        status, _, body = raw_stream(relaygate, channel.tenant, {"model": channel.model, "input": "a long story"})
        events = parse_events(body)
        assert status == 200 and events[-1]["type"] == "response.failed"
        assert events[-1]["response"]["error"]["code"] == "server_error"
        assert "not billed" in events[-1]["response"]["error"]["message"]
        rows = logs(relaygate, channel.tenant)
        assert len(rows) == n and rows[0]["status"] == 502 and rows[0]["cost"] == 0
    assert spent(relaygate, channel.tenant) == 0


def test_what_a_chat_channel_cannot_carry_is_refused_clearly(relaygate: Relaygate, channel: Channel) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        create(channel, input="later", background=True)
    assert caught.value.param == "background"  # type: ignore[attr-defined]
    kept = create(channel, input="keep me")
    with pytest.raises(openai.BadRequestError) as refused:
        channel.client.responses.retrieve(kept.id)
    assert "does not serve" in refused.value.message
    assert spent(relaygate, channel.tenant) == cost(kept.usage)


def test_another_key_cannot_continue_a_kept_conversation(relaygate: Relaygate, channel: Channel) -> None:
    first = create(channel, input="my secret is 42")
    other = relaygate.ok("POST", "/api/keys", {"user_id": channel.tenant.user_id, "name": "other"})["key"]
    relaygate.wait_for(lambda: relaygate.http.get("/v1/models", headers={"Authorization": f"Bearer {other}"})
                       .status_code == 200)
    asked = len(channel.fake.requests)
    with relaygate.client(other) as intruder, pytest.raises(openai.BadRequestError) as caught:
        intruder.responses.create(model=channel.model, input="what is the secret?", previous_response_id=first.id)
    assert caught.value.code == "previous_response_not_found"
    assert len(channel.fake.requests) == asked
    unstored = create(channel, input="forget this", store=False)
    with pytest.raises(openai.BadRequestError):
        create(channel, input="again", previous_response_id=unstored.id)


@pytest.fixture(scope="module")
def short_memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    rg = Relaygate(Path(tmp_path_factory.mktemp("short")), env={"RELAYGATE_RESPONSES_TTL": "1"}).start()
    yield rg
    rg.close()


def test_a_conversation_is_forgotten_after_the_configured_time(short_memory: Relaygate,
                                                               upstream: tuple[Kind, Any]) -> None:
    for ch in open_channel(short_memory, upstream):
        first = create(ch, input="remember briefly")
        create(ch, input="still there?", previous_response_id=first.id)
        time.sleep(1.1)
        with pytest.raises(openai.BadRequestError) as caught:
            create(ch, input="and now?", previous_response_id=first.id)
        assert caught.value.code == "previous_response_not_found"
