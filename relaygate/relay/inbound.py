"""Reading a client's request body: the few fields routing and billing need, checked; the rest kept."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from relaygate.core.errors import BadRequest
from relaygate.core.types import Endpoint, JsonObject, JsonValue

STEERING_FIELDS = frozenset({
    "api_base", "base_url", "api_key", "api_version", "api_type", "organization", "headers",
    "extra_headers", "extra_query", "extra_body", "proxy", "proxies", "upstream", "upstream_url",
    "endpoint", "url", "litellm_params", "custom_llm_provider", "deployment_id", "config",
})
"""Fields some SDKs or proxies read as connection settings; a client may not steer where we connect."""

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(slots=True)
class ParsedRequest:
    """A validated request: its body (unknown fields kept) and what the relay decides with."""

    endpoint: Endpoint
    body: JsonObject
    model: str
    stream: bool
    wants_usage: bool
    max_output: int | None
    choices: int
    native: JsonObject | None = None
    """The client's own body when it spoke another dialect than OpenAI's."""


def _fail(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param)


def _int_field(body: JsonObject, name: str, *, minimum: int = 1) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(f"'{name}' must be an integer ≥ {minimum}.", name)
    return value


def decode_body(raw: bytes) -> JsonObject:
    """The request body as a JSON object, with the fields that could steer our connections dropped."""
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"We could not parse the JSON body of your request: {exc.msg}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    for name in STEERING_FIELDS.intersection(body):
        del body[name]
    return body


def parse_request(endpoint: Endpoint, raw: bytes) -> ParsedRequest:
    return parse_body(endpoint, decode_body(raw))


def parse_body(endpoint: Endpoint, body: JsonObject) -> ParsedRequest:
    """Check an OpenAI-format body and read what routing and billing need."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("You must provide a model parameter (a non-empty string).", "model")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _fail("'stream' must be a boolean.", "stream")
    if stream and not endpoint.streams:
        raise _fail(f"Streaming is not supported on {endpoint.value}.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _fail("'stream_options' must be an object.", "stream_options")
    wants_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    _check_payload(endpoint, body)
    max_output = _int_field(body, "max_completion_tokens") or _int_field(body, "max_tokens")
    choices = _int_field(body, "n") or 1
    if choices > 128:
        raise _fail("'n' must be at most 128.", "n")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise _fail(f"'{name}' must be a number.", name)
    return ParsedRequest(endpoint, body, model, stream, wants_usage, max_output, choices)


def _check_payload(endpoint: Endpoint, body: JsonObject) -> None:
    if endpoint is Endpoint.CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _fail("'messages' must be a non-empty array of message objects.", "messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in _ROLES:
                raise _fail(
                    f"messages[{i}] must be an object with a 'role' of {', '.join(sorted(_ROLES))}.",
                    f"messages[{i}]",
                )
            if not _valid_content(message.get("content")):
                raise _fail(f"messages[{i}].content must be a string or an array of parts.", f"messages[{i}].content")
    elif endpoint is Endpoint.COMPLETIONS:
        if not _is_prompt(body.get("prompt")):
            raise _fail("'prompt' must be a string or an array of strings or tokens.", "prompt")
    else:
        value = body.get("input")
        if not _is_prompt(value) or value == [] or value == "":
            raise _fail("'input' must be a non-empty string or array.", "input")
        fmt = body.get("encoding_format")
        if fmt is not None and fmt not in ("float", "base64"):
            raise _fail("'encoding_format' must be 'float' or 'base64'.", "encoding_format")


def _valid_content(content: JsonValue) -> bool:
    if content is None or isinstance(content, str):
        return True
    return isinstance(content, list) and all(isinstance(part, dict) for part in content)


def _is_prompt(value: JsonValue) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all((isinstance(v, str | int) and not isinstance(v, bool)) or isinstance(v, list) for v in value)
    return False
