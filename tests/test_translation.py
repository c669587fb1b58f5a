"""The translations between OpenAI's chat format and Anthropic's and Gemini's, as pure functions.

Property tests draw random valid OpenAI chat requests and check that what relaygate would send upstream
obeys the provider's rules (the same rules the strict mock upstreams enforce), and that every usage and
finish reason an upstream can report maps to a valid OpenAI one.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaygate.core.errors import BadRequest
from relaygate.protocols import anthropic, anthropic_answers, content, gemini, gemini_answers
from relaygate.protocols.content import completion_chunks
from relaygate.providers import reasoning
from relaygate.providers.gemini import GeminiProvider
from relaygate.providers.openai import OpenAIOptions
from relaygate.relay.remote_images import remote_images
from tests.upstreams import anthropic_wire, gemini_wire

FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid OpenAI chat request: system, user (text or parts), assistant text, tool rounds."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": draw(st.sampled_from(["system", "developer"])), "content": draw(TEXT)})
    calls = 0
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["user", "parts", "assistant", "tools"]))
        if kind == "user":
            messages.append({"role": "user", "content": draw(TEXT)})
        elif kind == "parts":
            parts: list[dict[str, Any]] = [{"type": "text", "text": draw(TEXT)}]
            if draw(st.booleans()):
                url = draw(st.sampled_from([PNG, "https://example.com/cat.jpg"]))
                parts.append({"type": "image_url", "image_url": {"url": url}})
            messages.append({"role": "user", "content": parts})
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(TEXT)})
        else:
            n = draw(st.integers(1, 3))
            ids = [f"call_{calls + i}" for i in range(n)]
            calls += n
            messages.append({"role": "assistant", "content": draw(st.one_of(st.none(), TEXT)), "tool_calls": [
                {"id": i, "type": "function",
                 "function": {"name": "get_weather", "arguments": orjson.dumps({"city": draw(TEXT)}).decode()}}
                for i in ids]})
            messages += [{"role": "tool", "tool_call_id": i, "content": draw(TEXT)} for i in ids]
    body: dict[str, Any] = {"model": "m", "messages": messages}
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(1, 8192))
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 2))
    if draw(st.booleans()):
        body["stop"] = draw(st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3)))
    if draw(st.booleans()):
        body["tools"] = [{"type": "function", "function": {
            "name": "get_weather", "description": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                           "additionalProperties": False}}}]
        body["tool_choice"] = draw(st.sampled_from(
            ["auto", "required", "none", {"type": "function", "function": {"name": "get_weather"}}]))
    if draw(st.booleans()):
        body["response_format"] = draw(st.sampled_from([{"type": "json_object"}, {"type": "json_schema",
                                                        "json_schema": {"name": "x", "schema": {"type": "object"}}}]))
    body["stream"] = draw(st.booleans())
    return body


def check_anthropic_request(req: dict[str, Any]) -> None:
    """The Messages API's rules on a request body."""
    allowed = {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature",
               "top_k", "top_p", "tools", "tool_choice", "thinking", "service_tier"}
    assert set(req) <= allowed, set(req) - allowed
    assert isinstance(req["max_tokens"], int) and req["max_tokens"] >= 1
    assert 0 <= req.get("temperature", 0) <= 1
    turns = req["messages"]
    assert turns and turns[0]["role"] == "user"
    previous_tool_uses: set[str] = set()
    for i, turn in enumerate(turns):
        assert turn["role"] in ("user", "assistant")
        if i:
            assert turn["role"] != turns[i - 1]["role"], "roles must alternate"
        assert turn["content"], "no empty turns"
        uses = set()
        for block in turn["content"]:
            kind = block["type"]
            if kind == "text":
                assert block["text"].strip(), "Claude refuses whitespace-only text blocks"
            elif kind == "image":
                assert turn["role"] == "user"
                assert block["source"]["type"] in ("base64", "url")
            elif kind == "tool_use":
                assert turn["role"] == "assistant" and isinstance(block["input"], dict)
                uses.add(block["id"])
            elif kind == "tool_result":
                assert turn["role"] == "user" and block["tool_use_id"] in previous_tool_uses
            else:
                raise AssertionError(f"unexpected block {kind}")
        previous_tool_uses = uses
    for tool in req.get("tools", []):
        assert set(tool) <= {"name", "description", "input_schema"} and tool["input_schema"]["type"] == "object"
    if "tool_choice" in req:
        assert req["tool_choice"]["type"] in ("auto", "any", "tool", "none")


def check_gemini_request(req: dict[str, Any]) -> None:
    """The Gemini API's rules on a GenerateContentRequest body."""
    assert set(req) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
    called: set[str] = set()
    for turn in req["contents"]:
        assert turn["role"] in ("user", "model") and turn["parts"]
        for part in turn["parts"]:
            data = set(part) - {"thought", "thoughtSignature"}
            assert len(data) == 1, part
            (field,) = data
            if field == "functionCall":
                assert turn["role"] == "model"
                called.add(part[field]["name"])
            elif field == "functionResponse":
                assert turn["role"] == "user" and part[field]["name"] in called
                assert isinstance(part[field]["response"], dict)
            elif field == "inlineData":
                base64.b64decode(part[field]["data"], validate=True)
            else:
                assert field in ("text", "fileData")
    config = req.get("generationConfig", {})
    assert set(config) <= {"temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
                           "responseMimeType", "responseSchema", "responseJsonSchema", "presencePenalty",
                           "frequencyPenalty", "seed", "thinkingConfig"}


@SETTINGS
@given(chat_requests())
def test_any_valid_chat_request_becomes_a_valid_claude_request(body: dict[str, Any]) -> None:
    req = anthropic.chat_to_messages(body, "claude-x", default_max_tokens=None)
    check_anthropic_request(req)
    anthropic_wire.validate_request(req)  # the strict mock upstream's own rules
    assert req["model"] == "claude-x"
    assert req["max_tokens"] == body.get("max_tokens", anthropic.DEFAULT_MAX_TOKENS)
    texts = [b["text"] for t in req["messages"] for b in t["content"] if b["type"] == "text"]
    for message in body["messages"]:
        if message["role"] == "user" and isinstance(message["content"], str) and message["content"].strip():
            assert any(message["content"] in t for t in texts)


def as_sent_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """The chat body as the chat operation hands it to the Gemini translation: Gemini downloads no web URL, so
    every remote image was fetched and put inline (relay/remote_images.py; here the test's one URL becomes PNG)."""
    raw = orjson.dumps(body)
    assert remote_images(body, GeminiProvider.image_urls) == (["https://example.com/cat.jpg"]
                                                               if b"https://example.com/cat.jpg" in raw else [])
    return orjson.loads(raw.replace(b"https://example.com/cat.jpg", PNG.encode()))  # type: ignore[no-any-return]


@SETTINGS
@given(chat_requests())
def test_any_valid_chat_request_becomes_a_valid_gemini_request(body: dict[str, Any]) -> None:
    req = gemini.chat_to_request(as_sent_to_gemini(body))
    check_gemini_request(req)
    gemini_wire.validate(req)  # the strict mock upstream's own rules
    if "max_tokens" in body:
        assert req["generationConfig"]["maxOutputTokens"] == body["max_tokens"]


@SETTINGS
@given(chat_requests())
def test_front_door_translations_give_back_a_valid_chat_request(body: dict[str, Any]) -> None:
    """Anthropic → OpenAI and Gemini → OpenAI (the front doors) accept what the other direction produces."""
    claude = anthropic.chat_to_messages(body, "claude-x")
    back = anthropic.messages_to_chat(claude)
    assert back["max_tokens"] == claude["max_tokens"]
    assert all(m["role"] in ("system", "user", "assistant", "tool") for m in back["messages"])
    check_anthropic_request(anthropic.chat_to_messages(back, "claude-x"))
    google = gemini.chat_to_request(body)
    again = gemini.request_to_chat(google, "gemini-x", stream=bool(body.get("stream")))
    check_gemini_request(gemini.chat_to_request(again))


@SETTINGS
@given(st.sampled_from([*anthropic.STOP_TO_FINISH, "something_new", None]),
       st.fixed_dictionaries({}, optional={k: st.integers(0, 10**7) for k in (
           "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")}))
def test_every_claude_stop_reason_and_usage_maps(stop: str | None, usage: dict[str, int]) -> None:
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": stop,
           "content": [{"type": "text", "text": "hi"}], "usage": usage}
    body, got = anthropic_answers.message_to_completion(msg, created=1)
    assert body["choices"][0]["finish_reason"] in FINISH_REASONS
    assert got is not None
    assert got.prompt_tokens == sum(usage.get(k, 0) for k in (
        "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    assert got.completion_tokens == usage.get("output_tokens", 0)
    assert body["usage"]["total_tokens"] == got.prompt_tokens + got.completion_tokens
    back = anthropic_answers.completion_to_message(body, "claude-x")
    assert back["usage"]["input_tokens"] == usage.get("input_tokens", 0)
    assert back["stop_reason"] in anthropic.STOP_TO_FINISH


@SETTINGS
@given(st.sampled_from([*gemini.FINISH_FROM_GEMINI, "FINISH_REASON_UNSPECIFIED", "NEW_REASON"]),
       st.fixed_dictionaries({}, optional={k: st.integers(0, 10**7) for k in (
           "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount")}),
       st.booleans())
def test_every_gemini_finish_reason_and_usage_maps(reason: str, usage: dict[str, int], call: bool) -> None:
    part: dict[str, Any] = {"functionCall": {"name": "f", "args": {}}} if call else {"text": "hi"}
    resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": reason, "index": 0}],
            "usageMetadata": usage}
    body, got = gemini_answers.response_to_completion(resp, "gemini-x", created=1)
    finish = body["choices"][0]["finish_reason"]
    assert finish is None if reason == "FINISH_REASON_UNSPECIFIED" else finish in FINISH_REASONS
    assert got is not None
    assert got.completion_tokens == usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    assert got.reasoning_tokens == usage.get("thoughtsTokenCount", 0)
    back = gemini_answers.completion_to_response(body, "gemini-x")
    assert back["usageMetadata"]["candidatesTokenCount"] == usage.get("candidatesTokenCount", 0)


def test_claude_stream_events_become_chunks_with_tools_thinking_and_usage() -> None:
    conv = anthropic_answers.EventsToChunks(created=1, include_usage=True)
    events = [
        ("message_start", {"message": {"id": "msg_1", "model": "claude-x", "usage": {
            "input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 5}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_start", {"index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f"}}),
        ("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}}),
        ("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        ("ping", {}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
        ("message_stop", {}),
    ]
    chunks = [c for kind, data in events for c in conv.on_event(kind, data)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert {"reasoning_content": "hmm"} in deltas and {"content": "Hello"} in deltas
    tool_parts = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert tool_parts[0]["id"] == "toolu_1" and tool_parts[0]["function"]["name"] == "f"
    assert "".join(p["function"]["arguments"] for p in tool_parts) == '{"a":1}'
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 15
    assert chunks[-1]["usage"]["completion_tokens"] == 7 and conv.finished


def test_chunks_become_a_well_formed_claude_event_sequence() -> None:
    conv = anthropic_answers.ChunksToEvents(model="gpt-4o", message_id="msg_x")
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                                     "function": {"name": "f", "arguments": ""}}]}}]},
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    ]
    events = [e for chunk in chunks for e in conv.on_chunk(chunk)] + conv.finish()
    kinds = [k for k, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 4


def test_reasoning_models_get_max_completion_tokens_developer_role_and_no_sampling() -> None:
    body = {"model": "o1", "max_tokens": 100, "temperature": 0.2, "top_p": 0.5, "logprobs": True,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}
    out = reasoning.adapt(body, "o1", OpenAIOptions(), stream=False)
    assert out["max_completion_tokens"] == 100 and "max_tokens" not in out
    assert not {"temperature", "top_p", "logprobs"} & set(out)
    assert out["messages"][0]["role"] == "developer"
    merged = reasoning.adapt(body, "o1-mini", OpenAIOptions(), stream=False)
    assert merged["messages"] == [{"role": "user", "content": "be brief\n\nhi"}]
    kept = reasoning.adapt({**body, "temperature": 1}, "o3-mini", OpenAIOptions(), stream=False)
    assert kept["temperature"] == 1
    custom = OpenAIOptions(reasoning_models=("my-thinker",), no_stream_models=("my-thinker",))
    assert reasoning.is_reasoning("my-thinker", custom) and not reasoning.is_reasoning("gpt-4o", custom)
    streamed = reasoning.adapt({**body, "stream": True, "stream_options": {"include_usage": True}}, "my-thinker",
                               custom, stream=True)
    assert "stream" not in streamed and "stream_options" not in streamed


def test_a_finished_answer_replays_as_chunks() -> None:
    body = {"id": "x", "created": 1, "model": "o1", "usage": {"prompt_tokens": 1, "completion_tokens": 2},
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "done"}}]}
    chunks = completion_chunks(body, include_usage=True)
    assert chunks[0]["choices"][0]["delta"]["content"] == "done"
    assert chunks[1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[2]["usage"] == body["usage"]


@pytest.mark.parametrize("body, message", [
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "'n' must be 1"),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]}, "arguments"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:nope"}}]}]},
     "data URL"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "input_audio"),
])
def test_requests_claude_cannot_take_are_refused_clearly(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        anthropic.chat_to_messages({"model": "m", **body}, "claude-x")


def test_whitespace_only_stop_sequences_are_dropped_for_claude() -> None:
    # found by the property above: Claude refuses a stop sequence with no visible character
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": [" ", "\n", "END"]}
    req = anthropic.chat_to_messages(body, "claude-x")
    anthropic_wire.validate_request(req)
    assert req["stop_sequences"] == ["END"]
    assert "stop_sequences" not in anthropic.chat_to_messages({**body, "stop": " "}, "claude-x")


# integers inside what JSON serialisers write (orjson: 64 bits)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["usage", "a", "b"]), inner, max_size=3), max_leaves=8)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["usage", "data", "choices", "id", "x"]), json_values, max_size=4),
       st.dictionaries(st.sampled_from(["prompt_tokens", "total_tokens"]), st.integers(0, 10**6), max_size=2),
       st.booleans(), st.booleans())
def test_trailing_usage_is_the_top_level_usage_or_nothing(body: dict[str, Any], usage: dict[str, Any],
                                                          put_usage: bool, spaced: bool) -> None:
    if put_usage:
        body.pop("usage", None)
        body["usage"] = usage
    raw = orjson.dumps(body, option=orjson.OPT_INDENT_2 if spaced else 0)
    found = content.trailing_usage(raw)
    assert found is None or found == body.get("usage")
    if put_usage:  # the layout OpenAI-compatible servers write is always found
        assert found == usage


def test_trailing_usage_reads_an_embeddings_answer_without_parsing_the_vectors() -> None:
    raw = (b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2,' + b"0.3," * 1500
           + b'0.4]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}\n')
    assert content.trailing_usage(raw) == {"prompt_tokens": 5, "total_tokens": 5}
    # usage not last, nested, or the body is not an object: not certain, so None (the caller parses it all)
    assert content.trailing_usage(b'{"usage":{"prompt_tokens":1},"id":"x"}') is None
    assert content.trailing_usage(b'{"x":{"usage":{"prompt_tokens":1}}}') is None
    assert content.trailing_usage(b'["usage",{"usage":{"a":1}}]') is None
    assert content.trailing_usage(b'{"text":"\\"usage\\": {\\"a\\": 1}"}') is None


@pytest.mark.parametrize("bad", [-1, -(2**63), 10**12, 2**64, True, 1.5, "7", None])
def test_an_upstream_cannot_bill_a_negative_or_absurd_token_count(bad: Any) -> None:
    # OpenAI shape: a prompt or completion count that is not a count leaves usage unknown (counted locally)
    assert content.parse_usage({"prompt_tokens": bad, "completion_tokens": 3}) is None
    assert content.parse_usage({"prompt_tokens": 3, "completion_tokens": bad}) is None
    # details never exceed the totals they are part of, and a bad one counts as none
    usage = content.parse_usage({"prompt_tokens": 10, "completion_tokens": 4,
                                 "prompt_tokens_details": {"cached_tokens": bad, "cache_creation_tokens": 99},
                                 "completion_tokens_details": {"reasoning_tokens": bad}})
    assert usage is not None
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (0, 10, 0)
    # Claude and Gemini: a bad count reads as zero, never negative
    claude = anthropic.usage_from({"input_tokens": bad, "output_tokens": bad, "cache_read_input_tokens": bad})
    google = gemini.usage_from({"promptTokenCount": bad, "candidatesTokenCount": bad, "thoughtsTokenCount": bad})
    assert claude is not None and google is not None
    for found in (claude, google):
        assert (found.prompt_tokens, found.completion_tokens, found.cached_tokens) == (0, 0, 0)
