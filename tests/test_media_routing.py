"""The audio and image endpoints route like chat: model mapping, key model restrictions, rate limits, no channel,
channel types that do not serve them; and Azure channels serve them at their deployment URLs."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import Relaygate
from tests.media import last_row, media_tenant, quota, rows, spent
from tests.test_transcriptions import tone
from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks DALL-E deprecated


def test_azure_channels_serve_speech_transcriptions_and_images_at_deployment_urls(relaygate: Relaygate,
                                                                                  upstream: MockOpenAI) -> None:
    root = upstream.base_url.removesuffix("/v1")
    t = media_tenant(relaygate, [root], channel_fields={"type": "azure", "options": {"api_version": "2025-04-01"}})
    with relaygate.client(t.key) as client:
        audio = client.audio.speech.create(model="tts-1", input="hello", voice="alloy", response_format="wav")
        assert audio.content == media_bytes.wav(5 / 15) and upstream.media.last.deployment == "tts-1"
        text = client.audio.transcriptions.create(file=("a.wav", tone(2.0)), model="whisper-1",
                                                  response_format="verbose_json", timestamp_granularities=["word"])
        assert text.words and upstream.media.last.deployment == "whisper-1"
        assert upstream.media.last.field("model") == "whisper-1"
        generated = client.images.generate(model="dall-e-3", prompt="a fox")
        assert generated.data and upstream.media.last.deployment == "dall-e-3"
        edited = client.images.edit(model="gpt-image-1", image=[("a.png", media_bytes.png(32, 32), "image/png")],
                                    prompt="a hat")
        assert edited.data and upstream.media.last.path == "/v1/images/edits"
    deployments = "/openai/deployments/"
    assert [r.path.removeprefix(deployments) for r in upstream.requests] == [
        "tts-1/audio/speech", "whisper-1/audio/transcriptions", "dall-e-3/images/generations",
        "gpt-image-1/images/edits"]
    assert all(r.query == "api-version=2025-04-01" and r.headers["api-key"] for r in upstream.requests)
    assert [r["status"] for r in rows(relaygate, t)] == [200] * 4
    edit_cost = last_row(relaygate, t)["cost"]
    assert spent(relaygate, t) == quota(5 * 15e-6) + quota(2.0 * 0.0001) + quota(0.04) + edit_cost


def test_a_mapped_model_reaches_the_upstream_under_its_upstream_name(relaygate: Relaygate,
                                                                     upstream: MockOpenAI) -> None:
    t = media_tenant(relaygate, [upstream.base_url], models=["voice", "ears"],
                     mapping={"voice": "tts-1-hd", "ears": "whisper-1"})
    relaygate.ok("PUT", "/api/prices/voice", {"per_1m_characters": 100.0})
    relaygate.ok("PUT", "/api/prices/ears", {"per_second": 0.01})
    with relaygate.client(t.key) as client:
        client.audio.speech.create(model="voice", input="mapped", voice="alloy")
        assert upstream.media.last.json["model"] == "tts-1-hd"
        client.audio.transcriptions.create(file=("a.wav", tone(1.0)), model="ears", response_format="text")
        assert upstream.media.last.field("model") == "whisper-1" and upstream.media.last.names[0] == "model"
        assert [(r["model"], r["upstream_model"], r["cost"]) for r in rows(relaygate, t)] == [
            ("voice", "tts-1-hd", quota(6 * 100e-6)), ("ears", "whisper-1", quota(0.01))]


def test_key_restrictions_rate_limits_and_missing_channels_apply(relaygate: Relaygate,
                                                                 upstream: MockOpenAI) -> None:
    t = media_tenant(relaygate, [upstream.base_url], key_fields={"allowed_models": ["tts-1", "dall-e-9"], "rpm": 2})
    with relaygate.client(t.key) as client:
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.audio.transcriptions.create(file=("a.wav", tone(1.0)), model="whisper-1")
        assert denied.value.code == "model_not_allowed"
        with pytest.raises(openai.NotFoundError) as missing:
            client.images.generate(model="dall-e-9", prompt="a fox")
        assert missing.value.code == "model_not_found"
        client.audio.speech.create(model="tts-1", input="one", voice="alloy")
        with pytest.raises(openai.RateLimitError) as limited:
            for _ in range(2):
                client.audio.speech.create(model="tts-1", input="two", voice="alloy")
        assert limited.value.code == "rate_limit_exceeded" and limited.value.response.headers["retry-after"]
        assert upstream.media.requests[0].json["input"] == "one"


def test_channel_types_without_the_endpoint_are_not_asked(relaygate: Relaygate, upstream: MockOpenAI) -> None:
    t = media_tenant(relaygate, [upstream.base_url], channel_fields={"type": "anthropic"})
    with relaygate.client(t.key) as client, pytest.raises(openai.BadRequestError) as err:
        client.audio.speech.create(model="tts-1", input="hi", voice="alloy")
    assert err.value.param == "model" and "not served for this endpoint (speech)" in err.value.message
    assert upstream.requests == [] and spent(relaygate, t) == 0


@pytest.mark.parametrize(("kind", "model", "path"), [
    ("openai", "whisper-1", "/v1/models"), ("openai", "dall-e-3", "/v1/models"),
    ("openai", "tts-1", "/v1/audio/speech"), ("azure", "gpt-image-1", "/openai/models"),
    ("azure", "gpt-4o-mini-tts", "/openai/deployments/gpt-4o-mini-tts/audio/speech"),
])
def test_a_channel_of_media_models_is_probed_with_a_request_its_models_take(relaygate: Relaygate,
                                                                           upstream: MockOpenAI, kind: str,
                                                                           model: str, path: str) -> None:
    base = upstream.base_url if kind == "openai" else upstream.base_url.removesuffix("/v1")
    t = media_tenant(relaygate, [base], models=[model], channel_fields={"type": kind})
    result = relaygate.ok("POST", f"/api/channels/{t.channel_ids[0]}/test")
    assert (result["ok"], result["status"]) == (True, 200), result
    assert [r.path for r in upstream.requests] == [path]
    upstream.mode = "401"
    assert relaygate.ok("POST", f"/api/channels/{t.channel_ids[0]}/test")["ok"] is False


def test_media_requests_are_counted_in_the_metrics_as_chat_is(relaygate: Relaygate, upstream: MockOpenAI) -> None:
    t = media_tenant(relaygate, [upstream.base_url])
    with relaygate.client(t.key) as client:
        client.audio.speech.create(model="tts-1", input="hi", voice="alloy")
        client.audio.transcriptions.create(file=("a.wav", tone(1.0)), model="whisper-1")
        client.images.generate(model="dall-e-2", prompt="a fox")
        with pytest.raises(openai.BadRequestError):
            client.images.generate(model="dall-e-3", prompt="a fox", n=2)
    text = relaygate.http.get("/metrics").text
    for route, model, status in [("speech", "tts-1", 200), ("transcriptions", "whisper-1", 200),
                                 ("image_generations", "dall-e-2", 200), ("image_generations", "other", 400)]:
        assert f'relaygate_requests_total{{model="{model}",route="{route}",status="{status}"}}' in text, route
    assert 'relaygate_first_chunk_seconds_count{route="speech"}' in text
