"""The fake OpenAI upstream answers the official openai SDK exactly as OpenAI would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from tests.upstreams.openai_mock import MockOpenAI

KEY = "sk-upstream-test"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "say hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[KEY]).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockOpenAI) -> MockOpenAI:
    upstream.reset()
    return upstream


def _client(mock: MockOpenAI, key: str = KEY, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=mock.base_url, api_key=key, max_retries=0, timeout=timeout)


def test_chat_completion_has_the_openai_shape_and_deterministic_usage(mock: MockOpenAI) -> None:
    with _client(mock) as client:
        resp = client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}], n=2)
    assert resp.object == "chat.completion" and resp.model == "gpt-4o" and resp.id.startswith("chatcmpl-mock")
    assert [c.index for c in resp.choices] == [0, 1]
    assert resp.choices[0].message.content == "hello from mock 1 2 3 4 5 6 7 8"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (10, 22, 32)
    sent = mock.requests[-1]
    assert (sent.method, sent.path, sent.headers["Authorization"]) == ("POST", "/v1/chat/completions", f"Bearer {KEY}")
    assert mock.count("/chat/completions") == 1


def test_stream_with_include_usage_reassembles_the_text_and_ends_with_a_usage_chunk(mock: MockOpenAI) -> None:
    mock.reply_text = "one two three four five six seven"
    mock.stream_chunks = 3
    with _client(mock) as client:
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True,
                                                     stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == mock.reply_text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 7)
    assert all(c.usage is None for c in chunks[:-1])


def test_tool_call_answers_and_streams(mock: MockOpenAI) -> None:
    tools: list[ChatCompletionFunctionToolParam] = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with _client(mock) as client:
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, tools=tools)
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, tools=tools, stream=True))
    assert resp.choices[0].finish_reason == "tool_calls" and resp.choices[0].message.content is None
    [call] = resp.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"location": "Paris"}')
    deltas = [t for c in chunks for t in (c.choices[0].delta.tool_calls or [])]
    assert "".join(d.function.arguments or "" for d in deltas if d.function) == '{"location": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_embeddings_float_and_base64_decode_to_the_same_vector(mock: MockOpenAI) -> None:
    with _client(mock) as client:
        floats = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], encoding_format="float")
        decoded = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], dimensions=16)
    assert mock.requests[-1].json["encoding_format"] == "base64"
    assert [len(d.embedding) for d in floats.data] == [8, 8]
    assert [len(d.embedding) for d in decoded.data] == [16, 16]
    assert decoded.data[1].embedding[:8] == floats.data[1].embedding
    assert floats.usage.prompt_tokens == 3


def test_legacy_completions_and_models(mock: MockOpenAI) -> None:
    with _client(mock) as client:
        resp = client.completions.create(model="gpt-4o-mini", prompt="once upon", max_tokens=2)
        chunks = list(client.completions.create(model="gpt-4o-mini", prompt="x", stream=True,
                                                stream_options={"include_usage": True}))
        models = [m.id for m in client.models.list()]
    assert (resp.choices[0].text, resp.choices[0].finish_reason) == ("hello from", "length")
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "hello from mock 1 2 3 4 5 6 7 8"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 11
    assert models == ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]


def test_a_bad_key_is_an_authentication_error_and_is_still_recorded(mock: MockOpenAI) -> None:
    with _client(mock, key="sk-wrong-key-1234") as client, pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert err.value.code == "invalid_api_key"
    assert mock.requests[-1].headers["Authorization"] == "Bearer sk-wrong-key-1234"


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "gpt-4o-mini"}, "messages"),
    ({"model": "gpt-4o-mini", "messages": []}, "messages"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ({"model": "gpt-4o-mini", "messages": HELLO, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"model": "gpt-4o-mini", "messages": HELLO, "n": 0}, "n"),
    ({"model": "gpt-4o-mini", "messages": HELLO, "max_tokens": "10"}, "max_tokens"),
    ({"messages": HELLO}, "model"),
])
def test_malformed_chat_requests_are_rejected_naming_the_field(mock: MockOpenAI, body: dict[str, object],
                                                              param: str) -> None:
    with _client(mock) as client, pytest.raises(openai.BadRequestError) as err:
        client.post("/chat/completions", body=body, cast_to=object)
    assert err.value.param == param
    assert err.value.type == "invalid_request_error"


def test_unknown_model_is_404_and_non_json_is_400(mock: MockOpenAI) -> None:
    with _client(mock) as client, pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-99", messages=HELLO)
    assert err.value.code == "model_not_found"
    resp = httpx.post(mock.base_url + "/embeddings", content=b"input=x", timeout=5,
                      headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


def test_unknown_fields_are_accepted_and_recorded(mock: MockOpenAI) -> None:
    with _client(mock) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, extra_body={"vendor_x": {"a": [1]}})
    assert mock.requests[-1].json["vendor_x"] == {"a": [1]}


@pytest.mark.parametrize(("mode", "error"), [
    ("500", openai.InternalServerError), ("429", openai.RateLimitError), ("401", openai.AuthenticationError),
    ("400", openai.BadRequestError), ("reset", openai.APIConnectionError),
])
def test_failure_modes_surface_as_sdk_errors(mock: MockOpenAI, mode: str, error: type[Exception]) -> None:
    mock.mode = mode
    with _client(mock) as client, pytest.raises(error) as err:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert not isinstance(err.value, openai.APITimeoutError)
    if mode == "429":
        assert isinstance(err.value, openai.RateLimitError)
        assert err.value.response.headers["Retry-After"] == "1" and err.value.code == "rate_limit_exceeded"


def test_timeout_mode_outlasts_a_short_client_timeout(mock: MockOpenAI) -> None:
    mock.mode = "timeout"
    mock.hang_seconds = 2
    with _client(mock, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_stream_cut_drops_the_connection_after_two_content_chunks(mock: MockOpenAI) -> None:
    mock.fail_next("stream_cut")
    seen: list[str] = []
    with _client(mock) as client, pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True):
            seen.append(chunk.choices[0].delta.content or "")
    assert [s for s in seen if s] == ["hello from ", "mock 1 "]


def test_fail_next_is_consumed_once_then_mode_applies(mock: MockOpenAI) -> None:
    mock.fail_next("500", "429")
    with _client(mock) as client:
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert client.chat.completions.create(model="gpt-4o-mini", messages=HELLO).choices[0].message.content
    assert mock.count("/chat/completions") == 3


def test_reset_restores_the_defaults_and_unknown_modes_are_refused(mock: MockOpenAI) -> None:
    mock.mode, mock.stream_chunks, mock.stream_delay = "500", 2, 1.0
    mock.fail_next("429")
    mock.reset()
    assert (mock.mode, mock.stream_chunks, mock.stream_delay, mock.reply_text) == ("ok", 5, 0.0, None)
    assert mock.requests == []
    with pytest.raises(ValueError):
        mock.mode = "boom"
    with pytest.raises(ValueError):
        mock.fail_next("ok", "reste")
    with _client(mock) as client:
        assert client.chat.completions.create(model="gpt-4o-mini", messages=HELLO).choices[0].finish_reason == "stop"
