"""OpenAI wire rules for the fake upstream: strict request validation and answer bodies."""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")
DEFAULT_REPLY = "hello from mock 1 2 3 4 5 6 7 8"
JSON_REPLY = '{"answer": "mock"}'
TOOL_ARGUMENTS = '{"location": "Paris"}'


class WireError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = "invalid_request_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type_
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def mode_error(mode: str) -> WireError | None:
    """The canned error answer of a failure mode, None for modes that do not answer with an error."""
    if mode == "500":
        return WireError(500, "mock internal error", type_="server_error")
    if mode == "429":
        return WireError(429, "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
                              "Please try again in 1s.", type_="requests", code="rate_limit_exceeded",
                         headers={"Retry-After": "1"})
    if mode == "401":
        return WireError(401, "Incorrect API key provided: sk-mock***. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    if mode == "400":
        return WireError(400, "This model's maximum context length is 8192 tokens. However, your messages resulted "
                              "in 9000 tokens. Please reduce the length of the messages.", param="messages",
                         code="context_length_exceeded")
    return None


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "an array",
             dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def invalid_type(param: str, expected: str, value: Any) -> WireError:
    return WireError(400, f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
                     param=param, code="invalid_type")


def missing(param: str) -> WireError:
    return WireError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_int(value):
        raise invalid_type(name, "an integer", value)
    if value < 1:
        raise WireError(400, f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got "
                             f"{value} instead.", param=name, code="integer_below_min_value")


def _stream_rules(body: dict[str, Any]) -> None:
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise invalid_type("stream", "a boolean", body["stream"])
    options = body.get("stream_options")
    if options is None:
        return
    if body.get("stream") is not True:
        raise WireError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                        param="stream_options", code="invalid_value")
    if not isinstance(options, dict):
        raise invalid_type("stream_options", "an object", options)
    if "include_usage" in options and not isinstance(options["include_usage"], bool):
        raise invalid_type("stream_options.include_usage", "a boolean", options["include_usage"])


def _validate_part(part: Any, where: str) -> None:
    if not isinstance(part, dict):
        raise invalid_type(where, "an object", part)
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise invalid_type(f"{where}.text", "a string", part.get("text"))
    elif kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str) or not image["url"]:
            raise missing(f"{where}.image_url.url")
    else:
        raise WireError(400, f"Invalid value: '{kind}'. Supported values are: 'text' and 'image_url'.",
                        param=f"{where}.type", code="invalid_value")


def _validate_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise invalid_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise missing(f"{where}.role")
    if role not in ROLES:
        raise WireError(400, f"Invalid value: '{role}'. Supported values are: " + ", ".join(f"'{r}'" for r in ROLES)
                        + ".", param=f"{where}.role", code="invalid_value")
    content = message.get("content")
    if content is None:
        if role != "assistant" or not message.get("tool_calls"):
            raise missing(f"{where}.content")
    elif isinstance(content, list):
        if not content:
            raise WireError(400, f"Invalid '{where}.content': empty array. Expected an array with minimum length 1, "
                                 "but got an empty array instead.", param=f"{where}.content", code="empty_array")
        for j, part in enumerate(content):
            _validate_part(part, f"{where}.content[{j}]")
    elif not isinstance(content, str):
        raise invalid_type(f"{where}.content", "one of a string or array of objects", content)
    if "tool_calls" in message and message["tool_calls"] is not None and not isinstance(message["tool_calls"], list):
        raise invalid_type(f"{where}.tool_calls", "an array", message["tool_calls"])
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise missing(f"{where}.tool_call_id")


def _validate_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise missing(f"tools[{i}].type")
        if tool["type"] == "function":
            function = tool.get("function")
            if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
                raise missing(f"tools[{i}].function.name")


def validate_chat(body: dict[str, Any]) -> None:
    if "messages" not in body:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise WireError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                             "empty array instead.", param="messages", code="empty_array")
    for i, message in enumerate(messages):
        _validate_message(message, f"messages[{i}]")
    _validate_tools(body)
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object",
                                                                                  "json_schema")):
        raise WireError(400, "Invalid 'response_format.type'.", param="response_format.type", code="invalid_value")
    if body.get("logprobs") is not None and not isinstance(body["logprobs"], bool):
        raise invalid_type("logprobs", "a boolean", body["logprobs"])
    _stream_rules(body)
    for name in ("n", "max_tokens", "max_completion_tokens"):
        _positive_int(body, name)


REASONING_UNSUPPORTED = ("top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                         "logit_bias")


def validate_reasoning(body: dict[str, Any], *, refuses_system: bool, can_stream: bool) -> None:
    """What OpenAI's o-series refuse: max_tokens, sampling parameters, system roles on early o1 models."""
    if "max_tokens" in body:
        raise WireError(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                             "'max_completion_tokens' instead.", param="max_tokens", code="unsupported_parameter")
    if body.get("temperature") not in (None, 1):
        raise WireError(400, "Unsupported value: 'temperature' does not support 0.2 with this model. Only the "
                             "default (1) value is supported.", param="temperature", code="unsupported_value")
    for name in REASONING_UNSUPPORTED:
        if name in body:
            raise WireError(400, f"Unsupported parameter: '{name}' is not supported with this model.", param=name,
                            code="unsupported_parameter")
    for message in body["messages"]:
        if message.get("role") == "system" or (refuses_system and message.get("role") == "developer"):
            raise WireError(400, f"Unsupported value: 'messages[0].role' does not support '{message['role']}' with "
                                 "this model.", param="messages[0].role", code="unsupported_value")
    if body.get("stream") and not can_stream:
        raise WireError(400, "Unsupported value: 'stream' does not support true with this model. Only the default "
                             "(false) value is supported.", param="stream", code="unsupported_value")


def validate_completions(body: dict[str, Any]) -> None:
    if "prompt" not in body:
        raise missing("prompt")
    prompt = body["prompt"]
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(p, str) for p in prompt))):
        raise invalid_type("prompt", "a string or an array of strings", prompt)
    _stream_rules(body)
    for name in ("n", "max_tokens"):
        _positive_int(body, name)


def validate_embeddings(body: dict[str, Any]) -> None:
    if "input" not in body:
        raise missing("input")
    value = body["input"]
    ok = isinstance(value, str) and value != ""
    if isinstance(value, list) and value:
        ok = (all(isinstance(v, str) and v for v in value) or all(_is_int(v) for v in value)
              or all(isinstance(v, list) and v and all(_is_int(x) for x in v) for v in value))
    if not ok:
        raise WireError(400, "'$.input' is invalid. Please check the API reference: "
                             "https://platform.openai.com/docs/api-reference.", param="input", code="invalid_value")
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        raise WireError(400, f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                        param="encoding_format", code="invalid_value")
    _positive_int(body, "dimensions")


def chat_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            total += sum(len(p["text"].split()) for p in content if p.get("type") == "text")
        total += 3
    return total


def completion_prompt_tokens(prompt: str | list[str]) -> int:
    texts = [prompt] if isinstance(prompt, str) else prompt
    return max(1, sum(len(t.split()) for t in texts))


def embedding_inputs(value: Any) -> list[Any]:
    if isinstance(value, str) or (value and _is_int(value[0])):
        return [value]
    return list(value)


def embedding_tokens(inputs: list[Any]) -> int:
    return sum(len(i.split()) if isinstance(i, str) else len(i) for i in inputs)


def answer_text(body: dict[str, Any], reply: str | None) -> tuple[str, str]:
    """The answer text and finish reason, honouring response_format and the token limits."""
    fmt = body.get("response_format") or {}
    text = JSON_REPLY if fmt.get("type") in ("json_object", "json_schema") else (
        DEFAULT_REPLY if reply is None else reply)
    messages = body.get("messages") or []
    results = []
    for message in reversed(messages):  # the tool results that end the conversation, echoed back
        if message.get("role") != "tool":
            break
        content = message.get("content")
        results.insert(0, content if isinstance(content, str) else " ".join(
            str(p.get("text", "")) for p in content or [] if isinstance(p, dict)))
    if results and reply is None and fmt.get("type") not in ("json_object", "json_schema"):
        text = "The tool said: " + "; ".join(results)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    words = text.split()
    if isinstance(limit, int) and limit < len(words):
        return " ".join(words[:limit]), "length"
    return text, "stop"


def tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function call to answer with, or None when the request does not call for one."""
    tools = body.get("tools") or []
    messages = body.get("messages") or []
    names = [t["function"]["name"] for t in tools if t.get("type") == "function"]
    if not names or body.get("tool_choice") == "none" or messages[-1].get("role") != "user":
        return None
    return {"id": "call_mock1", "type": "function", "function": {"name": names[0], "arguments": TOOL_ARGUMENTS}}


def logprobs_for(text: str, top: int) -> dict[str, Any]:
    def entry(word: str) -> dict[str, Any]:
        return {"token": word, "logprob": -0.1, "bytes": list(word.encode())}

    return {"content": [{**entry(w), "top_logprobs": [entry(w)] * top} for w in text.split()], "refusal": None}


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def embedding(index: int, dims: int, fmt: str) -> list[float] | str:
    vector = [((index + 1) * (i + 1) % 97) / 97.0 for i in range(dims)]
    packed = struct.pack(f"<{dims}f", *vector)
    if fmt == "base64":
        return base64.b64encode(packed).decode()
    return list(struct.unpack(f"<{dims}f", packed))


def split_pieces(text: str, n: int) -> list[str]:
    """n pieces that concatenate to text, cut at word boundaries when there are enough words."""
    n = max(n, 1)
    words = text.split(" ")
    if len(words) >= n:
        bounds = [i * len(words) // n for i in range(n + 1)]
        pieces = [" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]
        return [p + " " if i < n - 1 else p for i, p in enumerate(pieces)]
    size = -(-len(text) // n) if text else 0
    return [text[i * size:(i + 1) * size] for i in range(n)]


def now() -> int:
    return int(time.time())
