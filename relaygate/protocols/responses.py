"""OpenAI Responses API requests → OpenAI chat completions requests, and Responses usage ⇄ internal usage.

For channels that speak chat (Claude and Gemini, through their own translations): the request as a chat request,
with the conversation of earlier turns (previous_response_id, kept by the relay) sent before this turn's input, and
the items a finished turn adds to that conversation. Answers (whole and streamed) are in responses_answers.py. Pure
functions: a request they cannot carry is refused with BadRequest naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c

HOSTED_TOOLS = frozenset({
    "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11", "file_search",
    "code_interpreter", "image_generation", "computer", "computer_use_preview", "mcp", "local_shell", "shell",
    "apply_patch", "custom", "tool_search", "namespace"})
"""Tools OpenAI runs (or that answer in items chat has no word for): left out of a translated request, since the
model still answers without them; a tool_choice forcing one is refused."""
REFUSED_FIELDS = {
    "background": "Background responses are served only on OpenAI and Azure channels.",
    "prompt": "Stored prompts (the 'prompt' field) live at OpenAI and are served only on OpenAI and Azure channels.",
    "conversation": "Conversations (the 'conversation' field) live at OpenAI and are served only on OpenAI and Azure "
                    "channels; use previous_response_id.",
}
"""Fields with no chat equivalent that change what the answer is: refused rather than dropped. Fields that only
steer OpenAI's side (store, include, metadata, truncation, prompt_cache_key, service_tier, …) are dropped."""
_DETAILS = ("auto", "low", "high")


# ---------------------------------------------------------------- usage

def usage_from(value: JsonValue) -> Usage | None:
    """A Response's usage → internal usage (cached and reasoning tokens are parts of input and output)."""
    if not isinstance(value, dict):
        return None
    prompt, completion = c.token_count(value.get("input_tokens")), c.token_count(value.get("output_tokens"))
    if prompt is None or completion is None:
        return None
    read = c.object_field(value, "input_tokens_details")
    thought = c.object_field(value, "output_tokens_details")
    cached = min(c.count_or_zero(read.get("cached_tokens")), prompt)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                 cache_write_tokens=min(c.count_or_zero(read.get("cache_write_tokens")), prompt - cached),
                 reasoning_tokens=min(c.count_or_zero(thought.get("reasoning_tokens")), completion))


def usage_to(usage: Usage) -> JsonObject:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


# ---------------------------------------------------------------- conversation

def input_items(body: JsonObject) -> list[JsonObject]:
    """This turn's input as items (a string is one user message)."""
    raw = body.get("input")
    if isinstance(raw, str) and raw:
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if isinstance(raw, list) and raw:
        items = c.objects(raw)
        if len(items) == len(raw):
            return items
        raise BadRequest("Each input item must be an object.", param="input")
    if raw is None:
        raise BadRequest("Missing required parameter: 'input'.", param="input")
    raise BadRequest("'input' must be a non-empty string or a non-empty array of items.", param="input")


def turn_items(body: JsonObject, response: JsonObject) -> list[JsonObject]:
    """What a finished turn adds to its conversation: its input items, then the response's output items."""
    return input_items(body) + c.objects(response.get("output"))


# ---------------------------------------------------------------- requests: responses → chat

def responses_to_chat(body: JsonObject, *, conversation: Sequence[JsonObject] = ()) -> JsonObject:
    """A Responses request as an OpenAI chat request; `conversation` holds the items of the earlier turns."""
    for name, reason in REFUSED_FIELDS.items():
        if body.get(name):
            raise BadRequest(reason, param=name)
    turn = input_items(body)
    messages: list[JsonObject] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise BadRequest("'instructions' must be a string.", param="instructions")
    _items_to_messages([*conversation, *turn], messages, first_of_turn=len(conversation))
    if not any(m["role"] != "system" for m in messages):
        raise BadRequest("The input has no message, function call or function call output to send.", param="input")
    out: JsonObject = {"model": body.get("model"), "messages": list[JsonValue](messages)}
    _sampling(body, out)
    tools = _tools(body.get("tools"))
    choice = _tool_choice(body.get("tool_choice"), tools)
    if tools:
        out["tools"] = list[JsonValue](tools)
        if choice is not None:
            out["tool_choice"] = choice
    if isinstance(body.get("parallel_tool_calls"), bool) and tools:
        out["parallel_tool_calls"] = body["parallel_tool_calls"]
    fmt = _response_format(body.get("text"))
    if fmt is not None:
        out["response_format"] = fmt
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["user"] = user
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    elif body.get("stream") not in (None, False):
        raise BadRequest("'stream' must be a boolean.", param="stream")
    return out


def _sampling(body: JsonObject, out: JsonObject) -> None:
    limit = body.get("max_output_tokens")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BadRequest("'max_output_tokens' must be a positive integer.", param="max_output_tokens")
        out["max_tokens"] = limit
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadRequest(f"'{name}' must be a number.", param=name)
        out[name] = value
    effort = c.object_field(body, "reasoning").get("effort")
    if isinstance(effort, str) and effort:
        out["reasoning_effort"] = effort


def _items_to_messages(items: Sequence[JsonObject], messages: list[JsonObject], *, first_of_turn: int) -> None:
    """Items → chat messages: function calls join the assistant message before them; reasoning items are left out
    (chat has no way to give a model its own reasoning back)."""
    called: set[str] = set()
    for i, item in enumerate(items):
        where = f"input[{i - first_of_turn}]" if i >= first_of_turn else "previous_response_id"
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = _function_call(item, where)
            called.add(str(call["id"]))
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                calls = last.setdefault("tool_calls", [])
                assert isinstance(calls, list)
                calls.append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or call_id not in called:
                raise BadRequest(f"No tool call found for function call output with call_id {call_id}.",
                                 param=where)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _output_text(item, where)})
        elif kind != "reasoning":
            raise BadRequest(f"Input items of type '{kind}' cannot be sent to this channel.", param=where)


def _message(item: JsonObject, where: str) -> JsonObject:
    role = item.get("role")
    content = item.get("content")
    if role not in ("user", "assistant", "system", "developer"):
        raise BadRequest(f"{where}.role must be one of 'user', 'assistant', 'system' or 'developer'.", param=where)
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of content parts.", param=where)
    parts = [_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)]
    if role == "user":
        return {"role": role, "content": list[JsonValue](parts)}
    if any(p["type"] != "text" for p in parts):
        raise BadRequest(f"Only text can be sent in {role} messages.", param=where)
    return {"role": role, "content": "".join(str(p["text"]) for p in parts)}


def _part(part: JsonValue, where: str) -> JsonObject:
    if not isinstance(part, dict):
        raise BadRequest(f"{where} must be an object.", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise BadRequest(f"{where}: images by file_id live at OpenAI; send an image_url (https or data URL).",
                             param=where)
        image: JsonObject = {"url": url}
        if part.get("detail") in _DETAILS:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise BadRequest(f"{where}: content parts of type '{kind}' cannot be sent to this channel.", param=where)


def _function_call(item: JsonObject, where: str) -> JsonObject:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise BadRequest(f"{where}: a function_call item needs its call_id and name.", param=where)
    if not isinstance(arguments, str):
        raise BadRequest(f"{where}.arguments must be a string of JSON.", param=where)
    try:
        c.arguments(arguments)
    except BadRequest:
        raise BadRequest(f"{where}.arguments must be a JSON object encoded as a string.", param=where) from None
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments or "{}"}}


def _output_text(item: JsonObject, where: str) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = [_part(p, f"{where}.output[{j}]") for j, p in enumerate(output)]
        if all(p["type"] == "text" for p in parts):
            return "".join(str(p["text"]) for p in parts)
    raise BadRequest(f"{where}.output must be a string or text parts for this channel.", param=where)


def _tools(tools: JsonValue) -> list[JsonObject]:
    out: list[JsonObject] = []
    if tools is not None and not isinstance(tools, list):
        raise BadRequest("'tools' must be an array.", param="tools")
    for i, tool in enumerate(tools or []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind in HOSTED_TOOLS:
            continue
        if kind != "function" or not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise BadRequest(f"tools[{i}] must be a function tool {{type: 'function', name, parameters}}.",
                             param=f"tools[{i}]")
        fn: JsonObject = {"name": tool["name"]}
        schema = tool.get("parameters")
        fn["parameters"] = schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            fn["strict"] = tool["strict"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: JsonValue, tools: list[JsonObject]) -> JsonValue:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if not isinstance(choice, dict):
        raise BadRequest("'tool_choice' must be 'auto', 'none', 'required' or a tool.", param="tool_choice")
    kind = choice.get("type")
    names = {str(c.object_field(t, "function").get("name")) for t in tools}
    if kind == "function":
        if choice.get("name") not in names:
            raise BadRequest(f"tool_choice names function '{choice.get('name')}', which is not in 'tools'.",
                             param="tool_choice")
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind == "allowed_tools":
        allowed = {str(t.get("name")) for t in c.objects(choice.get("tools")) if t.get("type") == "function"}
        tools[:] = [t for t in tools if c.object_field(t, "function").get("name") in allowed]
        return "required" if choice.get("mode") == "required" else "auto"
    raise BadRequest(f"tool_choice '{kind}' names a tool this channel cannot run.", param="tool_choice")


def _response_format(text: JsonValue) -> JsonObject | None:
    fmt = c.object_field(text, "format") if isinstance(text, dict) else {}
    kind = fmt.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise BadRequest(f"text.format type '{kind}' is not one of 'text', 'json_object' or 'json_schema'.",
                         param="text.format")
    schema, name = fmt.get("schema"), fmt.get("name")
    if not isinstance(schema, dict) or not isinstance(name, str) or not name:
        raise BadRequest("A json_schema text.format needs a name and a schema.", param="text.format")
    spec: JsonObject = {"name": name, "schema": schema}
    for key in ("description", "strict"):
        if fmt.get(key) is not None:
            spec[key] = fmt[key]
    return {"type": "json_schema", "json_schema": spec}
