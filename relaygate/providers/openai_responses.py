"""OpenAI's Responses API on OpenAI-compatible upstreams: requests forwarded as the client wrote them, answers and
stream events relayed as bytes, usage read off the way."""

from __future__ import annotations

import re

import orjson

from relaygate.core.types import RESPONSE_INPUT_TOKENS, RESPONSES, STORED_RESPONSES, Dialect, JsonObject, Usage
from relaygate.protocols.responses import usage_from
from relaygate.protocols.sse import SSEBuffer, event_data, event_type
from relaygate.providers.base import Answer, CallSpec, UpstreamRequest

RESPONSE_OPERATIONS = frozenset({RESPONSES, *STORED_RESPONSES})
ENDINGS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
"""The events a Responses stream ends with; `response.failed` and `error` end it broken."""
_WITH_BODY = frozenset({RESPONSES, RESPONSE_INPUT_TOKENS})
# Blocks with one of these are read event by event; the rest (deltas) are relayed without parsing. Text inside a
# JSON string has its quotes escaped, so `"type":"error"` there cannot be mistaken for an event's own type.
_MARKERS = (b"response.completed", b"response.incomplete", b"response.failed", b"event: error", b'"type":"error"')
_DELTAS = re.compile(rb'"delta"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"')
_SEQUENCE = b'"sequence_number":'


def responses_request(url: str, headers: dict[str, str], call: CallSpec) -> UpstreamRequest:
    """The upstream request of a Responses API call: the client's body with the upstream's model name, or none
    (retrieve, delete, cancel, input items)."""
    if call.operation not in _WITH_BODY:
        return UpstreamRequest(call.method, url, headers, None)
    body = call.body
    if call.operation == RESPONSES or "model" in body:
        body = {**body, "model": call.upstream_model}
    headers["Content-Type"] = "application/json"
    return UpstreamRequest(call.method, url, headers, orjson.dumps(body))


def responses_answer(raw: bytes) -> Answer:
    """A whole Responses API answer, relayed as it came, with the usage a finished Response reports."""
    if not raw.strip():  # a delete may answer with no body
        return Answer(raw, None)
    obj = orjson.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("the upstream answer is not a JSON object")
    return Answer(raw, usage_from(obj.get("usage")))


class ResponsesStream:
    """Relays Responses API events unchanged, as bytes. It reads only `response.created` (the Response, to end a
    stream cut short), the event that ends the stream (usage, or why it failed) and the last sequence number; the
    ending event is held back until the charge is stored."""

    dialect = Dialect.OPENAI

    def __init__(self) -> None:
        self._sse = SSEBuffer()
        self._text = bytearray()
        self._tail = b""
        self.usage: Usage | None = None
        self.finished = False
        self.failure: str | None = None
        self.created: JsonObject | None = None
        """The Response as `response.created` announced it."""
        self.ended: JsonObject | None = None
        """The event the stream ended with."""
        self.sequence = -1
        """The last sequence number relayed."""

    def feed(self, data: bytes) -> bytes:
        block = self._sse.feed_block(data)
        if not block:
            return b""
        self._text += b"".join(_DELTAS.findall(block))
        at = block.rfind(_SEQUENCE)
        if at >= 0:
            digits = re.match(rb"\s*(\d+)", block[at + len(_SEQUENCE):at + len(_SEQUENCE) + 24])
            if digits:
                self.sequence = int(digits.group(1))
        if self.created is not None and not self.finished and not any(m in block for m in _MARKERS):
            return block
        return self._read(block.split(b"\n\n")[:-1])

    def _read(self, events: list[bytes]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if self.finished or self.failure is not None:
                self._tail += event + b"\n\n"
                continue
            kind, obj = _kind(event)
            if kind == "response.created" and obj is not None and self.created is None:
                response = obj.get("response")
                self.created = response if isinstance(response, dict) else {}
            if kind in ENDINGS:
                self._end(kind, obj or {})
                self._tail += event + b"\n\n"
            else:
                out.append(event + b"\n\n")
        return b"".join(out)

    def _end(self, kind: str, event: JsonObject) -> None:
        self.ended = event
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        if kind == "error":
            self.failure = str(event.get("message") or "the upstream stream reported an error")
        elif kind == "response.failed":
            error = response.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.failure = str(message or "the upstream response failed")
        else:
            self.usage = usage_from(response.get("usage"))
            self.finished = True

    def generated_text(self) -> str:
        raw = bytes(self._text)
        try:
            text = orjson.loads(b'"' + raw + b'"')
        except orjson.JSONDecodeError:
            return raw.decode("utf-8", "replace")
        return text if isinstance(text, str) else raw.decode("utf-8", "replace")

    def finish(self) -> bytes:
        return self._tail


def _kind(event: bytes) -> tuple[str, JsonObject | None]:
    """An event's type, and its data when it is one of the few read here."""
    named = event_type(event)
    kind = named.decode("utf-8", "replace") if named is not None else ""
    if named is not None and kind not in ENDINGS and kind != "response.created":
        return kind, None
    payload = event_data(event)
    try:
        obj = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return kind, None
    return kind or str(obj.get("type") or ""), obj
