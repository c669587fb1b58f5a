"""Embeddings (/v1/embeddings): string or array input, float or base64."""

from __future__ import annotations

from typing import ClassVar

from relaygate.billing.estimate import token_estimate
from relaygate.core.types import EMBEDDINGS, Usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import ParsedRequest, decode_body, fail, is_prompt, read_common
from relaygate.relay.json_delivery import deliver_json, json_call
from relaygate.relay.operation import Attempt, Metered, OperationContext, Route, RouteDoc
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamResponse


class EmbeddingsOperation:
    name: ClassVar[str] = EMBEDDINGS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/embeddings", OPENAI, RouteDoc(
        "Embeddings", {"type": "object", "required": ["model", "input"], "additionalProperties": True,
                       "properties": {"model": {"type": "string"}, "input": {},
                                      "encoding_format": {"enum": ["float", "base64"]},
                                      "dimensions": {"type": "integer"}}})),)

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ParsedRequest:
        parsed = read_common(decode_body(await inbound.body.read(self._ctx.max_body_bytes)), can_stream=False,
                             route="/v1/embeddings")
        value = parsed.body.get("input")
        if not is_prompt(value) or value == [] or value == "":
            raise fail("'input' must be a non-empty string or array.", "input")
        fmt = parsed.body.get("encoding_format")
        if fmt is not None and fmt not in ("float", "base64"):
            raise fail("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
        return parsed

    def expected(self, parsed: ParsedRequest) -> Usage:
        parsed.prompt_tokens = self._ctx.tokens.text_input(parsed.body.get("input"))
        return token_estimate(parsed.prompt_tokens, 0)

    async def call(self, parsed: ParsedRequest, provider: Provider, upstream_model: str) -> CallSpec:
        return json_call(EMBEDDINGS, "/embeddings", parsed, provider, upstream_model)

    async def deliver(self, attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        return await deliver_json(attempt, parsed, resp, sink, self._ctx.tokens)
