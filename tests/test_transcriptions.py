"""Transcriptions and translations through relaygate with the openai SDK: the form relayed field for field, every
answer format byte for byte, streams, billed per second of the file's own length or by the upstream's usage, and
unreadable uploads refused before the upstream."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from tests import webm
from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant
from tests.media import last_row, media_tenant, quota, rows, spent
from tests.upstreams.openai_mock import MockOpenAI

WHISPER_PER_SECOND = 0.006 / 60
"""The default prices (relaygate/billing/default_prices.py)."""
TRANSCRIBE = (6.0 / 1e6, 10.0 / 1e6)
MINI_TRANSCRIBE = (3.0 / 1e6, 5.0 / 1e6)


@pytest.fixture
def tenant(relaygate: Relaygate, upstream: MockOpenAI) -> Tenant:
    return media_tenant(relaygate, [upstream.base_url])


@pytest.fixture
def client(relaygate: Relaygate, tenant: Tenant) -> Iterator[openai.OpenAI]:
    with relaygate.client(tenant.key) as sdk:
        yield sdk


def tone(seconds: float, rate: int = 16_000) -> bytes:
    """A real WAV file: `seconds` of a 440 Hz sine, 16-bit mono, written with Python's wave module."""
    frames = round(seconds * rate)
    samples = struct.pack(f"<{frames}h", *(round(8000 * math.sin(2 * math.pi * 440 * i / rate))
                                           for i in range(frames)))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return out.getvalue()


@pytest.fixture
def direct(upstream: MockOpenAI) -> Iterator[openai.OpenAI]:
    """The SDK talking to the fake upstream itself, to compare with what comes through the relay."""
    with openai.OpenAI(base_url=upstream.base_url, api_key=UPSTREAM_KEY, max_retries=0) as sdk:
        yield sdk


def test_a_wav_made_here_is_billed_for_its_true_length(relaygate: Relaygate, upstream: MockOpenAI,
                                                        tenant: Tenant, client: openai.OpenAI) -> None:
    audio = tone(2.75)
    text = client.audio.transcriptions.create(file=("tone.wav", audio), model="whisper-1", response_format="text")
    assert text == "the quick brown fox jumps over the\n"
    assert upstream.media.last.duration == pytest.approx(2.75)
    row = last_row(relaygate, tenant)
    assert (row["endpoint"], row["audio_seconds"], row["status"]) == ("transcriptions", pytest.approx(2.75), 200)
    assert row["cost"] == quota(2.75 * WHISPER_PER_SECOND) == spent(relaygate, tenant)


WEBM: dict[str, tuple[Callable[[], bytes], float]] = {
    "ffmpeg's muxer (with a Duration)": (lambda: webm.muxed(3.3), 3.3),
    "ffmpeg's muxer live (no Duration)": (lambda: webm.muxed(3.3, live=True), 3.3),
    "MediaRecorder (unknown sizes, no Duration)": (lambda: webm.media_recorder(3.3), 3.3),
    "a long MediaRecorder recording (spooled to disk)": (lambda: webm.media_recorder(100.0, bit_rate=128_000), 100.0),
}
"""Real WebM files of Opus audio, encoded in the test by libopus (PyAV), and the seconds they hold."""


@pytest.mark.parametrize("made_by", WEBM)
def test_a_webm_made_here_is_billed_for_its_true_length(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                                        client: openai.OpenAI, made_by: str) -> None:
    make, seconds = WEBM[made_by]
    audio = make()
    text = client.audio.transcriptions.create(file=("voice.webm", audio, "audio/webm"), model="whisper-1",
                                              response_format="text")
    assert text.startswith("the quick brown fox")
    decoded = upstream.media.last.duration  # what ffmpeg's decoder makes of it, at the fake upstream
    assert decoded == pytest.approx(seconds, abs=0.03)
    row = last_row(relaygate, tenant)
    assert (row["endpoint"], row["status"]) == ("transcriptions", 200)
    assert row["audio_seconds"] == pytest.approx(decoded, abs=0.002)
    assert row["cost"] == quota(row["audio_seconds"] * WHISPER_PER_SECOND) == spent(relaygate, tenant)


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("json", "application/json"), ("text", "text/plain; charset=utf-8"), ("srt", "text/plain; charset=utf-8"),
    ("vtt", "text/plain; charset=utf-8"), ("verbose_json", "application/json")])
def test_each_answer_format_comes_back_byte_for_byte(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                                     fmt: str, content_type: str,
                                                     client: openai.OpenAI, direct: openai.OpenAI) -> None:
    upload = ("talk.wav", tone(3.2))
    straight = direct.audio.transcriptions.with_raw_response.create(
        file=upload, model="whisper-1", response_format=fmt)  # type: ignore[call-overload]
    relayed = client.audio.transcriptions.with_raw_response.create(
        file=upload, model="whisper-1", response_format=fmt)  # type: ignore[call-overload]
    assert relayed.headers["content-type"] == straight.headers["content-type"] == content_type
    assert relayed.content == straight.content
    # json and verbose_json report whisper's usage (whole seconds, rounded up): that is what is billed
    seconds = 4 if fmt in ("json", "verbose_json") else 3.2
    row = last_row(relaygate, tenant)
    assert row["audio_seconds"] == pytest.approx(seconds) and row["cost"] == quota(seconds * WHISPER_PER_SECOND)


def test_every_field_reaches_the_upstream_in_order_word_timestamps_too(relaygate: Relaygate, upstream: MockOpenAI,
                                                                        tenant: Tenant, client: openai.OpenAI) -> None:
    audio = tone(7.25, rate=8_000)
    verbose = client.audio.transcriptions.create(
        file=("long talk “1”.wav", audio, "audio/wav"), model="whisper-1", language="fr", prompt="a fox",
        response_format="verbose_json", timestamp_granularities=["word", "segment"], temperature=0.2)
    assert verbose.words is not None and len(verbose.words) == 18 and verbose.words[-1].end == 7.25
    assert verbose.segments is not None and verbose.duration == 7.25
    sent = upstream.media.last
    assert sent.names == ["model", "language", "prompt", "response_format", "temperature",
                          "timestamp_granularities[]", "timestamp_granularities[]", "file"]
    assert sent.fields("timestamp_granularities[]") == ["word", "segment"] and sent.field("temperature") == "0.2"
    [file] = sent.files("file")
    assert (file.filename, file.content_type, file.data) == ("long talk “1”.wav", "audio/wav", audio)


def test_repeated_fields_and_unknown_ones_are_relayed_as_sent(relaygate: Relaygate, upstream: MockOpenAI,
                                                              tenant: Tenant) -> None:
    audio = tone(1.0)
    fields = [("include[]", "logprobs"), ("model", "gpt-4o-transcribe"), ("x_note", "kept"), ("x_note", "twice"),
              ("chunking_strategy[type]", "server_vad"), ("chunking_strategy[threshold]", "0.4")]
    parts = [(f'name="{name}"', b"", value.encode()) for name, value in fields]
    parts.append(('name="file"; filename="a.wav"', b"Content-Type: audio/wav\r\n", audio))
    body = b"".join(b"--b0undary\r\nContent-Disposition: form-data; " + disposition.encode() + b"\r\n" + head
                    + b"\r\n" + value + b"\r\n" for disposition, head, value in parts) + b"--b0undary--\r\n"
    resp = httpx.post(relaygate.base_url + "/audio/transcriptions", content=body, timeout=10,
                      headers={"Authorization": f"Bearer {tenant.key}",
                               "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert resp.status_code == 200, resp.text
    sent = upstream.media.last
    assert [(p.name, p.text) for p in sent.parts[:-1]] == fields
    assert sent.fields("x_note") == ["kept", "twice"] and sent.files("file")[0].data == audio
    assert resp.json()["logprobs"]


def test_gpt_4o_transcribe_is_billed_by_the_tokens_it_reports(relaygate: Relaygate, upstream: MockOpenAI,
                                                              tenant: Tenant, client: openai.OpenAI) -> None:
    answer = client.audio.transcriptions.create(file=("t.wav", tone(2.0)), model="gpt-4o-transcribe",
                                                prompt="two words")
    assert answer.usage is not None and answer.usage.type == "tokens"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (22, 5)
    row = last_row(relaygate, tenant)
    assert (row["prompt_tokens"], row["completion_tokens"], row["audio_seconds"]) == (22, 5, 0)
    assert row["cost"] == quota(22 * TRANSCRIBE[0] + 5 * TRANSCRIBE[1]) == spent(relaygate, tenant)


def test_a_transcription_stream_is_relayed_event_by_event_and_billed_by_its_usage(
        relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
        client: openai.OpenAI, direct: openai.OpenAI) -> None:
    upload = ("t.wav", tone(2.0))
    expected = list(direct.audio.transcriptions.create(file=upload, model="gpt-4o-mini-transcribe", stream=True))
    upstream.media.chunk_delay = 0.02
    relayed = list(client.audio.transcriptions.create(file=upload, model="gpt-4o-mini-transcribe", stream=True))
    assert [e.model_dump() for e in relayed] == [e.model_dump() for e in expected]
    assert [e.type for e in relayed] == ["transcript.text.delta"] * 5 + ["transcript.text.done"]
    done = relayed[-1]
    assert done.type == "transcript.text.done" and done.usage is not None
    usage = done.usage.model_dump()
    row = last_row(relaygate, tenant)
    assert (row["prompt_tokens"], row["completion_tokens"], row["is_stream"]) == (
        usage["input_tokens"], usage["output_tokens"], True)
    assert row["cost"] == quota(usage["input_tokens"] * MINI_TRANSCRIBE[0] + usage["output_tokens"] *
                                MINI_TRANSCRIBE[1]) == spent(relaygate, tenant)


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks translations deprecated
def test_translations_are_relayed_and_billed_per_second(relaygate: Relaygate, upstream: MockOpenAI,
                                                        tenant: Tenant, client: openai.OpenAI) -> None:
    verbose = client.audio.translations.create(file=("fr.wav", tone(2.0)), model="whisper-1",
                                               response_format="verbose_json")
    assert (verbose.language, verbose.text) == ("english", "the quick brown fox jumps")
    assert upstream.media.last.path == "/v1/audio/translations"
    text = client.audio.translations.create(file=("fr.wav", tone(1.5)), model="whisper-1", response_format="srt")
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,500\n")
    assert [(r["endpoint"], r["audio_seconds"]) for r in rows(relaygate, tenant)] == [
        ("translations", 2.0), ("translations", 1.5)]
    assert spent(relaygate, tenant) == quota(2.0 * WHISPER_PER_SECOND) + quota(1.5 * WHISPER_PER_SECOND)


def test_a_large_upload_is_spooled_and_reaches_a_second_channel_whole(relaygate: Relaygate, upstream: MockOpenAI,
                                                                      fresh_mock: MockOpenAI) -> None:
    t = media_tenant(relaygate, [fresh_mock.base_url, upstream.base_url])
    relaygate.ok("PATCH", f"/api/channels/{t.channel_ids[0]}", {"priority": 10})
    fresh_mock.fail_next("500")
    audio = tone(120.0, rate=22_050)  # ~5 MiB: past the in-memory threshold
    with relaygate.client(t.key) as client:
        text = client.audio.transcriptions.create(file=("long.wav", audio), model="whisper-1", response_format="text")
    assert text.startswith("the quick brown fox")
    assert fresh_mock.count("/audio/transcriptions") == 1 and upstream.media.last.files("file")[0].data == audio
    assert spent(relaygate, t) == quota(120.0 * WHISPER_PER_SECOND)


@pytest.mark.parametrize(("files", "data", "param", "code"), [
    ({"file": ("notes.txt", b"plain words, not audio", "text/plain")}, {"model": "whisper-1"}, "file",
     "invalid_audio"),
    ({"file": ("broken.wav", b"RIFF" + bytes(40), "audio/wav")}, {"model": "whisper-1"}, "file", "invalid_audio"),
    ({"file": ("empty.wav", tone(0.0), "audio/wav")}, {"model": "whisper-1"}, "file", "invalid_audio"),
    ({"file": ("cut.webm", webm.media_recorder(1.0)[:-7], "audio/webm")}, {"model": "whisper-1"}, "file",
     "invalid_audio"),
    ({"file": ("v.webm", webm.header() + webm.element(webm.SEGMENT, b"\x00" * 64), "audio/webm")},
     {"model": "whisper-1"}, "file", "invalid_audio"),
    ({"file": ("a.wav", tone(1.0), "audio/wav")}, {}, "model", "missing_required_parameter"),
    ({"other": ("a.wav", tone(1.0), "audio/wav")}, {"model": "whisper-1"}, "file", "missing_required_parameter"),
    ({"other": ("a.wav", b"x")}, {"model": "whisper-1", "file": "a.wav"}, "file", "invalid_type"),
])
def test_unreadable_or_incomplete_uploads_are_refused_before_the_upstream(
        relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant, files: dict[str, Any], data: dict[str, str],
        param: str, code: str) -> None:
    resp = httpx.post(relaygate.base_url + "/audio/transcriptions", headers={"Authorization": f"Bearer {tenant.key}"},
                      files=files, data=data, timeout=10)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["param"], error["code"]) == (param, code) and resp.headers["x-request-id"].startswith("req_")
    assert upstream.media.requests == [] and spent(relaygate, tenant) == 0


@pytest.mark.parametrize(("content", "content_type", "says"), [
    (b'{"model": "whisper-1"}', "application/json", "multipart/form-data"),
    (b"--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--x\r\nbroken", "multipart/form-data",
     "malformed"),
    (b"--x\r\nContent-Disposition: form-data\r\n\r\nwhisper-1\r\n--x--\r\n", "multipart/form-data", "name"),
])
def test_malformed_forms_are_refused(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant, content: bytes,
                                     content_type: str, says: str) -> None:
    header = content_type + ("; boundary=x" if content_type.startswith("multipart") else "")
    resp = httpx.post(relaygate.base_url + "/audio/transcriptions", content=content, timeout=10,
                      headers={"Authorization": f"Bearer {tenant.key}", "Content-Type": header})
    assert resp.status_code == 400 and says in resp.json()["error"]["message"], resp.text
    assert upstream.media.requests == []


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks translations deprecated
def test_failed_transcriptions_and_translations_cost_nothing(relaygate: Relaygate, upstream: MockOpenAI,
                                                             tenant: Tenant, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(file=("a.wav", tone(1.0)), model="whisper-1", language="xx")
    assert (err.value.param, err.value.code) == ("language", "invalid_language_format")
    upstream.mode = "500"
    with pytest.raises(openai.InternalServerError) as failed:
        client.audio.translations.create(file=("a.wav", tone(1.0)), model="whisper-1")
    assert failed.value.status_code == 502
    upstream.mode = "stream_cut"
    cut = httpx.post(relaygate.base_url + "/audio/transcriptions", headers={"Authorization": f"Bearer {tenant.key}"},
                     data={"model": "gpt-4o-mini-transcribe", "stream": "true"}, files={"file": ("a.wav", tone(2.0))},
                     timeout=10)
    events = [orjson.loads(line[6:]) for line in cut.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1) and events[:-1]
    assert events[-1]["error"]["code"] == "upstream_error" and "not billed" in events[-1]["error"]["message"]
    assert [(r["status"], r["cost"]) for r in rows(relaygate, tenant)] == [(400, 0), (502, 0), (502, 0)]
    assert spent(relaygate, tenant) == 0
