"""Delivering audio and image answers: bytes or events streamed as they arrive (speech, transcription streams), and
whole answers held once and written out in pieces (tens of MB of base64 never copied twice)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from relaygate.relay.operation import End, Metered, RetryableAnswer, WholeAnswer
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.streaming import Relayed, pump
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse

SEND_WHOLE_UP_TO = 1024 * 1024
"""A held answer up to this size goes out in one write; a larger one in pieces of this size, so the connection's
buffer never holds a second copy of it."""


class PlainBytes:
    """A byte stream relayed as it comes (audio): it ends when the upstream does, never reports a failure."""

    finished = False
    failure: str | None = None

    def feed(self, data: bytes) -> bytes:
        return data


@dataclass(slots=True)
class Streamed:
    end: End
    first_byte_at: float | None
    closing: bytes
    """What is sent after settlement: the stream's last events (SSE), or nothing (bytes)."""


def content_type(resp: UpstreamResponse, default: str) -> str:
    """The upstream's Content-Type as it gave it (parameters kept: `text/plain; charset=utf-8`)."""
    return resp.headers.get("Content-Type") or resp.content_type or default


async def stream_answer(resp: UpstreamResponse, relayed: Relayed, sink: ClientSink, media_type: str) -> Streamed:
    """Relay the upstream's stream through `relayed` as `media_type` (EVENT_STREAM for events). The first bytes are
    read before the client's answer opens, so an upstream that breaks (or reports an error) before them is retried
    on the next channel."""
    try:
        first = await resp.read_chunk()
    except UpstreamBroken as exc:
        resp.close()
        raise RetryableAnswer(exc) from None
    out = relayed.feed(first)
    if not first or (relayed.failure is not None and not out):
        resp.close()
        raise RetryableAnswer(ValueError(relayed.failure or "the upstream answered an empty stream"))
    try:
        await sink.open_stream(media_type)
        first_at = time.perf_counter()
        if relayed.failure is not None:
            resp.close()
            return Streamed(End.UPSTREAM_BROKEN, first_at, out)
        if relayed.finished:
            resp.release()
            return Streamed(End.COMPLETE, first_at, out)
        if out:
            await sink.write(out)
    except ClientGone:
        resp.close()
        return Streamed(End.CLIENT_GONE, None, b"")
    outcome = await pump(resp, relayed, sink)
    return Streamed(outcome.end, first_at, outcome.tail)


async def held_answer(resp: UpstreamResponse, watch: Callable[[bytes], None] | None = None) -> bytearray:
    """The whole answer in one buffer, filled as it arrives (never joined from pieces into a second copy), each
    piece shown to `watch` on its way; RetryableAnswer if it breaks off."""
    raw = bytearray()
    try:
        while chunk := await resp.read_chunk():
            raw += chunk
            if watch is not None:
                watch(chunk)
    except UpstreamBroken as exc:
        resp.close()
        raise RetryableAnswer(exc) from None
    resp.release()
    return raw


async def send_held(raw: bytearray, media_type: str, sink: ClientSink, metered: Metered,
                    headers: Mapping[str, str] | None = None) -> Metered:
    """A held answer: small, whole after settlement; large, written in pieces now with the last one left for after
    settlement (the client has every byte only once the charge is stored)."""
    if len(raw) <= SEND_WHOLE_UP_TO:
        metered.answer = WholeAnswer(bytes(raw), media_type)
        return metered
    view = memoryview(raw)
    last = len(raw) - SEND_WHOLE_UP_TO
    try:
        await sink.open_stream(media_type, {**(headers or {}), "Content-Length": str(len(raw))})
        metered.first_byte_at = time.perf_counter()
        for at in range(0, last, SEND_WHOLE_UP_TO):
            await sink.write(bytes(view[at:min(at + SEND_WHOLE_UP_TO, last)]))
    except ClientGone:
        metered.end = End.CLIENT_GONE
        return metered
    metered.closing = bytes(view[last:])
    return metered
