"""Clients use relaygate through the official openai SDK exactly as they would use OpenAI."""

from __future__ import annotations

import base64
import struct
import time

import httpx2 as httpx
import openai
import pytest

from tests.conftest import Relaygate, Tenant, make_tenant
from tests.upstreams.openai_mock import MockOpenAI


def test_chat_completion_answers_with_the_upstream_body_and_usage(relaygate: Relaygate, tenant: Tenant,
                                                                  mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}])
    assert resp.choices[0].message.content
    assert resp.usage is not None and resp.usage.prompt_tokens > 0
    sent = mock.requests[-1]
    assert sent.headers["Authorization"] == "Bearer sk-upstream-test"
    assert sent.json["messages"] == [{"role": "user", "content": "hi there"}]


def test_every_openai_parameter_and_unknown_fields_reach_the_upstream_untouched(
        relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    params = {
        "temperature": 0.3, "top_p": 0.9, "n": 2, "max_tokens": 50, "stop": ["END"], "presence_penalty": 0.1,
        "frequency_penalty": 0.2, "logit_bias": {"50256": -100}, "user": "u1", "seed": 7, "logprobs": True,
        "top_logprobs": 2,
    }
    resp = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}],
        extra_body={"my_vendor_field": {"nested": [1, 2]}}, **params,  # type: ignore[arg-type]
    )
    assert len(resp.choices) == 2
    assert resp.choices[0].logprobs is not None
    sent = mock.requests[-1].json
    for name, value in params.items():
        assert sent[name] == value
    assert sent["my_vendor_field"] == {"nested": [1, 2]}


def test_tools_and_tool_choice_round_trip(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}}}}]
    resp = client.chat.completions.create(model="gpt-4o-mini", tools=tools, tool_choice="auto",  # type: ignore[arg-type]
                                          messages=[{"role": "user", "content": "weather in Paris?"}])
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert resp.choices[0].finish_reason == "tool_calls"
    assert mock.requests[-1].json["tools"] == tools


@pytest.mark.parametrize("fmt", [{"type": "json_object"},
                                 {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}])
def test_response_format_is_forwarded_and_json_comes_back(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI,
                                                          fmt: dict[str, object]) -> None:
    client = relaygate.client(tenant.key)
    resp = client.chat.completions.create(model="gpt-4o-mini", response_format=fmt,  # type: ignore[arg-type]
                                          messages=[{"role": "user", "content": "json please"}])
    assert resp.choices[0].message.content == '{"answer": "mock"}'
    assert mock.requests[-1].json["response_format"] == fmt


def test_streaming_relays_chunks_and_usage_when_asked(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_streaming_hides_the_usage_chunk_the_relay_asked_for(relaygate: Relaygate, tenant: Tenant,
                                                             mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}], stream=True))
    assert mock.requests[-1].json["stream_options"] == {"include_usage": True}
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_raw_stream_ends_with_done(relaygate: Relaygate, tenant: Tenant) -> None:
    with httpx.stream("POST", relaygate.base_url + "/chat/completions",
                      headers={"Authorization": f"Bearer {tenant.key}"},
                      json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]}
                      ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-request-id"].startswith("req_")
        body = resp.read().decode()
    events = [e for e in body.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"


def test_a_stream_head_waits_for_the_first_event_but_not_for_a_model_that_thinks(
        relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    from relaygate.relay.streaming import HEAD_WAIT_SECONDS

    t = make_tenant(relaygate, [fresh_mock.base_url])
    fresh_mock.stream_first_delay = HEAD_WAIT_SECONDS + 1.5
    started = time.monotonic()
    with httpx.stream("POST", relaygate.base_url + "/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {t.key}"},
                      json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]}
                      ) as resp:
        head_at = time.monotonic() - started  # httpx returns once the status and headers are in
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        first = next(line for line in lines if line)
        first_at = time.monotonic() - started
        rest = [line for line in lines if line]
    assert head_at < first_at - 1.0  # the head went out on its own while the model was silent
    assert first.startswith("data: {") and rest[-1] == "data: [DONE]"


def test_legacy_completions_stream_and_not(relaygate: Relaygate, tenant: Tenant) -> None:
    client = relaygate.client(tenant.key)
    resp = client.completions.create(model="gpt-4o-mini", prompt="Say this is a test", max_tokens=7)
    assert resp.choices[0].text
    chunks = list(client.completions.create(model="gpt-4o-mini", prompt="Say", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices)


def test_embeddings_string_array_float_and_base64(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    one = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert len(one.data) == 1 and len(one.data[0].embedding) > 0
    many = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"], dimensions=4)
    assert [len(d.embedding) for d in many.data] == [4, 4, 4]
    raw = relaygate.http.post("/v1/embeddings", headers={"Authorization": f"Bearer {tenant.key}"},
                              json={"model": "text-embedding-3-small", "input": "x", "encoding_format": "base64"})
    vector = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert len(struct.unpack(f"<{len(vector) // 4}f", vector)) > 0
    assert mock.requests[-1].json["encoding_format"] == "base64"


def test_models_lists_exactly_what_the_key_may_use(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], key_fields={"allowed_models": ["gpt-4o-mini", "not-served"]})
    client = relaygate.client(t.key)
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
def test_alternative_key_headers_are_accepted(relaygate: Relaygate, tenant: Tenant, header: str) -> None:
    resp = relaygate.http.post("/v1/chat/completions", headers={header: tenant.key},
                               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 200, resp.text


def test_model_mapping_sends_the_upstream_name_and_answers_with_the_clients(relaygate: Relaygate,
                                                                           mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], models=["my-model"], mapping={"my-model": "gpt-4o"})
    client = relaygate.client(t.key)
    resp = client.chat.completions.create(model="my-model", messages=[{"role": "user", "content": "x"}])
    assert mock.requests[-1].json["model"] == "gpt-4o"
    # the mapping is the operator's: the client sees the model it called, whole and streamed
    assert resp.model == "my-model"
    chunks = list(client.chat.completions.create(model="my-model", stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "x"}]))
    assert chunks and {c.model for c in chunks} == {"my-model"}
    # without a mapping the upstream's own name comes back as it came
    plain = make_tenant(relaygate, [mock.base_url], models=["gpt-4o"])
    assert relaygate.client(plain.key).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}]).model == "gpt-4o"


def test_pattern_models_route_gpts(relaygate: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [mock.base_url], models=["gpt-4-gizmo-*"], mapping={"gpt-4-gizmo-g-abc": "gpt-4o"})
    resp = relaygate.client(t.key).chat.completions.create(
        model="gpt-4-gizmo-g-abc", messages=[{"role": "user", "content": "x"}])
    assert resp.choices[0].message.content


def test_client_cannot_steer_the_upstream_connection(relaygate: Relaygate, tenant: Tenant, mock: MockOpenAI) -> None:
    client = relaygate.client(tenant.key)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], extra_body={
        "api_base": "http://169.254.169.254/", "base_url": "http://evil", "headers": {"Authorization": "x"},
        "extra_headers": {"X-Evil": "1"}, "config": {"upstream": "http://evil"}})
    sent = mock.requests[-1]
    for field in ("api_base", "base_url", "headers", "extra_headers", "config"):
        assert field not in sent.json
    assert "X-Evil" not in sent.headers
