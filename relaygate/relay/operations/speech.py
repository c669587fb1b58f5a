"""Text to speech (/v1/audio/speech): the audio relayed as it arrives with the upstream's content type, or the
`speech.audio.delta`/`speech.audio.done` events of `stream_format: "sse"`; billed per input character (code
points), or by the usage tokens the upstream reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from relaygate.billing.estimate import prompt_margin
from relaygate.core.types import SPEECH, JsonObject, Usage
from relaygate.protocols.media_answers import MediaEvents, token_usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import decode_body, fail
from relaygate.relay.media_delivery import PlainBytes, content_type, stream_answer
from relaygate.relay.operation import Attempt, End, Metered, OperationContext, Route, RouteDoc
from relaygate.relay.sink import EVENT_STREAM, ClientSink
from relaygate.relay.upstream import UpstreamResponse

INPUT_LIMIT = 4096
"""OpenAI's limit on `input`, in characters."""
CHARACTER_MODELS = frozenset({"tts-1", "tts-1-hd"})
"""Models that never report usage: billed per character only (others may report tokens, so both are reserved)."""
AUDIO_TOKENS_PER_CHARACTER = 3
"""Audio tokens reserved per input character at speed 1 for a token-reporting model (OpenAI's gpt-4o-mini-tts
speaks about 15 characters, 20 audio tokens, a second: this is twice that)."""

_AUDIO_TYPES = ("audio/mpeg", "audio/opus", "audio/aac", "audio/flac", "audio/wav", "audio/pcm")
_SPEECH_BODY: JsonObject = {
    "type": "object", "required": ["model", "input", "voice"], "additionalProperties": True, "properties": {
        "model": {"type": "string"}, "input": {"type": "string", "maxLength": INPUT_LIMIT}, "voice": {},
        "instructions": {"type": "string"},
        "response_format": {"enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0}, "stream_format": {"enum": ["audio", "sse"]}}}


@dataclass(slots=True)
class SpeechRequest:
    body: JsonObject
    model: str
    characters: int
    """Input characters (code points, not bytes: Chinese text costs what English does)."""
    stream: bool
    """The client asked for events (`stream_format: "sse"`); audio bytes are streamed either way."""
    speed: float

    @property
    def priced_as(self) -> str:
        return self.model


def _speed(body: JsonObject) -> float:
    speed = body.get("speed")
    if speed is None:
        return 1.0
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise fail("'speed' must be a number from 0.25 to 4.0.", "speed")
    return max(0.25, float(speed))


class SpeechOperation:
    name: ClassVar[str] = SPEECH
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/audio/speech", OPENAI, RouteDoc(
        "Text to speech: the audio streamed as it arrives, or speech.audio events (stream_format sse)", _SPEECH_BODY,
        streams=True, answers=_AUDIO_TYPES)),)

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> SpeechRequest:
        body = decode_body(await inbound.body.read(self._ctx.max_body_bytes))
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise fail("You must provide a model parameter (a non-empty string).", "model")
        text = body.get("input")
        if not isinstance(text, str) or not text:
            raise fail("'input' must be a non-empty string: the text to speak.", "input")
        if len(text) > INPUT_LIMIT:
            raise fail(f"'input' is {len(text)} characters long; speech takes at most {INPUT_LIMIT}.", "input")
        stream_format = body.get("stream_format")
        if stream_format is not None and stream_format not in ("audio", "sse"):
            raise fail("'stream_format' must be 'audio' or 'sse'.", "stream_format")
        return SpeechRequest(body, model, len(text), stream_format == "sse", _speed(body))

    def expected(self, parsed: SpeechRequest) -> Usage:
        usage = Usage(characters=parsed.characters)
        if parsed.model not in CHARACTER_MODELS:
            words = f"{parsed.body.get('input')} {parsed.body.get('instructions') or ''}"
            usage.prompt_tokens = prompt_margin(self._ctx.tokens.count(words))
            usage.completion_tokens = round(parsed.characters * AUDIO_TOKENS_PER_CHARACTER / parsed.speed)
        return usage

    async def call(self, parsed: SpeechRequest, provider: Provider, upstream_model: str) -> CallSpec:
        return CallSpec(SPEECH, "/audio/speech", parsed.body, upstream_model, parsed.stream, client_wants_usage=False)

    async def deliver(self, attempt: Attempt, parsed: SpeechRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        events = parsed.stream and resp.content_type == EVENT_STREAM
        relayed = MediaEvents(("speech.audio.done",), token_usage) if events else PlainBytes()
        streamed = await stream_answer(resp, relayed, sink, EVENT_STREAM if events else content_type(resp,
                                                                                                      "audio/mpeg"))
        reported = relayed.usage if isinstance(relayed, MediaEvents) else None
        metered = Metered(reported or Usage(characters=parsed.characters), streamed.end, closing=streamed.closing,
                          first_byte_at=streamed.first_byte_at, failure=relayed.failure)
        if streamed.end is End.UPSTREAM_BROKEN:
            if events:
                reason = f" ({relayed.failure})" if relayed.failure else ""
                metered.closing += attempt.dialect.stream_error(f"The upstream speech stream broke off{reason}; the "
                                                                "request was not billed.")
            else:
                metered.closing, metered.abort = b"", True
        return metered
