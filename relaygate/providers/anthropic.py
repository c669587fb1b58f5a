"""Anthropic channels: Claude through the Messages API, translated from and to OpenAI's chat format.

A client that itself speaks the Messages API (the /v1/messages front door) is passed through as is.
"""

from __future__ import annotations

import time
from typing import ClassVar

import orjson
from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.core.types import CHAT, RESPONSES, Dialect, JsonObject
from relaygate.protocols import anthropic as wire
from relaygate.protocols import anthropic_answers as answers
from relaygate.protocols.sse import DONE, SSEBuffer, event_data, event_type, frame
from relaygate.providers.base import (
    Answer,
    CallSpec,
    ConvertedStream,
    ProviderOptions,
    UpstreamRefusal,
    UpstreamRequest,
    options_of,
)
from relaygate.providers.openai import api_root


class AnthropicOptions(ProviderOptions):
    api_version: str | None = Field(default=None, max_length=64,
                                    description=f"anthropic-version header (default {wire.VERSION})")
    default_max_tokens: int | None = Field(default=None, ge=1, le=1_000_000,
                                           description="max_tokens sent when the client set none (default 4096)")


def _events(data: bytes, sse: SSEBuffer) -> list[tuple[bytes, str, JsonObject | None]]:
    """(raw event, type, decoded data) for each complete event in `data`."""
    out: list[tuple[bytes, str, JsonObject | None]] = []
    for event in sse.feed(data):
        payload = event_data(event)
        if payload is None:
            continue
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = None
        kind = event_type(event)
        name = kind.decode() if kind else (str(obj.get("type")) if isinstance(obj, dict) else "")
        out.append((event, name, obj if isinstance(obj, dict) else None))
    return out


class ClaudeToOpenAIStream(ConvertedStream):
    """Claude events → OpenAI chunks."""

    dialect = Dialect.OPENAI

    def __init__(self, *, include_usage: bool) -> None:
        self._conv = answers.EventsToChunks(created=int(time.time()), include_usage=include_usage)
        super().__init__(self._conv)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for _, kind, obj in _events(data, self._sse):
            if obj is not None:
                out.extend(frame(orjson.dumps(chunk)) for chunk in self._conv.on_event(kind, obj))
        return b"".join(out)

    def finish(self) -> bytes:
        return DONE


class ClaudePassthroughStream(ConvertedStream):
    """Claude events relayed unchanged to a Messages API client, usage noted; message_stop held back."""

    dialect = Dialect.ANTHROPIC

    def __init__(self) -> None:
        self._conv = answers.EventsToChunks(created=0, include_usage=False)
        super().__init__(self._conv)
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for event, kind, obj in _events(data, self._sse):
            if obj is not None:
                self._conv.on_event(kind, obj)
            if kind == "message_stop":
                self._tail = event + b"\n\n"
            elif kind != "error":
                out.append(event + b"\n\n")
        return b"".join(out)

    def finish(self) -> bytes:
        return self._tail


class AnthropicProvider:
    name = "anthropic"
    serves: ClassVar[frozenset[str]] = frozenset({CHAT, RESPONSES})
    """/v1/responses through the chat translation: the operation sends this type chat calls."""
    dialect: ClassVar[Dialect] = Dialect.ANTHROPIC
    options: ClassVar[type[ProviderOptions]] = AnthropicOptions
    # Claude downloads https URL sources itself; anything else is sent as base64.
    image_urls: ClassVar[tuple[str, ...]] = ("https://",)

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest:
        if call.passthrough:
            body = {**call.body, "model": call.upstream_model}
        else:
            body = wire.chat_to_messages(call.body, call.upstream_model,
                                         default_max_tokens=options_of(channel, AnthropicOptions).default_max_tokens)
        return self._request(channel, credential, body)

    def _request(self, channel: ChannelRecord, credential: str, body: JsonObject) -> UpstreamRequest:
        version = options_of(channel, AnthropicOptions).api_version or wire.VERSION
        headers = {"x-api-key": credential, "anthropic-version": version, "Content-Type": "application/json"}
        return UpstreamRequest("POST", api_root(channel.base_url) + "/messages", headers, orjson.dumps(body))

    def answer(self, call: CallSpec, raw: bytes) -> Answer:
        msg = orjson.loads(raw)
        if not isinstance(msg, dict) or msg.get("type") != "message":
            raise ValueError("the upstream answer is not a Claude message")
        if call.passthrough:
            return Answer(raw, wire.usage_from(msg.get("usage")), Dialect.ANTHROPIC)
        body, usage = answers.message_to_completion(msg, created=int(time.time()))
        return Answer(orjson.dumps(body), usage)

    def stream(self, call: CallSpec) -> ClaudeToOpenAIStream | ClaudePassthroughStream:
        if call.passthrough:
            return ClaudePassthroughStream()
        return ClaudeToOpenAIStream(include_usage=call.client_wants_usage)

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal:
        try:
            err = orjson.loads(raw).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            err = None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            kind = str(err.get("type") or "invalid_request_error")
            return UpstreamRefusal(err["message"], kind, kind, None)
        return UpstreamRefusal(f"the upstream answered HTTP {status}", "upstream_error", None, None)

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        body: JsonObject = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
        return self._request(channel, credential, body)
