"""Gemini (Generative Language API, v1beta) ⇄ OpenAI chat completions.

Requests, one function per direction (chat → generateContent for Gemini channels, generateContent → chat for
the /v1beta front door), and usage, with the mapping tables both directions share. Answers (whole and
streamed) are in gemini_answers.py. Pure functions.
"""

from __future__ import annotations

from collections import defaultdict

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c

FINISH_FROM_GEMINI = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "LANGUAGE": "stop", "OTHER": "stop", "MALFORMED_FUNCTION_CALL": "stop",
}
FINISH_TO_GEMINI = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "function_call": "STOP",
                    "content_filter": "SAFETY"}
STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 502: "UNAVAILABLE",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_CONFIG_FROM_CHAT = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
                     "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
"""Sampling fields with the same meaning on both sides (OpenAI name → Gemini generationConfig name)."""
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}



# ---------------------------------------------------------------- usage

def usage_from(value: JsonValue) -> Usage | None:
    """usageMetadata → internal usage: thoughts are output tokens (and billed as such)."""
    if not isinstance(value, dict):
        return None
    prompt = c.count_or_zero(value.get("promptTokenCount"))
    candidates = c.count_or_zero(value.get("candidatesTokenCount"))
    thoughts = c.count_or_zero(value.get("thoughtsTokenCount"))
    prompt += c.count_or_zero(value.get("toolUsePromptTokenCount"))
    return Usage(prompt_tokens=prompt, completion_tokens=candidates + thoughts, reasoning_tokens=thoughts,
                 cached_tokens=c.count_or_zero(value.get("cachedContentTokenCount")))


def usage_to(usage: Usage) -> JsonObject:
    out: JsonObject = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    return out


# ---------------------------------------------------------------- requests: chat → generateContent

def chat_to_request(body: JsonObject) -> JsonObject:
    """An OpenAI chat request as a Gemini GenerateContentRequest (the model goes in the URL)."""
    raw_messages = body.get("messages")
    assert isinstance(raw_messages, list)
    system: list[str] = []
    contents: list[JsonObject] = []
    names: dict[str, str] = {}
    for message in raw_messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            text = c.text_of(message.get("content"))
            if text:
                system.append(text)
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names))
        elif role in ("tool", "function"):
            _append(contents, "user", [_function_response(message, names)])
        else:
            _append(contents, "user", [_user_part(p) for p in c.parts(message.get("content"))])
    if not contents:
        raise BadRequest("The conversation has no user or assistant content to send.", param="messages")
    if contents[0]["role"] == "model":  # Gemini wants a user turn before the model's (function calls above all)
        contents.insert(0, {"role": "user", "parts": [{"text": "(continue)"}]})
    out: JsonObject = {"contents": contents}  # type: ignore[dict-item]
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = [{"functionDeclarations": list[JsonValue](tools)}]
        tool_config = _tool_config(body.get("tool_choice"))
        if tool_config is not None:
            out["toolConfig"] = tool_config
    return out


def _append(contents: list[JsonObject], role: str, parts: list[JsonObject]) -> None:
    parts = [p for p in parts if "text" not in p or p["text"]]
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)  # type: ignore[union-attr]
    else:
        contents.append({"role": role, "parts": list[JsonValue](parts)})


def _user_part(part: JsonObject) -> JsonObject:
    kind = part.get("type")
    if kind == "text":
        return {"text": str(part.get("text") or "")}
    if kind == "image_url":
        url = c.image_url(part)
        inline = c.data_url(url)
        if inline is not None:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        return {"fileData": {"mimeType": _mime_from_url(url), "fileUri": url}}
    raise BadRequest(f"Gemini models do not accept '{kind}' content parts through this relay.", param="messages")


def _mime_from_url(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for ext, mime in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif"),
                      (".heic", "image/heic"), (".pdf", "application/pdf")):
        if path.endswith(ext):
            return mime
    return "image/jpeg"


def _model_parts(message: JsonObject, names: dict[str, str]) -> list[JsonObject]:
    parts: list[JsonObject] = []
    text = c.text_of(message.get("content"))
    if text:
        parts.append({"text": text})
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(call, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("Each assistant tool_calls entry needs a function with a name.", param="messages")
        call_id, name = call.get("id"), fn["name"]
        if isinstance(call_id, str) and isinstance(name, str):
            names[call_id] = name
        parts.append({"functionCall": {"name": fn["name"], "args": c.arguments(fn.get("arguments"))}})
    return parts


def _function_response(message: JsonObject, names: dict[str, str]) -> JsonObject:
    call_id = message.get("tool_call_id")
    name: JsonValue = names.get(call_id) if isinstance(call_id, str) else None
    name = name or message.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("A tool message must answer a tool call made earlier in the conversation.",
                         param="messages")
    text = c.text_of(message.get("content"))
    try:
        response = c.arguments(text)
    except BadRequest:
        response = {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _generation_config(body: JsonObject) -> JsonObject:
    config: JsonObject = {}
    for ours, theirs in _CONFIG_FROM_CHAT.items():
        value = body.get(ours)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[theirs] = value
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int):
        config["maxOutputTokens"] = max_tokens
    stops = c.stop_list(body.get("stop"))
    if stops:
        config["stopSequences"] = stops  # type: ignore[assignment]
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        config["candidateCount"] = n
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort in c.THINKING_BUDGETS:
        config["thinkingConfig"] = {"thinkingBudget": c.THINKING_BUDGETS[effort], "includeThoughts": True}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = fmt.get("json_schema")
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            config["responseJsonSchema"] = schema["schema"]
    return config


def _tools(tools: JsonValue) -> list[JsonObject]:
    out: list[JsonObject] = []
    for tool in tools if isinstance(tools, list) else []:
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequest("Each tool must be {type: 'function', function: {name, parameters}}.", param="tools")
        decl: JsonObject = {"name": fn["name"]}
        if isinstance(fn.get("description"), str):
            decl["description"] = fn["description"]
        if isinstance(fn.get("parameters"), dict):
            decl["parametersJsonSchema"] = fn["parameters"]
        out.append(decl)
    return out


def _tool_config(choice: JsonValue) -> JsonObject | None:
    if isinstance(choice, str) and choice in _MODES:
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    if isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [fn["name"]]}}
    return None


# ---------------------------------------------------------------- requests: generateContent → chat

def request_to_chat(body: JsonObject, model: str, *, stream: bool) -> JsonObject:
    """A Gemini GenerateContentRequest (the /v1beta front door) as an OpenAI chat request."""
    messages: list[JsonObject] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        text = "".join(str(p.get("text") or "") for p in _parts_of(system, "systemInstruction"))
        if text:
            messages.append({"role": "system", "content": text})
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("contents is required: a non-empty array of Content.", param="contents")
    ids: defaultdict[str, list[str]] = defaultdict(list)
    for i, turn in enumerate(contents):
        if not isinstance(turn, dict):
            raise BadRequest(f"contents[{i}] must be a Content object.", param=f"contents[{i}]")
        role = turn.get("role", "user")
        parts = _parts_of(turn, f"contents[{i}]")
        if role == "model":
            messages.append(_assistant_message(parts, ids, i))
        elif role == "user":
            messages.extend(_user_messages(parts, ids, i))
        else:
            raise BadRequest(f"contents[{i}].role must be 'user' or 'model'.", param=f"contents[{i}].role")
    out: JsonObject = {"model": model, "messages": messages}  # type: ignore[dict-item]
    config = body.get("generationConfig")
    if isinstance(config, dict):
        _config_to_chat(config, out)
    elif config is not None:
        raise BadRequest("generationConfig must be an object.", param="generationConfig")
    tools = [decl for tool in body.get("tools") or [] if isinstance(tool, dict)  # type: ignore[union-attr]
             for decl in tool.get("functionDeclarations") or []]  # type: ignore[union-attr]
    if tools:
        out["tools"] = [_chat_tool(decl) for decl in tools]
        calling = body.get("toolConfig")
        calling = calling.get("functionCallingConfig") if isinstance(calling, dict) else None
        if isinstance(calling, dict):
            allowed = calling.get("allowedFunctionNames")
            if calling.get("mode") == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
                out["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
            elif calling.get("mode") in ("AUTO", "ANY", "NONE"):
                out["tool_choice"] = {v: k for k, v in _MODES.items()}[str(calling["mode"])]
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _parts_of(content: JsonObject, where: str) -> list[JsonObject]:
    parts = content.get("parts")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise BadRequest(f"{where}.parts must be an array of Part objects.", param=where)
    return parts  # type: ignore[return-value]


def _assistant_message(parts: list[JsonObject], ids: defaultdict[str, list[str]], i: int) -> JsonObject:
    text = "".join(str(p.get("text") or "") for p in parts if "text" in p and not p.get("thought"))
    calls: list[JsonValue] = []
    for p in parts:
        call = p.get("functionCall")
        if isinstance(call, dict):
            name = str(call.get("name") or "")
            call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{name}_{i}_{len(calls)}"
            ids[name].append(str(call_id))
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": name, "arguments": c.dumps_text(call.get("args") or {})}})
    message: JsonObject = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user_messages(parts: list[JsonObject], ids: defaultdict[str, list[str]], i: int) -> list[JsonObject]:
    out: list[JsonObject] = []
    user: list[JsonValue] = []
    for p in parts:
        if "text" in p:
            user.append({"type": "text", "text": str(p.get("text") or "")})
        elif isinstance(p.get("inlineData"), dict):
            blob = p["inlineData"]
            assert isinstance(blob, dict)
            user.append({"type": "image_url",
                         "image_url": {"url": f"data:{blob.get('mimeType')};base64,{blob.get('data')}"}})
        elif isinstance(p.get("fileData"), dict):
            ref = p["fileData"]
            assert isinstance(ref, dict)
            user.append({"type": "image_url", "image_url": {"url": str(ref.get("fileUri") or "")}})
        elif isinstance(p.get("functionResponse"), dict):
            resp = p["functionResponse"]
            assert isinstance(resp, dict)
            name = str(resp.get("name") or "")
            pending = ids.get(name)
            call_id = resp.get("id") if isinstance(resp.get("id"), str) else (pending.pop(0) if pending else name)
            out.append({"role": "tool", "tool_call_id": call_id, "content": c.dumps_text(resp.get("response"))})
        else:
            raise BadRequest(f"contents[{i}]: this kind of part is not supported here.", param=f"contents[{i}]")
    if user:
        out.append({"role": "user", "content": user})
    return out


def _config_to_chat(config: JsonObject, out: JsonObject) -> None:
    for ours, theirs in _CONFIG_FROM_CHAT.items():
        if theirs in config:
            out[ours] = config[theirs]
    if "maxOutputTokens" in config:
        out["max_tokens"] = config["maxOutputTokens"]
    if isinstance(config.get("stopSequences"), list):
        out["stop"] = config["stopSequences"]
    if isinstance(config.get("candidateCount"), int):
        out["n"] = config["candidateCount"]
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if isinstance(schema, dict):
            out["response_format"] = {"type": "json_schema",
                                      "json_schema": {"name": "response", "schema": _lower_types(schema)}}
        else:
            out["response_format"] = {"type": "json_object"}


def _chat_tool(decl: JsonValue) -> JsonObject:
    if not isinstance(decl, dict) or not isinstance(decl.get("name"), str):
        raise BadRequest("Each function declaration needs a name.", param="tools")
    fn: JsonObject = {"name": decl["name"]}
    if isinstance(decl.get("description"), str):
        fn["description"] = decl["description"]
    schema = decl.get("parametersJsonSchema") or decl.get("parameters")
    if isinstance(schema, dict):
        fn["parameters"] = _lower_types(schema)
    return {"type": "function", "function": fn}


def _lower_types(schema: JsonValue) -> JsonValue:
    """Gemini's OpenAPI schemas may spell types in capitals (STRING, OBJECT); JSON Schema wants lower case."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema
