"""Text to speech through relaygate with the openai SDK: every format unchanged and streamed as it arrives, the SSE
events with their usage, billed per character (code points) or by tokens, refused before upstream, never billed
when it fails."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant
from tests.media import last_row, media_tenant, quota, rows, spent
from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

TTS_1_PER_CHARACTER = 15.0 / 1e6
"""The default prices (relaygate/billing/default_prices.py)."""
MINI_TTS = (0.6 / 1e6, 12.0 / 1e6)


@pytest.fixture
def tenant(relaygate: Relaygate, upstream: MockOpenAI) -> Tenant:
    return media_tenant(relaygate, [upstream.base_url])


@pytest.fixture
def client(relaygate: Relaygate, tenant: Tenant) -> Iterator[openai.OpenAI]:
    with relaygate.client(tenant.key) as sdk:
        yield sdk


def _download(rg: Relaygate, t: Tenant, body: dict[str, Any], into: list[bytes]) -> None:
    with httpx.stream("POST", rg.base_url + "/audio/speech", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {t.key}"}) as resp:
        assert resp.status_code == 200
        into.extend(resp.iter_bytes())


def _events(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_streams_unchanged_with_the_upstreams_content_type(relaygate: Relaygate, upstream: MockOpenAI,
                                                                        tenant: Tenant, fmt: str,
                                                                        client: openai.OpenAI) -> None:
    expected = media_bytes.speech(fmt, 1.0)
    upstream.media.speech_seconds, upstream.media.chunk_bytes = 1.0, len(expected) // 4 + 1  # four chunks
    upstream.media.chunk_delay = 0.05
    with client.audio.speech.with_streaming_response.create(model="tts-1", input="hello", voice="nova",
                                                            response_format=fmt) as resp:
        assert resp.headers["content-type"] == media_bytes.CONTENT_TYPES[fmt]
        chunks = resp.iter_bytes()
        first = next(chunks)
        assert first and upstream.media.finished_at == [], "the first audio bytes came after the upstream finished"
        audio = first + b"".join(chunks)
    assert audio == expected
    assert upstream.media.last.json == {"model": "tts-1", "input": "hello", "voice": "nova", "response_format": fmt}
    row = last_row(relaygate, tenant)
    assert (row["status"], row["endpoint"], row["characters"], row["cost"]) == (
        200, "speech", 5, quota(5 * TTS_1_PER_CHARACTER))
    assert row["first_chunk_ms"] is not None and spent(relaygate, tenant) == row["cost"]


def test_characters_are_code_points_not_bytes(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                              client: openai.OpenAI) -> None:
    text = "你好，世界。" * 600  # 3,600 characters, 10,800 bytes of UTF-8
    audio = client.audio.speech.create(model="tts-1-hd", input=text, voice="alloy", response_format="pcm")
    assert audio.content == media_bytes.pcm(len(text) / 15)
    row = last_row(relaygate, tenant)
    assert row["characters"] == 3600 and row["cost"] == quota(3600 * 30.0 / 1e6) == spent(relaygate, tenant)


def test_sse_events_are_relayed_and_the_usage_in_done_is_billed(relaygate: Relaygate, upstream: MockOpenAI,
                                                                tenant: Tenant, client: openai.OpenAI) -> None:
    ask = {"model": "gpt-4o-mini-tts", "input": "Hello from the speech test.", "voice": "alloy",
           "response_format": "flac", "instructions": "Speak slowly"}
    with openai.OpenAI(base_url=upstream.base_url, api_key=UPSTREAM_KEY, max_retries=0) as direct:
        expected = direct.audio.speech.create(**ask, stream_format="sse").text
    got = client.audio.speech.create(**ask, stream_format="sse")
    assert got.response.headers["content-type"].startswith("text/event-stream") and got.text == expected
    events = _events(got.text)
    assert events[-1] == {"type": "speech.audio.done",
                          "usage": {"input_tokens": 7, "output_tokens": 36, "total_tokens": 43}}
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1]) == media_bytes.flac(27 / 15)
    row = last_row(relaygate, tenant)
    assert (row["prompt_tokens"], row["completion_tokens"], row["characters"], row["is_stream"]) == (7, 36, 0, True)
    assert row["cost"] == quota(7 * MINI_TTS[0] + 36 * MINI_TTS[1]) == spent(relaygate, tenant)


def test_token_models_answering_raw_audio_are_billed_per_character(relaygate: Relaygate, upstream: MockOpenAI,
                                                                   tenant: Tenant, client: openai.OpenAI) -> None:
    client.audio.speech.create(model="gpt-4o-mini-tts", input="twelve chars", voice="coral")
    row = last_row(relaygate, tenant)
    assert (row["characters"], row["prompt_tokens"]) == (12, 0)
    assert row["cost"] == quota(12 * 15.0 / 1e6) == spent(relaygate, tenant)


def test_input_over_4096_characters_is_refused_before_the_upstream(relaygate: Relaygate, upstream: MockOpenAI,
                                                                   tenant: Tenant, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.speech.create(model="tts-1", input="x" * 4097, voice="alloy")
    assert err.value.param == "input" and "4097 characters" in err.value.message
    assert err.value.response.headers["x-request-id"].startswith("req_")
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.speech.create(model="tts-1", input="hi", voice="alloy", stream_format="chunks")  # type: ignore[arg-type]
    assert err.value.param == "stream_format"
    assert upstream.media.requests == [] and spent(relaygate, tenant) == 0
    assert client.audio.speech.create(model="tts-1", input="语" * 4096, voice="alloy").response.status_code == 200


def test_upstream_refusals_pass_through_unbilled(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                                 client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.speech.create(model="tts-1", input="hi", voice="marin")
    assert (err.value.param, err.value.code) == ("voice", "invalid_value")
    assert spent(relaygate, tenant) == 0 and last_row(relaygate, tenant)["status"] == 400


def test_a_stream_broken_midway_aborts_the_answer_and_costs_nothing(relaygate: Relaygate, upstream: MockOpenAI,
                                                                    tenant: Tenant) -> None:
    upstream.media.speech_seconds, upstream.media.chunk_bytes = 2.0, 2048
    upstream.mode = "stream_cut"
    received: list[bytes] = []
    with pytest.raises(httpx.TransportError):
        _download(relaygate, tenant, {"model": "tts-1", "input": "hello", "voice": "alloy"}, received)
    assert received and len(b"".join(received)) < len(media_bytes.mp3(2.0)), "some audio arrived, not all of it"
    row = last_row(relaygate, tenant)
    assert (row["status"], row["error_code"], row["cost"]) == (502, "upstream_error", 0)
    assert spent(relaygate, tenant) == 0


def test_a_broken_sse_stream_ends_with_an_error_event_unbilled(relaygate: Relaygate, upstream: MockOpenAI,
                                                               tenant: Tenant) -> None:
    upstream.media.chunk_bytes = 512
    upstream.mode = "stream_cut"
    got = httpx.post(relaygate.base_url + "/audio/speech", headers={"Authorization": f"Bearer {tenant.key}"},
                     json={"model": "gpt-4o-mini-tts", "input": "hello there", "voice": "alloy",
                           "stream_format": "sse"}, timeout=10)
    events = _events(got.text)
    assert [e.get("type") for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["error"]["code"] == "upstream_error" and "not billed" in events[-1]["error"]["message"]
    assert spent(relaygate, tenant) == 0 and last_row(relaygate, tenant)["status"] == 502


def test_a_failing_channel_is_retried_and_a_failed_call_costs_nothing(relaygate: Relaygate, upstream: MockOpenAI,
                                                                      fresh_mock: MockOpenAI) -> None:
    t = media_tenant(relaygate, [fresh_mock.base_url, upstream.base_url])
    relaygate.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"priority": 10})
    fresh_mock.mode = "500"
    with relaygate.client(t.key) as client:
        audio = client.audio.speech.create(model="tts-1", input="again", voice="alloy")
        assert audio.content == media_bytes.mp3(5 / 15) and fresh_mock.count("/audio/speech") == 1
        assert [r["status"] for r in rows(relaygate, t)] == [200]
        assert spent(relaygate, t) == quota(5 * TTS_1_PER_CHARACTER)
        upstream.mode = "500"
        with pytest.raises(openai.InternalServerError) as err:
            client.audio.speech.create(model="tts-1", input="again", voice="alloy")
    assert err.value.status_code == 502 and spent(relaygate, t) == quota(5 * TTS_1_PER_CHARACTER)
