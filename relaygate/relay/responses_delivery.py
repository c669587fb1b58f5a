"""Delivering Responses API answers: relayed as they came from an upstream that speaks the API (whole, or as its
event stream, the ending event held back until the charge is stored), or made from a chat channel's answer (the
Response object, or the Responses event sequence with sequence numbers)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import orjson

from relaygate.billing.tokens import TokenCounter
from relaygate.core.types import JsonObject, Usage
from relaygate.protocols import responses_answers as answers
from relaygate.protocols.sse import SSEBuffer, event_data
from relaygate.providers.base import StreamTranslator
from relaygate.providers.openai_responses import ResponsesStream
from relaygate.relay.operation import Attempt, End, Metered, RetryableAnswer, WholeAnswer
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.streaming import Relayed, StreamOutcome, pump
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse

_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"([^"\\]{1,128})"')
BROKE_OFF = "The upstream stream broke off{reason}; the request was not billed."


def new_response_id() -> str:
    """An id shaped like OpenAI's (resp_ and 48 hex digits), for responses relaygate produces itself."""
    return "resp_" + secrets.token_hex(24)


def event_frame(event: JsonObject) -> bytes:
    """One Responses API event as OpenAI sends it: its type as the SSE event name."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


@dataclass(slots=True)
class Passed:
    """An answer passed through: what it metered, and the id of the Response it carried (None if none)."""

    metered: Metered
    response_id: str | None = None
    reported: Usage | None = None
    """The usage of the finished Response it carried (None for a queued or running one, or none reported)."""


async def relay_whole(attempt: Attempt, resp: UpstreamResponse, fallback: Usage) -> Passed:
    """A whole answer, relayed as it came; `fallback` is the usage of one that reports none."""
    try:
        raw = await resp.read()
        answer = attempt.provider.answer(attempt.call, raw)
    except (UpstreamBroken, ValueError) as exc:
        resp.close()
        raise RetryableAnswer(exc) from None
    found = _LEADING_ID.match(raw)
    if found is not None:
        response_id: str | None = found.group(1).decode()
    else:
        obj = orjson.loads(raw)
        response_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    metered = Metered(answer.usage or fallback, answer=WholeAnswer(raw))
    return Passed(metered, response_id, answer.usage)


async def relay_stream(attempt: Attempt, resp: UpstreamResponse, sink: ClientSink, tokens: TokenCounter,
                       prompt_tokens: int) -> Passed:
    """An event stream relayed unchanged; one cut short ends with `response.failed` (or an `error` event when it
    broke before announcing its Response), one the upstream failed with the upstream's own last event."""
    stream = attempt.provider.stream(attempt.call)
    outcome = await _pumped(resp, stream, sink)
    usage = stream.usage or Usage(prompt_tokens, tokens.count(stream.generated_text()), counted_locally=True)
    metered = Metered(usage, outcome.end, first_byte_at=outcome.first_chunk_at)
    created = stream.created if isinstance(stream, ResponsesStream) else None
    response_id = created.get("id") if created is not None else None
    relayed = Passed(metered, response_id if isinstance(response_id, str) else None,
                     stream.usage if stream.finished else None)
    if metered.end is End.CLIENT_GONE:
        return relayed
    if metered.end is End.COMPLETE and stream.finished:
        metered.closing = outcome.tail + stream.finish()
        return relayed
    metered.end = End.UPSTREAM_BROKEN
    if stream.failure is not None:  # the upstream ended it with response.failed or error: relayed as it is
        metered.failure = stream.failure
        metered.closing = outcome.tail + stream.finish()
        return relayed
    metered.failure = "the stream ended before its last event" if outcome.end is End.COMPLETE else None
    reason = f" ({metered.failure})" if metered.failure else ""
    sequence = stream.sequence + 1 if isinstance(stream, ResponsesStream) else 0
    metered.closing = outcome.tail + event_frame(_cut(created, sequence, BROKE_OFF.format(reason=reason)))
    return relayed


def _cut(created: JsonObject | None, sequence: int, message: str) -> JsonObject:
    if created is None:
        return {"type": "error", "code": "server_error", "message": message, "param": None,
                "sequence_number": sequence}
    failed: JsonObject = {**created, "status": "failed", "error": {"code": "server_error", "message": message}}
    return {"type": "response.failed", "response": failed, "sequence_number": sequence}


async def _pumped(resp: UpstreamResponse, relayed: Relayed, sink: ClientSink) -> StreamOutcome:
    try:
        await sink.open_stream()
    except ClientGone:
        resp.close()
        return StreamOutcome(End.CLIENT_GONE, None)
    return await pump(resp, relayed, sink)


# ---------------------------------------------------------------- answers made from a chat channel's

@dataclass(slots=True)
class Made:
    """An answer made from a chat channel's: what it metered, and the finished Response (None when it did not
    finish: broken, or the client left)."""

    metered: Metered
    response: JsonObject | None


def _local(prompt_tokens: int, tokens: TokenCounter, text: str) -> Usage:
    return Usage(prompt_tokens, tokens.count(text), counted_locally=True)


async def make_whole(attempt: Attempt, resp: UpstreamResponse, start: JsonObject, tokens: TokenCounter,
                     prompt_tokens: int) -> Made:
    """The chat channel's whole answer as the finished Response begun as `start`."""
    try:
        raw = await resp.read()
        answer = attempt.provider.answer(attempt.call, raw)
        completion = orjson.loads(answer.body)
        if not isinstance(completion, dict):
            raise ValueError("the translated answer is not a chat.completion")
    except (UpstreamBroken, ValueError) as exc:
        resp.close()
        raise RetryableAnswer(exc) from None
    usage = answer.usage
    if usage is None:
        choices = completion.get("choices")
        first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = first.get("message")
        text = str(message.get("content") or "") if isinstance(message, dict) else ""
        usage = _local(prompt_tokens, tokens, text)
    response = answers.completion_to_response(completion, start, completed_at=int(time.time()), usage=usage)
    return Made(Metered(usage, answer=WholeAnswer(orjson.dumps(response))), response)


class _ChunksToEventStream:
    """A chat channel's translator (upstream events → OpenAI chunks) followed by the chunks → Responses events
    converter: what the pump relays."""

    def __init__(self, inner: StreamTranslator, start: JsonObject) -> None:
        self.inner = inner
        self.conv = answers.ChunksToEvents(start=start)
        self._sse = SSEBuffer()

    @property
    def finished(self) -> bool:
        return self.inner.finished

    @property
    def failure(self) -> str | None:
        return self.inner.failure

    def feed(self, data: bytes) -> bytes:
        chunks = self.inner.feed(data)
        return self._events(chunks) if chunks else b""

    def _events(self, chunks: bytes) -> bytes:
        out: list[bytes] = []
        for event in self._sse.feed(chunks):
            payload = event_data(event)
            if not payload or payload == b"[DONE]":
                continue
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                out.extend(event_frame(e) for e in self.conv.on_chunk(chunk))
        return b"".join(out)

    def finish(self, usage: Usage) -> bytes:
        rest = self._events(self.inner.finish())
        return rest + b"".join(event_frame(e) for e in self.conv.finish(completed_at=int(time.time()), usage=usage))

    def fail(self, message: str) -> bytes:
        return b"".join(event_frame(e) for e in self.conv.fail(message))


async def make_stream(attempt: Attempt, resp: UpstreamResponse, sink: ClientSink, start: JsonObject,
                      tokens: TokenCounter, prompt_tokens: int) -> Made:
    """The chat channel's stream as the Responses event sequence of the Response begun as `start`: ended by
    `response.completed` (or `response.incomplete`) once the charge is stored, or by `response.failed` when the
    upstream broke it (unbilled)."""
    stream = _ChunksToEventStream(attempt.provider.stream(attempt.call), start)
    outcome = await _pumped(resp, stream, sink)
    inner = stream.inner
    usage = inner.usage or _local(prompt_tokens, tokens, inner.generated_text())
    metered = Metered(usage, outcome.end, first_byte_at=outcome.first_chunk_at)
    if metered.end is End.CLIENT_GONE:
        return Made(metered, None)
    if metered.end is End.COMPLETE and stream.finished:
        metered.closing = outcome.tail + stream.finish(usage)
        return Made(metered, stream.conv.response)
    metered.end = End.UPSTREAM_BROKEN
    metered.failure = inner.failure or ("the stream ended before its last event"
                                        if outcome.end is End.COMPLETE else None)
    reason = f" ({metered.failure})" if metered.failure else ""
    metered.closing = outcome.tail + stream.fail(BROKE_OFF.format(reason=reason))
    return Made(metered, None)
