"""OpenAI audio wire rules for the fake upstream: speech, transcriptions and translations, validated as OpenAI does,
and their answers (text, srt, vtt, verbose_json with segments and words, usage in tokens or seconds)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import av
import mutagen
import mutagen.aac
import mutagen.mp3

from tests.upstreams.media_form import Form, FormPart
from tests.upstreams.openai_wire import WireError, invalid_type, missing

SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
CLASSIC_SPEECH = ("tts-1", "tts-1-hd")
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin",
          "cedar")
CLASSIC_VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
SPEECH_INPUT_LIMIT = 4096

TRANSCRIBE_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
TOKEN_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
TEXT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
FILE_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
FILE_LIMIT = 25 * 1024 * 1024
LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese",
             "nl": "dutch", "ru": "russian", "zh": "chinese", "ja": "japanese", "ko": "korean", "ar": "arabic",
             "hi": "hindi", "pl": "polish", "tr": "turkish", "uk": "ukrainian", "sv": "swedish"}
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog")
WORDS_PER_SECOND = 2.5
SEGMENT_WORDS = 8


def supported(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)


def invalid_value(param: str, value: Any, values: tuple[str, ...]) -> WireError:
    return WireError(400, f"Invalid value: '{value}'. Supported values are: {supported(values)}.", param=param,
                     code="invalid_value")


def unsupported_parameter(param: str) -> WireError:
    return WireError(400, f"Unsupported parameter: '{param}' is not supported with this model.", param=param,
                     code="unsupported_parameter")


def out_of_range(param: str, value: float, low: float, high: float) -> WireError:
    if value < low:
        return WireError(400, f"Invalid '{param}': decimal below minimum value. Expected a value >= {low:g}, but got "
                              f"{value:g} instead.", param=param, code="decimal_below_min_value")
    return WireError(400, f"Invalid '{param}': decimal above maximum value. Expected a value <= {high:g}, but got "
                          f"{value:g} instead.", param=param, code="decimal_above_max_value")


def model_not_found(name: str) -> WireError:
    return WireError(404, f"The model `{name}` does not exist or you do not have access to it.",
                     code="model_not_found")


def _string(body: dict[str, Any], name: str, *, required: bool = False, limit: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    if required and not value:
        raise WireError(400, f"Invalid '{name}': empty string. Expected a string with minimum length 1.", param=name,
                        code="empty_string")
    if limit is not None and len(value) > limit:
        raise WireError(400, f"Invalid '{name}': string too long. Expected a string with maximum length {limit}, but "
                             f"got a string with length {len(value)} instead.", param=name,
                        code="string_above_max_length")
    return value


def _voice(body: dict[str, Any], classic: bool) -> None:
    voice = body.get("voice")
    if voice is None:
        raise missing("voice")
    if isinstance(voice, dict):
        if not isinstance(voice.get("id"), str) or not voice["id"]:
            raise missing("voice.id")
        if classic:
            raise WireError(400, "Custom voices are not supported with this model.", param="voice",
                            code="unsupported_value")
        return
    if not isinstance(voice, str):
        raise invalid_type("voice", "a string or an object", voice)
    voices = CLASSIC_VOICES if classic else VOICES
    if voice not in voices:
        raise invalid_value("voice", voice, voices)


def validate_speech(body: dict[str, Any]) -> None:
    """POST /v1/audio/speech: OpenAI's rules for each field, the model's own (tts-1 takes no instructions, no sse)."""
    model = _string(body, "model", required=True)
    if model not in SPEECH_MODELS:
        raise model_not_found(str(model))
    classic = model in CLASSIC_SPEECH
    _string(body, "input", required=True, limit=SPEECH_INPUT_LIMIT)
    _voice(body, classic)
    if _string(body, "instructions", limit=SPEECH_INPUT_LIMIT) is not None and classic:
        raise unsupported_parameter("instructions")
    fmt = _string(body, "response_format")
    if fmt is not None and fmt not in SPEECH_FORMATS:
        raise invalid_value("response_format", fmt, SPEECH_FORMATS)
    speed = body.get("speed")
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise invalid_type("speed", "a number", speed)
        if not 0.25 <= speed <= 4.0:
            raise out_of_range("speed", speed, 0.25, 4.0)
    stream_format = _string(body, "stream_format")
    if stream_format is not None and stream_format not in ("sse", "audio"):
        raise invalid_value("stream_format", stream_format, ("sse", "audio"))
    if stream_format == "sse" and classic:
        raise WireError(400, "Unsupported value: 'stream_format' does not support 'sse' with this model. Supported "
                             "values are: 'audio'.", param="stream_format", code="unsupported_value")


def speech_seconds(body: dict[str, Any]) -> float:
    """How long the spoken input lasts: 15 characters a second at speed 1."""
    return max(0.2, len(body["input"]) / 15 / float(body.get("speed") or 1.0))


def speech_usage(body: dict[str, Any], seconds: float) -> dict[str, int]:
    """gpt-4o-mini-tts usage: input tokens by words of input and instructions, 20 audio tokens a second out."""
    prompt = len(body["input"].split()) + len(str(body.get("instructions") or "").split())
    audio = math.ceil(round(seconds * 20, 6))
    return {"input_tokens": prompt, "output_tokens": audio, "total_tokens": prompt + audio}


@dataclass(frozen=True)
class TranscriptionAsk:
    """What a valid transcription or translation request asks for."""

    model: str
    response_format: str
    granularities: tuple[str, ...]
    stream: bool
    logprobs: bool
    language: str
    prompt: str


def _chunking(form: Form) -> None:
    value = form.text("chunking_strategy")
    nested = form.nested("chunking_strategy")
    if value is not None and value != "auto":
        raise WireError(400, f"Invalid value: '{value}'. Supported values are: 'auto' or an object of type "
                             "'server_vad'.", param="chunking_strategy", code="invalid_value")
    if not nested:
        return
    if nested.get("type") != "server_vad":
        raise invalid_value("chunking_strategy.type", nested.get("type"), ("server_vad",))
    for key, raw in nested.items():
        if key in ("prefix_padding_ms", "silence_duration_ms"):
            if not raw.isdigit():
                raise invalid_type(f"chunking_strategy.{key}", "an integer", raw)
        elif key == "threshold":
            try:
                threshold = float(raw)
            except ValueError:
                raise invalid_type("chunking_strategy.threshold", "a number", raw) from None
            if not 0.0 <= threshold <= 1.0:
                raise out_of_range("chunking_strategy.threshold", threshold, 0.0, 1.0)
        elif key != "type":
            raise WireError(400, f"Unknown parameter: 'chunking_strategy.{key}'.", param=f"chunking_strategy.{key}",
                            code="unknown_parameter")


def validate_transcription(form: Form, *, translation: bool) -> TranscriptionAsk:
    """POST /v1/audio/transcriptions (or translations: whisper-1 only, no language/include/granularities/stream)."""
    model = form.required_text("model")
    if model not in TRANSCRIBE_MODELS:
        raise model_not_found(model)
    if translation and model != "whisper-1":
        raise invalid_value("model", model, ("whisper-1",))
    tokens = model in TOKEN_MODELS
    fmt = form.text("response_format") or "json"
    if fmt not in TEXT_FORMATS:
        raise invalid_value("response_format", fmt, TEXT_FORMATS)
    if tokens and fmt != "json":
        raise WireError(400, f"response_format '{fmt}' is not compatible with model '{model}'. Use 'json'.",
                        param="response_format", code="unsupported_value")
    temperature = form.number("temperature")
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise out_of_range("temperature", temperature, 0.0, 1.0)
    language = form.text("language")
    if language is not None and language not in LANGUAGES:
        raise WireError(400, f"Invalid language '{language}'. Language parameter must be specified in ISO-639-1 "
                             "format.", param="language", code="invalid_language_format")
    granularities = tuple(form.texts("timestamp_granularities"))
    for value in granularities:
        if value not in ("word", "segment"):
            raise invalid_value("timestamp_granularities", value, ("word", "segment"))
    if granularities and fmt != "verbose_json":
        raise WireError(400, "timestamp_granularities is only supported with response_format 'verbose_json'.",
                        param="timestamp_granularities", code="unsupported_value")
    include = tuple(form.texts("include"))
    for value in include:
        if value != "logprobs":
            raise invalid_value("include", value, ("logprobs",))
    if include and (not tokens or fmt != "json"):
        raise WireError(400, "include[] 'logprobs' is only supported with response_format 'json' and the models "
                             "gpt-4o-transcribe and gpt-4o-mini-transcribe.", param="include",
                        code="unsupported_value")
    _chunking(form)
    stream = bool(form.boolean("stream"))
    return TranscriptionAsk(model, fmt, granularities or ("segment",), stream and tokens, bool(include),
                            "english" if translation else LANGUAGES.get(language or "en", "english"),
                            form.text("prompt") or "")


def audio_duration(form: Form) -> tuple[FormPart, float]:
    """The uploaded `file` and its length in seconds as mutagen reads it (WebM as ffmpeg decodes it); OpenAI's
    refusals for anything else."""
    files = form.files("file")
    if not files:
        raise missing("file")
    upload = files[-1]
    if upload.size > FILE_LIMIT:
        raise WireError(413, f"Maximum content size limit ({FILE_LIMIT}) exceeded ({upload.size} bytes read)",
                        type_="server_error")
    extension = (upload.filename or "").rpartition(".")[2].lower()
    if extension not in FILE_FORMATS and not (upload.content_type or "").startswith("audio/"):
        raise WireError(400, f"Invalid file format. Supported formats: {list(FILE_FORMATS)}", param="file",
                        code="invalid_value")
    if upload.data.startswith(b"\x1a\x45\xdf\xa3"):
        return upload, webm_seconds(upload.data)
    stream = io.BytesIO(upload.data)
    try:
        audio = mutagen.File(stream)
        if audio is None and extension in ("aac", "mp3", "mpga", "mpeg"):
            audio = (mutagen.aac.AAC if extension == "aac" else mutagen.mp3.MP3)(io.BytesIO(upload.data))
    except (mutagen.MutagenError, ValueError, EOFError, IndexError) as exc:
        raise corrupted_audio() from exc
    length = getattr(getattr(audio, "info", None), "length", None)
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        raise corrupted_audio()
    return upload, float(length)


def webm_seconds(data: bytes) -> float:
    """A WebM/Matroska file's length as OpenAI finds it, by decoding it (PyAV's ffmpeg): the samples of its first
    audio track over their rate, whatever the container states."""
    samples, rate = 0, 0
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                raise corrupted_audio()
            for frame in container.decode(container.streams.audio[0]):
                samples, rate = samples + frame.samples, frame.sample_rate
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise corrupted_audio() from exc
    if not samples:
        raise corrupted_audio()
    return samples / rate


def corrupted_audio() -> WireError:
    return WireError(400, "Audio file might be corrupted or unsupported", param="file", code="invalid_value")


def transcript(seconds: float) -> str:
    """2.5 words a second of a pangram, so a longer file reads as a longer text."""
    count = max(1, round(seconds * WORDS_PER_SECOND))
    return " ".join(WORDS[i % len(WORDS)] for i in range(count))


def _timed(words: list[str], seconds: float) -> list[tuple[str, float, float]]:
    step = seconds / len(words)
    return [(w, round(i * step, 3), round(seconds if i == len(words) - 1 else (i + 1) * step, 3))
            for i, w in enumerate(words)]


def segments(text: str, seconds: float) -> list[dict[str, Any]]:
    timed = _timed(text.split(), seconds)
    out = []
    for i in range(0, len(timed), SEGMENT_WORDS):
        chunk = timed[i:i + SEGMENT_WORDS]
        out.append({"id": len(out), "seek": 0, "start": chunk[0][1], "end": chunk[-1][2],
                    "text": " " + " ".join(w for w, _, _ in chunk),
                    "tokens": [50364 + i + j for j in range(len(chunk))],
                    "temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 1.2, "no_speech_prob": 0.01})
    return out


def words(text: str, seconds: float) -> list[dict[str, Any]]:
    return [{"word": w, "start": start, "end": end} for w, start, end in _timed(text.split(), seconds)]


def _clock(seconds: float, mark: str) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}{mark}{millis % 1000:03d}"


def subtitles(text: str, seconds: float, fmt: str) -> str:
    """The transcript as SubRip (srt) or WebVTT (vtt) cues, one a segment."""
    cues = []
    for i, seg in enumerate(segments(text, seconds), 1):
        mark = "," if fmt == "srt" else "."
        timing = f"{_clock(seg['start'], mark)} --> {_clock(seg['end'], mark)}\n{seg['text'].strip()}\n"
        cues.append(f"{i}\n{timing}" if fmt == "srt" else timing)
    return ("" if fmt == "srt" else "WEBVTT\n\n") + "\n".join(cues) + "\n"


def usage(ask: TranscriptionAsk, text: str, seconds: float) -> dict[str, Any]:
    """whisper-1 bills the audio's seconds (rounded up); the gpt-4o models bill tokens, 10 audio tokens a second."""
    if ask.model not in TOKEN_MODELS:
        return {"type": "duration", "seconds": math.ceil(seconds)}
    audio, prompt, out = math.ceil(round(seconds * 10, 6)), len(ask.prompt.split()), len(text.split())
    return {"type": "tokens", "input_tokens": audio + prompt,
            "input_token_details": {"text_tokens": prompt, "audio_tokens": audio}, "output_tokens": out,
            "total_tokens": audio + prompt + out}


def logprobs(text: str) -> list[dict[str, Any]]:
    return [{"token": w, "logprob": -0.05, "bytes": list(w.encode())} for w in text.split()]
