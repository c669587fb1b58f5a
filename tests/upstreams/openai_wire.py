"""OpenAI wire rules for the fake upstream: request validation and answer bodies."""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

ROLES = {"system", "developer", "user", "assistant", "tool"}


class WireError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type_

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _positive_int(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise WireError(400, f"Invalid '{name}': expected an integer >= 1.", param=name)


def validate_chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "'messages' must be a non-empty array.", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise WireError(400, f"Invalid 'messages[{i}].role'.", param=f"messages[{i}].role")
        content = m.get("content")
        if content is None:
            if not (m["role"] == "assistant" and m.get("tool_calls")):
                raise WireError(400, f"'messages[{i}].content' is required.", param=f"messages[{i}].content")
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
                    raise WireError(400, f"Invalid content part in messages[{i}].", param=f"messages[{i}].content")
        elif not isinstance(content, str):
            raise WireError(400, f"Invalid 'messages[{i}].content'.", param=f"messages[{i}].content")
        if m["role"] == "tool" and not isinstance(m.get("tool_call_id"), str):
            raise WireError(400, f"'messages[{i}].tool_call_id' is required.", param=f"messages[{i}].tool_call_id")
    _common_stream_rules(body)
    for name in ("n", "max_tokens", "max_completion_tokens"):
        _positive_int(body, name)


def _common_stream_rules(body: dict[str, Any]) -> None:
    if "stream" in body and not isinstance(body["stream"], bool):
        raise WireError(400, "'stream' must be a boolean.", param="stream")
    if "stream_options" in body and body.get("stream") is not True:
        raise WireError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                        param="stream_options")


def validate_completions(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(p, str) for p in prompt))):
        raise WireError(400, "'prompt' must be a string or an array of strings.", param="prompt")
    _common_stream_rules(body)
    _positive_int(body, "max_tokens")


def validate_embeddings(body: dict[str, Any]) -> None:
    value = body.get("input")
    ok = isinstance(value, str) and value != ""
    if isinstance(value, list) and value:
        ok = all(isinstance(v, str) for v in value) or all(isinstance(v, int) for v in value) or all(
            isinstance(v, list) and all(isinstance(x, int) for x in v) for v in value)
    if not ok:
        raise WireError(400, "'input' must be a non-empty string or array.", param="input")
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise WireError(400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    _positive_int(body, "dimensions")


def words(text: str) -> list[str]:
    return text.split()


def prompt_tokens(body: dict[str, Any]) -> int:
    total = 0
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            total += len(words(content))
        elif isinstance(content, list):
            total += sum(len(words(p.get("text", ""))) for p in content if p.get("type") == "text")
        total += 3
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        total += len(words(prompt))
    elif isinstance(prompt, list):
        total += sum(len(words(p)) for p in prompt)
    return max(total, 1)


def chat_text(body: dict[str, Any], reply: str | None) -> tuple[str, str]:
    """The answer text and finish reason, honouring response_format and max tokens."""
    fmt = body.get("response_format") or {}
    text = '{"answer": "mock"}' if fmt.get("type") in ("json_object", "json_schema") else (
        reply or "hello from mock 1 2 3 4 5 6 7 8")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    parts = text.split(" ")
    if isinstance(limit, int) and limit < len(parts):
        return " ".join(parts[:limit]), "length"
    return text, "stop"


def wants_tool_call(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    messages = body.get("messages") or []
    return bool(tools) and body.get("tool_choice") != "none" and messages[-1].get("role") == "user"


def tool_call(body: dict[str, Any]) -> dict[str, Any]:
    name = body["tools"][0]["function"]["name"]
    return {"id": "call_mock1", "type": "function", "function": {"name": name, "arguments": '{"location": "Paris"}'}}


def logprobs_for(text: str) -> dict[str, Any]:
    return {"content": [{"token": w, "logprob": -0.1, "bytes": list(w.encode()), "top_logprobs": []}
                        for w in text.split(" ")]}


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def embedding(index: int, dims: int, fmt: str) -> Any:
    vector = [round(((index + 1) * (i + 1) % 97) / 97.0, 6) for i in range(dims)]
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
    return vector


def split_pieces(text: str, n: int) -> list[str]:
    """n pieces that concatenate to text (some may be empty when text is short)."""
    n = max(n, 1)
    tokens = text.split(" ")
    if len(tokens) >= n:
        per = -(-len(tokens) // n)
        groups = [tokens[i * per:(i + 1) * per] for i in range(n)]
        pieces = [" ".join(g) for g in groups]
        return [p + " " if i < n - 1 and groups[i + 1] else p for i, p in enumerate(pieces)]
    size = max(1, -(-len(text) // n))
    return [text[i * size:(i + 1) * size] for i in range(n)]


def now() -> int:
    return int(time.time())
