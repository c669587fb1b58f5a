"""Transcriptions and translations (/v1/audio/transcriptions, /v1/audio/translations): the multipart form relayed
field for field with its file spooled, the answer byte for byte with its content type (or the transcript events
of a stream); billed per second of audio read from the file itself, or by the usage the upstream reports."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import orjson

from relaygate.core.errors import BadRequest
from relaygate.core.types import TRANSCRIPTIONS, TRANSLATIONS, JsonObject, Usage
from relaygate.protocols.audio import duration_seconds
from relaygate.protocols.content import trailing_usage
from relaygate.protocols.media_answers import MediaEvents, transcription_usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.forms import UploadForm, read_form
from relaygate.relay.media_delivery import content_type, stream_answer
from relaygate.relay.operation import (
    Attempt,
    End,
    Metered,
    OperationContext,
    RetryableAnswer,
    Route,
    RouteDoc,
    WholeAnswer,
)
from relaygate.relay.sink import EVENT_STREAM, JSON, ClientSink
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse

AUDIO_TOKENS_PER_SECOND = 25
TEXT_TOKENS_PER_SECOND = 10
"""Tokens reserved per second of audio for a model that may report tokens (OpenAI's gpt-4o transcribe models
count about 17 audio tokens a second, and speech runs at two to three words a second)."""

_FIELDS: JsonObject = {
    "file": {"type": "string", "format": "binary"}, "model": {"type": "string"}, "prompt": {"type": "string"},
    "response_format": {"enum": ["json", "text", "srt", "verbose_json", "vtt"]}, "temperature": {"type": "number"}}
_TRANSLATION_FORM: JsonObject = {"type": "object", "required": ["file", "model"], "additionalProperties": True,
                                 "properties": _FIELDS}
_TRANSCRIPTION_FORM: JsonObject = {
    "type": "object", "required": ["file", "model"], "additionalProperties": True, "properties": {
        **_FIELDS, "language": {"type": "string"}, "stream": {"type": "boolean"}, "chunking_strategy": {},
        "timestamp_granularities[]": {"type": "array", "items": {"enum": ["word", "segment"]}},
        "include[]": {"type": "array", "items": {"enum": ["logprobs"]}}}}
_ANSWERS = ("application/json", "text/plain")


@dataclass(slots=True)
class TranscriptionRequest:
    form: UploadForm
    model: str
    seconds: float
    """The audio's length, read from the uploaded file (never from what the client says)."""
    stream: bool

    @property
    def priced_as(self) -> str:
        return self.model


def _per_second_only(model: str) -> bool:
    """Whisper models report seconds at most; the others (gpt-4o transcribe) may report tokens."""
    return model.startswith("whisper")


class _AudioUploadOperation:
    name: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]
    path: ClassVar[str]

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> TranscriptionRequest:
        form = await read_form(inbound.body, self._ctx.max_upload_bytes, inbound.resources)
        model = form.text("model")
        if not model:
            raise BadRequest("You must provide a model parameter (a form field).", param="model",
                             code="missing_required_parameter")
        files = form.files("file")
        if not files:
            if form.has_text("file"):
                raise BadRequest("'file' must be a file upload (a form part with a file name), not text.",
                                 param="file", code="invalid_type")
            raise BadRequest("You must provide a file: the audio to transcribe.", param="file",
                             code="missing_required_parameter")
        audio = files[-1]
        assert audio.spool is not None
        seconds = await audio.spool.inspect(functools.partial(duration_seconds, filename=audio.filename or ""))
        stream = (form.text("stream") or "").strip().lower() == "true"
        return TranscriptionRequest(form, model, seconds, stream)

    def expected(self, parsed: TranscriptionRequest) -> Usage:
        seconds = math.ceil(parsed.seconds)
        usage = Usage(seconds=float(seconds))
        if not _per_second_only(parsed.model):
            prompt = self._ctx.tokens.count(parsed.form.text("prompt") or "")
            usage.prompt_tokens = seconds * AUDIO_TOKENS_PER_SECOND + prompt
            usage.completion_tokens = seconds * TEXT_TOKENS_PER_SECOND + 64
        return usage

    async def call(self, parsed: TranscriptionRequest, provider: Provider, upstream_model: str) -> CallSpec:
        return CallSpec(self.name, self.path, {}, upstream_model, parsed.stream, client_wants_usage=False,
                        upload=parsed.form.upload(upstream_model))

    async def deliver(self, attempt: Attempt, parsed: TranscriptionRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        if resp.content_type == EVENT_STREAM:
            return await _stream(attempt, parsed, resp, sink)
        try:
            raw = await resp.read()
        except UpstreamBroken as exc:
            resp.close()
            raise RetryableAnswer(exc) from None
        resp.release()
        reported = _reported(raw) if resp.content_type == JSON else None
        return Metered(_billed(parsed, reported), answer=WholeAnswer(raw, content_type(resp, JSON)))


def _reported(raw: bytes) -> Usage | None:
    """The usage a JSON answer reports (json, verbose_json), read without parsing a long transcript when it is last."""
    usage = trailing_usage(raw)
    if usage is None and b'"usage"' in raw:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return transcription_usage(answer.get("usage")) if isinstance(answer, dict) else None
    return transcription_usage(usage)


def _billed(parsed: TranscriptionRequest, reported: Usage | None) -> Usage:
    """The upstream's tokens, or its seconds when they agree with the file's length; else the file's seconds."""
    if reported is None:
        return Usage(seconds=parsed.seconds)
    if reported.seconds and reported.seconds > math.ceil(parsed.seconds) + 1:
        return Usage(seconds=parsed.seconds)
    return reported


async def _stream(attempt: Attempt, parsed: TranscriptionRequest, resp: UpstreamResponse,
                  sink: ClientSink) -> Metered:
    events = MediaEvents(("transcript.text.done",), transcription_usage)
    streamed = await stream_answer(resp, events, sink, EVENT_STREAM)
    metered = Metered(_billed(parsed, events.usage), streamed.end, closing=streamed.closing,
                      first_byte_at=streamed.first_byte_at, failure=events.failure)
    if streamed.end is End.UPSTREAM_BROKEN:
        reason = f" ({events.failure})" if events.failure else ""
        metered.closing += attempt.dialect.stream_error(f"The upstream transcription stream broke off{reason}; the "
                                                        "request was not billed.")
    return metered


class TranscriptionsOperation(_AudioUploadOperation):
    name: ClassVar[str] = TRANSCRIPTIONS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/audio/transcriptions", OPENAI, RouteDoc(
        "Speech to text: the upload relayed field for field, billed per second of audio or by usage",
        _TRANSCRIPTION_FORM, "multipart/form-data", streams=True, answers=_ANSWERS)),)
    path: ClassVar[str] = "/audio/transcriptions"


class TranslationsOperation(_AudioUploadOperation):
    """As transcriptions; the text comes back in English."""

    name: ClassVar[str] = TRANSLATIONS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/audio/translations", OPENAI, RouteDoc(
        "Speech to English text, as transcriptions", _TRANSLATION_FORM, "multipart/form-data", answers=_ANSWERS)),)
    path: ClassVar[str] = "/audio/translations"
