"""The Responses API's routes about stored responses — retrieve (whole, or a background response's events again),
delete, cancel, input items — and input token counts: each sent to the channel that made the response, for the key
that made it (another key is told it does not exist). They cost nothing, but a background response is billed its
usage when relaygate first sees it finished."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qsl, quote, urlencode

from relaygate.core.errors import BadRequest
from relaygate.core.types import (
    RESPONSE_CANCEL,
    RESPONSE_DELETE,
    RESPONSE_INPUT_ITEMS,
    RESPONSE_INPUT_TOKENS,
    RESPONSE_RETRIEVE,
    JsonObject,
    Usage,
)
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import decode_body, fail
from relaygate.relay.operation import Attempt, End, Metered, OperationContext, Pin, Route, RouteDoc
from relaygate.relay.response_memory import KeptResponse, ResponseMemory, not_found, previous_not_found
from relaygate.relay.responses_delivery import Passed, relay_stream, relay_whole
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamResponse

FREE = Usage(calls=0)


@dataclass(slots=True)
class StoredResponseRequest:
    """A request about one remembered response (or, for input tokens, a body that may continue one)."""

    model: str
    """The model the response was made with (or the one named to count for)."""
    kept: KeptResponse | None
    pin: Pin | None
    path: str
    """Where it goes under the API root, with the query parameters the API takes."""
    stream: bool = False
    body: JsonObject = dataclasses.field(default_factory=dict)

    @property
    def priced_as(self) -> str:
        return self.model


def _served_upstream(kept: KeptResponse | None) -> None:
    if kept is not None and kept.relayed:
        raise BadRequest(f"Response '{kept.id}' was produced by relaygate over a chat channel; it is kept only to "
                         "be continued with previous_response_id.", param="response_id")


class _ByIdOperation:
    """A route about the response named in its path."""

    name: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]
    method: ClassVar[str]
    action: ClassVar[str] = ""
    """The path after the response id (/cancel, /input_items)."""
    query: ClassVar[frozenset[str]] = frozenset()
    """The query parameters the route takes, passed on as sent; no other (an api-version) reaches the upstream."""
    bills: ClassVar[bool] = False
    """Its answer may be a background response seen finished for the first time, whose usage is then billed."""

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx
        self._memory = ResponseMemory(ctx.store, ctx.keep_seconds) if ctx.store is not None else None

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> StoredResponseRequest:
        response_id = inbound.path_params.get("response_id", "")
        kept = await self._memory.find(response_id) if self._memory is not None else None
        if kept is None:
            raise not_found(response_id)
        sent = parse_qsl(inbound.query, keep_blank_values=True)
        pairs = [(k, v) for k, v in sent if k.removesuffix("[]") in self.query]
        query = "?" + urlencode(pairs) if pairs else ""
        stream = ("stream", "true") in pairs
        path = f"/responses/{quote(response_id, safe='')}{self.action}{query}"
        return StoredResponseRequest(kept.model, kept, kept.pin(not_found(response_id)), path, stream)

    def expected(self, parsed: StoredResponseRequest) -> Usage:
        return FREE

    async def call(self, parsed: StoredResponseRequest, provider: Provider, upstream_model: str) -> CallSpec:
        _served_upstream(parsed.kept)
        return CallSpec(self.name, parsed.path, parsed.body, upstream_model, parsed.stream, client_wants_usage=True,
                        passthrough=True, method=self.method)

    async def deliver(self, attempt: Attempt, parsed: StoredResponseRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        if parsed.stream and resp.content_type == "text/event-stream":
            passed = await relay_stream(attempt, resp, sink, self._ctx.tokens, 0)
        else:
            passed = await relay_whole(attempt, resp, FREE)
        passed.metered.usage = await self._billed(parsed.kept, passed)
        return passed.metered

    async def _billed(self, kept: KeptResponse | None, passed: Passed) -> Usage:
        """A background response's usage the first time it is seen finished; nothing otherwise."""
        reported = passed.reported
        if (not self.bills or kept is None or kept.billed or reported is None or self._memory is None
                or passed.metered.end is not End.COMPLETE):
            return FREE
        if not await self._memory.claim_billing(kept.id):
            return FREE
        return dataclasses.replace(reported, calls=0)


class ResponseRetrieveOperation(_ByIdOperation):
    name: ClassVar[str] = RESPONSE_RETRIEVE
    routes: ClassVar[tuple[Route, ...]] = (
        Route("GET", "/v1/responses/{response_id}", OPENAI,
              RouteDoc("A stored response (?stream=true replays a background one)", streams=True)),)
    method: ClassVar[str] = "GET"
    query: ClassVar[frozenset[str]] = frozenset({"include", "include_obfuscation", "starting_after", "stream"})
    bills: ClassVar[bool] = True


class ResponseDeleteOperation(_ByIdOperation):
    name: ClassVar[str] = RESPONSE_DELETE
    routes: ClassVar[tuple[Route, ...]] = (
        Route("DELETE", "/v1/responses/{response_id}", OPENAI,
              RouteDoc("Delete a stored response")),)
    method: ClassVar[str] = "DELETE"

    async def deliver(self, attempt: Attempt, parsed: StoredResponseRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        metered = await super().deliver(attempt, parsed, resp, sink)
        if parsed.kept is not None:
            metered.keep = ResponseMemory.forgetting(parsed.kept.id)
        return metered


class ResponseCancelOperation(_ByIdOperation):
    name: ClassVar[str] = RESPONSE_CANCEL
    routes: ClassVar[tuple[Route, ...]] = (
        Route("POST", "/v1/responses/{response_id}/cancel", OPENAI,
              RouteDoc("Cancel a background response")),)
    method: ClassVar[str] = "POST"
    action: ClassVar[str] = "/cancel"
    bills: ClassVar[bool] = True


class ResponseInputItemsOperation(_ByIdOperation):
    name: ClassVar[str] = RESPONSE_INPUT_ITEMS
    routes: ClassVar[tuple[Route, ...]] = (
        Route("GET", "/v1/responses/{response_id}/input_items", OPENAI,
              RouteDoc("The input items of a stored response")),)
    method: ClassVar[str] = "GET"
    action: ClassVar[str] = "/input_items"
    query: ClassVar[frozenset[str]] = frozenset({"after", "include", "limit", "order"})


class ResponseInputTokensOperation:
    """POST /v1/responses/input_tokens: what a create would send, counted by the upstream; one that continues a
    response (previous_response_id) goes to the channel that made it."""

    name: ClassVar[str] = RESPONSE_INPUT_TOKENS
    routes: ClassVar[tuple[Route, ...]] = (
        Route("POST", "/v1/responses/input_tokens", OPENAI,
              RouteDoc("Count the input tokens of a Responses request",
                       {"type": "object", "additionalProperties": True})),)

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx
        self._memory = ResponseMemory(ctx.store, ctx.keep_seconds) if ctx.store is not None else None

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> StoredResponseRequest:
        body = decode_body(await inbound.body.read(self._ctx.max_body_bytes))
        model, previous = body.get("model"), body.get("previous_response_id")
        kept = pin = None
        if previous is not None:
            if not isinstance(previous, str):
                raise fail("'previous_response_id' must be a string.", "previous_response_id")
            kept = await self._memory.find(previous) if self._memory is not None else None
            if kept is None:
                raise previous_not_found(previous)
            pin = kept.pin(previous_not_found(previous))
        if model is None and kept is not None:
            model = kept.model
        if not isinstance(model, str) or not model:
            raise fail("You must provide a model parameter (a non-empty string).", "model")
        return StoredResponseRequest(model, kept, pin, "/responses/input_tokens", body=body)

    def expected(self, parsed: StoredResponseRequest) -> Usage:
        return FREE

    async def call(self, parsed: StoredResponseRequest, provider: Provider, upstream_model: str) -> CallSpec:
        _served_upstream(parsed.kept)
        return CallSpec(self.name, parsed.path, parsed.body, upstream_model, stream=False, client_wants_usage=True,
                        passthrough=True)

    async def deliver(self, attempt: Attempt, parsed: StoredResponseRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        passed = await relay_whole(attempt, resp, FREE)
        passed.metered.usage = FREE
        return passed.metered
