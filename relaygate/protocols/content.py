"""Pieces of the OpenAI chat format every translation reads: content parts, data URLs, tool arguments, usage."""

from __future__ import annotations

import json
import re

import orjson

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage

THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
"""OpenAI's reasoning_effort as a thinking budget in tokens (Gemini's thinkingBudget, Claude's budget_tokens)."""

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.DOTALL)


def objects(value: JsonValue) -> list[JsonObject]:
    """The JSON objects in `value` when it is a list (anything else in it skipped), else none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def object_field(obj: JsonObject, key: str) -> JsonObject:
    """obj[key] when it is a JSON object, else an empty one."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:` URL, None for any other URL."""
    if not url.startswith("data:"):
        return None
    match = _DATA_URL.match(url)
    if match is None:
        raise BadRequest("An image data URL must look like data:<media type>;base64,<data>.", param="messages")
    return match["mime"], match["data"]


def parts(content: JsonValue) -> list[JsonObject]:
    """Message content as a list of OpenAI parts (a string is one text part; null is none)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    raise BadRequest("Message content must be a string or an array of parts.", param="messages")


def text_of(content: JsonValue) -> str:
    """The text of message content, parts joined (images and other parts left out)."""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text") or "") for p in parts(content) if p.get("type") == "text")


def image_url(part: JsonObject) -> str:
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise BadRequest("An image_url part needs image_url.url.", param="messages")
    return url


def arguments(raw: JsonValue) -> JsonObject:
    """A tool call's `arguments` string as the object providers want; empty means no arguments."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    raise BadRequest("A tool call's function.arguments must be a JSON object encoded as a string.",
                     param="messages")


def dumps_text(value: JsonValue) -> str:
    return orjson.dumps(value).decode()


def stop_list(stop: JsonValue) -> list[str]:
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str) and s]
    return []


MAX_REPORTED_TOKENS = 10**9
"""More tokens than any answer has: a larger count, like a negative one, is a broken upstream, not a bill."""


def token_count(value: JsonValue) -> int | None:
    """A token count an upstream reported, if it is one: an integer from 0 to MAX_REPORTED_TOKENS (not a bool)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPORTED_TOKENS:
        return value
    return None


def count_or_zero(value: JsonValue) -> int:
    """An optional count (tokens) or index on the wire: absent, negative or not an integer reads as 0."""
    return token_count(value) or 0


def parse_usage(value: JsonValue) -> Usage | None:
    """OpenAI's usage object (chat, completions or embeddings) as internal Usage; None when prompt_tokens or
    completion_tokens is not a count (the caller then counts tokens itself)."""
    if not isinstance(value, dict):
        return None
    prompt = token_count(value.get("prompt_tokens"))
    completion = token_count(value.get("completion_tokens", 0))
    if prompt is None or completion is None:
        return None
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
    details = value.get("completion_tokens_details")
    if isinstance(details, dict):
        usage.reasoning_tokens = min(count_or_zero(details.get("reasoning_tokens")), completion)
    cached = value.get("prompt_tokens_details")
    if isinstance(cached, dict):
        usage.cached_tokens = min(count_or_zero(cached.get("cached_tokens")), prompt)
        usage.cache_write_tokens = min(count_or_zero(cached.get("cache_creation_tokens")),
                                       prompt - usage.cached_tokens)
    return usage


_USAGE_MEMBER = re.compile(rb'"usage"\s*:\s*(?={)')
_OBJECT_START = re.compile(rb"\s*{")
_DECODER = json.JSONDecoder()


def trailing_usage(raw: bytes | bytearray) -> JsonObject | None:
    """The top-level `usage` of a JSON answer when it is the object's last member (where OpenAI-compatible servers
    put it), read without parsing the rest: an embeddings answer is mostly floats, an image answer megabytes of
    base64, and parsing them costs more than the rest of relaying them (nothing but the usage is copied). None
    whenever that shape is not certain; the caller then parses the whole body."""
    at = raw.rfind(b'"usage"')
    if at < 0 or _OBJECT_START.match(raw) is None:
        return None
    member = _USAGE_MEMBER.match(raw, at)
    if member is None:
        return None
    try:
        tail = raw[member.end():].decode()
        value, end = _DECODER.raw_decode(tail)
    except ValueError:
        return None
    # exactly the top-level object's closing brace after it: the member is the last one, at depth one
    return value if isinstance(value, dict) and tail[end:].strip() == "}" else None


def openai_usage(usage: Usage) -> JsonObject:
    """Internal usage as OpenAI's usage object."""
    out: JsonObject = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens or usage.cache_write_tokens:
        # cache_creation_tokens is relaygate's addition (OpenAI has no cache writes); SDKs keep unknown fields.
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens,
                                        "cache_creation_tokens": usage.cache_write_tokens}
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def completion_object(*, id_: str, model: str, created: int, message: JsonObject, finish: str | None,
                      usage: Usage | None) -> JsonObject:
    """A one-choice `chat.completion`."""
    body: JsonObject = {
        "id": id_, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = openai_usage(usage)
    return body


def chunk_object(*, id_: str, model: str, created: int, delta: JsonObject | None,
                 finish: str | None = None, usage: Usage | None = None) -> JsonObject:
    """A `chat.completion.chunk`: one delta choice, or (delta None) the usage-only chunk."""
    chunk: JsonObject = {"id": id_, "object": "chat.completion.chunk", "created": created, "model": model}
    if delta is None:
        chunk["choices"] = []
        chunk["usage"] = openai_usage(usage or Usage())
    else:
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return chunk


def tool_call_delta(index: int, *, id_: str | None = None, name: str | None = None,
                    arguments: str = "") -> JsonObject:
    call: JsonObject = {"index": index}
    if id_ is not None:
        call["id"] = id_
        call["type"] = "function"
        call["function"] = {"name": name or "", "arguments": arguments}
    else:
        call["function"] = {"arguments": arguments}
    return {"tool_calls": [call]}


def completion_chunks(body: JsonValue, *, include_usage: bool) -> list[JsonObject]:
    """A whole chat.completion as the chunks a stream of it would have carried."""
    if not isinstance(body, dict):
        raise ValueError("an answer is not a JSON object")
    id_, model, created = str(body.get("id") or ""), str(body.get("model") or ""), body.get("created")
    created = created if isinstance(created, int) else 0
    chunks: list[JsonObject] = []
    choices = body.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            continue
        message = choice["message"]
        assert isinstance(message, dict)
        delta: JsonObject = {"role": "assistant", "content": message.get("content")}
        for extra in ("tool_calls", "reasoning_content", "refusal"):
            if message.get(extra) is not None:
                value = message[extra]
                if extra == "tool_calls" and isinstance(value, list):
                    value = [{**call, "index": i} for i, call in enumerate(value) if isinstance(call, dict)]
                delta[extra] = value
        index = choice.get("index", 0)
        base: JsonObject = {"id": id_, "object": "chat.completion.chunk", "created": created, "model": model}
        chunks.append({**base, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                            "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": index, "delta": {}, "logprobs": None,
                                            "finish_reason": choice.get("finish_reason") or "stop"}]})
    if include_usage and isinstance(body.get("usage"), dict):
        chunks.append({"id": id_, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": body["usage"]})
    return chunks
