"""What OpenAI's audio and image answers report, read for billing: the usage objects of speech, transcriptions and
GPT Image, the images an answer carries (counted without parsing its base64), and the events of their streams."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import orjson

from relaygate.core.types import JsonValue, Usage
from relaygate.protocols.content import count_or_zero, object_field, token_count
from relaygate.protocols.sse import SSEBuffer, event_data

MAX_REPORTED_SECONDS = 24 * 3600.0
"""More seconds than one upload holds: a larger figure, like a negative one, is a broken upstream, not a bill."""

_IMAGE_ITEM = re.compile(rb'"(?:b64_json|url)"[ \t\r\n]{0,16}:')
"""The key each `data` item of an images answer carries once. Keys are found as quoted words, which text inside a
JSON string (escaped quotes) cannot be; base64 has no quotes at all."""
_ITEM_SPAN = 30
"""The longest text _IMAGE_ITEM matches."""

UsageReader = Callable[[JsonValue], Usage | None]


def token_usage(value: JsonValue) -> Usage | None:
    """A usage object counting `input_tokens` and `output_tokens` (speech, GPT Image, transcription tokens) as
    Usage; image input tokens kept apart (`input_tokens_details.image_tokens`, priced on their own). None when
    the counts are not counts."""
    if not isinstance(value, dict):
        return None
    prompt, completion = token_count(value.get("input_tokens")), token_count(value.get("output_tokens", 0))
    if prompt is None or completion is None:
        return None
    details = object_field(value, "input_tokens_details")
    images = min(count_or_zero(details.get("image_tokens")), prompt)
    cached = min(count_or_zero(details.get("cached_tokens")), prompt - images)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, image_tokens=images, cached_tokens=cached)


def transcription_usage(value: JsonValue) -> Usage | None:
    """A transcription's usage: `{"type": "tokens", ...}` (gpt-4o transcribe models) or `{"type": "duration",
    "seconds": n}` (whisper-1); None for anything else."""
    if not isinstance(value, dict):
        return None
    if value.get("type") == "duration":
        seconds = value.get("seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds) \
                and 0 <= seconds <= MAX_REPORTED_SECONDS:
            return Usage(seconds=float(seconds))
        return None
    return token_usage(value)


class ImageItems:
    """Counts the images (`data` items) of an images answer as its bytes arrive, without parsing it: the cost of a
    20 MB answer is spread over its reads rather than paid in one pass when it is whole."""

    __slots__ = ("_tail", "count")

    def __init__(self) -> None:
        self._tail = b""
        self.count = 0

    def feed(self, data: bytes) -> None:
        window = self._tail + data
        # a key ending in the earlier bytes was counted with them; one reaching into `data` is counted now
        self.count += sum(1 for m in _IMAGE_ITEM.finditer(window) if m.end() > len(self._tail))
        self._tail = window[-_ITEM_SPAN:]


class MediaEvents:
    """Relays the SSE events of a speech or transcription stream as bytes, parsing only an event that ends the
    stream (one of `done_types`, whose usage it reads) or reports an error."""

    def __init__(self, done_types: tuple[str, ...], usage: UsageReader) -> None:
        self._sse = SSEBuffer()
        self._markers = (*(f'"{t}"'.encode() for t in done_types), b'"error"')
        self._done_types = done_types
        self._read_usage = usage
        self.usage: Usage | None = None
        self.finished = False
        self.failure: str | None = None

    def feed(self, data: bytes) -> bytes:
        block = self._sse.feed_block(data)
        if not block or self.finished:
            return b""
        found = [at for at in (block.find(m) for m in self._markers) if at >= 0]
        if not found:
            return block
        before = block.rfind(b"\n\n", 0, min(found))
        start = before + 2 if before >= 0 else 0
        out = [block[:start]]
        for event in block[start:].split(b"\n\n"):
            if not event.strip():
                continue
            if self._read(event):
                out.append(event + b"\n\n")
            if self.finished or self.failure is not None:
                break
        return b"".join(out)

    def _read(self, event: bytes) -> bool:
        """Note what the event says; whether it is relayed (an error is replaced by the relay's own)."""
        payload = event_data(event)
        if payload is None:
            return True
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(obj, dict):
            return True
        kind = obj.get("type")
        if kind == "error" or (kind is None and "error" in obj):
            error = obj.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            self.failure = str(message or obj.get("message") or "the upstream reported an error")
            return False
        if kind in self._done_types:
            self.finished = True
            self.usage = self._read_usage(obj.get("usage"))
        return True
