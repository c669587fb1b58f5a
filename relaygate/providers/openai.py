"""OpenAI-compatible upstreams: the client's body is forwarded as is, answers are relayed as bytes."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import ClassVar
from urllib.parse import urlsplit

import orjson
from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.core.types import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    IMAGE_EDITS,
    IMAGE_GENERATIONS,
    IMAGE_VARIATIONS,
    RESPONSES,
    SPEECH,
    STORED_RESPONSES,
    TRANSCRIPTIONS,
    TRANSLATIONS,
    Dialect,
    JsonObject,
    Usage,
)
from relaygate.protocols.content import parse_usage, trailing_usage
from relaygate.protocols.sse import DONE, SSEBuffer, event_data
from relaygate.providers import reasoning
from relaygate.providers.base import (
    Answer,
    CallSpec,
    ProviderOptions,
    UpstreamRefusal,
    UpstreamRequest,
    options_of,
)
from relaygate.providers.openai_responses import (
    RESPONSE_OPERATIONS,
    ResponsesStream,
    responses_answer,
    responses_request,
)

_JSON = "application/json"
_LISTED_PROBES = ("whisper*", "*transcribe*", "dall-e*", "gpt-image*")
"""Models probed by listing the upstream's models: any request to them takes a file or costs an image."""
_SPEECH_PROBES = ("tts-*", "*-tts*")
"""Models probed by speaking four characters."""
_STREAM_OPTIONS = frozenset({CHAT, COMPLETIONS})
"""The operations whose streams take `stream_options` (speech and transcription streams refuse it)."""


class OpenAIOptions(ProviderOptions):
    """What an OpenAI-compatible channel may say about its models."""

    reasoning_models: tuple[str, ...] = Field(
        default=(), description="extra reasoning-model patterns (o1*, o3*, o4* always are)")
    system_as_user_models: tuple[str, ...] = Field(
        default=(), description="reasoning models that refuse system/developer roles")
    no_stream_models: tuple[str, ...] = Field(
        default=(), description="models that cannot stream upstream; streams are answered from the finished answer")


def api_root(base_url: str) -> str:
    """`https://host` means `https://host/v1`; a base URL with its own path is used as given."""
    path = urlsplit(base_url).path
    return base_url + "/v1" if path in ("", "/") else base_url


def openai_refusal(status: int, raw: bytes) -> UpstreamRefusal:
    """Read an OpenAI-shaped error body; anything else becomes a generic message."""
    try:
        err = orjson.loads(raw).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        err = None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        code, param, type_ = err.get("code"), err.get("param"), err.get("type")
        return UpstreamRefusal(
            message=err["message"],
            type=type_ if isinstance(type_, str) else "invalid_request_error",
            code=str(code) if code is not None else None,
            param=param if isinstance(param, str) else None,
        )
    return UpstreamRefusal(f"the upstream answered HTTP {status}", "upstream_error", None, None)


# A JSON string value after one of the keys whose text a chunk generates (its body, escapes kept).
_STRING = rb'"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"'
_TEXTS = re.compile(rb'"(?:content|text|name|arguments)' + _STRING)


def first_event_to_read(block: bytes) -> int:
    """Where the first event that must be parsed starts: one carrying a usage object or an error, or `[DONE]`.
    Everything before it is relayed as bytes. Keys are found as quoted words, which text inside a JSON string
    (escaped quotes) cannot be."""
    at = len(block)
    for marker in (b"[DONE]", b'"error"'):
        found = block.find(marker, 0, at)
        if found >= 0:
            at = found
    found = block.find(b'"usage"', 0, at)
    while found >= 0:
        value = block[found + 7:found + 16].lstrip(b" :\t\n")  # `"usage":null` on every chunk is left alone
        if value.startswith(b"{"):
            at = found
            break
        found = block.find(b'"usage"', found + 7, at)
    if at == len(block):
        return at
    start = block.rfind(b"\n\n", 0, at)
    return start + 2 if start >= 0 else 0


class OpenAIStream:
    """Relays OpenAI SSE events unchanged, as bytes; parses only the events that carry usage, an error or the
    end, and hides forced usage if unasked. The generated text is kept as raw JSON string bodies (found by one
    regular expression per read) and decoded only if no usage arrives and it must be counted."""

    def __init__(self, *, strip_usage: bool) -> None:
        self._sse = SSEBuffer()
        self._strip_usage = strip_usage
        self._text = bytearray()
        self.usage: Usage | None = None
        self.finished = False
        self.failure: str | None = None
        self.dialect = Dialect.OPENAI

    def feed(self, data: bytes) -> bytes:
        block = self._sse.feed_block(data)
        if not block:
            return b""
        self._text += b"".join(_TEXTS.findall(block))
        cut = first_event_to_read(block)
        if cut == len(block):
            return block
        return block[:cut] + self._read(block[cut:].split(b"\n\n"))

    def _read(self, events: list[bytes]) -> bytes:
        out: list[bytes] = []
        for event in events:
            payload = event_data(event)
            if payload is None:
                if event.strip():
                    out.append(event + b"\n\n")
                continue
            if payload == b"[DONE]":
                self.finished = True
                continue
            forwarded = self._inspect(payload)
            if forwarded is not None:
                out.append(b"data: " + forwarded + b"\n\n")
        return b"".join(out)

    def _inspect(self, payload: bytes) -> bytes | None:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload
        if not isinstance(obj, dict):
            return payload
        if "error" in obj and not obj.get("choices"):
            error = obj["error"]
            self.failure = str(error.get("message") if isinstance(error, dict) else error)
            return None
        if "usage" in obj:
            usage = parse_usage(obj["usage"])
            if usage is not None:
                self.usage = usage
            if self._strip_usage:
                if not obj.get("choices"):
                    return None
                del obj["usage"]
                return orjson.dumps(obj)
        return payload

    def generated_text(self) -> str:
        raw = bytes(self._text)
        try:
            text = orjson.loads(b'"' + raw + b'"')
        except orjson.JSONDecodeError:  # raw control characters or a broken escape: count the bytes as they are
            return raw.decode("utf-8", "replace")
        return text if isinstance(text, str) else raw.decode("utf-8", "replace")

    def finish(self) -> bytes:
        return DONE


class OpenAIProvider:
    """Any server that speaks OpenAI's API: forward, relay, read usage."""

    name = "openai"
    serves: ClassVar[frozenset[str]] = frozenset({CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, *STORED_RESPONSES, SPEECH,
                                                  TRANSCRIPTIONS, TRANSLATIONS, IMAGE_GENERATIONS, IMAGE_EDITS,
                                                  IMAGE_VARIATIONS})
    dialect: ClassVar[Dialect] = Dialect.OPENAI
    options: ClassVar[type[ProviderOptions]] = OpenAIOptions
    image_urls: ClassVar[tuple[str, ...]] = ("http://", "https://")

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest:
        url, headers = self.target(channel, credential, call)
        if call.operation in RESPONSE_OPERATIONS:
            return responses_request(url, headers, call)
        if call.upload is not None:
            headers["Content-Type"] = call.upload.content_type
            if call.upload.length is not None:
                headers["Content-Length"] = str(call.upload.length)
            return UpstreamRequest("POST", url, headers, call.upload.content)
        headers["Content-Type"] = _JSON
        body = dict(call.body)
        body["model"] = call.upstream_model
        if call.stream and call.operation in _STREAM_OPTIONS:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            options["include_usage"] = True
            body["stream_options"] = options
        if call.operation == CHAT:
            rules = options_of(channel, OpenAIOptions)
            if reasoning.is_reasoning(call.upstream_model, rules):
                body = reasoning.adapt(body, call.upstream_model, rules, stream=call.stream)
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        """Where a call goes and how it authenticates (the content type is added by build)."""
        return api_root(channel.base_url) + call.path, {"Authorization": "Bearer " + credential}

    def models_target(self, channel: ChannelRecord, credential: str) -> tuple[str, dict[str, str]]:
        """Where the model list is (a free request that proves the credential works)."""
        return api_root(channel.base_url) + "/models", {"Authorization": "Bearer " + credential}

    def answer(self, call: CallSpec, raw: bytes) -> Answer:
        if call.operation in RESPONSE_OPERATIONS:
            return responses_answer(raw)
        usage = trailing_usage(raw)
        if usage is not None:
            return Answer(raw, parse_usage(usage))
        obj = orjson.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("the upstream answer is not a JSON object")
        return Answer(raw, parse_usage(obj.get("usage")))

    def stream(self, call: CallSpec) -> OpenAIStream | ResponsesStream:
        if call.operation in RESPONSE_OPERATIONS:
            return ResponsesStream()
        return OpenAIStream(strip_usage=not call.client_wants_usage)

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal:
        return openai_refusal(status, raw)

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        if any(fnmatchcase(model, p) for p in _LISTED_PROBES):
            url, headers = self.models_target(channel, credential)
            return UpstreamRequest("GET", url, headers, None)
        if any(fnmatchcase(model, p) for p in _SPEECH_PROBES):
            spec = CallSpec(SPEECH, "/audio/speech", {"model": model, "input": "ping", "voice": "alloy"}, model,
                            stream=False, client_wants_usage=False)
        elif "embedding" in model:
            spec = CallSpec(EMBEDDINGS, "/embeddings", {"model": model, "input": "ping"}, model, stream=False,
                            client_wants_usage=True)
        else:
            body: JsonObject = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
            spec = CallSpec(CHAT, "/chat/completions", body, model, stream=False, client_wants_usage=True)
        return self.build(channel, credential, spec)
