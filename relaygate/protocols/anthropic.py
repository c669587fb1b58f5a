"""Anthropic Messages API ⇄ OpenAI chat completions.

Requests, one function per direction (chat → messages for Claude channels, messages → chat for the
/v1/messages front door), and usage, with the mapping tables both directions share. Answers (whole and
streamed) are in anthropic_answers.py. Pure functions.
"""

from __future__ import annotations

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

STOP_TO_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
FINISH_TO_STOP = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error",
    504: "api_error", 529: "overloaded_error",
}
ERROR_STATUS_BY_TYPE = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403, "not_found_error": 404,
    "request_too_large": 413, "rate_limit_error": 429, "api_error": 500, "overloaded_error": 529,
}
"""What an Anthropic error type means as an HTTP status (mid-stream errors carry only the type)."""

_DROPPED_FOR_CLAUDE = ("logprobs", "top_logprobs", "n", "presence_penalty", "frequency_penalty", "logit_bias",
                       "seed", "stream_options", "parallel_tool_calls", "response_format", "store", "modalities")


# ---------------------------------------------------------------- usage

def usage_from(value: JsonValue) -> Usage | None:
    """Anthropic usage → internal usage: prompt tokens include the cache reads and writes."""
    if not isinstance(value, dict):
        return None
    fresh, output = c.count_or_zero(value.get("input_tokens")), c.count_or_zero(value.get("output_tokens"))
    read = c.count_or_zero(value.get("cache_read_input_tokens"))
    write = c.count_or_zero(value.get("cache_creation_input_tokens"))
    return Usage(prompt_tokens=fresh + read + write, completion_tokens=output, cached_tokens=read,
                 cache_write_tokens=write)


def usage_to(usage: Usage) -> JsonObject:
    return {
        "input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }


# ---------------------------------------------------------------- requests: chat → messages

def chat_to_messages(body: JsonObject, model: str, *, default_max_tokens: int | None = None) -> JsonObject:
    """An OpenAI chat request as an Anthropic Messages request for `model`."""
    if (body.get("n") or 1) != 1:
        raise BadRequest("Claude models answer one choice per request; 'n' must be 1.", param="n")
    raw_messages = body.get("messages")
    assert isinstance(raw_messages, list)
    system: list[str] = []
    turns: list[JsonObject] = []
    for message in raw_messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            text = c.text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        if role in ("tool", "function"):
            _append(turns, "user", [_tool_result(message)])
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message))
        else:
            _append(turns, "user", [_user_block(p) for p in c.parts(message.get("content"))])
    _trim_prefill(turns)
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    out: JsonObject = {"model": model, "messages": turns}  # type: ignore[dict-item]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    limit = max_tokens if isinstance(max_tokens, int) else DEFAULT_MAX_TOKENS
    out["max_tokens"] = limit
    instruction = _format_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)
    if system:
        out["system"] = "\n\n".join(system)
    effort = body.get("reasoning_effort")
    budget = c.THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    choice = body.get("tool_choice")
    if budget is not None and body.get("tools") and (choice == "required" or isinstance(choice, dict)):
        budget = None  # Claude refuses thinking when tool use is forced; the client's tool_choice wins
    if budget is not None and _answers_tool_use_without_thinking(turns):
        budget = None  # Claude refuses thinking for a tool loop whose assistant turn does not start with its own
    if budget is not None:
        # extended thinking: the budget must fit under max_tokens, and sampling must stay at its defaults
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        out["max_tokens"] = max(limit, budget + 1024)
    else:
        temperature = body.get("temperature")
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            out["temperature"] = min(1.0, max(0.0, float(temperature)))
        for name in ("top_p", "top_k"):
            if isinstance(body.get(name), int | float):
                out[name] = body[name]
    # Claude refuses whitespace-only stop sequences; they cannot be honoured there, so they are dropped.
    stops = [s for s in c.stop_list(body.get("stop")) if s.strip()]
    if stops:
        out["stop_sequences"] = stops  # type: ignore[assignment]
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools  # type: ignore[assignment]
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    if body.get("stream"):
        out["stream"] = True
    return out


def _answers_tool_use_without_thinking(turns: list[JsonObject]) -> bool:
    """The request answers tool use (its last turn carries tool results) of an assistant turn that does not start
    with a thinking block. With thinking on, Claude wants that turn's signed thinking back, which a chat request
    cannot carry ("a final assistant message must start with a thinking block … To avoid this requirement, disable
    thinking", https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#extended-thinking-with-tool-use)."""
    if not turns or turns[-1]["role"] != "user":
        return False
    if not any(b.get("type") == "tool_result" for b in c.objects(turns[-1]["content"])):
        return False
    assistant = next((t for t in reversed(turns) if t["role"] == "assistant"), None)
    blocks = c.objects(assistant["content"]) if assistant is not None else []
    return not blocks or blocks[0].get("type") not in ("thinking", "redacted_thinking")


def _append(turns: list[JsonObject], role: str, blocks: list[JsonObject]) -> None:
    """Consecutive turns of one role merge: the Messages API wants user and assistant to alternate."""
    blocks = [b for b in blocks if b.get("type") != "text" or str(b.get("text") or "").strip()]
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)  # type: ignore[union-attr]
    else:
        turns.append({"role": role, "content": list(blocks)})


def _trim_prefill(turns: list[JsonObject]) -> None:
    """A final assistant turn is a prefill, which Claude refuses to end in whitespace."""
    if not turns or turns[-1]["role"] != "assistant":
        return
    blocks = turns[-1]["content"]
    assert isinstance(blocks, list)
    last = blocks[-1]
    if isinstance(last, dict) and last.get("type") == "text":
        last["text"] = str(last.get("text") or "").rstrip()


def _user_block(part: JsonObject) -> JsonObject:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "image_url":
        return {"type": "image", "source": _image_source(c.image_url(part))}
    raise BadRequest(f"Claude models do not accept '{kind}' content parts through this relay.", param="messages")


def _image_source(url: str) -> JsonObject:
    inline = c.data_url(url)
    if inline is not None:
        return {"type": "base64", "media_type": inline[0], "data": inline[1]}
    return {"type": "url", "url": url}


def _assistant_blocks(message: JsonObject) -> list[JsonObject]:
    blocks: list[JsonObject] = []
    text = c.text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(call, dict):
                raise BadRequest("Each assistant tool_calls entry needs a function.", param="messages")
            blocks.append({"type": "tool_use", "id": str(call.get("id") or ""), "name": str(fn.get("name") or ""),
                           "input": c.arguments(fn.get("arguments"))})
    return [b for b in blocks if b.get("type") != "text" or b.get("text")]


def _tool_result(message: JsonObject) -> JsonObject:
    call_id = message.get("tool_call_id") or message.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise BadRequest("A tool message needs the tool_call_id it answers.", param="messages")
    return {"type": "tool_result", "tool_use_id": call_id, "content": c.text_of(message.get("content"))}


def _tools(tools: JsonValue) -> list[JsonObject]:
    out: list[JsonObject] = []
    if not isinstance(tools, list):
        return out
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("Each tool must be {type: 'function', function: {name, parameters}}.", param="tools")
        schema = fn.get("parameters")
        entry: JsonObject = {"name": fn["name"],
                             "input_schema": schema if isinstance(schema, dict) else {"type": "object",
                                                                                     "properties": {}}}
        if isinstance(fn.get("description"), str):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def _tool_choice(choice: JsonValue, parallel: JsonValue) -> JsonObject | None:
    out: JsonObject | None = None
    if choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out = {"type": "tool", "name": fn["name"]}
    if parallel is False:
        out = out or {"type": "auto"}
        out["disable_parallel_tool_use"] = True
    return out


def _format_instruction(fmt: JsonValue) -> str | None:
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "Respond with a single JSON object and nothing else."
    schema = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(schema, dict):
        return ("Respond with a single JSON object and nothing else, matching this JSON schema: "
                + c.dumps_text(schema.get("schema", {})))
    return None


# ---------------------------------------------------------------- requests: messages → chat

def messages_to_chat(body: JsonObject) -> JsonObject:
    """An Anthropic Messages request (the /v1/messages front door) as an OpenAI chat request."""
    messages: list[JsonObject] = []
    system = body.get("system")
    if isinstance(system, list):
        system = "".join(str(b.get("text") or "") for b in system if isinstance(b, dict))
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise BadRequest("messages: field required (a non-empty array).", param="messages")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise BadRequest(f"messages.{i}.role: must be 'user' or 'assistant'.", param=f"messages.{i}")
        messages.extend(_turn_to_chat(turn, i))
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise BadRequest("max_tokens: field required (a positive integer).", param="max_tokens")
    out: JsonObject = {"model": body.get("model"), "messages": messages, "max_tokens": max_tokens}  # type: ignore[dict-item]
    for name in ("temperature", "top_p", "top_k"):
        if name in body:
            out[name] = body[name]
    if isinstance(body.get("stop_sequences"), list):
        out["stop"] = body["stop_sequences"]
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [_chat_tool(t) for t in tools]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            kind = choice.get("type")
            if kind == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
            elif kind in ("auto", "any", "none"):
                out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[str(kind)]
            if choice.get("disable_parallel_tool_use"):
                out["parallel_tool_calls"] = False
    stream = body.get("stream")
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    elif stream is not None and not isinstance(stream, bool):
        raise BadRequest("stream: must be a boolean.", param="stream")
    return out


def _turn_to_chat(turn: JsonObject, i: int) -> list[JsonObject]:
    content = turn.get("content")
    if isinstance(content, str):
        return [{"role": turn["role"], "content": content}]
    if not isinstance(content, list):
        raise BadRequest(f"messages.{i}.content: must be a string or an array of blocks.", param=f"messages.{i}")
    if turn["role"] == "assistant":
        text = "".join(str(b.get("text") or "") for b in content if isinstance(b, dict) and b.get("type") == "text")
        calls = [{"id": b.get("id"), "type": "function",
                  "function": {"name": b.get("name"), "arguments": c.dumps_text(b.get("input") or {})}}
                 for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        message: JsonObject = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls  # type: ignore[assignment]
        return [message]
    out: list[JsonObject] = []
    user_parts: list[JsonObject] = []
    for block in content:
        if not isinstance(block, dict):
            raise BadRequest(f"messages.{i}.content: each block must be an object.", param=f"messages.{i}")
        kind = block.get("type")
        if kind == "tool_result":
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                        "content": _result_text(block.get("content"))})
        elif kind == "text":
            user_parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            user_parts.append({"type": "image_url", "image_url": {"url": _source_url(block.get("source"), i)}})
        else:
            raise BadRequest(f"messages.{i}.content: block type '{kind}' is not supported here.",
                             param=f"messages.{i}")
    if user_parts:
        out.append({"role": "user", "content": user_parts})  # type: ignore[dict-item]
    return out


def _result_text(value: JsonValue) -> str:
    if isinstance(value, list):
        return "".join(str(b.get("text") or "") for b in value if isinstance(b, dict) and b.get("type") == "text")
    return value if isinstance(value, str) else ""


def _source_url(source: JsonValue, i: int) -> str:
    if isinstance(source, dict):
        if source.get("type") == "base64" and isinstance(source.get("data"), str):
            return f"data:{source.get('media_type')};base64,{source['data']}"
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return str(source["url"])
    raise BadRequest(f"messages.{i}.content: an image needs a base64 or url source.", param=f"messages.{i}")


def _chat_tool(tool: JsonValue) -> JsonObject:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise BadRequest("tools: each tool needs a name and an input_schema.", param="tools")
    fn: JsonObject = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if isinstance(tool.get("description"), str):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}
