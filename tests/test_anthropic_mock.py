"""The fake Anthropic upstream answers the official anthropic SDK exactly as the Messages API would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import pytest
from anthropic.types import MessageParam, ToolParam

from tests.upstreams import anthropic_wire as wire
from tests.upstreams.anthropic_mock import MockAnthropic

KEY = "sk-upstream-test"
MODEL = "claude-3-5-sonnet-20241022"
OTHER = "claude-3-5-haiku-20241022"
HELLO: list[MessageParam] = [{"role": "user", "content": "say hello"}]
WEATHER: ToolParam = {"name": "get_weather", "description": "Weather for a city", "input_schema": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}
CLOCK: ToolParam = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockAnthropic]:
    server = MockAnthropic(api_keys=[KEY], models=[MODEL, OTHER]).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockAnthropic) -> MockAnthropic:
    upstream.reset()
    return upstream


@pytest.fixture(scope="module")
def http(upstream: MockAnthropic) -> Iterator[httpx.Client]:
    """One plain HTTP client for raw requests (a client per request would cost a TLS context each)."""
    with httpx.Client(base_url=upstream.base_url, timeout=5) as client:
        yield client


def _client(mock: MockAnthropic, key: str = KEY, timeout: float = 10,
            version: str | None = None) -> anthropic.Anthropic:
    headers = {"anthropic-version": version} if version else None
    return anthropic.Anthropic(base_url=mock.base_url, api_key=key, max_retries=0, timeout=timeout,
                               default_headers=headers)


def _post(http: httpx.Client, body: Any, *, version: str = wire.V2023, headers: dict[str, str] | None = None,
          path: str = "/v1/messages") -> httpx.Response:
    """A raw request the way relays send it: x-api-key, anthropic-version 2023-06-01."""
    sent = {"x-api-key": KEY, "anthropic-version": version, **(headers or {})}
    return http.post(path, json=body, headers=sent)


def _sse(resp: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, decoded data) pairs of an SSE body."""
    out: list[tuple[str, dict[str, Any]]] = []
    for frame in resp.text.split("\n\n"):
        if frame.strip():
            head, data = frame.split("\n")
            assert head.startswith("event: ") and data.startswith("data: ")
            out.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def _assert_error(resp: httpx.Response, status: int, type_: str, fragment: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"] == "error" and body["error"]["type"] == type_, body
    assert fragment in body["error"]["message"], body
    assert body["request_id"] == resp.headers["request-id"] and body["request_id"].startswith("req_mock")


def test_message_has_the_anthropic_shape_and_deterministic_usage(mock: MockAnthropic) -> None:
    with _client(mock) as client:
        raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, system="be brief",
                                                       messages=HELLO)
        msg = raw.parse()
    assert raw.headers["request-id"] == "req_mock1"
    assert (msg.id, msg.type, msg.role, msg.model) == ("msg_mock1", "message", "assistant", MODEL)
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].text == wire.DEFAULT_REPLY  # type: ignore[union-attr]
    assert (msg.stop_reason, msg.stop_sequence) == ("end_turn", None)
    usage = msg.usage
    assert (usage.input_tokens, usage.output_tokens) == (4, 10)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)
    sent = mock.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["Authorization"] == f"Bearer {KEY}" and sent.headers["anthropic-version"] == wire.V2026
    assert sent.json == {"model": MODEL, "max_tokens": 100, "system": "be brief", "messages": HELLO}
    assert mock.count("/v1/messages") == 1


def test_relay_style_request_with_x_api_key_system_blocks_and_sampling(mock: MockAnthropic, http: httpx.Client) -> None:
    body = {"model": MODEL, "max_tokens": 50, "messages": HELLO, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "u-1"}, "service_tier": "auto", "stream": False}
    ok = _post(http, body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["usage"]["input_tokens"] == 4 and ok.headers["request-id"] == "req_mock1"
    _assert_error(_post(http, body, version=wire.V2026), 400, "invalid_request_error", "temperature: not supported")
    with _client(mock) as client, pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, extra_body={"top_k": 5})
    assert err.value.type == "invalid_request_error" and "top_k" in (err.value.api_message or "")
    with _client(mock, version=wire.V2023) as client:
        assert client.messages.create(model=MODEL, max_tokens=10, messages=HELLO,
                                      extra_body={"temperature": 0.2}).content


def test_stream_helper_reassembles_the_text_and_the_final_message(mock: MockAnthropic) -> None:
    mock.reply_text = "one two three four five six seven"
    mock.stream_chunks = 3
    with _client(mock) as client, client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["one two ", "three four ", "five six seven"]
    assert final.content[0].text == mock.reply_text  # type: ignore[union-attr]
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 2, 7)
    assert len(mock.streams_finished_at) == 1


def test_raw_stream_follows_the_documented_event_sequence(mock: MockAnthropic, http: httpx.Client) -> None:
    resp = _post(http, {"model": MODEL, "max_tokens": 100, "messages": HELLO, "stream": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["request-id"] == "req_mock1"
    events = _sse(resp)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * 5,
                     "content_block_stop", "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["id"] == "msg_mock1"
    assert start["usage"] == {"input_tokens": 2, "output_tokens": 1, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == wire.DEFAULT_REPLY
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": 10}}
    with _client(mock) as client:
        kinds = [e.type for e in client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)]
    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * 5, "content_block_stop",
                     "message_delta", "message_stop"]


def test_tool_use_round_trip(mock: MockAnthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    with _client(mock) as client:
        first = client.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], messages=messages,
                                       tool_choice={"type": "any"})
        assert first.stop_reason == "tool_use"
        [use] = first.content
        assert use.type == "tool_use" and use.id == "toolu_mock1_1"
        assert (use.name, use.input) == ("get_weather", {"location": "Paris"})
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                                   "content": "sunny, 24 C"}]}]
        second = client.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], messages=messages)
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "The tool said: sunny, 24 C"  # type: ignore[union-attr]
    assert mock.requests[-1].json["messages"][1]["content"] == [
        {"type": "tool_use", "id": use.id, "name": "get_weather", "input": {"location": "Paris"}}]


def test_forced_parallel_none_and_streamed_tool_use(mock: MockAnthropic, http: httpx.Client) -> None:
    with _client(mock) as client:
        forced = client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER, CLOCK], messages=HELLO,
                                        tool_choice={"type": "tool", "name": "get_time"})
        mock.parallel_tools = True
        both = client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER], messages=HELLO)
        single = client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER], messages=HELLO,
                                        tool_choice={"type": "auto", "disable_parallel_tool_use": True})
        text = client.messages.create(model=MODEL, max_tokens=50, tools=[WEATHER], messages=HELLO,
                                      tool_choice={"type": "none"})
        with client.messages.stream(model=MODEL, max_tokens=50, tools=[WEATHER], messages=HELLO) as stream:
            streamed = stream.get_final_message()
    assert [b.name for b in forced.content] == ["get_time"]  # type: ignore[union-attr]
    assert [b.id for b in both.content] == ["toolu_mock2_1", "toolu_mock2_2"]  # type: ignore[union-attr]
    assert len(single.content) == 1 and (text.stop_reason, text.content[0].type) == ("end_turn", "text")
    assert streamed.stop_reason == "tool_use"
    assert [(b.type, b.input) for b in streamed.content] == [("tool_use", {"location": "Paris"})] * 2  # type: ignore[union-attr]
    events = _sse(_post(http, {"model": MODEL, "max_tokens": 50, "tools": [WEATHER], "messages": HELLO,
                               "stream": True}))
    assert events[1][1]["content_block"] == {"type": "tool_use", "id": f"toolu_mock{len(mock.requests)}_1",
                                             "name": "get_weather", "input": {}}
    parts = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta" and d["index"] == 0]
    assert parts[0] == "" and json.loads("".join(parts)) == {"location": "Paris"}


def test_a_rich_valid_conversation_is_accepted(mock: MockAnthropic) -> None:
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral",
                                                                                         "ttl": "1h"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "text", "text": "calling"},
                                          {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}},
                                          {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": [
                {"type": "text", "text": "rain"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]},
            {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": True, "content": "boom"},
            {"type": "text", "text": "and now?"}]},
        {"role": "assistant", "content": "Partly"},
    ]
    with _client(mock) as client:
        msg = client.messages.create(model=OTHER, max_tokens=100, messages=messages, tools=[WEATHER])
    assert msg.content[0].text == "I see 1 image(s). " + wire.DEFAULT_REPLY  # type: ignore[union-attr]
    # look + hmm + calling + two empty inputs ({}) + rain + image + boom + "and now?" + Partly
    assert msg.usage.input_tokens == 1 + 1 + 1 + 2 + 1 + wire.IMAGE_TOKENS + 1 + 2 + 1


def test_tool_results_are_echoed_and_images_counted(mock: MockAnthropic) -> None:
    image: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    url: Any = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    with _client(mock) as client:
        seen = client.messages.create(model=MODEL, max_tokens=100, messages=[
            {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image, url]}])
    assert seen.content[0].text.startswith("I see 2 image(s). ")  # type: ignore[union-attr]
    assert seen.usage.input_tokens == 3 + 2 * wire.IMAGE_TOKENS


def test_thinking_comes_first_and_streams_with_a_signature(mock: MockAnthropic) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    with _client(mock) as client:
        msg = client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, messages=HELLO)
        with client.messages.stream(model=MODEL, max_tokens=2048, thinking=thinking, messages=HELLO) as stream:
            kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
            final = stream.get_final_message()
    assert [b.type for b in msg.content] == ["thinking", "text"]
    block = msg.content[0]
    assert block.type == "thinking" and (block.thinking, block.signature) == (wire.THINKING_TEXT, wire.SIGNATURE)
    assert msg.usage.output_tokens == len(wire.THINKING_TEXT.split()) + len(wire.DEFAULT_REPLY.split())
    assert kinds == ["thinking_delta", "thinking_delta", "signature_delta", *["text_delta"] * 5]
    assert final.content[0].type == "thinking" and final.content[0].signature == "sig"
    assert final.content[0].thinking == wire.THINKING_TEXT


def test_stop_sequences_max_tokens_and_json_shape_the_reply(mock: MockAnthropic) -> None:
    with _client(mock) as client:
        stopped = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stop_sequences=["Claude", "mock"])
        cut = client.messages.create(model=MODEL, max_tokens=3, messages=HELLO)
        as_json = client.messages.create(model=MODEL, max_tokens=100,
                                         messages=[{"role": "user", "content": "answer in JSON"}])
        mock.reply_text = "custom words here"
        custom = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert stopped.content[0].text == "Hello from "  # type: ignore[union-attr]
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "mock")
    assert cut.content[0].text == "Hello from mock" and cut.stop_reason == "max_tokens"  # type: ignore[union-attr]
    assert cut.usage.output_tokens == 3
    assert json.loads(as_json.content[0].text) == {"answer": "mock"}  # type: ignore[union-attr]
    assert custom.content[0].text == "custom words here"  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [False, True])
def test_cache_tokens_are_reported(mock: MockAnthropic, stream: bool) -> None:
    mock.cache_read_tokens, mock.cache_creation_tokens = 1000, 200
    with _client(mock) as client:
        if stream:
            with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as s:
                usage = s.get_final_message().usage
        else:
            usage = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (2, 1000, 200)


def test_models_list_retrieve_and_unknown_models(mock: MockAnthropic, http: httpx.Client) -> None:
    with _client(mock) as client:
        page = client.models.list()
        one = client.models.retrieve(OTHER)
        with pytest.raises(anthropic.NotFoundError) as missing:
            client.messages.create(model="claude-9", max_tokens=10, messages=HELLO)
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("claude-9")
    assert [(m.id, m.display_name, m.type) for m in page.data] == [
        (MODEL, "Claude 3.5 Sonnet", "model"), (OTHER, "Claude 3.5 Haiku", "model")]
    assert (page.first_id, page.last_id, page.has_more) == (MODEL, OTHER, False)
    assert one.created_at.isoformat() == "2024-10-22T00:00:00+00:00"
    assert missing.value.type == "not_found_error" and missing.value.api_message == "model: claude-9"
    raw = http.get("/v1/models", headers={"x-api-key": KEY, "anthropic-version": wire.V2023})
    assert raw.json()["data"][0] == {"type": "model", "id": MODEL, "display_name": "Claude 3.5 Sonnet",
                                     "created_at": "2024-10-22T00:00:00Z"}


def test_keys_version_header_content_type_and_paths_are_checked(mock: MockAnthropic, http: httpx.Client) -> None:
    with _client(mock, key="sk-wrong") as client, pytest.raises(anthropic.AuthenticationError) as bad:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert bad.value.type == "authentication_error" and mock.requests[-1].headers["Authorization"] == "Bearer sk-wrong"
    body = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    _assert_error(_post(http, body, headers={"x-api-key": "sk-wrong"}), 401, "authentication_error",
                  "invalid x-api-key")
    nokey = http.post("/v1/messages", json=body, headers={"anthropic-version": wire.V2023})
    _assert_error(nokey, 401, "authentication_error", "x-api-key header is required")
    noversion = http.post("/v1/messages", json=body, headers={"x-api-key": KEY})
    _assert_error(noversion, 400, "invalid_request_error", "anthropic-version: header is required")
    _assert_error(_post(http, body, version="2024-01-01"), 400, "invalid_request_error", "anthropic-version")
    text = http.post("/v1/messages", content=b"hello", headers={
        "x-api-key": KEY, "anthropic-version": wire.V2023, "Content-Type": "text/plain"})
    _assert_error(text, 400, "invalid_request_error", "Content-Type must be application/json")
    broken = http.post("/v1/messages", content=b"{", headers={
        "x-api-key": KEY, "anthropic-version": wire.V2023, "Content-Type": "application/json"})
    _assert_error(broken, 400, "invalid_request_error", "not valid JSON")
    _assert_error(_post(http, body, path="/v1/chat/completions"), 404, "not_found_error", "POST /v1/chat/completions")
    _assert_error(_post(http, body, path="/v1/v1/messages"), 404, "not_found_error", "Not Found")


CHAT: list[Any] = [{"role": "user", "content": "hi"}]
TOOL_TURN: Any = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                    "input": {"location": "Paris"}}]}
RESULT: Any = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
PNG_AS_JPEG: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}
BMP: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": PNG}}
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
     'roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'),
    ({"messages": [*CHAT, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]},
     'multiple "assistant" roles in a row'),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 'first message must use the "user" role'),
    ({"messages": [{"role": "system", "content": "be brief"}, *CHAT]},
     "messages.0.role: Input should be 'user' or 'assistant' (the system prompt is the top-level `system`"),
    ({"messages": [*CHAT, {"role": "tool", "content": "x"}]}, "messages.1.role"),
    ({"max_tokens": None}, "max_tokens: Input should be a valid integer"),
    ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
    ({"messages": []}, "messages: at least one message is required"),
    ({"messages": [{"role": "user", "content": ""}]}, "messages.0: all messages must have non-empty content"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]}, "non-whitespace text"),
    ({"messages": [*CHAT, {"role": "assistant", "content": "Sure "}]}, "cannot end with trailing whitespace"),
    ({"n": 2}, "n: Extra inputs are not permitted"),
    ({"frequency_penalty": 0.5}, "frequency_penalty: Extra inputs are not permitted"),
    ({"response_format": {"type": "json_object"}}, "response_format: Extra inputs are not permitted"),
    ({"stream_options": {"include_usage": True}}, "stream_options: Extra inputs are not permitted"),
    ({"max_completion_tokens": 5}, "max_completion_tokens: Extra inputs are not permitted (an OpenAI"),
    ({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}, "messages.0.name: Extra inputs are not"),
    ({"metadata": {"user_id": "u", "session": "s"}}, "metadata.session: Extra inputs are not permitted"),
    ({"tool_choice": "auto", "tools": [WEATHER]}, "tool_choice: Input should be a valid dictionary"),
    ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "tools": [WEATHER]},
     "tool_choice.type: Input tag 'function'"),
    ({"tool_choice": {"type": "tool"}, "tools": [WEATHER]}, "tool_choice.tool.name: Field required"),
    ({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [WEATHER]}, "Tool 'nope' not found"),
    ({"tool_choice": {"type": "none", "disable_parallel_tool_use": True}, "tools": [WEATHER]},
     "tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted"),
    ({"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]}, "OpenAI-style"),
    ({"tools": [{"name": "get weather", "input_schema": {"type": "object"}}]}, "tools.0.custom.name"),
    ({"tools": [{"name": "x", "input_schema": {"type": "array"}}]}, "tools.0.custom.input_schema.type"),
    ({"tools": [{"name": "x", "parameters": {"type": "object"}}]}, "tools.0.custom.parameters: Extra inputs"),
    ({"tools": [WEATHER, WEATHER]}, "Tool names must be unique"),
    ({"messages": [{"role": "user", "content": [RESULT]}]},
     "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1. Each `tool_result` "
     "block must have a corresponding `tool_use` block in the previous message."),
    ({"messages": [*CHAT, TOOL_TURN, {"role": "user", "content": "thanks"}]},
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
    ({"messages": [*CHAT, TOOL_TURN, {"role": "user", "content": [{"type": "text", "text": "x"}, RESULT]}]},
     "messages.2: Did not find 1 tool_result block(s) at the beginning of this message"),
    ({"messages": [*CHAT, TOOL_TURN, {"role": "user", "content": [RESULT]}, TOOL_TURN,
                   {"role": "user", "content": [RESULT]}]}, "`tool_use` ids must be unique: toolu_1"),
    ({"messages": [{"role": "user", "content": TOOL_TURN["content"]}]},
     'messages.0.content.0: `tool_use` blocks may only appear in "assistant" messages'),
    ({"messages": [*CHAT, {"role": "assistant", "content": [RESULT]}]},
     '`tool_result` blocks may only appear in "user" messages'),
    ({"messages": [*CHAT, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": '{"location": "Paris"}'}]}]},
     "messages.1.content.0.tool_use.input: Input should be a valid dictionary"),
    ({"messages": [*CHAT, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call 1", "name": "get_weather", "input": {}}]}]},
     "messages.1.content.0.tool_use.id: String should match pattern"),
    ({"messages": [{"role": "user", "content": [BMP]}]},
     "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
     "'image/gif' or 'image/webp'"),
    ({"messages": [{"role": "user", "content": [PNG_AS_JPEG]}]},
     "Image does not match the provided media type image/jpeg"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "data:image/png;base64," + PNG}}]}]},
     "image.source.base64.data: invalid base64 data"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
     "messages.0.content.0.type: Input tag 'image_url'"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "extra": 1}]}]},
     "messages.0.content.0.text.extra: Extra inputs are not permitted"),
    ({"system": [{"type": "text", "text": "a", "cache_control": {"type": "persistent"}}]},
     "system.0.cache_control.type"),
    ({"temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
    ({"top_p": -0.1}, "top_p: Input should be greater than or equal to 0"),
    ({"stream": "yes"}, "stream: Input should be a valid boolean"),
    ({"stop_sequences": "END"}, "stop_sequences: Input should be a valid list of strings"),
    ({"thinking": {"type": "enabled", "budget_tokens": 512}, "max_tokens": 2048},
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    ({"thinking": THINKING, "max_tokens": 1024}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ({"thinking": THINKING, "max_tokens": 2048, "temperature": 0.5},
     "`temperature` may only be set to 1 when thinking is enabled"),
    ({"thinking": THINKING, "max_tokens": 2048, "tools": [WEATHER], "tool_choice": {"type": "any"}},
     "Thinking may not be enabled when tool_choice forces tool use."),
    ({"thinking": THINKING, "max_tokens": 2048, "tools": [WEATHER], "messages": [
        *CHAT, {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "get_weather",
                                                  "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "rain"}]}]},
     "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` "
     "is enabled, a final `assistant` message must start with a thinking block"),
    ({"model": 5}, "model: Input should be a valid, non-empty string"),
])
def test_malformed_requests_are_rejected_naming_the_field(mock: MockAnthropic, http: httpx.Client,
                                                          extra: dict[str, Any], fragment: str) -> None:
    body = {"model": MODEL, "max_tokens": 100, "messages": CHAT, **extra}
    _assert_error(_post(http, body), 400, "invalid_request_error", fragment)


def test_missing_required_fields_and_2026_rules(mock: MockAnthropic, http: httpx.Client) -> None:
    for name in ("model", "max_tokens", "messages"):
        body = {k: v for k, v in {"model": MODEL, "max_tokens": 5, "messages": CHAT}.items() if k != name}
        _assert_error(_post(http, body), 400, "invalid_request_error", f"{name}: Field required")
    cited: Any = {"role": "user", "content": [{"type": "text", "text": "x", "citations": [{"type": "char_location"}]}]}
    body = {"model": MODEL, "max_tokens": 5, "messages": [cited]}
    assert _post(http, body).status_code == 200
    _assert_error(_post(http, body, version=wire.V2026), 400, "invalid_request_error",
                  "citations on text blocks in user messages are not accepted")


@pytest.mark.parametrize(("mode", "error", "type_"), [
    ("500", anthropic.InternalServerError, "api_error"),
    ("529", anthropic.OverloadedError, "overloaded_error"),
    ("429", anthropic.RateLimitError, "rate_limit_error"),
    ("401", anthropic.AuthenticationError, "authentication_error"),
    ("400", anthropic.BadRequestError, "invalid_request_error"),
])
def test_failure_modes_surface_as_sdk_errors(mock: MockAnthropic, mode: str, error: type[anthropic.APIStatusError],
                                             type_: str) -> None:
    mock.mode = mode
    with _client(mock) as client, pytest.raises(error) as err:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert err.value.type == type_ and err.value.request_id == "req_mock1"
    assert err.value.body["type"] == "error"  # type: ignore[index]
    if mode == "429":
        assert err.value.response.headers["retry-after"] == "1"
    if mode == "400":
        assert "prompt is too long" in (err.value.api_message or "")
    if mode == "529":
        assert isinstance(err.value, anthropic.InternalServerError) and err.value.status_code == 529


def test_reset_mode_is_a_connection_error(mock: MockAnthropic) -> None:
    mock.mode = "reset"
    with _client(mock) as client, pytest.raises(anthropic.APIConnectionError) as err:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert not isinstance(err.value, anthropic.APITimeoutError)


def test_timeout_mode_outlasts_a_short_client_timeout(mock: MockAnthropic) -> None:
    mock.mode = "timeout"
    mock.hang_seconds = 2
    with _client(mock, timeout=0.5) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)


def test_stream_cut_drops_the_connection_after_two_text_deltas(mock: MockAnthropic) -> None:
    mock.fail_next("stream_cut")
    seen: list[str] = []
    # the SDK does not wrap a connection lost mid-body: httpx's own transport error reaches the caller
    with _client(mock) as client, pytest.raises(httpx.TransportError):
        for event in client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                seen.append(event.delta.text)
    assert seen == ["Hello from ", "mock Claude "]
    assert mock.streams_finished_at == []


def test_stream_error_sends_an_error_event_and_ends_the_stream(mock: MockAnthropic, http: httpx.Client) -> None:
    mock.mode = "stream_error"
    seen: list[str] = []
    with (_client(mock) as client, pytest.raises(anthropic.APIStatusError) as err,
          client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream):
        for text in stream.text_stream:
            seen.append(text)
    assert err.value.type == "overloaded_error" and err.value.api_message == "Overloaded"
    assert seen == ["Hello from ", "mock Claude "]
    events = _sse(_post(http, {"model": MODEL, "max_tokens": 100, "messages": HELLO, "stream": True}))
    assert [n for n, _ in events][-2:] == ["content_block_delta", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert mock.streams_finished_at == []
    mock.mode = "ok"
    with _client(mock) as client:
        assert client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).stop_reason == "end_turn"


def test_fail_next_is_consumed_once_then_mode_applies(mock: MockAnthropic) -> None:
    mock.fail_next("529", "429")
    with _client(mock) as client:
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        assert client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).content
    assert mock.count("/v1/messages") == 3


def _settings(mock: MockAnthropic) -> tuple[Any, ...]:
    return (mock.mode, mock.stream_chunks, mock.stream_delay, mock.reply_text, mock.hang_seconds, mock.parallel_tools,
            mock.cache_read_tokens, mock.cache_creation_tokens)


def test_reset_restores_the_defaults_and_unknown_modes_are_refused(mock: MockAnthropic) -> None:
    mock.mode, mock.stream_chunks, mock.stream_delay, mock.parallel_tools = "500", 2, 1.0, True
    mock.cache_read_tokens, mock.reply_text = 7, "x"
    mock.fail_next("429")
    mock.reset()
    assert _settings(mock) == ("ok", 5, 0.0, None, 30.0, False, 0, 0)
    assert mock.requests == [] and mock.streams_finished_at == []
    with pytest.raises(ValueError):
        mock.mode = "boom"
    with pytest.raises(ValueError):
        mock.fail_next("ok", "reste")
    with _client(mock) as client:
        assert client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).stop_reason == "end_turn"
