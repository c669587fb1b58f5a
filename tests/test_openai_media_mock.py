"""The fake OpenAI upstream's audio endpoints answer the official openai SDK as OpenAI would: speech in every format,
paced and as SSE, transcriptions and translations in every format, and every rule refused."""

from __future__ import annotations

import base64
import io
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from tests import webm
from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

KEY = "sk-upstream-test"
SPEECH = {"model": "gpt-4o-mini-tts", "input": "Hello from the speech test.", "voice": "alloy"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[KEY]).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockOpenAI) -> MockOpenAI:
    upstream.reset()
    return upstream


@pytest.fixture
def client(mock: MockOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0, timeout=20) as sdk:
        yield sdk


def _events(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", b"\xff\xfb"), ("opus", b"OggS"), ("aac", b"\xff\xf1"),
                                            ("flac", b"fLaC"), ("wav", b"RIFF"), ("pcm", b"")])
def test_speech_comes_in_each_format_with_its_content_type_and_framing(mock: MockOpenAI, client: openai.OpenAI,
                                                                       fmt: str, magic: bytes) -> None:
    mock.media.speech_seconds = 1.5
    audio = client.audio.speech.create(model="tts-1", input="hello", voice="nova", response_format=fmt)
    assert audio.response.headers["content-type"] == media_bytes.CONTENT_TYPES[fmt]
    assert audio.content.startswith(magic) and audio.content == media_bytes.speech(fmt, 1.5)
    if fmt == "pcm":
        assert len(audio.content) == 2 * 24_000 * 1.5
    assert mock.media.last.json == {"model": "tts-1", "input": "hello", "voice": "nova", "response_format": fmt}


def test_a_wav_answer_is_a_real_wave_file_as_long_as_the_input_takes_to_say(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(model="tts-1-hd", input="x" * 45, voice="echo", response_format="wav",
                                       speed=1.5)
    with wave.open(io.BytesIO(audio.content)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24_000)
        assert reader.getnframes() / reader.getframerate() == pytest.approx(45 / 15 / 1.5)


def test_speech_streams_its_first_bytes_before_the_upstream_has_finished(mock: MockOpenAI,
                                                                         client: openai.OpenAI) -> None:
    mock.media.speech_seconds, mock.media.chunk_bytes, mock.media.chunk_delay = 3.0, 8192, 0.1
    with client.audio.speech.with_streaming_response.create(model="tts-1", input="hi", voice="alloy") as resp:
        chunks = resp.iter_bytes()
        first = next(chunks)
        assert first and mock.media.finished_at == []
        received = first + b"".join(chunks)
    assert len(mock.media.finished_at) == 1 and time.monotonic() >= mock.media.finished_at[0]
    assert received == media_bytes.mp3(3.0) and len(received) > 5 * 8192


def test_sse_speech_carries_the_same_audio_in_deltas_and_the_usage_in_done(mock: MockOpenAI,
                                                                           client: openai.OpenAI) -> None:
    plain = client.audio.speech.create(**SPEECH, response_format="flac").content
    events = _events(client.audio.speech.create(**SPEECH, response_format="flac", stream_format="sse",
                                                instructions="Speak slowly").text)
    assert [e["type"] for e in events] == ["speech.audio.delta"] * (len(events) - 1) + ["speech.audio.done"]
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1]) == plain
    assert events[-1]["usage"] == {"input_tokens": 7, "output_tokens": 36, "total_tokens": 43}
    assert mock.media.last.json["stream_format"] == "sse"


def test_input_is_limited_in_characters_not_bytes(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(model="tts-1", input="语" * 4096, voice="alloy", response_format="pcm")
    assert audio.response.status_code == 200


@pytest.mark.parametrize(("change", "param", "code"), [
    ({"input": "x" * 4097}, "input", "string_above_max_length"),
    ({"input": ""}, "input", "empty_string"),
    ({"input": 5}, "input", "invalid_type"),
    ({"model": "tts-1", "instructions": "cheerful"}, "instructions", "unsupported_parameter"),
    ({"model": "tts-1-hd", "stream_format": "sse"}, "stream_format", "unsupported_value"),
    ({"stream_format": "chunks"}, "stream_format", "invalid_value"),
    ({"speed": 4.5}, "speed", "decimal_above_max_value"),
    ({"speed": 0.2}, "speed", "decimal_below_min_value"),
    ({"speed": "fast"}, "speed", "invalid_type"),
    ({"response_format": "ogg"}, "response_format", "invalid_value"),
    ({"voice": "bob"}, "voice", "invalid_value"),
    ({"model": "tts-1", "voice": "marin"}, "voice", "invalid_value"),
    ({"model": "tts-1", "voice": {"id": "voice_123"}}, "voice", "unsupported_value"),
    ({"voice": None}, "voice", "missing_required_parameter"),
    ({"instructions": "x" * 4097}, "instructions", "string_above_max_length"),
])
def test_speech_rules_are_refused_as_openai_refuses_them(mock: MockOpenAI, client: openai.OpenAI,
                                                         change: dict[str, Any], param: str, code: str) -> None:
    body = {k: v for k, v in {**SPEECH, **change}.items() if v is not None}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/audio/speech", body=body, cast_to=object)
    assert (err.value.param, err.value.code, err.value.type) == (param, code, "invalid_request_error")
    assert mock.media.last.json == body


def test_a_custom_voice_and_every_new_voice_work_on_gpt_4o_mini_tts(client: openai.OpenAI) -> None:
    for voice in ("marin", "cedar", "ballad", {"id": "voice_abc"}):
        assert client.audio.speech.create(**{**SPEECH, "voice": voice}).content.startswith(b"\xff\xfb")


def test_an_unknown_speech_model_is_not_found_and_json_is_required(mock: MockOpenAI, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.audio.speech.create(**{**SPEECH, "model": "gpt-4o"})
    assert err.value.code == "model_not_found"
    resp = httpx.post(mock.base_url + "/audio/speech", data={"model": "tts-1"}, timeout=5,
                      headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 400 and "expected application/json" in resp.json()["error"]["message"]


def _wav(seconds: float) -> tuple[str, bytes, str]:
    return ("talk.wav", media_bytes.wav(seconds, rate=16_000), "audio/wav")


def test_whisper_json_text_srt_and_vtt_answers(mock: MockOpenAI, client: openai.OpenAI) -> None:
    upload = _wav(3.2)
    as_json = client.audio.transcriptions.create(file=upload, model="whisper-1")
    assert as_json.text == "the quick brown fox jumps over the lazy"
    assert as_json.usage is not None and as_json.usage.type == "duration" and as_json.usage.seconds == 4
    text = client.audio.transcriptions.with_raw_response.create(file=upload, model="whisper-1",
                                                                 response_format="text")
    assert text.headers["content-type"] == "text/plain; charset=utf-8" and text.text == as_json.text + "\n"
    srt = client.audio.transcriptions.create(file=upload, model="whisper-1", response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:03,200\nthe quick brown")
    vtt = client.audio.transcriptions.create(file=upload, model="whisper-1", response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:03.200\nthe quick brown")
    assert mock.media.last.duration == pytest.approx(3.2)


def test_verbose_json_gives_the_files_true_duration_segments_and_words(mock: MockOpenAI,
                                                                        client: openai.OpenAI) -> None:
    data = media_bytes.wav(7.25, rate=8_000)
    verbose = client.audio.transcriptions.create(file=("long.wav", data), model="whisper-1", language="fr",
                                                 response_format="verbose_json", prompt="a fox",
                                                 timestamp_granularities=["word", "segment"], temperature=0.2)
    assert verbose.duration == 7.25 and verbose.language == "french"
    assert verbose.words is not None and len(verbose.words) == 18 and verbose.words[-1].end == 7.25
    assert verbose.segments is not None and [s.id for s in verbose.segments] == [0, 1, 2]
    assert verbose.segments[-1].end == 7.25 and verbose.usage is not None and verbose.usage.seconds == 8
    sent = mock.media.last
    assert sent.names == ["model", "language", "prompt", "response_format", "temperature",
                          "timestamp_granularities[]", "timestamp_granularities[]", "file"]
    assert sent.fields("timestamp_granularities[]") == ["word", "segment"] and sent.field("temperature") == "0.2"
    [upload] = sent.files("file")
    assert (upload.filename, upload.size, upload.data) == ("long.wav", len(data), data)
    words_only = client.audio.transcriptions.create(file=("a.wav", data), model="whisper-1",
                                                    response_format="verbose_json", timestamp_granularities=["word"])
    assert words_only.words and words_only.segments is None


def test_webm_is_decoded_for_its_length_and_a_broken_one_refused(mock: MockOpenAI, client: openai.OpenAI) -> None:
    data = webm.media_recorder(2.5)
    verbose = client.audio.transcriptions.create(file=("rec.webm", data, "audio/webm"), model="whisper-1",
                                                 response_format="verbose_json")
    assert verbose.duration == pytest.approx(2.5, abs=0.02) == mock.media.last.duration
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(file=("rec.webm", data[:200], "audio/webm"), model="whisper-1")
    assert (err.value.param, err.value.code) == ("file", "invalid_value") and "corrupted" in err.value.message


def test_gpt_4o_transcribe_bills_tokens_returns_logprobs_and_streams(mock: MockOpenAI, client: openai.OpenAI) -> None:
    upload = _wav(2.0)
    answer = client.audio.transcriptions.create(file=upload, model="gpt-4o-transcribe", include=["logprobs"],
                                                prompt="two words", chunking_strategy="auto")
    assert answer.usage is not None and answer.usage.type == "tokens"
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (22, 5, 27)
    assert answer.logprobs is not None and [p.token for p in answer.logprobs] == answer.text.split()
    events = list(client.audio.transcriptions.create(file=upload, model="gpt-4o-mini-transcribe", stream=True,
                                                     chunking_strategy={"type": "server_vad", "threshold": 0.4}))
    assert [e.type for e in events] == ["transcript.text.delta"] * 5 + ["transcript.text.done"]
    assert "".join(getattr(e, "delta", "") for e in events) == events[-1].text == answer.text
    done = events[-1]
    assert done.type == "transcript.text.done" and done.usage is not None and done.usage.total_tokens == 25
    assert mock.media.last.field("chunking_strategy[type]") == "server_vad"


def test_whisper_ignores_stream_as_openai_does(client: openai.OpenAI) -> None:
    resp = client.audio.transcriptions.with_raw_response.create(file=_wav(1.0), model="whisper-1", stream=False,
                                                                extra_body={"stream": "true"})
    assert resp.headers["content-type"] == "application/json"


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks translations deprecated
def test_translations_take_whisper_1_only_and_answer_in_english(mock: MockOpenAI, client: openai.OpenAI) -> None:
    verbose = client.audio.translations.create(file=_wav(2.0), model="whisper-1", response_format="verbose_json")
    assert (verbose.language, verbose.duration, verbose.text) == ("english", 2.0, "the quick brown fox jumps")
    assert mock.media.last.path == "/v1/audio/translations"
    plain = client.audio.translations.with_raw_response.create(file=_wav(2.0), model="whisper-1")
    assert orjson.loads(plain.text) == {"text": "the quick brown fox jumps"}
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.translations.create(file=_wav(2.0), model="gpt-4o-transcribe")
    assert (err.value.param, err.value.code) == ("model", "invalid_value")


@pytest.mark.parametrize(("change", "param", "code"), [
    ({"model": "gpt-4o-transcribe", "response_format": "verbose_json"}, "response_format", "unsupported_value"),
    ({"model": "gpt-4o-mini-transcribe", "response_format": "srt"}, "response_format", "unsupported_value"),
    ({"response_format": "html"}, "response_format", "invalid_value"),
    ({"timestamp_granularities": ["word"]}, "timestamp_granularities", "unsupported_value"),
    ({"response_format": "verbose_json", "timestamp_granularities": ["char"]}, "timestamp_granularities",
     "invalid_value"),
    ({"include": ["logprobs"]}, "include", "unsupported_value"),
    ({"model": "gpt-4o-transcribe", "include": ["tokens"]}, "include", "invalid_value"),
    ({"temperature": 1.5}, "temperature", "decimal_above_max_value"),
    ({"temperature": "warm"}, "temperature", "invalid_type"),
    ({"language": "xx"}, "language", "invalid_language_format"),
    ({"chunking_strategy": "manual"}, "chunking_strategy", "invalid_value"),
    ({"chunking_strategy": {"type": "client_vad"}}, "chunking_strategy.type", "invalid_value"),
    ({"chunking_strategy": {"type": "server_vad", "threshold": 2}}, "chunking_strategy.threshold",
     "decimal_above_max_value"),
    ({"stream": "maybe"}, "stream", "invalid_type"),
    ({"file": ("notes.txt", b"plain words", "text/plain")}, "file", "invalid_value"),
    ({"file": ("broken.wav", b"RIFF" + bytes(40), "audio/wav")}, "file", "invalid_value"),
    ({"file": ("silence.mp3", b"ID3" + bytes(64), "audio/mpeg")}, "file", "invalid_value"),
])
def test_transcription_rules_are_refused_as_openai_refuses_them(mock: MockOpenAI, client: openai.OpenAI,
                                                                change: dict[str, Any], param: str,
                                                                code: str) -> None:
    args = {"file": _wav(1.0), "model": "whisper-1", **change}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/audio/transcriptions", body={k: v for k, v in args.items() if k != "file"},
                    files=[("file", args["file"])], options={"headers": {"Content-Type": "multipart/form-data"}},
                    cast_to=object)
    assert (err.value.param, err.value.code) == (param, code)
    assert mock.media.last.files("file")[0].data == args["file"][1]


def test_missing_or_misplaced_fields_and_oversized_files(mock: MockOpenAI) -> None:
    def post(files: dict[str, Any], data: dict[str, str]) -> httpx.Response:
        return httpx.post(mock.base_url + "/audio/transcriptions", files=files, data=data, timeout=30,
                          headers={"Authorization": f"Bearer {KEY}"})

    wav = {"file": _wav(1.0)}
    other = {"other": ("other.bin", b"x")}
    assert post(wav, {}).json()["error"]["param"] == "model"
    assert post({"model": ("m.txt", b"whisper-1")}, {}).json()["error"]["code"] == "invalid_type"
    assert post(other, {"model": "whisper-1", "file": "talk.wav"}).json()["error"]["code"] == "invalid_type"
    assert post(other, {"model": "whisper-1"}).json()["error"]["code"] == "missing_required_parameter"
    assert post(wav, {"model": "whisper-2"}).status_code == 404
    big = post({"file": ("big.wav", b"RIFF" + bytes(25 * 1024 * 1024))}, {"model": "whisper-1"})
    assert big.status_code == 413 and "26214400" in big.json()["error"]["message"]
    assert mock.media.last.files("file")[0].size == 25 * 1024 * 1024 + 4
    as_json = httpx.post(mock.base_url + "/audio/transcriptions", json={"model": "whisper-1"}, timeout=5,
                         headers={"Authorization": f"Bearer {KEY}"})
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]["message"]
    cut = httpx.post(mock.base_url + "/audio/transcriptions", content=b"--XX\r\nContent-Disposition: form-data",
                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "multipart/form-data; boundary=XX"},
                     timeout=5)
    assert cut.status_code == 400 and "multipart" in cut.json()["error"]["message"]


def test_azure_deployment_urls_serve_audio(mock: MockOpenAI) -> None:
    base = f"http://127.0.0.1:{mock.port}/openai/deployments/whisper-1/audio/transcriptions"
    resp = httpx.post(base, params={"api-version": "2024-06-01"}, files={"file": _wav(1.0)}, timeout=5,
                      headers={"api-key": KEY})
    assert resp.json()["text"] == "the quick" and mock.media.last.deployment == "whisper-1"
    wrong = httpx.post(base, params={"api-version": "2024-06-01"}, files={"file": _wav(1.0)},
                       data={"model": "gpt-4o-transcribe"}, headers={"api-key": KEY}, timeout=5)
    assert wrong.status_code == 400 and "does not match the deployment" in wrong.json()["error"]["message"]


def test_azure_lists_its_models_with_an_api_version_and_key(mock: MockOpenAI) -> None:
    url = f"http://127.0.0.1:{mock.port}/openai/models"
    listed = httpx.get(url, params={"api-version": "2024-10-21"}, headers={"api-key": KEY}, timeout=5)
    assert listed.status_code == 200 and listed.json()["object"] == "list"
    assert httpx.get(url, headers={"api-key": KEY}, timeout=5).status_code == 404
    assert httpx.get(url, params={"api-version": "2024-10-21"}, headers={"api-key": "nope"},
                     timeout=5).status_code == 401


@pytest.mark.parametrize(("mode", "error"), [("500", openai.InternalServerError), ("429", openai.RateLimitError),
                                             ("reset", openai.APIConnectionError)])
def test_failure_modes_hit_audio_endpoints_too(mock: MockOpenAI, mode: str, error: type[Exception]) -> None:
    mock.fail_next(mode, mode)
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0, timeout=3) as client:
        with pytest.raises(error):
            client.audio.speech.create(**SPEECH)
        with pytest.raises(error):
            client.audio.transcriptions.create(file=_wav(1.0), model="whisper-1")
        assert client.audio.speech.create(**SPEECH).content


def test_a_stream_cut_mode_drops_speech_after_its_first_chunks(mock: MockOpenAI, client: openai.OpenAI) -> None:
    mock.fail_next("stream_cut")
    mock.media.speech_seconds = 3.0
    with pytest.raises(httpx.RemoteProtocolError), \
            client.audio.speech.with_streaming_response.create(**SPEECH) as resp:
        b"".join(resp.iter_bytes())
    assert mock.media.finished_at == []
