"""The Responses API translations (protocols/responses.py and responses_answers.py), as pure functions.

Property tests draw random valid Responses requests (checked first by the strict fake's own rules, so they are ones
OpenAI accepts) and check that the chat request relaygate makes of them passes the strict fakes' rules for OpenAI
chat, Claude and Gemini; and that every Response object and stream event made from any chat answer validates under
the openai SDK's own types, with the SDK's stream assembly accepting the whole sequence.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from relaygate.core.errors import BadRequest
from relaygate.core.types import Usage
from relaygate.protocols import anthropic, gemini, responses, responses_answers
from tests.test_translation import (
    PNG,
    SETTINGS,
    TEXT,
    as_sent_to_gemini,
    check_anthropic_request,
    check_gemini_request,
)
from tests.upstreams import anthropic_wire, gemini_wire, openai_wire, responses_wire

RESPONSE: TypeAdapter[Response] = TypeAdapter(Response)
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}, "strict": True}


@st.composite
def items(draw: st.DrawFn, prefix: str) -> list[dict[str, Any]]:
    """Input items of a conversation: messages (text or parts), assistant answers, function call rounds, reasoning."""
    out: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["user", "parts", "system", "assistant", "output", "call", "reasoning"]))
        if kind == "user":
            out.append({"role": "user", "content": draw(TEXT)})
        elif kind == "parts":
            parts: list[dict[str, Any]] = [{"type": "input_text", "text": draw(TEXT)}]
            if draw(st.booleans()):
                parts.append({"type": "input_image", "detail": draw(st.sampled_from(["auto", "low", "high"])),
                              "image_url": draw(st.sampled_from([PNG, "https://example.com/cat.jpg"]))})
            out.append({"type": "message", "role": "user", "content": parts})
        elif kind == "system":
            out.append({"role": draw(st.sampled_from(["system", "developer"])), "content": draw(TEXT)})
        elif kind == "assistant":
            out.append({"role": "assistant", "content": draw(TEXT)})
        elif kind == "output":
            out.append({"type": "message", "role": "assistant", "id": f"msg_{prefix}{n}", "status": "completed",
                        "content": [{"type": "output_text", "text": draw(TEXT), "annotations": []}]})
        elif kind == "call":
            calls = [f"call_{prefix}{n}_{i}" for i in range(draw(st.integers(1, 2)))]
            out += [{"type": "function_call", "call_id": c, "name": "get_weather",
                     "arguments": orjson.dumps({"city": draw(TEXT)}).decode()} for c in calls]
            out += [{"type": "function_call_output", "call_id": c, "output": draw(st.one_of(
                TEXT, st.builds(lambda t: [{"type": "input_text", "text": t}], TEXT)))} for c in calls]
        else:
            out.append({"type": "reasoning", "id": f"rs_{prefix}{n}", "summary": [
                {"type": "summary_text", "text": draw(TEXT)}]})
    if all(i.get("type") == "reasoning" or i.get("role") in ("system", "developer") for i in out):
        out.append({"role": "user", "content": draw(TEXT)})  # a turn with nothing to answer is refused (tested below)
    return out


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid Responses request; with `reasoning` it is one for a reasoning model (no sampling fields)."""
    body: dict[str, Any] = {"model": "m", "input": draw(st.one_of(TEXT, items("t")))}
    if draw(st.booleans()):
        body["instructions"] = draw(TEXT)
    if draw(st.booleans()):
        body["max_output_tokens"] = draw(st.integers(16, 8192))
    if draw(st.booleans()):
        body["reasoning"] = {"effort": draw(st.sampled_from(["minimal", "low", "medium", "high"])),
                             "summary": draw(st.sampled_from(["auto", "concise", "detailed", None]))}
    else:
        if draw(st.booleans()):
            body["temperature"] = draw(st.floats(0, 2))
        if draw(st.booleans()):
            body["top_p"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        body["tools"] = [WEATHER, *draw(st.sampled_from([[], [{"type": "web_search"}]]))]
        body["tool_choice"] = draw(st.sampled_from(
            ["auto", "required", "none", {"type": "function", "name": "get_weather"},
             {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]}]))
        body["parallel_tool_calls"] = draw(st.booleans())
    if draw(st.booleans()):
        body["text"] = {"format": draw(st.sampled_from([{"type": "text"}, {"type": "json_object"}, {
            "type": "json_schema", "name": "answer", "strict": True, "schema": {
                "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
                "additionalProperties": False}}]))}
    for name, values in (("store", st.booleans()), ("stream", st.booleans()),
                         ("include", st.just(["reasoning.encrypted_content"])), ("metadata", st.just({"k": "v"})),
                         ("user", TEXT), ("prompt_cache_key", TEXT)):
        if draw(st.booleans()):
            body[name] = draw(values)
    if "reasoning" not in body:
        body.pop("include", None)
    return body


def fakes_accept(chat: dict[str, Any]) -> None:
    """The chat request passes the strict fakes: OpenAI's chat rules, then Claude's and Gemini's translations."""
    openai_wire.validate_chat(chat)
    claude = anthropic.chat_to_messages(chat, "claude-x")
    check_anthropic_request(claude)
    anthropic_wire.validate_request(claude)
    google = gemini.chat_to_request(as_sent_to_gemini(chat))
    check_gemini_request(google)
    gemini_wire.validate(google)


@SETTINGS
@given(requests(), st.one_of(st.just([]), items("p")))
def test_any_valid_responses_request_becomes_a_chat_request_every_strict_fake_accepts(
        body: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
    responses_wire.validate_create(body, reasoning_model="reasoning" in body)  # one OpenAI would take
    chat = responses.responses_to_chat(body, conversation=conversation)
    fakes_accept(chat)
    assert chat["model"] == "m"
    assert chat.get("max_tokens") == body.get("max_output_tokens")
    if isinstance(body.get("instructions"), str):
        assert chat["messages"][0] == {"role": "system", "content": body["instructions"]}
        assert gemini.chat_to_request(chat)["systemInstruction"]["parts"][0]["text"].startswith(body["instructions"])
    if "reasoning" in body:
        assert chat["reasoning_effort"] == body["reasoning"]["effort"]
        claude = anthropic.chat_to_messages(chat, "claude-x")
        forced = chat.get("tool_choice") == "required" or isinstance(chat.get("tool_choice"), dict)
        # a turn answering tool use cannot give Claude that turn's signed thinking back: thinking is off then
        roles = [m["role"] for m in chat["messages"]]
        answers_tools = "tool" in roles[len(roles) - roles[::-1].index("assistant"):] if "assistant" in roles else False
        if answers_tools:
            assert "thinking" not in claude
        elif body["reasoning"]["effort"] != "minimal" and not forced:
            # thinking: budget ≥ 1,024 below max_tokens, no temperature (forced tool use rules thinking out)
            assert 1024 <= claude["thinking"]["budget_tokens"] < claude["max_tokens"]
            assert "temperature" not in claude
    assert [t["function"]["name"] for t in chat.get("tools", [])] == (["get_weather"] if "tools" in body else [])
    assert bool(chat.get("stream")) == bool(body.get("stream"))
    turn = responses.input_items(body)
    calls = [m for m in chat["messages"] if m.get("tool_calls")]
    assert sum(len(m["tool_calls"]) for m in calls) == sum(
        1 for i in [*conversation, *turn] if i.get("type") == "function_call")


@SETTINGS
@given(requests())
def test_the_response_a_request_starts_validates_under_the_sdk_types(body: dict[str, Any]) -> None:
    start = responses_answers.response_object(body, response_id="resp_x", created_at=1_700_000_000)
    RESPONSE.validate_json(orjson.dumps(start), strict=True)
    assert start["status"] == "in_progress" and start["output"] == [] and start["model"] == "m"
    assert start["instructions"] == body.get("instructions")
    assert start["store"] is (body.get("store") is not False)
    assert [t["name"] for t in start["tools"]] == (["get_weather"] if "tools" in body else [])


counts = st.integers(0, 10**6)


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    """A chat.completion as the relay produces it from any channel (reasoning_content, tool calls, usage details)."""
    message: dict[str, Any] = {"role": "assistant", "content": draw(st.one_of(st.none(), TEXT))}
    if draw(st.booleans()):
        message["reasoning_content"] = draw(TEXT)
    if draw(st.booleans()):
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {
            "name": "get_weather", "arguments": orjson.dumps({"city": draw(TEXT)}).decode()}}
            for i in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        message["refusal"] = draw(TEXT)
    prompt, completion = draw(counts), draw(counts)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion,
                             "prompt_tokens_details": {"cached_tokens": draw(st.integers(0, prompt))},
                             "completion_tokens_details": {"reasoning_tokens": draw(st.integers(0, completion))}}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "claude-x", "usage": usage,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": draw(
                st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))}]}


@SETTINGS
@given(completions(), requests())
def test_any_chat_completion_becomes_a_valid_response(completion: dict[str, Any], body: dict[str, Any]) -> None:
    start = responses_answers.response_object(body, response_id="resp_abc", created_at=1)
    resp = responses_answers.completion_to_response(completion, start, completed_at=2)
    parsed = RESPONSE.validate_json(orjson.dumps(resp), strict=True)
    choice = completion["choices"][0]
    message = choice["message"]
    cut = choice["finish_reason"] in ("length", "content_filter")
    assert parsed.status == ("incomplete" if cut else "completed")
    assert (parsed.incomplete_details is not None) is cut
    assert parsed.output_text == (message["content"] or "")
    assert [o.call_id for o in parsed.output if o.type == "function_call"] == [
        c["id"] for c in message.get("tool_calls", [])]
    reasoning = [o for o in parsed.output if o.type == "reasoning"]
    assert len(reasoning) == (1 if message.get("reasoning_content") else 0)
    if reasoning and (body.get("reasoning") or {}).get("summary"):
        assert reasoning[0].summary[0].text == message["reasoning_content"]
    assert len({o.id for o in parsed.output}) == len(parsed.output)
    usage = completion["usage"]
    assert parsed.usage is not None
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens, parsed.usage.total_tokens) == (
        usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    assert parsed.usage.input_tokens_details.cached_tokens == usage["prompt_tokens_details"]["cached_tokens"]
    assert parsed.usage.output_tokens_details.reasoning_tokens == usage["completion_tokens_details"][
        "reasoning_tokens"]
    assert responses.usage_from(resp["usage"]) == responses.usage_from(responses.usage_to(
        responses.usage_from(resp["usage"]) or Usage()))


def as_chunks(completion: dict[str, Any], pieces: int) -> list[dict[str, Any]]:
    """A completion as the stream of chunks a channel sends: text, reasoning and arguments each in `pieces` deltas."""
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "claude-x"}
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    for key in ("reasoning_content", "content", "refusal"):
        if message.get(key):
            out += [chunk({key: p}) for p in openai_wire.split_pieces(message[key], pieces) if p]
    for i, call in enumerate(message.get("tool_calls", [])):
        args = call["function"]["arguments"]
        out.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                          "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
                for p in openai_wire.split_pieces(args, pieces) if p]
    out.append(chunk({}, choice["finish_reason"]))
    return [*out, {**base, "choices": [], "usage": completion["usage"]}]


def check_events(events: list[dict[str, Any]]) -> Any:
    """Every event valid under the SDK's types, numbered 0, 1, …, and assembled by the SDK's own stream state."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for event in events:
        EVENT.validate_json(orjson.dumps(event), strict=True)
        state.handle_event(EVENT.validate_python(event))
    assert events[0]["type"] == "response.created" and events[1]["type"] == "response.in_progress"
    return state


@SETTINGS
@given(completions(), requests(), st.integers(1, 4))
def test_any_chunk_stream_becomes_a_valid_responses_event_sequence(completion: dict[str, Any], body: dict[str, Any],
                                                                   pieces: int) -> None:
    start = responses_answers.response_object(body, response_id="resp_abc", created_at=1)
    conv = responses_answers.ChunksToEvents(start)
    events = [e for chunk in as_chunks(completion, pieces) for e in conv.on_chunk(chunk)]
    events += conv.finish(completed_at=2)
    check_events(events)
    whole = responses_answers.completion_to_response(completion, start, completed_at=2)
    assert conv.response is not None
    final = RESPONSE.validate_python(conv.response)
    assert final.status == whole["status"] and final.usage == RESPONSE.validate_python(whole).usage
    assert final.output_text == (completion["choices"][0]["message"]["content"] or "")
    assert events[-1]["type"] == ("response.completed" if final.status == "completed" else "response.incomplete")
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(d["logprobs"] == [] for d in deltas)
    assert [o["type"] for o in conv.response["output"]] == [o["type"] for o in whole["output"]]


@SETTINGS
@given(completions(), st.integers(0, 12))
def test_a_stream_broken_anywhere_ends_with_a_valid_response_failed(completion: dict[str, Any], cut: int) -> None:
    start = responses_answers.response_object({"model": "m", "input": "x"}, response_id="resp_abc", created_at=1)
    conv = responses_answers.ChunksToEvents(start)
    events = [e for chunk in as_chunks(completion, 2)[:cut] for e in conv.on_chunk(chunk)]
    events += conv.fail("upstream stream broke", code="server_error")
    check_events(events)
    assert events[-1]["type"] == "response.failed"
    failed = RESPONSE.validate_python(events[-1]["response"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert all(getattr(o, "status", None) in (None, "incomplete", "completed") for o in failed.output)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                               ["type", "role", "content", "text", "call_id", "name", "arguments", "output",
                                "image_url", "effort", "format", "schema"]), inner, max_size=4), max_leaves=10)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["input", "instructions", "tools", "tool_choice", "text", "reasoning",
                                        "max_output_tokens", "temperature", "stream", "model"]), json_values))
def test_no_request_body_breaks_the_translation_with_anything_but_a_clear_refusal(body: dict[str, Any]) -> None:
    try:
        chat = responses.responses_to_chat(body)
    except BadRequest as err:
        assert err.message and err.param
        return
    assert chat["messages"]


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["choices", "usage", "delta", "index", "finish_reason"]),
                                json_values, max_size=3), max_size=5))
def test_no_chunk_breaks_the_stream_converter(chunks: list[dict[str, Any]]) -> None:
    conv = responses_answers.ChunksToEvents(
        responses_answers.response_object({"model": "m"}, response_id="resp_abc", created_at=1))
    events = [e for chunk in chunks for e in conv.on_chunk(chunk)] + conv.finish(completed_at=2)
    check_events(events)
