"""The fake Gemini upstream answers plain HTTP exactly as Google's Generative Language API (v1beta) would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.upstreams import gemini_wire as wire
from tests.upstreams.gemini_mock import MockGemini

KEY = "gemini-upstream-test"
FLASH = "gemini-2.0-flash"
THINKER = "gemini-2.5-flash"
HELLO: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}]}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
WEATHER: dict[str, Any] = {"functionDeclarations": [{
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}, "required": ["location"]}}]}
CALL_TURN: dict[str, Any] = {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                                          "args": {"location": "Paris"}}}]}
ANSWER_TURN: dict[str, Any] = {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                                              "response": {"forecast": "sunny"}}}]}
ASK = {"role": "user", "parts": [{"text": "weather in Paris?"}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockGemini]:
    with MockGemini(api_keys=[KEY], models=[FLASH, THINKER]) as server:
        yield server


@pytest.fixture
def gemini(upstream: MockGemini) -> MockGemini:
    upstream.reset()
    return upstream


@pytest.fixture
def http(gemini: MockGemini) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gemini.base_url, headers={"x-goog-api-key": KEY}, timeout=5) as client:
        yield client


def _generate(http: httpx.Client, body: Any, model: str = FLASH) -> httpx.Response:
    return http.post(f"/v1beta/models/{model}:generateContent", json=body)


def _ok(http: httpx.Client, body: Any, model: str = FLASH) -> dict[str, Any]:
    resp = _generate(http, body, model)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _stream(http: httpx.Client, body: Any, model: str = FLASH) -> tuple[bytes, list[dict[str, Any]]]:
    with http.stream("POST", f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json=body) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read()
    events = [json.loads(block.removeprefix(b"data: ")) for block in raw.split(b"\r\n\r\n") if block]
    return raw, events


def _error(resp: httpx.Response, code: int, status: str) -> str:
    assert resp.status_code == code, resp.text
    error = resp.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


def _text(out: dict[str, Any], index: int = 0) -> str:
    return "".join(p.get("text", "") for p in out["candidates"][index]["content"]["parts"] if not p.get("thought"))


def test_text_answer_has_googles_shape_and_deterministic_usage(gemini: MockGemini, http: httpx.Client) -> None:
    out = _ok(http, HELLO)
    [cand] = out["candidates"]
    assert cand["content"] == {"role": "model", "parts": [{"text": wire.DEFAULT_REPLY}]}
    assert (cand["finishReason"], cand["index"]) == ("STOP", 0)
    assert {r["category"] for r in cand["safetyRatings"]} == set(wire.SAFETY_CATEGORIES)
    assert out["usageMetadata"] == {"promptTokenCount": 2, "candidatesTokenCount": 12, "totalTokenCount": 14,
                                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}]}
    assert out["modelVersion"] == FLASH and out["responseId"].startswith("mock")
    sent = gemini.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("POST", f"/v1beta/models/{FLASH}:generateContent", {})
    assert sent.headers["x-goog-api-key"] == KEY and sent.json == HELLO
    assert gemini.count(":generateContent") == 1 and gemini.count(":streamGenerateContent") == 0


def test_system_instruction_multi_turn_and_key_in_the_query(gemini: MockGemini) -> None:
    body = {"systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"text": "hi there"}]},
                         {"role": "model", "parts": [{"text": "hello"}]},
                         {"parts": [{"text": "again please"}]}],
            "generationConfig": {"temperature": 0.2, "topP": 0.9, "topK": 40, "seed": 7}}
    resp = httpx.post(gemini.url(FLASH) + f"?key={KEY}", json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usageMetadata"]["promptTokenCount"] == 7
    assert gemini.requests[-1].query == {"key": KEY}


def test_snake_case_field_names_are_accepted_like_googles_parser_does(http: httpx.Client) -> None:
    body = {"system_instruction": {"parts": [{"text": "be brief"}]}, "contents": HELLO["contents"],
            "generation_config": {"max_output_tokens": 2, "stop_sequences": ["NEVER"]}}
    out = _ok(http, body)
    assert (_text(out), out["candidates"][0]["finishReason"]) == ("hello from", "MAX_TOKENS")


def test_stream_is_sse_with_crlf_partial_text_and_usage_on_the_last_event(gemini: MockGemini,
                                                                         http: httpx.Client) -> None:
    gemini.reply_text = "one two three four five six"
    raw, events = _stream(http, HELLO)
    assert raw.startswith(b"data: {") and raw.endswith(b"}\r\n\r\n") and b"[DONE]" not in raw
    assert len(events) == 3
    assert "".join(_text(e) for e in events) == gemini.reply_text
    assert [e["candidates"][0].get("finishReason") for e in events] == [None, None, "STOP"]
    assert all(e["usageMetadata"]["promptTokenCount"] == 2 and "candidatesTokenCount" not in e["usageMetadata"]
               for e in events[:-1])
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 6
    assert events[-1]["usageMetadata"]["totalTokenCount"] == 8
    assert {e["responseId"] for e in events} == {events[0]["responseId"]}
    assert gemini.requests[-1].query == {"alt": "sse"} and len(gemini.streams_finished_at) == 1


def test_function_call_round_trip(gemini: MockGemini, http: httpx.Client) -> None:
    first = _ok(http, {"contents": [ASK], "tools": [WEATHER],
                       "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}})
    [cand] = first["candidates"]
    assert cand["content"]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]
    assert cand["finishReason"] == "STOP"
    second = _ok(http, {"contents": [ASK, cand["content"], ANSWER_TURN], "tools": [WEATHER]})
    assert "sunny" in _text(second) and second["candidates"][0]["finishReason"] == "STOP"
    off = _ok(http, {"contents": [ASK], "tools": [WEATHER], "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}})
    assert _text(off) == wire.DEFAULT_REPLY


def test_parallel_calls_allowed_names_and_call_ids(gemini: MockGemini, http: httpx.Client) -> None:
    tools = [{"functionDeclarations": [{"name": "get_weather"}, {"name": "get_time", "parametersJsonSchema": {
        "type": "object", "properties": {"tz": {"type": "string"}}, "additionalProperties": False}}]}]
    gemini.parallel_tools = gemini.call_ids = True
    out = _ok(http, {"contents": [ASK], "tools": tools})
    calls = [p["functionCall"] for p in out["candidates"][0]["content"]["parts"]]
    assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"location": "Paris"}),
                                                      ("get_time", {"location": "London"})]
    assert all(c["id"].startswith("call_mock") for c in calls)
    answers = {"role": "user", "parts": [{"functionResponse": {"name": c["name"], "id": c["id"], "response": {"ok": 1}}}
                                         for c in calls]}
    assert "get_time" in _text(_ok(http, {"contents": [ASK, out["candidates"][0]["content"], answers]}))
    gemini.parallel_tools = False
    only = _ok(http, {"contents": [ASK], "tools": tools,
                      "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}}})
    assert only["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "get_time"


def test_streamed_function_call_comes_whole(http: httpx.Client) -> None:
    _, events = _stream(http, {"contents": [ASK], "tools": [WEATHER]})
    [event] = events
    part = event["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "get_weather" and event["candidates"][0]["finishReason"] == "STOP"


def test_inline_image_is_seen_and_counted(http: httpx.Client) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "what is this?"},
                                                    {"inlineData": {"mimeType": "image/png", "data": PNG}}]}]}
    out = _ok(http, body)
    assert _text(out).startswith("I see 1 image.")
    usage = out["usageMetadata"]
    assert usage["promptTokenCount"] == 3 + wire.MEDIA_TOKENS
    assert usage["promptTokensDetails"][1] == {"modality": "IMAGE", "tokenCount": wire.MEDIA_TOKENS}


def test_file_data_takes_files_google_holds_and_no_other_url(http: httpx.Client) -> None:
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc-123"
    held = {"fileData": {"mimeType": "image/png", "fileUri": uri}}
    out = _ok(http, {"contents": [{"role": "user", "parts": [{"text": "what is this?"}, held]}]})
    assert _text(out).startswith("I see 1 image.")
    web = {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png",
                                                                 "fileUri": "https://files.example/cat.png"}}]}]}
    assert "Invalid or unsupported file uri" in _error(_generate(http, web), 400, "INVALID_ARGUMENT")


def test_json_answers_follow_the_mime_type_and_the_schema(http: httpx.Client) -> None:
    schema = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}, "days": {"type": "INTEGER"},
                                               "tags": {"type": "ARRAY", "items": {"type": "STRING"}}}}
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    assert json.loads(_text(_ok(http, {**HELLO, "generationConfig": config}))) == {
        "city": "mock", "days": 1, "tags": ["mock"]}
    asked = _ok(http, {"contents": [{"role": "user", "parts": [{"text": "answer in JSON"}]}]})
    assert json.loads(_text(asked)) == wire.JSON_REPLY
    raw = {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object", "properties": {
        "ok": {"type": "boolean"}}, "additionalProperties": False}}
    assert json.loads(_text(_ok(http, {**HELLO, "generationConfig": raw}))) == {"ok": True}


def test_several_candidates_cuts_and_token_limits(http: httpx.Client) -> None:
    two = _ok(http, {**HELLO, "generationConfig": {"candidateCount": 2}})
    assert [c["index"] for c in two["candidates"]] == [0, 1] and _text(two, 1) == wire.DEFAULT_REPLY
    assert two["usageMetadata"]["candidatesTokenCount"] == 24
    cut = _ok(http, {**HELLO, "generationConfig": {"maxOutputTokens": 3}})
    assert (_text(cut), cut["candidates"][0]["finishReason"]) == ("hello from gemini", "MAX_TOKENS")
    stop = _ok(http, {**HELLO, "generationConfig": {"stopSequences": [" mock"]}})
    assert (_text(stop), stop["candidates"][0]["finishReason"]) == ("hello from gemini", "STOP")


def test_thinking_adds_a_thought_part_and_thoughts_tokens(gemini: MockGemini, http: httpx.Client) -> None:
    config = {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    out = _ok(http, {**HELLO, "generationConfig": config}, THINKER)
    parts = out["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": wire.THOUGHT_TEXT, "thought": True} and parts[1] == {"text": wire.DEFAULT_REPLY}
    usage = out["usageMetadata"]
    assert usage["thoughtsTokenCount"] == 64 and usage["totalTokenCount"] == 2 + 12 + 64
    quiet = _ok(http, {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 16}}}, THINKER)
    assert len(quiet["candidates"][0]["content"]["parts"]) == 1 and quiet["usageMetadata"]["thoughtsTokenCount"] == 16
    off = _ok(http, {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, THINKER)
    assert "thoughtsTokenCount" not in off["usageMetadata"]
    _, events = _stream(http, {**HELLO, "generationConfig": config}, THINKER)
    assert events[0]["candidates"][0]["content"]["parts"] == [{"text": wire.THOUGHT_TEXT, "thought": True}]
    assert "".join(_text(e) for e in events) == wire.DEFAULT_REPLY
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] == 64


def test_safety_finish_has_no_content_and_a_blocked_prompt_has_no_candidates(gemini: MockGemini,
                                                                             http: httpx.Client) -> None:
    gemini.finish_reason_override = "SAFETY"
    [cand] = _ok(http, HELLO)["candidates"]
    assert "content" not in cand and cand["finishReason"] == "SAFETY"
    assert any(r.get("blocked") for r in cand["safetyRatings"])
    _, events = _stream(http, HELLO)
    assert [e["candidates"][0]["finishReason"] for e in events] == ["SAFETY"]
    gemini.finish_reason_override, gemini.prompt_block_reason = None, "SAFETY"
    out = _ok(http, HELLO)
    assert "candidates" not in out and out["promptFeedback"]["blockReason"] == "SAFETY"


def test_thought_signatures_are_given_and_then_required(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.require_thought_signatures = True
    call = _ok(http, {"contents": [ASK], "tools": [WEATHER]})["candidates"][0]["content"]
    assert call["parts"][0]["thoughtSignature"] == wire.THOUGHT_SIGNATURE
    assert "sunny" in _text(_ok(http, {"contents": [ASK, call, ANSWER_TURN], "tools": [WEATHER]}))
    message = _error(_generate(http, {"contents": [ASK, CALL_TURN, ANSWER_TURN], "tools": [WEATHER]}), 400,
                     "INVALID_ARGUMENT")
    assert "missing a thought_signature" in message and "`get_weather`" in message


def test_models_can_be_listed(gemini: MockGemini, http: httpx.Client) -> None:
    listed = http.get("/v1beta/models").json()["models"]
    assert [m["name"] for m in listed] == [f"models/{FLASH}", f"models/{THINKER}"]
    assert http.get(f"/v1beta/models/{FLASH}").json()["name"] == f"models/{FLASH}"
    _error(http.get("/v1beta/models/gemini-9"), 404, "NOT_FOUND")


def test_keys_are_checked_like_google_does(gemini: MockGemini) -> None:
    url = gemini.url(FLASH)
    missing = httpx.post(url, json=HELLO, timeout=5)
    assert "unregistered callers" in _error(missing, 403, "PERMISSION_DENIED")
    bad = httpx.post(url, json=HELLO, headers={"x-goog-api-key": "AIza-wrong"}, timeout=5)
    assert _error(bad, 400, "INVALID_ARGUMENT") == "API key not valid. Please pass a valid API key."
    assert bad.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    bearer = httpx.post(url, json=HELLO, headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    _error(bearer, 401, "UNAUTHENTICATED")
    assert gemini.requests[-2].headers["x-goog-api-key"] == "AIza-wrong" and len(gemini.requests) == 3


def test_paths_methods_and_bodies_are_checked(http: httpx.Client) -> None:
    message = _error(_generate(http, HELLO, "gemini-9"), 404, "NOT_FOUND")
    assert message.startswith("models/gemini-9 is not found for API version v1beta")
    plain = http.post(f"/v1beta/models/{FLASH}:streamGenerateContent", json=HELLO)
    assert "alt=sse" in _error(plain, 400, "INVALID_ARGUMENT")
    _error(http.post(f"/v1beta/models/{FLASH}:countTokens", json=HELLO), 404, "NOT_FOUND")
    _error(http.post(f"/v1/models/{FLASH}:generateContent", json=HELLO), 404, "NOT_FOUND")
    broken = http.post(f"/v1beta/models/{FLASH}:generateContent", content=b"{",
                       headers={"Content-Type": "application/json"})
    assert "Invalid JSON payload" in _error(broken, 400, "INVALID_ARGUMENT")
    assert "Root element" in _error(_generate(http, [HELLO]), 400, "INVALID_ARGUMENT")


REJECTED: list[tuple[dict[str, Any], str]] = [
    ({"messages": [{"role": "user", "content": "hi"}]},
     'Invalid JSON payload received. Unknown name "messages": Cannot find field.'),
    ({**HELLO, "generationConfig": {"max_tokens": 5}},
     "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field."),
    ({"contents": [{"role": "user", "content": "hi"}]}, "Unknown name \"content\" at 'contents[0]'"),
    ({"contents": [{"role": "system", "parts": [{"text": "be brief"}]}, *HELLO["contents"]]},
     "Please use a valid role: user, model."),
    ({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}, "Please use a valid role: user, model."),
    ({"contents": [{"role": "user", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]}]},
     "contents[0].parts[0].function_call: function_call comes from the model"),
    ({"contents": [ASK, CALL_TURN, {"role": "model", "parts": [{"functionResponse": {
        "name": "get_weather", "response": {}}}]}]}, "function_response is the client's answer"),
    ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}]},
     "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed"),
    ({**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}]}]},
     "Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters': Cannot find field."),
    ({**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}}]}]}, 'Unknown name "$schema"'),
    ({**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "strings"}}}}]}]},
     "Invalid value at 'tools[0].function_declarations[0].parameters.properties[0].value.type' "
     "(type.googleapis.com/google.ai.generativelanguage.v1beta.Type), \"strings\""),
    ({**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["b"]}}]}]},
     "* GenerateContentRequest.tools[0].function_declarations[0].parameters.required[0]: property is not defined"),
    ({**HELLO, "tools": [{"functionDeclarations": [{"name": "get weather"}]}]}, "Invalid function name."),
    ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
    ({}, "contents is not specified"),
    ({"contents": [{"role": "user", "parts": []}]}, "contents.parts must not be empty."),
    ({"contents": [{"role": "user", "parts": [{}]}]}, "required oneof field 'data' must have one initialized field"),
    ({"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": PNG}}]}]},
     "Oneof field 'data' is already set. Cannot set 'inlineData'"),
    ({**HELLO, "generationConfig": {"temperature": "hot"}},
     "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""),
    ({**HELLO, "generationConfig": {"maxOutputTokens": 10.5}}, "(TYPE_INT32), 10.5"),
    ({**HELLO, "generationConfig": {"stopSequences": "END"}}, "a repeated field takes a JSON array"),
    ({**HELLO, "generationConfig": {"responseSchema": {"type": "OBJECT"}}}, "a response schema needs"),
    ({**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 10, "thinkingLevel": "LOW"}}},
     "mutually exclusive"),
    ({**HELLO, "toolConfig": {"functionCallingConfig": {"mode": "auto"}}, "tools": [WEATHER]},
     "v1beta.FunctionCallingConfig.Mode), \"auto\""),
    ({**HELLO, "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["get_weather"]}},
      "tools": [WEATHER]}, "may only be set when mode is ANY or VALIDATED"),
    ({"contents": [CALL_TURN]}, "Please ensure that function call turn comes immediately after a user turn"),
    ({"contents": [ASK, CALL_TURN, {"role": "user", "parts": [{"text": "never mind"}]}]},
     "number of function response parts is equal to the number of function call parts"),
    ({"contents": [ASK, CALL_TURN, {"role": "user", "parts": [{"functionResponse": {
        "name": "get_time", "response": {}}}]}]}, "name other functions than the calls"),
    ({"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png",
                                                            "fileUri": "https://example.com/cat.png"}}]}]},
     "Invalid or unsupported file uri: https://example.com/cat.png"),
    ({"systemInstruction": {"parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]}, **HELLO},
     "system instructions take text parts only"),
    ({**HELLO, "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_SOMETIMES"}]},
     "v1beta.SafetySetting.HarmBlockThreshold), \"BLOCK_SOMETIMES\""),
]


@pytest.mark.parametrize(("body", "expected"), REJECTED)
def test_malformed_requests_are_rejected_with_googles_messages(http: httpx.Client, body: dict[str, Any],
                                                               expected: str) -> None:
    message = _error(_generate(http, body), 400, "INVALID_ARGUMENT")
    assert expected in message


def test_every_violation_of_a_body_is_reported_at_once(http: httpx.Client) -> None:
    resp = _generate(http, {"messages": [], "contents": [{"role": "user", "parts": [{"text": 1}]}],
                            "generationConfig": {"max_tokens": 5}})
    error = resp.json()["error"]
    assert error["message"].count("\n") == 2
    fields = error["details"][0]["fieldViolations"]
    assert [f.get("field") for f in fields] == [None, "contents[0].parts[0].text", "generation_config"]


@pytest.mark.parametrize(("mode", "code", "status"), [
    ("500", 500, "INTERNAL"), ("503", 503, "UNAVAILABLE"), ("429", 429, "RESOURCE_EXHAUSTED"),
    ("400", 400, "INVALID_ARGUMENT"), ("403", 403, "PERMISSION_DENIED")])
def test_failure_modes_answer_googles_errors(gemini: MockGemini, http: httpx.Client, mode: str, code: int,
                                            status: str) -> None:
    gemini.mode = mode
    _error(_generate(http, HELLO), code, status)
    if mode == "429":
        assert _generate(http, HELLO).json()["error"]["details"][-1]["retryDelay"] == "1s"
    if mode == "503":
        assert _generate(http, HELLO).json()["error"]["message"] == "The model is overloaded. Please try again later."


def test_reset_and_timeout_modes_fail_at_the_transport(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.fail_next("reset")
    with pytest.raises(httpx.TransportError):
        _generate(http, HELLO)
    gemini.mode, gemini.hang_seconds = "timeout", 2
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"/v1beta/models/{FLASH}:generateContent", json=HELLO, timeout=0.3)


def test_stream_cut_drops_the_connection_after_two_events(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.mode = "stream_cut"
    seen: list[bytes] = []
    with pytest.raises(httpx.TransportError), \
            http.stream("POST", f"/v1beta/models/{FLASH}:streamGenerateContent?alt=sse", json=HELLO) as resp:
        for chunk in resp.iter_bytes():
            seen.append(chunk)
    assert b"".join(seen).count(b"data: ") == 2 and gemini.streams_finished_at == []


def test_stream_error_sends_an_error_event_then_closes(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.mode = "stream_error"
    _, events = _stream(http, HELLO)
    assert len(events) == 3 and "candidates" in events[1]
    assert events[-1] == {"error": {"code": 500, "message": wire.internal_error().message, "status": "INTERNAL"}}


def test_fail_next_is_consumed_once_then_mode_applies(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.fail_next("503", "429")
    assert [_generate(http, HELLO).status_code for _ in range(3)] == [503, 429, 200]
    assert gemini.count(":generateContent") == 3


def test_reset_restores_the_defaults_and_unknown_modes_are_refused(gemini: MockGemini, http: httpx.Client) -> None:
    gemini.mode, gemini.stream_delay, gemini.reply_text = "500", 1.0, "x"
    gemini.finish_reason_override, gemini.parallel_tools = "SAFETY", True
    gemini.fail_next("429")
    gemini.reset()
    state: tuple[object, ...] = (gemini.mode, gemini.stream_delay, gemini.reply_text, gemini.finish_reason_override,
                                 gemini.parallel_tools)
    assert state == ("ok", 0.0, None, None, False)
    assert gemini.requests == []
    with pytest.raises(ValueError):
        gemini.mode = "boom"
    with pytest.raises(ValueError):
        gemini.fail_next("ok", "reste")
    assert _ok(http, HELLO)["candidates"][0]["finishReason"] == "STOP"
