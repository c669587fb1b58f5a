"""Reading an OpenAI-format JSON request: the fields routing and billing need, checked; the rest kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from relaygate.core.errors import BadRequest
from relaygate.core.types import Dialect, JsonObject, JsonValue

STEERING_FIELDS = frozenset({
    "api_base", "base_url", "api_key", "api_version", "api_type", "organization", "headers",
    "extra_headers", "extra_query", "extra_body", "proxy", "proxies", "upstream", "upstream_url",
    "endpoint", "url", "litellm_params", "custom_llm_provider", "deployment_id", "config",
})
"""Fields some SDKs or proxies read as connection settings; a client may not steer where we connect."""


@dataclass(slots=True)
class ParsedRequest:
    """A validated JSON request: its OpenAI-format body (unknown fields kept) and what the relay decides with."""

    body: JsonObject
    model: str
    stream: bool
    wants_usage: bool
    max_output: int | None
    choices: int
    native: JsonObject | None = None
    """The client's own body when it spoke another dialect than OpenAI's."""
    dialect: Dialect = Dialect.OPENAI
    prompt_tokens: int = field(default=0)
    """The prompt's size counted locally (set when the operation estimates it, after the preparation steps)."""

    price_name: str | None = None
    """Billed under this price-table name instead of the model's (a preparation step may set it)."""

    inlined_images: dict[str, str] = field(default_factory=dict)
    """Image URLs already fetched for an upstream that needs bytes, as data URLs (kept across retries)."""

    @property
    def priced_as(self) -> str:
        return self.price_name or self.model


def fail(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param)


def _int_field(body: JsonObject, name: str, *, minimum: int = 1) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise fail(f"'{name}' must be an integer ≥ {minimum}.", name)
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


def read_common(body: JsonObject, *, can_stream: bool, route: str) -> ParsedRequest:
    """Check the fields every OpenAI-format JSON request shares and read what routing and billing need."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise fail("You must provide a model parameter (a non-empty string).", "model")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise fail("'stream' must be a boolean.", "stream")
    if stream and not can_stream:
        raise fail(f"Streaming is not supported on {route}.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise fail("'stream_options' must be an object.", "stream_options")
    wants_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    max_output = _int_field(body, "max_completion_tokens") or _int_field(body, "max_tokens")
    choices = _int_field(body, "n") or 1
    if choices > 128:
        raise fail("'n' must be at most 128.", "n")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise fail(f"'{name}' must be a number.", name)
    return ParsedRequest(body, model, stream, wants_usage, max_output, choices)


def is_prompt(value: JsonValue) -> bool:
    """A prompt or input: a string, or an array of strings, tokens or token arrays."""
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all((isinstance(v, str | int) and not isinstance(v, bool)) or isinstance(v, list) for v in value)
    return False
