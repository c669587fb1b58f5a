"""The Responses API (POST /v1/responses): passed through to the upstreams that speak it (OpenAI, Azure, OpenRouter),
translated through chat for the rest (Claude, Gemini); follow-ups (previous_response_id) go to the channel that
made the response they continue, for the key that made it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from relaygate.billing.estimate import token_estimate
from relaygate.billing.tokens import IMAGE_TOKENS, TokenCounter
from relaygate.core.errors import BadRequest
from relaygate.core.types import CHAT, RESPONSE_RETRIEVE, RESPONSES, Dialect, JsonObject, JsonValue, Usage
from relaygate.protocols import content as c
from relaygate.protocols.responses import responses_to_chat, turn_items
from relaygate.protocols.responses_answers import response_object
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import decode_body, fail
from relaygate.relay.operation import Attempt, Metered, OperationContext, Pin, RetryableAnswer, Route, RouteDoc
from relaygate.relay.remote_images import inline_images
from relaygate.relay.response_memory import KeptResponse, ResponseMemory, previous_not_found
from relaygate.relay.responses_delivery import make_stream, make_whole, new_response_id, relay_stream, relay_whole
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamResponse


@dataclass(slots=True)
class ResponsesRequest:
    """A POST /v1/responses body (every field kept, to forward) and what the relay decides with."""

    body: JsonObject
    model: str
    stream: bool
    max_output: int | None
    previous: KeptResponse | None = None
    """The response this one continues (previous_response_id)."""
    pin: Pin | None = None
    prompt_tokens: int = field(default=0)
    inlined_images: dict[str, str] = field(default_factory=dict)
    """Image URLs already fetched for an upstream that needs bytes, as data URLs (kept across retries)."""

    @property
    def priced_as(self) -> str:
        return self.model

    @property
    def stored(self) -> bool:
        return self.body.get("store") is not False


def prompt_estimate(tokens: TokenCounter, body: JsonObject, conversation: Sequence[JsonObject]) -> int:
    """An estimate of a Responses request's input, erring high: instructions, earlier turns, this input, tools."""
    texts: list[str] = [str(body.get("instructions") or "")]
    images = 0
    raw = body.get("input")
    items = [*conversation, *(c.objects(raw) if isinstance(raw, list) else [])]
    if isinstance(raw, str):
        texts.append(raw)
    for item in items:
        for value in (item.get("content"), item.get("output"), item.get("arguments"), item.get("summary")):
            if isinstance(value, str):
                texts.append(value)
            for part in c.objects(value):
                if part.get("type") in ("input_image", "input_file"):
                    images += 1
                else:
                    texts.append(str(part.get("text") or part.get("refusal") or ""))
    if body.get("tools"):
        texts.append(repr(body["tools"]))
    return tokens.count("\n".join(texts)) + 4 * len(items) + images * IMAGE_TOKENS + 3


def _positive(body: JsonObject, name: str) -> int | None:
    value: JsonValue = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(f"'{name}' must be a positive integer.", name)
    return value


class ResponsesOperation:
    name: ClassVar[str] = RESPONSES
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/responses", OPENAI, RouteDoc(
        "The Responses API: passed through to OpenAI-compatible channels, translated for Claude and Gemini",
        {"type": "object", "required": ["model", "input"], "additionalProperties": True,
         "properties": {"model": {"type": "string"}, "input": {}, "instructions": {"type": "string"},
                        "stream": {"type": "boolean"}, "previous_response_id": {"type": "string"},
                        "store": {"type": "boolean"}, "max_output_tokens": {"type": "integer"}}},
        streams=True)),)

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx
        self._memory = ResponseMemory(ctx.store, ctx.keep_seconds) if ctx.store is not None else None

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ResponsesRequest:
        body = decode_body(await inbound.body.read(self._ctx.max_body_bytes))
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise fail("You must provide a model parameter (a non-empty string).", "model")
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise fail("'stream' must be a boolean.", "stream")
        given = body.get("input")
        if given is None and not body.get("prompt"):
            raise fail("Missing required parameter: 'input'.", "input")
        if given is not None and not isinstance(given, str | list):
            raise fail("'input' must be a string or an array of input items.", "input")
        parsed = ResponsesRequest(body, model, bool(stream), _positive(body, "max_output_tokens"))
        previous = body.get("previous_response_id")
        if previous is not None:
            if not isinstance(previous, str):
                raise fail("'previous_response_id' must be a string.", "previous_response_id")
            found = await self._memory.find(previous) if self._memory is not None else None
            if found is None:
                raise previous_not_found(previous)
            parsed.previous, parsed.pin = found, found.pin(previous_not_found(previous))
        return parsed

    def expected(self, parsed: ResponsesRequest) -> Usage:
        conversation = parsed.previous.conversation or () if parsed.previous is not None else ()
        parsed.prompt_tokens = prompt_estimate(self._ctx.tokens, parsed.body, conversation)
        return token_estimate(parsed.prompt_tokens, parsed.max_output or self._ctx.default_max_tokens)

    async def call(self, parsed: ResponsesRequest, provider: Provider, upstream_model: str) -> CallSpec:
        if provider.dialect is Dialect.OPENAI:
            return CallSpec(RESPONSES, "/responses", parsed.body, upstream_model, parsed.stream,
                            client_wants_usage=True, passthrough=True)
        previous = parsed.previous
        if previous is not None and not previous.relayed:
            raise BadRequest(f"Previous response '{previous.id}' is kept by its upstream, which this channel cannot "
                             "reach.", param="previous_response_id", code="previous_response_not_found")
        chat = responses_to_chat(parsed.body, conversation=previous.conversation or () if previous else ())
        if self._ctx.images is not None:  # images by URL, for an upstream that takes only bytes (as chat does)
            chat = await inline_images(chat, provider.image_urls, self._ctx.images, parsed.inlined_images,
                                       param="input")
        return CallSpec(CHAT, "/chat/completions", chat, upstream_model, parsed.stream, client_wants_usage=True)

    async def deliver(self, attempt: Attempt, parsed: ResponsesRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        if attempt.call.operation == RESPONSES:
            return await self._pass(attempt, parsed, resp, sink)
        return await self._translate(attempt, parsed, resp, sink)

    async def _pass(self, attempt: Attempt, parsed: ResponsesRequest, resp: UpstreamResponse,
                    sink: ClientSink) -> Metered:
        tokens = self._ctx.tokens
        background = parsed.body.get("background") is True
        if attempt.call.stream and resp.content_type == "text/event-stream":
            passed = await relay_stream(attempt, resp, sink, tokens, parsed.prompt_tokens)
        elif attempt.call.stream:
            resp.close()
            raise RetryableAnswer(ValueError("the upstream answered a stream request without streaming"))
        else:
            # a queued background response has consumed nothing yet: its usage is billed once it is seen finished
            fallback = Usage() if background else Usage(parsed.prompt_tokens, 0, counted_locally=True)
            passed = await relay_whole(attempt, resp, fallback)
        metered = passed.metered
        # Only an upstream that keeps responses can be asked for them again (OpenRouter's API is stateless).
        if (self._memory is not None and parsed.stored and passed.response_id is not None
                and RESPONSE_RETRIEVE in attempt.provider.serves):
            billed = passed.reported is not None or not background
            if not billed:
                # a background stream the client left runs on upstream: billed by whatever first sees it finished
                metered.usage = Usage()
            metered.keep = self._memory.remembering(passed.response_id, parsed.model, billed=billed)
        return metered

    async def _translate(self, attempt: Attempt, parsed: ResponsesRequest, resp: UpstreamResponse,
                         sink: ClientSink) -> Metered:
        start = response_object(parsed.body, response_id=new_response_id(), created_at=int(time.time()))
        tokens = self._ctx.tokens
        if attempt.call.stream:
            made = await make_stream(attempt, resp, sink, start, tokens, parsed.prompt_tokens)
        else:
            made = await make_whole(attempt, resp, start, tokens, parsed.prompt_tokens)
        if self._memory is not None and parsed.stored and made.response is not None:
            earlier = parsed.previous.conversation or () if parsed.previous is not None else ()
            conversation = [*earlier, *turn_items(parsed.body, made.response)]
            made.metered.keep = self._memory.remembering(str(start["id"]), parsed.model, conversation=conversation)
        return made.metered
