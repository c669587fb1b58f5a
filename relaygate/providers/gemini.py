"""Gemini channels: generateContent and streamGenerateContent, translated from and to OpenAI's chat format.

A client that itself speaks the Gemini API (the /v1beta front door) is passed through as is.
"""

from __future__ import annotations

import time
from typing import ClassVar
from urllib.parse import quote, urlsplit

import orjson

from relaygate.core.records import ChannelRecord
from relaygate.core.types import CHAT, RESPONSES, Dialect, JsonObject
from relaygate.protocols import gemini as wire
from relaygate.protocols import gemini_answers as answers
from relaygate.protocols.sse import DONE, SSEBuffer, event_data, frame
from relaygate.providers.base import (
    Answer,
    CallSpec,
    ConvertedStream,
    ProviderOptions,
    UpstreamRefusal,
    UpstreamRequest,
)


class GeminiOptions(ProviderOptions):
    """Gemini channels have no options of their own yet."""


def api_root(base_url: str) -> str:
    """`https://host` means `https://host/v1beta`; a base URL with its own path is used as given."""
    return base_url + "/v1beta" if urlsplit(base_url).path in ("", "/") else base_url


def _responses(data: bytes, sse: SSEBuffer) -> list[tuple[bytes, JsonObject]]:
    out: list[tuple[bytes, JsonObject]] = []
    for event in sse.feed(data):
        payload = event_data(event)
        if not payload:
            continue
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append((event, obj))
    return out


class GeminiToOpenAIStream(ConvertedStream):
    """Gemini stream responses → OpenAI chunks."""

    dialect = Dialect.OPENAI

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self._conv = answers.ResponsesToChunks(model=model, created=int(time.time()), id=f"chatcmpl-{time.time_ns():x}",
                                            include_usage=include_usage)
        super().__init__(self._conv)

    def feed(self, data: bytes) -> bytes:
        return b"".join(frame(orjson.dumps(chunk)) for _, obj in _responses(data, self._sse)
                        for chunk in self._conv.on_response(obj))

    def finish(self) -> bytes:
        return DONE


class GeminiPassthroughStream(ConvertedStream):
    """Gemini responses relayed unchanged to a Gemini-format client; the final one held until billed."""

    dialect = Dialect.GEMINI

    def __init__(self, model: str) -> None:
        self._conv = answers.ResponsesToChunks(model=model, created=0, id="", include_usage=False)
        super().__init__(self._conv)
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for event, obj in _responses(data, self._sse):
            self._conv.on_response(obj)
            if self._conv.failure is not None:
                continue
            if self._conv.finished:
                self._tail += event + b"\r\n\r\n"
            else:
                out.append(event + b"\r\n\r\n")
        return b"".join(out)

    def finish(self) -> bytes:
        return self._tail


class GeminiProvider:
    name = "gemini"
    serves: ClassVar[frozenset[str]] = frozenset({CHAT, RESPONSES})
    """/v1/responses through the chat translation: the operation sends this type chat calls."""
    dialect: ClassVar[Dialect] = Dialect.GEMINI
    options: ClassVar[type[ProviderOptions]] = GeminiOptions
    # fileData takes files Google hosts (the Files API), not the web: https://ai.google.dev/gemini-api/docs/files
    image_urls: ClassVar[tuple[str, ...]] = ("https://generativelanguage.googleapis.com/",)

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest:
        body = call.body if call.passthrough else wire.chat_to_request(call.body)
        return self._request(channel, credential, call.upstream_model, body, stream=call.stream)

    def _request(self, channel: ChannelRecord, credential: str, model: str, body: JsonObject,
                 *, stream: bool) -> UpstreamRequest:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"{api_root(channel.base_url)}/models/{quote(model, safe='')}:{method}"
        headers = {"x-goog-api-key": credential, "Content-Type": "application/json"}
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def answer(self, call: CallSpec, raw: bytes) -> Answer:
        resp = orjson.loads(raw)
        if not isinstance(resp, dict) or not ("candidates" in resp or "promptFeedback" in resp):
            raise ValueError("the upstream answer is not a GenerateContentResponse")
        if call.passthrough:
            return Answer(raw, wire.usage_from(resp.get("usageMetadata")), Dialect.GEMINI)
        body, usage = answers.response_to_completion(resp, call.upstream_model, created=int(time.time()))
        return Answer(orjson.dumps(body), usage)

    def stream(self, call: CallSpec) -> GeminiToOpenAIStream | GeminiPassthroughStream:
        if call.passthrough:
            return GeminiPassthroughStream(call.upstream_model)
        return GeminiToOpenAIStream(call.upstream_model, include_usage=call.client_wants_usage)

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, list) and body:
            body = body[0]
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            kind = "invalid_request_error" if status == 400 else str(err.get("status") or "upstream_error").lower()
            return UpstreamRefusal(err["message"], kind, str(err.get("status") or "") or None, None)
        return UpstreamRefusal(f"the upstream answered HTTP {status}", "upstream_error", None, None)

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        body: JsonObject = {"contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                            "generationConfig": {"maxOutputTokens": 1}}
        return self._request(channel, credential, model, body, stream=False)
