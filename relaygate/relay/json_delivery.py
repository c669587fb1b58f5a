"""Delivering JSON-API answers (chat, completions, embeddings): whole, as an SSE stream, or a whole answer replayed
as a stream — in the client's dialect, with the usage read off the way."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import orjson

from relaygate.billing.tokens import TokenCounter
from relaygate.core.types import Dialect, Usage
from relaygate.protocols.content import completion_chunks
from relaygate.protocols.sse import DONE, frame
from relaygate.providers.base import CallSpec, Provider, StreamTranslator, WrappedTranslator
from relaygate.relay.dialects import egress_for
from relaygate.relay.inbound import ParsedRequest
from relaygate.relay.operation import Attempt, End, Metered, RetryableAnswer, WholeAnswer
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.streaming import pump
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse


def json_call(operation: str, path: str, parsed: ParsedRequest, provider: Provider, upstream_model: str) -> CallSpec:
    """The call for a JSON request: the client's own body when the provider speaks the client's dialect (a
    pass-through), the OpenAI-format body otherwise."""
    passthrough = parsed.native is not None and provider.dialect is parsed.dialect
    body = parsed.native if passthrough and parsed.native is not None else parsed.body
    return CallSpec(operation, path, body, upstream_model, parsed.stream, parsed.wants_usage, passthrough)


def renamer(attempt: Attempt) -> Callable[[bytes], bytes] | None:
    """For a model the channel maps to another name upstream: what puts the name the client asked for back into
    the answer's `model` fields (the mapping is the operator's affair; a client sees the model it called, as most
    relays answer). None when there is no mapping: the upstream's own name (a dated one, say) is kept."""
    upstream, client = attempt.call.upstream_model, attempt.model
    if upstream == client:
        return None
    pattern = re.compile(rb'("model"\s*:\s*)"' + re.escape(upstream.encode()) + rb'"')
    replacement = rb"\1" + orjson.dumps(client).replace(b"\\", b"\\\\")
    return lambda data: pattern.sub(replacement, data) if upstream.encode() in data else data


async def deliver_json(attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse, sink: ClientSink,
                       tokens: TokenCounter) -> Metered:
    """A stream for a stream request the upstream streamed; otherwise the whole answer (replayed as a stream when
    the client asked for one)."""
    if attempt.call.stream and resp.content_type == "text/event-stream":
        return await _stream(attempt, parsed, resp, sink, tokens)
    return await _whole(attempt, parsed, resp, sink)


async def _whole(attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse, sink: ClientSink) -> Metered:
    client, call = attempt.dialect, attempt.call
    try:
        raw = await resp.read()
        answer = attempt.provider.answer(call, raw)
        if call.stream:
            if answer.dialect is not Dialect.OPENAI:
                raise ValueError("the upstream answered a stream request without streaming")
            return await _replay(attempt, parsed, answer.body, answer.usage, sink)
        body = answer.body if answer.dialect is client.name else client.whole(answer.body, attempt.model)
    except (UpstreamBroken, ValueError) as exc:
        resp.close()
        raise RetryableAnswer(exc) from None
    usage = answer.usage or Usage(parsed.prompt_tokens, 0, counted_locally=True)
    rename = renamer(attempt)
    return Metered(usage, answer=WholeAnswer(rename(body) if rename is not None else body))


async def _replay(attempt: Attempt, parsed: ParsedRequest, body: bytes, usage: Usage | None,
                  sink: ClientSink) -> Metered:
    """A stream request whose upstream cannot stream: the finished answer, sent as a stream."""
    chunks = completion_chunks(orjson.loads(body), include_usage=parsed.wants_usage)
    translator = _renamed(egress_for(_Replayed(), attempt.dialect, attempt.model), attempt)
    head = translator.feed(b"".join(frame(orjson.dumps(chunk)) for chunk in chunks))
    metered = Metered(usage or Usage(parsed.prompt_tokens, 0, counted_locally=True))
    try:
        await sink.open_stream()
        metered.first_byte_at = time.perf_counter()
        await sink.write(head)
    except ClientGone:
        metered.end = End.CLIENT_GONE
        return metered
    metered.closing = translator.finish()
    return metered


async def _stream(attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse, sink: ClientSink,
                  tokens: TokenCounter) -> Metered:
    client = attempt.dialect
    translator = _renamed(egress_for(attempt.provider.stream(attempt.call), client, attempt.model), attempt)
    try:
        await sink.open_stream()
    except ClientGone:
        resp.close()
        end, first, tail = End.CLIENT_GONE, None, b""
    else:
        outcome = await pump(resp, translator, sink)
        end, first, tail = outcome.end, outcome.first_chunk_at, outcome.tail
    usage = translator.usage or Usage(parsed.prompt_tokens, tokens.count(translator.generated_text()),
                                      counted_locally=True)
    metered = Metered(usage, end, first_byte_at=first)
    if end is End.UPSTREAM_BROKEN:
        metered.failure = translator.failure
        reason = f" ({translator.failure})" if translator.failure else ""
        metered.closing = tail + client.stream_error(f"The upstream stream broke off{reason}; the request was not "
                                                     "billed.")
    elif end is End.COMPLETE:
        metered.closing = tail + translator.finish()
    return metered


class _Renamed(WrappedTranslator):
    """A stream translator whose bytes carry the client's model name (see renamer)."""

    def __init__(self, inner: StreamTranslator, rename: Callable[[bytes], bytes]) -> None:
        super().__init__(inner)
        self._rename = rename

    def feed(self, data: bytes) -> bytes:
        return self._rename(self._inner.feed(data))

    def finish(self) -> bytes:
        return self._rename(self._inner.finish())


def _renamed(translator: StreamTranslator, attempt: Attempt) -> StreamTranslator:
    rename = renamer(attempt)
    return translator if rename is None else _Renamed(translator, rename)


class _Replayed:
    """The OpenAI-format bytes of a replayed answer, passed through as they are."""

    usage: Usage | None = None
    finished = True
    failure: str | None = None
    dialect = Dialect.OPENAI

    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return DONE

    def generated_text(self) -> str:
        return ""

