"""The fake OpenAI upstream's Responses API answers the official openai SDK as OpenAI would: every object and event
on the wire valid under the SDK's own types, streams in OpenAI's order, responses stored by id per API key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from openai.types.responses import FunctionToolParam, Response, ResponseItem, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.upstreams.openai_mock import MockOpenAI

KEY, OTHER = "sk-upstream-test", "sk-other-project"
MODELS = ("gpt-4o", "gpt-4o-mini", "o3")
WEATHER: FunctionToolParam = {"type": "function", "name": "get_weather", "description": "weather in a city",
                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                              "strict": False}
RESPONSE: TypeAdapter[Response] = TypeAdapter(Response)
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
ITEM: TypeAdapter[Any] = TypeAdapter(ResponseItem)


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[KEY, OTHER], models=MODELS).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockOpenAI) -> MockOpenAI:
    upstream.reset()
    return upstream


def client(mock: MockOpenAI, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=mock.base_url, api_key=key, max_retries=0, timeout=10)


def create(mock: MockOpenAI, **body: Any) -> Response:
    """POST /v1/responses through the SDK, the wire body checked strictly against the SDK's Response type."""
    with client(mock) as c:
        raw = c.responses.with_raw_response.create(**body)
    return RESPONSE.validate_json(raw.text, strict=True)


def stream(mock: MockOpenAI, **body: Any) -> list[dict[str, Any]]:
    """The events of a streamed POST /v1/responses as sent: `event:` names matching types, no [DONE], each event
    valid under the SDK's ResponseStreamEvent, sequence numbers 0, 1, 2, …"""
    with httpx.Client(timeout=10) as http:
        raw = http.post(f"{mock.base_url}/responses", headers={"Authorization": f"Bearer {KEY}"},
                        json={**body, "stream": True})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/event-stream")
    return parse_sse(raw.text)


def parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        event = orjson.loads(data.removeprefix("data: "))
        assert event["type"] == name.removeprefix("event: ")
        EVENT.validate_python(event, strict=False)
        EVENT.validate_json(data.removeprefix("data: "), strict=True)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(events[0]["sequence_number"],
                                                              events[0]["sequence_number"] + len(events)))
    return events


def test_a_text_answer_echoes_the_settings_and_counts_tokens(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input="say hello", instructions="be brief", temperature=0.5,
                  metadata={"team": "a"}, max_output_tokens=100)
    assert resp.id.startswith("resp_") and resp.object == "response" and resp.status == "completed"
    assert resp.output_text == "hello from mock 1 2 3 4 5 6 7 8"
    message = resp.output[0]
    assert message.type == "message" and message.id.startswith("msg_") and message.status == "completed"
    assert (resp.instructions, resp.temperature, resp.metadata, resp.max_output_tokens) == (
        "be brief", 0.5, {"team": "a"}, 100)
    assert resp.store is True and resp.background is False and resp.tool_choice == "auto"
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (7, 11, 18)
    assert resp.usage.input_tokens_details.cached_tokens == 0
    assert resp.usage.output_tokens_details.reasoning_tokens == 0
    sent = mock.requests[-1]
    assert (sent.method, sent.path, sent.headers["Authorization"]) == ("POST", "/v1/responses", f"Bearer {KEY}")
    assert sent.json["instructions"] == "be brief"
    assert mock.responses.stored[resp.id].request == sent.json


def test_message_items_with_text_and_image_parts_are_accepted(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input=[
        {"role": "developer", "content": "answer in English"},
        {"role": "user", "content": [{"type": "input_text", "text": "what is this"},
                                     {"type": "input_image", "image_url": "https://example.com/cat.png",
                                      "detail": "auto"}]},
        {"role": "assistant", "content": "a cat"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "sure?"}]}])
    assert resp.status == "completed" and resp.usage is not None
    assert resp.usage.input_tokens == 4 * 3 + 3 + 3 + 2 + 1


def test_a_stream_carries_every_event_in_openai_order(mock: MockOpenAI) -> None:
    mock.stream_chunks = 3
    events = stream(mock, model="gpt-4o", input="say hello")
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * 3, "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert events[0]["sequence_number"] == 0
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(d["logprobs"] == [] and d["obfuscation"] for d in deltas)
    assert "".join(d["delta"] for d in deltas) == events[-4]["text"] == "hello from mock 1 2 3 4 5 6 7 8"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] == 11
    assert mock.responses.stored[final["id"]].final == final


def test_the_bytes_of_each_stream_are_kept_by_response_id(mock: MockOpenAI) -> None:
    with httpx.Client(timeout=10) as http:
        raw = http.post(f"{mock.base_url}/responses", headers={"Authorization": f"Bearer {KEY}"},
                        json={"model": "gpt-4o", "input": "say hello", "stream": True})
    events = parse_sse(raw.text)
    assert mock.responses.streamed[events[0]["response"]["id"]] == raw.content


def test_obfuscation_is_left_out_when_the_client_turns_it_off(mock: MockOpenAI) -> None:
    events = stream(mock, model="gpt-4o", input="hi", stream_options={"include_obfuscation": False})
    assert not any("obfuscation" in e for e in events)


def test_the_sdk_stream_helper_assembles_the_final_response(mock: MockOpenAI) -> None:
    with client(mock) as c, c.responses.stream(model="gpt-4o", input="say hello") as events:
        texts = [e.delta for e in events if e.type == "response.output_text.delta"]
        final = events.get_final_response()
    assert "".join(texts) == final.output_text == "hello from mock 1 2 3 4 5 6 7 8"
    with client(mock) as c:
        kinds = [e.type for e in c.responses.create(model="gpt-4o", input="hi", stream=True)]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_a_function_tool_is_called_and_its_output_answered(mock: MockOpenAI) -> None:
    first = create(mock, model="gpt-4o", input="weather in Paris?", tools=[WEATHER])
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.arguments == '{"location": "Paris"}'
    assert call.call_id.startswith("call_") and call.status == "completed"
    second = create(mock, model="gpt-4o", previous_response_id=first.id, tools=[WEATHER],
                    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}])
    assert second.output_text == "The tool said: sunny, 21 C" and second.previous_response_id == first.id
    none = create(mock, model="gpt-4o", input="weather?", tools=[WEATHER], tool_choice="none")
    assert none.output[0].type == "message"
    forced = create(mock, model="gpt-4o", input="hi", tools=[WEATHER, {**WEATHER, "name": "get_time"}],
                    tool_choice={"type": "function", "name": "get_time"})
    assert forced.output[0].type == "function_call" and forced.output[0].name == "get_time"


def test_a_function_call_streams_its_arguments(mock: MockOpenAI) -> None:
    events = stream(mock, model="gpt-4o", input="weather?", tools=[WEATHER])
    assert [e["type"] for e in events][2:-1] == [
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done"]
    assert events[2]["item"]["arguments"] == "" and events[2]["item"]["status"] == "in_progress"
    assert "".join(e["delta"] for e in events if e["type"].endswith("arguments.delta")) == events[5]["arguments"]


def test_tool_calls_given_back_as_input_items_are_answered(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", tools=[WEATHER], input=[
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "rain"}]}])
    assert resp.output_text == "The tool said: rain"


def test_a_reasoning_model_reasons_with_a_summary_when_asked(mock: MockOpenAI) -> None:
    resp = create(mock, model="o3", input="hi", reasoning={"effort": "low", "summary": "auto"},
                  include=["reasoning.encrypted_content"])
    reasoning = resp.output[0]
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_")
    assert reasoning.summary[0].type == "summary_text" and reasoning.summary[0].text
    assert reasoning.encrypted_content
    assert resp.reasoning is not None and resp.reasoning.effort == "low"
    assert resp.usage is not None and resp.usage.output_tokens_details.reasoning_tokens == 64
    assert resp.usage.output_tokens == 64 + 11
    quiet = create(mock, model="o3", input="hi")
    assert quiet.output[0].type == "reasoning" and quiet.output[0].summary == []
    assert quiet.output[0].encrypted_content is None


def test_a_reasoning_stream_sends_the_summary_before_the_answer(mock: MockOpenAI) -> None:
    mock.stream_chunks = 2
    events = stream(mock, model="o3", input="hi", reasoning={"summary": "detailed"})
    assert [e["type"] for e in events][2:9] == [
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done"]
    assert events[9]["type"] == "response.output_item.added" and events[9]["output_index"] == 1


def test_an_answer_cut_at_max_output_tokens_is_incomplete(mock: MockOpenAI) -> None:
    mock.reply_text = " ".join(f"w{i}" for i in range(30))
    resp = create(mock, model="gpt-4o", input="talk", max_output_tokens=16)
    assert resp.status == "incomplete" and resp.incomplete_details is not None
    assert resp.incomplete_details.reason == "max_output_tokens"
    assert resp.output[0].type == "message" and resp.output[0].status == "incomplete"
    assert resp.output_text == " ".join(f"w{i}" for i in range(16))
    assert resp.usage is not None and resp.usage.output_tokens == 16
    events = stream(mock, model="gpt-4o", input="talk", max_output_tokens=16)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    thinking = create(mock, model="o3", input="talk", max_output_tokens=20)
    assert thinking.status == "incomplete" and [o.type for o in thinking.output] == ["reasoning"]


def test_a_json_schema_format_gets_json(mock: MockOpenAI) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
              "additionalProperties": False}
    resp = create(mock, model="gpt-4o", input="answer", text={"format": {
        "type": "json_schema", "name": "answer", "schema": schema, "strict": True}})
    assert orjson.loads(resp.output_text) == {"answer": "mock"}
    assert resp.text is not None and resp.text.format is not None and resp.text.format.type == "json_schema"


def test_previous_response_id_chains_carry_the_conversation_as_cached_tokens(mock: MockOpenAI) -> None:
    first = create(mock, model="gpt-4o", input="one two three")
    second = create(mock, model="gpt-4o", input="four", previous_response_id=first.id)
    third = create(mock, model="gpt-4o", input="five", previous_response_id=second.id)
    assert first.usage is not None and second.usage is not None and third.usage is not None
    assert second.usage.input_tokens_details.cached_tokens == (3 + 3) + (11 + 3)  # first turn: input + output
    assert second.usage.input_tokens == second.usage.input_tokens_details.cached_tokens + 3 + 1
    assert third.usage.input_tokens_details.cached_tokens == second.usage.input_tokens + 11 + 3
    assert [i.get("content") for i in mock.responses.stored[third.id].context if i.get("role") == "user"] == [
        "one two three", "four", "five"]


def test_instructions_are_not_carried_to_the_next_turn(mock: MockOpenAI) -> None:
    first = create(mock, model="gpt-4o", input="hi", instructions="many words of instructions here")
    second = create(mock, model="gpt-4o", input="hi", previous_response_id=first.id)
    assert first.usage is not None and second.usage is not None
    assert second.instructions is None
    assert second.usage.input_tokens == first.usage.input_tokens - 5 + (first.usage.output_tokens + 3) + (1 + 3)


def test_stored_responses_are_retrieved_listed_and_deleted(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                               {"role": "assistant", "content": "c"}])
    with client(mock) as c:
        got = c.responses.with_raw_response.retrieve(resp.id)
        assert RESPONSE.validate_json(got.text, strict=True) == resp
        page = c.responses.input_items.with_raw_response.list(resp.id)
        body = orjson.loads(page.text)
        assert [ITEM.validate_python(i).type for i in body["data"]] == ["message"] * 3
        assert body["first_id"] == body["data"][0]["id"] and body["has_more"] is False
        assert [i["content"][0]["text"] for i in body["data"]] == ["c", "b", "a"]  # newest first
        assert body["data"][0]["content"][0]["type"] == "output_text"
        ascending = [i.content[0].text for i in c.responses.input_items.list(resp.id, order="asc", limit=1)]
        assert ascending == ["a", "b", "c"]  # the SDK follows the cursor one item at a time
        assert c.responses.delete(resp.id) is None
        with pytest.raises(openai.NotFoundError, match=f"Response with id '{resp.id}' not found"):
            c.responses.retrieve(resp.id)
        with pytest.raises(openai.NotFoundError):
            c.responses.delete(resp.id)
    assert [r.method for r in mock.requests[-3:]] == ["DELETE", "GET", "DELETE"]


def test_a_response_is_invisible_to_another_api_key(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input="secret")
    with client(mock, OTHER) as other:
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(resp.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.delete(resp.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.input_items.list(resp.id)
        with pytest.raises(openai.BadRequestError, match="Previous response with id"):
            other.responses.create(model="gpt-4o", input="more", previous_response_id=resp.id)
    assert resp.id in mock.responses.stored


def test_an_unstored_response_cannot_be_retrieved_or_continued(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input="hi", store=False)
    assert resp.store is False and mock.responses.stored[resp.id].stored is False
    with client(mock) as c:
        with pytest.raises(openai.NotFoundError):
            c.responses.retrieve(resp.id)
        with pytest.raises(openai.BadRequestError) as refused:
            c.responses.create(model="gpt-4o", input="more", previous_response_id=resp.id)
    assert refused.value.code == "previous_response_not_found" and refused.value.param == "previous_response_id"
    assert f"Previous response with id '{resp.id}' not found." in str(refused.value)


def test_a_background_response_is_queued_then_completes(mock: MockOpenAI) -> None:
    mock.responses.background_seconds = 0.3
    queued = create(mock, model="gpt-4o", input="hi", background=True)
    assert queued.status == "queued" and queued.output == [] and queued.background is True
    with client(mock) as c:
        assert c.responses.retrieve(queued.id).status == "in_progress"
        deadline = time.monotonic() + 5
        while (done := c.responses.retrieve(queued.id)).status != "completed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.output_text == "hello from mock 1 2 3 4 5 6 7 8"
        assert c.responses.cancel(queued.id).status == "completed"  # a finished one is left as it is


def test_a_background_response_in_progress_can_be_cancelled(mock: MockOpenAI) -> None:
    mock.responses.background_seconds = 30
    queued = create(mock, model="gpt-4o", input="hi", background=True)
    with client(mock) as c:
        raw = c.responses.with_raw_response.cancel(queued.id)
        cancelled = RESPONSE.validate_json(raw.text, strict=True)
        assert cancelled.status == "cancelled" and c.responses.retrieve(queued.id).status == "cancelled"
        finished = create(mock, model="gpt-4o", input="hi")
        with pytest.raises(openai.BadRequestError, match="Cannot cancel a synchronous response"):
            c.responses.cancel(finished.id)


def test_a_finished_background_response_streams_again_from_a_sequence_number(mock: MockOpenAI) -> None:
    mock.responses.background_seconds = 0.0
    queued = create(mock, model="gpt-4o", input="hi", background=True)
    with httpx.Client(timeout=10) as http:
        raw = http.get(f"{mock.base_url}/responses/{queued.id}", params={"stream": "true", "starting_after": "2"},
                       headers={"Authorization": f"Bearer {KEY}"})
        events = parse_sse(raw.text)
        assert events[0]["sequence_number"] == 3 and events[-1]["type"] == "response.completed"
        plain = create(mock, model="gpt-4o", input="hi")
        refused = http.get(f"{mock.base_url}/responses/{plain.id}", params={"stream": "true"},
                           headers={"Authorization": f"Bearer {KEY}"})
        assert refused.status_code == 400
    with client(mock) as c:
        kinds = [e.type for e in c.responses.retrieve(queued.id, stream=True)]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]


def test_input_tokens_counts_what_a_create_would_send(mock: MockOpenAI) -> None:
    first = create(mock, model="gpt-4o", input="one two three", instructions="be brief")
    with client(mock) as c:
        counted = c.responses.input_tokens.with_raw_response.count(model="gpt-4o", input="one two three",
                                                                   instructions="be brief")
        assert orjson.loads(counted.text) == {"object": "response.input_tokens", "input_tokens": 8}
        assert first.usage is not None and first.usage.input_tokens == 8
        chained = c.responses.input_tokens.count(model="gpt-4o", input="four", previous_response_id=first.id)
        assert chained.input_tokens == (3 + 3) + (11 + 3) + (1 + 3)
        with pytest.raises(openai.BadRequestError, match="Unknown parameter: 'store'"):
            c.responses.input_tokens.count(model="gpt-4o", input="x", extra_body={"store": True})
