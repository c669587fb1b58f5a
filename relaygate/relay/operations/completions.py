"""Legacy text completions (/v1/completions), stream and not."""

from __future__ import annotations

from typing import ClassVar

from relaygate.billing.estimate import token_estimate
from relaygate.core.types import COMPLETIONS, Usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import ParsedRequest, decode_body, fail, is_prompt, read_common
from relaygate.relay.json_delivery import deliver_json, json_call
from relaygate.relay.operation import Attempt, Metered, OperationContext, Route, RouteDoc
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamResponse


class CompletionsOperation:
    name: ClassVar[str] = COMPLETIONS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/completions", OPENAI, RouteDoc(
        "Legacy text completions", {"type": "object", "required": ["model", "prompt"], "additionalProperties": True,
                                    "properties": {"model": {"type": "string"}, "prompt": {},
                                                   "stream": {"type": "boolean"}, "max_tokens": {"type": "integer"}}},
        streams=True)),)

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ParsedRequest:
        parsed = read_common(decode_body(await inbound.body.read(self._ctx.max_body_bytes)), can_stream=True,
                             route="/v1/completions")
        if not is_prompt(parsed.body.get("prompt")):
            raise fail("'prompt' must be a string or an array of strings or tokens.", "prompt")
        return parsed

    def expected(self, parsed: ParsedRequest) -> Usage:
        parsed.prompt_tokens = self._ctx.tokens.text_input(parsed.body.get("prompt"))
        return token_estimate(parsed.prompt_tokens, parsed.max_output or self._ctx.default_max_tokens,
                              choices=parsed.choices)

    async def call(self, parsed: ParsedRequest, provider: Provider, upstream_model: str) -> CallSpec:
        return json_call(COMPLETIONS, "/completions", parsed, provider, upstream_model)

    async def deliver(self, attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        return await deliver_json(attempt, parsed, resp, sink, self._ctx.tokens)
