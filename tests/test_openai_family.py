"""Azure OpenAI channels, o1-series reasoning models and GPTs, through the openai SDK."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}]


def test_azure_channel_calls_the_deployment_url_with_api_key_and_version(relaygate: Relaygate,
                                                                         mock: MockOpenAI) -> None:
    root = mock.base_url.removesuffix("/v1")
    t = make_tenant(relaygate, [root], models=["gpt-4o-mini", "text-embedding-3-small"],
                    channel_fields={"type": "azure", "options": {"api_version": "2024-06-01"}})
    client = relaygate.client(t.key)
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
    assert resp.choices[0].message.content
    sent = mock.requests[-1]
    assert sent.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert sent.headers["api-key"] == "sk-upstream-test" and "Authorization" not in sent.headers
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    emb = client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert emb.data[0].embedding
    assert mock.requests[-1].path == "/openai/deployments/text-embedding-3-small/embeddings"


def test_o1_requests_are_rewritten_into_what_reasoning_models_accept(relaygate: Relaygate, mock: MockOpenAI) -> None:
    mock.models = [*mock.models, "o1", "o1-mini", "o3-mini"]
    t = make_tenant(relaygate, [mock.base_url], models=["o1", "o1-mini", "o3-mini"])
    client = relaygate.client(t.key)
    resp = client.chat.completions.create(model="o1", messages=HELLO, max_tokens=200, temperature=0.2,  # type: ignore[arg-type]
                                          top_p=0.5)
    assert resp.choices[0].message.content
    sent = mock.requests[-1].json
    assert sent["max_completion_tokens"] == 200 and "max_tokens" not in sent and "temperature" not in sent
    assert sent["messages"][0] == {"role": "developer", "content": "be brief"}
    assert resp.usage is not None and resp.usage.completion_tokens_details is not None
    assert resp.usage.completion_tokens_details.reasoning_tokens == mock.reasoning_tokens
    client.chat.completions.create(model="o1-mini", messages=HELLO)  # type: ignore[arg-type]
    assert mock.requests[-1].json["messages"] == [{"role": "user", "content": "be brief\n\nsay hello"}]
    logs = relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")
    assert any(row["reasoning_tokens"] == mock.reasoning_tokens for row in logs)


def test_a_model_that_cannot_stream_is_answered_as_a_stream_of_the_finished_answer(
        relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    fresh_mock.models = [*fresh_mock.models, "o1-preview"]
    fresh_mock.no_stream_models = ("o1-preview",)
    t = make_tenant(relaygate, [fresh_mock.base_url], models=["o1-preview"],
                    channel_fields={"options": {"no_stream_models": ["o1-preview"]}})
    client = relaygate.client(t.key)
    chunks = list(client.chat.completions.create(model="o1-preview", messages=HELLO, stream=True,  # type: ignore[arg-type]
                                                 stream_options={"include_usage": True}))
    assert "stream" not in fresh_mock.requests[-1].json
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens_details is not None
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_gpts_route_by_pattern_and_bill_per_call(relaygate: Relaygate, mock: MockOpenAI) -> None:
    mock.models = [*mock.models, "gpt-4-gizmo-*"]
    t = make_tenant(relaygate, [mock.base_url], models=["gpt-4-gizmo-*"], quota=10**9)
    relaygate.ok("PUT", "/api/prices/gpt-4-gizmo-g-per-call", {"input_per_1m": 0, "output_per_1m": 0,
                                                                 "per_call": 0.05})
    client = relaygate.client(t.key)
    resp = client.chat.completions.create(model="gpt-4-gizmo-g-per-call", messages=HELLO)  # type: ignore[arg-type]
    assert resp.choices[0].message.content
    assert mock.requests[-1].json["model"] == "gpt-4-gizmo-g-per-call"
    client.chat.completions.create(model="gpt-4-gizmo-g-abc123", messages=HELLO)  # type: ignore[arg-type]
    rows = relaygate.ok("GET", f"/api/logs?key_id={t.key_id}")
    costs = {row["model"]: row["cost"] for row in rows}
    assert costs["gpt-4-gizmo-g-per-call"] == 25_000  # 0.05 USD × 500,000
    assert costs["gpt-4-gizmo-g-abc123"] > 0  # the default gpt-4-gizmo-* token price
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4-gizmo", messages=HELLO)  # type: ignore[arg-type]
