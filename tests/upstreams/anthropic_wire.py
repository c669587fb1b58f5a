"""Anthropic Messages API wire rules for the fake upstream: strict request validation and answer bodies.

Error messages follow the real API's style (`path.to.field: what is wrong`, dotted paths with list indexes),
with a hint appended where a relay most likely sent an OpenAI-ism.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

V2023 = "2023-06-01"
V2026 = "2026-10-21"
VERSIONS = (V2023, V2026)
"""The anthropic-version values served. 2026-10-21 (what the anthropic SDK 2.x sends) removes temperature, top_p
and top_k and refuses citations on user text blocks; 2023-06-01 is what relays send. The legacy 2023-01-01 (whole
text per stream event, data: [DONE]) is not emulated."""
SAMPLING = ("temperature", "top_p", "top_k")
ROLES = ("user", "assistant")
DEFAULT_REPLY = "Hello from mock Claude 1 2 3 4 5 6"
JSON_REPLY = '{"answer": "mock"}'
TOOL_INPUT: dict[str, Any] = {"location": "Paris"}
THINKING_TEXT = "The user wants an answer. Let me think it through step by step."
SIGNATURE = "sig"
IMAGE_TOKENS = 85
"""What one image costs in input tokens (fixed, whatever its size)."""
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MIN_THINKING_BUDGET = 1024
STREAM_CUT_AFTER = 5
"""stream_cut and stream_error act after message_start, content_block_start, ping and two deltas."""

TOP_LEVEL = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
                       "temperature", "top_k", "top_p", "tools", "tool_choice", "thinking", "service_tier"})
OPENAI_HINTS = {
    "n": "Claude answers one message per request",
    "max_completion_tokens": "use max_tokens",
    "stop": "use stop_sequences",
    "response_format": "ask for the format in the system prompt",
    "stream_options": "usage always arrives in message_start and message_delta",
    "frequency_penalty": "there is no such sampling parameter",
    "presence_penalty": "there is no such sampling parameter",
    "logit_bias": "there is no such sampling parameter",
    "logprobs": "log probabilities are not available",
    "top_logprobs": "log probabilities are not available",
    "seed": "sampling cannot be seeded",
    "user": "use metadata.user_id",
    "parallel_tool_calls": "use tool_choice.disable_parallel_tool_use",
    "functions": "use tools",
    "function_call": "use tool_choice",
    "reasoning_effort": "use thinking",
    "name": "messages have only role and content",
    "tool_calls": "tool calls are tool_use blocks in the assistant content",
    "tool_call_id": "tool results are tool_result blocks in a user message",
}

_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_CACHE_TTLS = ("5m", "1h")
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))
_BLOCK_KEYS = {
    "text": frozenset({"type", "text", "cache_control", "citations"}),
    "image": frozenset({"type", "source", "cache_control"}),
    "tool_use": frozenset({"type", "id", "name", "input", "cache_control", "caller"}),
    "tool_result": frozenset({"type", "tool_use_id", "content", "is_error", "cache_control"}),
    "thinking": frozenset({"type", "thinking", "signature"}),
    "redacted_thinking": frozenset({"type", "data"}),
}
_ALL_KINDS = tuple(_BLOCK_KEYS)
_ASSISTANT_ONLY = ("tool_use", "thinking", "redacted_thinking")
_USER_ONLY = ("tool_result",)
_TOOL_KEYS = frozenset({"type", "name", "description", "input_schema", "cache_control"})
_TOOL_CHOICE_KEYS = {
    "auto": frozenset({"type", "disable_parallel_tool_use"}),
    "any": frozenset({"type", "disable_parallel_tool_use"}),
    "tool": frozenset({"type", "name", "disable_parallel_tool_use"}),
    "none": frozenset({"type"}),
}
_THINKING_KEYS = {
    "enabled": frozenset({"type", "budget_tokens", "display"}),
    "disabled": frozenset({"type"}),
    "adaptive": frozenset({"type", "display"}),
}


class WireError(Exception):
    """An Anthropic-shaped error answer."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type_
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.type, "message": self.message}, "request_id": request_id}


def mode_error(mode: str) -> WireError | None:
    """The canned error answer of a failure mode, None for modes that do not answer with an error."""
    if mode == "500":
        return WireError(500, "Internal server error", type_="api_error")
    if mode == "529":
        return WireError(529, "Overloaded", type_="overloaded_error")
    if mode == "429":
        return WireError(429, "This request would exceed the rate limit for your organization of 50 requests per "
                              "minute. Please wait before trying again.", type_="rate_limit_error",
                         headers={"retry-after": "1"})
    if mode == "401":
        return WireError(401, "invalid x-api-key", type_="authentication_error")
    if mode == "400":
        return WireError(400, "prompt is too long: 210000 tokens > 200000 maximum")
    return None


def stream_error_event() -> dict[str, Any]:
    return {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def invalid(path: str, message: str) -> WireError:
    return WireError(400, f"{path}: {message}")


def not_found(model: str) -> WireError:
    return WireError(404, f"model: {model}", type_="not_found_error")


def check_version(value: str | None) -> str:
    if not value:
        raise invalid("anthropic-version", "header is required")
    if value not in VERSIONS:
        raise invalid("anthropic-version", f"invalid or unsupported version '{value}'; this API serves "
                                           f"{' and '.join(VERSIONS)}")
    return value


# ---------------------------------------------------------------- small checks

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _extra(obj: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = frozenset(allowed)
    for key in obj:
        if key not in allowed:
            hint = OPENAI_HINTS.get(key)
            raise invalid(_join(where, key), "Extra inputs are not permitted"
                          + (f" (an OpenAI Chat Completions field; {hint})" if hint else ""))


def _need_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, "Input should be a valid dictionary or object to extract fields from")
    return value


def _need_str(obj: dict[str, Any], key: str, where: str) -> str:
    if key not in obj:
        raise invalid(_join(where, key), "Field required")
    value = obj[key]
    if not isinstance(value, str):
        raise invalid(_join(where, key), "Input should be a valid string")
    return value


def _range(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_number(value):
        raise invalid(name, "Input should be a valid number")
    if value < low:
        raise invalid(name, f"Input should be greater than or equal to {low:g}")
    if value > high:
        raise invalid(name, f"Input should be less than or equal to {high:g}")


def _cache_control(block: dict[str, Any], where: str) -> None:
    value = block.get("cache_control")
    if value is None:
        return
    where = f"{where}.cache_control"
    value = _need_dict(value, where)
    if value.get("type") != "ephemeral":
        raise invalid(f"{where}.type", "Input should be 'ephemeral'")
    _extra(value, ("type", "ttl"), where)
    if "ttl" in value and value["ttl"] not in _CACHE_TTLS:
        raise invalid(f"{where}.ttl", "Input should be '5m' or '1h'")


# ---------------------------------------------------------------- request validation

def validate_request(body: Any, version: str = V2023) -> None:
    """Everything POST /v1/messages checks in the body (under anthropic-version `version`), except whether the
    model exists."""
    if not isinstance(body, dict):
        raise WireError(400, "Input should be a valid dictionary or object to extract fields from (the body "
                             "must be a JSON object)")
    _extra(body, TOP_LEVEL, "")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise invalid(name, "Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise invalid("model", "Input should be a valid, non-empty string")
    max_tokens = body["max_tokens"]
    if not _is_int(max_tokens):
        raise invalid("max_tokens", "Input should be a valid integer")
    if max_tokens < 1:
        raise invalid("max_tokens", "Input should be greater than or equal to 1")
    _validate_system(body.get("system"))
    _validate_turns(body["messages"], version)
    _validate_metadata(body.get("metadata"))
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise invalid("stop_sequences", "Input should be a valid list of strings")
        if any(not s.strip() for s in stops):
            raise invalid("stop_sequences", "each stop sequence must contain non-whitespace")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise invalid("stream", "Input should be a valid boolean")
    if version == V2026:
        for name in SAMPLING:
            if name in body:
                raise invalid(name, f"not supported in API version {V2026}: temperature, top_p and top_k were "
                                    f"removed (remove it, or send anthropic-version: {V2023})")
    _range(body, "temperature", 0, 1)
    _range(body, "top_p", 0, 1)
    top_k = body.get("top_k")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        raise invalid("top_k", "Input should be a non-negative integer")
    tier = body.get("service_tier")
    if tier is not None and tier not in ("auto", "standard_only"):
        raise invalid("service_tier", "Input should be 'auto' or 'standard_only'")
    names = _validate_tools(body.get("tools"))
    _validate_tool_choice(body.get("tool_choice"), names)
    _validate_thinking(body)


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system", "Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        where = f"system.{i}"
        block = _need_dict(block, where)
        if block.get("type") != "text":
            raise invalid(f"{where}.type", "Input should be 'text' (system blocks are text blocks)")
        _extra(block, _BLOCK_KEYS["text"], where)
        if not _need_str(block, "text", where).strip():
            raise invalid("system", "text content blocks must contain non-whitespace text")
        _cache_control(block, where)


def _validate_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    metadata = _need_dict(metadata, "metadata")
    _extra(metadata, ("user_id",), "metadata")
    if metadata.get("user_id") is not None and not isinstance(metadata["user_id"], str):
        raise invalid("metadata.user_id", "Input should be a valid string")


def _validate_turns(messages: Any, version: str) -> None:
    if not isinstance(messages, list):
        raise invalid("messages", "Input should be a valid list")
    if not messages:
        raise invalid("messages", "at least one message is required")
    seen_ids: set[str] = set()
    prev_role: str | None = None
    open_ids: list[str] = []  # tool_use ids of the previous assistant turn, to be answered by this user turn
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        message = _need_dict(message, where)
        _extra(message, ("role", "content"), where)
        role = message.get("role")
        if role is None:
            raise invalid(f"{where}.role", "Field required")
        if role not in ROLES:
            hint = {"system": " (the system prompt is the top-level `system` parameter, not a message)",
                    "tool": " (tool results are `tool_result` blocks in a user message)"}.get(str(role), "")
            raise invalid(f"{where}.role", "Input should be 'user' or 'assistant'" + hint)
        if "content" not in message:
            raise invalid(f"{where}.content", "Field required")
        final = i == len(messages) - 1
        blocks = _content(message["content"], where, role, final, version)
        if i == 0 and role != "user":
            raise invalid("messages", 'first message must use the "user" role')
        if role == prev_role:
            raise invalid("messages", f'roles must alternate between "user" and "assistant", but found multiple '
                                      f'"{role}" roles in a row')
        if role == "user":
            _check_tool_results(blocks, open_ids, i)
            open_ids = []
        else:
            open_ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
            for j, block in enumerate(blocks):
                if block["type"] == "tool_use":
                    if block["id"] in seen_ids:
                        raise invalid(f"{where}.content.{j}", f"`tool_use` ids must be unique: {block['id']}")
                    seen_ids.add(block["id"])
        prev_role = role


def _check_tool_results(blocks: list[dict[str, Any]], open_ids: list[str], i: int) -> None:
    results = [b for b in blocks if b["type"] == "tool_result"]
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result" and block["tool_use_id"] not in open_ids:
            raise invalid(f"messages.{i}.content.{j}", f"unexpected `tool_use_id` found in `tool_result` blocks: "
                                                       f"{block['tool_use_id']}. Each `tool_result` block must have a "
                                                       "corresponding `tool_use` block in the previous message.")
    answered = {b["tool_use_id"] for b in results}
    missing = [t for t in open_ids if t not in answered]
    if missing:
        raise invalid(f"messages.{i - 1}", "`tool_use` ids were found without `tool_result` blocks immediately "
                                           f"after: {', '.join(missing)}. Each `tool_use` block must have a "
                                           "corresponding `tool_result` block in the next message.")
    leading = next((k for k, b in enumerate(blocks) if b["type"] != "tool_result"), len(blocks))
    if leading < len(results):
        raise invalid(f"messages.{i}", f"Did not find {len(results)} tool_result block(s) at the beginning of this "
                                       "message. Messages following tool_use blocks must begin with a matching "
                                       "number of tool_result blocks.")


def _content(content: Any, where: str, role: str, final: bool, version: str) -> list[dict[str, Any]]:
    """The message's blocks (a string is one text block), each validated."""
    empty_ok = final and role == "assistant"
    if isinstance(content, str):
        if not content and not empty_ok:
            raise invalid(where, "all messages must have non-empty content except for the optional final "
                                 "assistant message")
        if empty_ok and content != content.rstrip():
            raise invalid("messages", "final assistant content cannot end with trailing whitespace")
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid(f"{where}.content", "Input should be a valid string or a list of content blocks")
    if not content and not empty_ok:
        raise invalid(where, "all messages must have non-empty content except for the optional final assistant "
                             "message")
    blocks = [_block(block, f"{where}.content.{j}", role, version) for j, block in enumerate(content)]
    if empty_ok and blocks and blocks[-1]["type"] == "text" and blocks[-1]["text"] != blocks[-1]["text"].rstrip():
        raise invalid("messages", "final assistant content cannot end with trailing whitespace")
    return blocks


def _block(block: Any, where: str, role: str, version: str, kinds: Iterable[str] = _ALL_KINDS) -> dict[str, Any]:
    obj = _need_dict(block, where)
    kind = obj.get("type")
    if kind is None:
        raise invalid(f"{where}.type", "Field required")
    kinds = tuple(kinds)
    if kind not in kinds:
        hint = " (an OpenAI image_url part; here an image is {type: 'image', source: {...}})" \
            if kind == "image_url" else ""
        raise invalid(f"{where}.type", f"Input tag '{kind}' found using 'type' does not match any of the expected "
                                       f"tags: {', '.join(repr(k) for k in kinds)}{hint}")
    if kind in _ASSISTANT_ONLY and role != "assistant":
        raise invalid(where, f'`{kind}` blocks may only appear in "assistant" messages')
    if kind in _USER_ONLY and role != "user":
        raise invalid(where, f'`{kind}` blocks may only appear in "user" messages')
    path = f"{where}.{kind}"
    _extra(obj, _BLOCK_KEYS[kind], path)
    _cache_control(obj, path)
    if kind == "text":
        text = _need_str(obj, "text", path)
        if not text:
            raise invalid("messages", "text content blocks must be non-empty")
        if not text.strip():
            raise invalid("messages", "text content blocks must contain non-whitespace text")
        citations = obj.get("citations")
        if citations is not None and not isinstance(citations, list):
            raise invalid(f"{path}.citations", "Input should be a valid list")
        if citations and role == "user" and version == V2026:
            raise invalid(f"{path}.citations", f"citations on text blocks in user messages are not accepted in API "
                                                f"version {V2026}")
    elif kind == "image":
        _image_source(obj.get("source"), f"{path}.source")
    elif kind == "tool_use":
        if not _ID.match(_need_str(obj, "id", path)):
            raise invalid(f"{path}.id", f"String should match pattern '{_ID.pattern}'")
        if not _need_str(obj, "name", path):
            raise invalid(f"{path}.name", "String should have at least 1 character")
        if "input" not in obj:
            raise invalid(f"{path}.input", "Field required")
        if not isinstance(obj["input"], dict):
            raise invalid(f"{path}.input", "Input should be a valid dictionary (the parsed arguments object, not "
                                            "a JSON string)")
    elif kind == "tool_result":
        if not _ID.match(_need_str(obj, "tool_use_id", path)):
            raise invalid(f"{path}.tool_use_id", f"String should match pattern '{_ID.pattern}'")
        inner = obj.get("content")
        if inner is not None and not isinstance(inner, str):
            if not isinstance(inner, list):
                raise invalid(f"{path}.content", "Input should be a valid string or a list of content blocks")
            for k, part in enumerate(inner):
                _block(part, f"{path}.content.{k}", role, version, ("text", "image"))
        if obj.get("is_error") is not None and not isinstance(obj["is_error"], bool):
            raise invalid(f"{path}.is_error", "Input should be a valid boolean")
    elif kind == "thinking":
        _need_str(obj, "thinking", path)
        _need_str(obj, "signature", path)
    else:
        _need_str(obj, "data", path)
    return obj


def _image_source(source: Any, where: str) -> None:
    if source is None:
        raise invalid(where, "Field required")
    source = _need_dict(source, where)
    kind = source.get("type")
    if kind == "base64":
        path = f"{where}.base64"
        _extra(source, ("type", "media_type", "data"), path)
        media = _need_str(source, "media_type", path)
        if media not in IMAGE_TYPES:
            raise invalid(f"{path}.media_type", "Input should be " + ", ".join(f"'{t}'" for t in IMAGE_TYPES[:-1])
                          + f" or '{IMAGE_TYPES[-1]}'")
        data = _need_str(source, "data", path)
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{path}.data", "invalid base64 data (send the bare base64 text, without a data: URL "
                                          "prefix)") from None
        if not raw:
            raise invalid(f"{path}.data", "String should have at least 1 character")
        sniffed = _sniff(raw)
        if sniffed is not None and sniffed != media:
            raise WireError(400, f"{path}.data: Image does not match the provided media type {media} (the data is "
                                 f"{sniffed})")
    elif kind == "url":
        path = f"{where}.url"
        _extra(source, ("type", "url"), path)
        url = _need_str(source, "url", path)
        if not url.startswith(("https://", "http://")):
            raise invalid(f"{path}.url", "must be an http(s) URL")
    else:
        raise invalid(f"{where}.type", f"Input tag '{kind}' found using 'type' does not match any of the expected "
                                       "tags: 'base64', 'url'")


def _sniff(raw: bytes) -> str | None:
    for magic, media in _MAGIC:
        if raw.startswith(magic):
            return media
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def _validate_tools(tools: Any) -> list[str]:
    """The tool names, after checking each definition."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("tools", "Input should be a valid list")
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        tool = _need_dict(tool, where)
        if tool.get("type") == "function" or "function" in tool:
            raise invalid(where, "an OpenAI-style {type: 'function', function: {...}} tool; a Messages API tool is "
                                 "{name, description, input_schema}")
        if tool.get("type", "custom") != "custom":
            raise invalid(f"{where}.type", f"Input tag '{tool['type']}' found using 'type' does not match any of "
                                           "the expected tags: 'custom'")
        path = f"{where}.custom"
        _extra(tool, _TOOL_KEYS, path)
        name = _need_str(tool, "name", path)
        if not _TOOL_NAME.match(name):
            raise invalid(f"{path}.name", f"String should match pattern '{_TOOL_NAME.pattern}'")
        if tool.get("description") is not None and not isinstance(tool["description"], str):
            raise invalid(f"{path}.description", "Input should be a valid string")
        if "input_schema" not in tool:
            raise invalid(f"{path}.input_schema", "Field required")
        schema = _need_dict(tool["input_schema"], f"{path}.input_schema")
        if schema.get("type") != "object":
            raise invalid(f"{path}.input_schema.type", "Input should be 'object'")
        _cache_control(tool, path)
        if name in names:
            raise invalid("tools", f"Tool names must be unique: '{name}' appears twice")
        names.append(name)
    return names


def _validate_tool_choice(choice: Any, names: list[str]) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict):
        hint = ' (OpenAI\'s string form; here it is {"type": "auto" | "any" | "tool" | "none"})' \
            if isinstance(choice, str) else ""
        raise invalid("tool_choice", "Input should be a valid dictionary or object to extract fields from" + hint)
    kind = choice.get("type")
    if not isinstance(kind, str) or kind not in _TOOL_CHOICE_KEYS:
        raise invalid("tool_choice.type", f"Input tag '{kind}' found using 'type' does not match any of the "
                                          "expected tags: 'auto', 'any', 'tool', 'none'")
    _extra(choice, _TOOL_CHOICE_KEYS[kind], f"tool_choice.{kind}")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and not isinstance(flag, bool):
        raise invalid(f"tool_choice.{kind}.disable_parallel_tool_use", "Input should be a valid boolean")
    if kind == "tool":
        name = _need_str(choice, "name", "tool_choice.tool")
        if name not in names:
            raise invalid("tool_choice.tool.name", f"Tool '{name}' not found in the provided tools")


def thinking_enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _validate_thinking(body: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    thinking = _need_dict(thinking, "thinking")
    kind = thinking.get("type")
    if not isinstance(kind, str) or kind not in _THINKING_KEYS:
        raise invalid("thinking.type", f"Input tag '{kind}' found using 'type' does not match any of the expected "
                                       "tags: 'enabled', 'disabled', 'adaptive'")
    _extra(thinking, _THINKING_KEYS[kind], f"thinking.{kind}")
    if thinking.get("display") is not None and thinking["display"] not in ("summarized", "omitted"):
        raise invalid(f"thinking.{kind}.display", "Input should be 'summarized' or 'omitted'")
    if kind == "enabled":
        if "budget_tokens" not in thinking:
            raise invalid("thinking.enabled.budget_tokens", "Field required")
        budget = thinking["budget_tokens"]
        if not _is_int(budget):
            raise invalid("thinking.enabled.budget_tokens", "Input should be a valid integer")
        if budget < MIN_THINKING_BUDGET:
            raise invalid("thinking.enabled.budget_tokens", f"Input should be greater than or equal to "
                                                            f"{MIN_THINKING_BUDGET}")
        if body["max_tokens"] <= budget:
            raise WireError(400, f"`max_tokens` must be greater than `thinking.budget_tokens` (got max_tokens "
                                 f"{body['max_tokens']}, budget_tokens {budget})")
    if not thinking_enabled(body):
        return
    if body.get("temperature") not in (None, 1):
        raise WireError(400, "`temperature` may only be set to 1 when thinking is enabled")
    if body.get("top_k") is not None:
        raise WireError(400, "`top_k` must be unset when thinking is enabled")
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        raise WireError(400, "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        raise WireError(400, "Thinking may not be enabled when tool_choice forces tool use.")
    _tool_loop_thinks(body["messages"])


def _tool_loop_thinks(messages: list[Any]) -> None:
    """With thinking on, the assistant turn whose tool use the last message answers must start with its thinking."""
    last = messages[-1] if messages else {}
    content = last.get("content") if isinstance(last, dict) else None
    if last.get("role") != "user" or not isinstance(content, list) or not any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return
    at = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    if at is None:
        return
    blocks = messages[at]["content"]
    first = "text" if isinstance(blocks, str) or not blocks else blocks[0].get("type")
    if first not in ("thinking", "redacted_thinking"):
        raise WireError(400, f"messages.{at}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                             f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a "
                             "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                             "recommend you include thinking blocks from previous turns. To avoid this requirement, "
                             "disable `thinking`. Please consult our documentation at "
                             "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking")


# ---------------------------------------------------------------- answers

def _words(text: str) -> int:
    return len(text.split())


def _blocks_of(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _result_text(block: dict[str, Any]) -> str:
    return " ".join(b.get("text", "") for b in _blocks_of(block.get("content")) if b.get("type") == "text")


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return _words(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "tool_use":
        return _words(_dumps(block.get("input", {})))
    if kind == "tool_result":
        return sum(_block_tokens(b) for b in _blocks_of(block.get("content")))
    if kind == "thinking":
        return _words(str(block.get("thinking", "")))
    return 0


def input_tokens(body: dict[str, Any]) -> int:
    """Whitespace words of every text in system and messages, tool inputs and results; IMAGE_TOKENS per image."""
    total = sum(_block_tokens(b) for b in _blocks_of(body.get("system")))
    for message in body["messages"]:
        total += sum(_block_tokens(b) for b in _blocks_of(message["content"]))
    return max(total, 1)


def count_images(body: dict[str, Any]) -> int:
    count = 0
    for message in body["messages"]:
        for block in _blocks_of(message["content"]):
            inner = _blocks_of(block.get("content")) if block.get("type") == "tool_result" else [block]
            count += sum(1 for b in inner if b.get("type") == "image")
    return count


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def tool_to_call(body: dict[str, Any]) -> str | None:
    """The name of the tool to call, or None when the request does not call for one."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    last = body["messages"][-1]
    if not tools or choice.get("type") == "none" or last["role"] != "user":
        return None
    if any(b.get("type") == "tool_result" for b in _blocks_of(last["content"])):
        return None
    return str(choice["name"]) if choice.get("type") == "tool" else str(tools[0]["name"])


def answer_text(body: dict[str, Any], reply: str | None) -> tuple[str, str, str | None]:
    """The answer text, stop reason and stop sequence: tool results echoed, images counted, limits honoured."""
    last = body["messages"][-1]
    results = [b for b in _blocks_of(last["content"]) if b.get("type") == "tool_result"] \
        if last["role"] == "user" else []
    last_user = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    asks_json = "json" in " ".join(b.get("text", "") for b in _blocks_of(last_user["content"])
                                   if b.get("type") == "text").lower()
    if reply is not None:
        text = reply
    elif results:
        text = "The tool said: " + "; ".join(("(error) " if b.get("is_error") else "") + _result_text(b)
                                             for b in results)
    elif asks_json:
        text = JSON_REPLY
    else:
        text = DEFAULT_REPLY
    images = count_images(body)
    if images and reply is None and text != JSON_REPLY:
        text = f"I see {images} image(s). {text}"
    stop_reason, stop_sequence = "end_turn", None
    hits = [(text.find(s), s) for s in body.get("stop_sequences") or [] if s in text]
    if hits:
        at, stop_sequence = min(hits)
        text, stop_reason = text[:at], "stop_sequence"
    words = text.split()
    if body["max_tokens"] < len(words):
        return " ".join(words[:body["max_tokens"]]), "max_tokens", None
    return text, stop_reason, stop_sequence


def build_reply(body: dict[str, Any], *, serial: int, reply_text: str | None, parallel_tools: bool) -> Reply:
    content: list[dict[str, Any]] = []
    output = 0
    if thinking_enabled(body):
        content.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": SIGNATURE})
        output += _words(THINKING_TEXT)
    tool = tool_to_call(body)
    if tool is not None:
        single = bool((body.get("tool_choice") or {}).get("disable_parallel_tool_use"))
        count = 2 if parallel_tools and not single else 1
        for k in range(1, count + 1):
            content.append({"type": "tool_use", "id": f"toolu_mock{serial}_{k}", "name": tool,
                            "input": dict(TOOL_INPUT)})
            output += _words(_dumps(TOOL_INPUT))
        return Reply(content, "tool_use", None, output)
    text, stop_reason, stop_sequence = answer_text(body, reply_text)
    if text:
        content.append({"type": "text", "text": text})
    return Reply(content, stop_reason, stop_sequence, output + _words(text))


def message(body: dict[str, Any], reply: Reply, *, serial: int, cache_read: int, cache_creation: int) -> dict[str, Any]:
    return {"id": f"msg_mock{serial}", "type": "message", "role": "assistant", "model": body["model"],
            "content": reply.content, "stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence,
            "usage": {"input_tokens": input_tokens(body), "output_tokens": reply.output_tokens,
                      "cache_creation_input_tokens": cache_creation, "cache_read_input_tokens": cache_read}}


def stream_events(msg: dict[str, Any], chunks: int) -> list[tuple[str, dict[str, Any]]]:
    """The documented event sequence for a whole message: message_start, per block content_block_start (a ping
    after the first), deltas and content_block_stop, then message_delta and message_stop."""
    usage = msg["usage"]
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(msg["content"]):
        kind = block["type"]
        deltas: list[dict[str, Any]]
        if kind == "text":
            head: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_pieces(block["text"], chunks)]
        elif kind == "tool_use":
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = _dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": p}
                      for p in ("", raw[: len(raw) // 2], raw[len(raw) // 2:])]
        else:
            head = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_pieces(block["thinking"], 2)]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": head}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                   for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not msg["content"]:
        events.append(("ping", {"type": "ping"}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": msg["stop_reason"],
                                               "stop_sequence": msg["stop_sequence"]},
                                     "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def split_pieces(text: str, n: int) -> list[str]:
    """Up to n non-empty pieces that concatenate to text, cut at word boundaries when there are enough words."""
    n = max(n, 1)
    words = text.split(" ")
    if len(words) >= n:
        bounds = [i * len(words) // n for i in range(n + 1)]
        pieces = [" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]
        pieces = [p + " " if i < n - 1 else p for i, p in enumerate(pieces)]
    else:
        size = -(-len(text) // n) if text else 0
        pieces = [text[i * size:(i + 1) * size] for i in range(n)]
    return [p for p in pieces if p]


def display_name(model: str) -> str:
    """claude-3-5-sonnet-20241022 → Claude 3.5 Sonnet."""
    parts = re.sub(r"-\d{8}$", "", model).split("-")
    out: list[str] = []
    for part in parts:
        if part.isdigit() and out and out[-1][-1:].isdigit():
            out[-1] += "." + part
        else:
            out.append(part.capitalize() if not part.isdigit() else part)
    return " ".join(out)


def created_at(model: str) -> str:
    date = re.search(r"-(\d{4})(\d{2})(\d{2})$", model)
    return f"{date[1]}-{date[2]}-{date[3]}T00:00:00Z" if date else "2024-01-01T00:00:00Z"


def model_info(model: str) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": display_name(model), "created_at": created_at(model)}
