"""Client dialects: the wire formats a client may speak to relaygate (OpenAI's, Anthropic's, Gemini's).

The relay works in OpenAI's chat format inside. A dialect turns its client's request into that format,
and the relay's OpenAI-format answer (whole or streamed) back into the client's, unless the upstream
already answered in the client's own format (a pass-through).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import orjson

from relaygate.core.errors import BadRequest, NotFound
from relaygate.core.types import Dialect, JsonObject
from relaygate.protocols import anthropic, anthropic_answers, gemini, gemini_answers
from relaygate.protocols.sse import SSEBuffer, event_data, frame
from relaygate.providers.base import StreamTranslator, WrappedTranslator
from relaygate.relay.inbound import decode_body

GEMINI_METHODS = {"generateContent": False, "streamGenerateContent": True}


@dataclass(frozen=True, slots=True)
class DialectRequest:
    """A client's chat request in OpenAI's format, with its own body when it spoke another dialect."""

    body: JsonObject
    native: JsonObject | None = None


class Egress(Protocol):
    """OpenAI SSE bytes in, the client's stream bytes out."""

    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class ClientDialect(Protocol):
    name: Dialect

    def to_openai(self, raw: bytes, params: Mapping[str, str]) -> DialectRequest:
        """The request body (and what the URL said) as an OpenAI-format chat request."""
        ...

    def whole(self, body: bytes, model: str) -> bytes:
        """A whole OpenAI-format answer in this dialect."""
        ...

    def egress(self, model: str) -> Egress: ...

    def stream_error(self, message: str) -> bytes:
        """A stream's last event when the upstream broke off."""
        ...


class OpenAIDialect:
    name = Dialect.OPENAI

    def to_openai(self, raw: bytes, params: Mapping[str, str]) -> DialectRequest:
        return DialectRequest(decode_body(raw))

    def whole(self, body: bytes, model: str) -> bytes:
        return body

    def egress(self, model: str) -> Egress:
        raise AssertionError("OpenAI clients read the relay's own format")

    def stream_error(self, message: str) -> bytes:
        return frame(orjson.dumps({"error": {"message": message, "type": "upstream_error", "param": None,
                                             "code": "upstream_error"}}))


class _ChunkEgress:
    """The non-OpenAI egresses' loop: parse OpenAI SSE, hand each chunk to the dialect's converter."""

    def __init__(self, chunk: Callable[[JsonObject], bytes], end: Callable[[], bytes]) -> None:
        self._sse = SSEBuffer()
        self._done = False
        self.chunk = chunk
        self.end = end

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for event in self._sse.feed(data):
            payload = event_data(event)
            if payload is None:
                continue
            if payload == b"[DONE]":
                self._done = True
                out.append(self.end())
                continue
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                out.append(self.chunk(chunk))
        return b"".join(out)

    def finish(self) -> bytes:
        return b"" if self._done else self.end()


def _frames(objects: list[JsonObject]) -> bytes:
    return b"".join(frame(orjson.dumps(o)) for o in objects)


def _anthropic_events(events: list[tuple[str, JsonObject]]) -> bytes:
    return b"".join(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n" for kind, data in events)


class AnthropicDialect:
    name = Dialect.ANTHROPIC

    def to_openai(self, raw: bytes, params: Mapping[str, str]) -> DialectRequest:
        native = decode_body(raw)
        model = native.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: field required (a non-empty string).", param="model")
        return DialectRequest(anthropic.messages_to_chat(dict(native)), native)

    def whole(self, body: bytes, model: str) -> bytes:
        return orjson.dumps(anthropic_answers.completion_to_message(_object(body), model))

    def egress(self, model: str) -> Egress:
        conv = anthropic_answers.ChunksToEvents(model=model, message_id="msg_" + _short_id())
        return _ChunkEgress(lambda chunk: _anthropic_events(conv.on_chunk(chunk)),
                            lambda: _anthropic_events(conv.finish()))

    def stream_error(self, message: str) -> bytes:
        return _anthropic_events([("error", {"type": "error",
                                             "error": {"type": "api_error", "message": message}})])


class GeminiDialect:
    name = Dialect.GEMINI

    def to_openai(self, raw: bytes, params: Mapping[str, str]) -> DialectRequest:
        model, _, method = params.get("target", "").rpartition(":")
        if not model or method not in GEMINI_METHODS:
            raise NotFound(f"Unknown method '{method or params.get('target', '')}'; relaygate serves "
                           "models/{model}:generateContent and :streamGenerateContent.")
        native = decode_body(raw)
        return DialectRequest(gemini.request_to_chat(dict(native), model, stream=GEMINI_METHODS[method]), native)

    def whole(self, body: bytes, model: str) -> bytes:
        return orjson.dumps(gemini_answers.completion_to_response(_object(body), model))

    def egress(self, model: str) -> Egress:
        conv = gemini_answers.ChunksToResponses(model=model, response_id=_short_id())
        return _ChunkEgress(lambda chunk: _frames(conv.on_chunk(chunk)), lambda: _frames(conv.finish()))

    def stream_error(self, message: str) -> bytes:
        return frame(orjson.dumps({"error": {"code": 502, "message": message, "status": "UNAVAILABLE"}}))


OPENAI = OpenAIDialect()
ANTHROPIC = AnthropicDialect()
GEMINI = GeminiDialect()


class Chained(WrappedTranslator):
    """A provider's translator followed by the client's egress: OpenAI SSE in the middle."""

    def __init__(self, inner: StreamTranslator, egress: Egress, dialect: Dialect) -> None:
        super().__init__(inner)
        self._egress = egress
        self._dialect = dialect

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def feed(self, data: bytes) -> bytes:
        out = self._inner.feed(data)
        return self._egress.feed(out) if out else b""

    def finish(self) -> bytes:
        tail = self._inner.finish()
        return self._egress.feed(tail) + self._egress.finish()


def egress_for(translator: StreamTranslator, client: ClientDialect, model: str) -> StreamTranslator:
    """The translator whose bytes the client can read: itself, or chained to the client's egress."""
    if translator.dialect is client.name:
        return translator
    return Chained(translator, client.egress(model), client.name)


def _object(body: bytes) -> JsonObject:
    obj = orjson.loads(body)
    if not isinstance(obj, dict):
        raise ValueError("an answer is not a JSON object")
    return obj


def _short_id() -> str:
    return f"{time.time_ns():x}"

