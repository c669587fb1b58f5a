"""Chat completions, for OpenAI clients (/v1/chat/completions) and through the Anthropic (/v1/messages) and
Gemini (/v1beta/models/{model}:generateContent) front doors."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from relaygate.billing.estimate import token_estimate
from relaygate.core.types import CHAT, JsonObject, Usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import ANTHROPIC, GEMINI, OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import ParsedRequest, fail, read_common
from relaygate.relay.json_delivery import deliver_json, json_call
from relaygate.relay.operation import Attempt, Metered, OperationContext, Route, RouteDoc
from relaygate.relay.remote_images import inline_images
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamResponse

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_CHAT_BODY: JsonObject = {
    "type": "object", "required": ["model", "messages"], "additionalProperties": True, "properties": {
        "model": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}},
        "stream": {"type": "boolean"}, "max_tokens": {"type": "integer"}, "n": {"type": "integer", "maximum": 128}}}
_MESSAGES_BODY: JsonObject = {
    "type": "object", "required": ["model", "messages", "max_tokens"], "additionalProperties": True, "properties": {
        "model": {"type": "string"}, "messages": {"type": "array"}, "max_tokens": {"type": "integer"},
        "stream": {"type": "boolean"}}}
_GENERATE_BODY: JsonObject = {
    "type": "object", "required": ["contents"], "additionalProperties": True,
    "properties": {"contents": {"type": "array"}, "generationConfig": {"type": "object"}}}


def check_messages(body: JsonObject) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("'messages' must be a non-empty array of message objects.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise fail(f"messages[{i}] must be an object with a 'role' of {', '.join(sorted(_ROLES))}.",
                       f"messages[{i}]")
        content = message.get("content")
        if not (content is None or isinstance(content, str)
                or (isinstance(content, list) and all(isinstance(part, dict) for part in content))):
            raise fail(f"messages[{i}].content must be a string or an array of parts.", f"messages[{i}].content")


class ChatOperation:
    name: ClassVar[str] = CHAT
    routes: ClassVar[tuple[Route, ...]] = (
        Route("POST", "/v1/chat/completions", OPENAI, RouteDoc(
            "Chat (any connected model; stream or not)", _CHAT_BODY, streams=True)),
        Route("POST", "/v1/messages", ANTHROPIC, RouteDoc(
            "Anthropic's Messages API, for any connected model", _MESSAGES_BODY, streams=True)),
        Route("POST", "/v1beta/models/{target}", GEMINI, RouteDoc(
            "Gemini's generateContent and streamGenerateContent (SSE), for any connected model", _GENERATE_BODY,
            streams=True, paths=("/v1beta/models/{model}:generateContent",
                                 "/v1beta/models/{model}:streamGenerateContent"))),
    )

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ParsedRequest:
        request = dialect.to_openai(await inbound.body.read(self._ctx.max_body_bytes), inbound.path_params)
        parsed = read_common(request.body, can_stream=True, route="/v1/chat/completions")
        check_messages(parsed.body)
        if request.native is not None:
            parsed.native = request.native
            parsed.dialect = dialect.name
            parsed.wants_usage = True
        return parsed

    def expected(self, parsed: ParsedRequest) -> Usage:
        parsed.prompt_tokens = self._ctx.tokens.chat_prompt(parsed.body)
        return token_estimate(parsed.prompt_tokens, parsed.max_output or self._ctx.default_max_tokens,
                              choices=parsed.choices)

    async def call(self, parsed: ParsedRequest, provider: Provider, upstream_model: str) -> CallSpec:
        spec = json_call(CHAT, "/chat/completions", parsed, provider, upstream_model)
        if spec.passthrough or self._ctx.images is None:
            return spec
        body = await inline_images(spec.body, provider.image_urls, self._ctx.images, parsed.inlined_images)
        return spec if body is spec.body else dataclasses.replace(spec, body=body)

    async def deliver(self, attempt: Attempt, parsed: ParsedRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        return await deliver_json(attempt, parsed, resp, sink, self._ctx.tokens)
