"""Gemini (Generative Language API, v1beta) ⇄ OpenAI chat completions.

One function per direction: requests (chat → generateContent for Gemini channels, generateContent →
chat for the /v1beta front door), whole answers both ways, and one stream converter per direction
working on decoded objects. Pure functions of their inputs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

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


# ---------------------------------------------------------------- whole answers

def response_to_completion(resp: JsonObject, model: str, *, created: int) -> tuple[JsonObject, Usage | None]:
    """A GenerateContentResponse as a chat.completion (one choice per candidate), with its usage."""
    choices: list[JsonValue] = []
    candidates = resp.get("candidates")
    for n, cand in enumerate(candidates if isinstance(candidates, list) else []):
        if not isinstance(cand, dict):
            continue
        text, thought, calls = _candidate_parts(cand, n)
        message: JsonObject = {"role": "assistant", "content": text if text or not calls else None,
                               "refusal": None}
        if thought:
            message["reasoning_content"] = thought
        if calls:
            message["tool_calls"] = list[JsonValue](calls)
        choices.append({"index": cand.get("index", n), "message": message, "logprobs": None,
                        "finish_reason": _finish(cand.get("finishReason"), bool(calls))})
    if not choices:
        choices.append({"index": 0, "message": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None, "finish_reason": "content_filter"})
    usage = usage_from(resp.get("usageMetadata"))
    body: JsonObject = {"id": "chatcmpl-" + str(resp.get("responseId") or ""), "object": "chat.completion",
                        "created": created, "model": str(resp.get("modelVersion") or model), "choices": choices}
    if usage is not None:
        body["usage"] = c.openai_usage(usage)
    return body, usage


def _candidate_parts(cand: JsonObject, n: int) -> tuple[str, str, list[JsonObject]]:
    content = cand.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    text: list[str] = []
    thought: list[str] = []
    calls: list[JsonObject] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            (thought if part.get("thought") else text).append(str(part["text"]))
        call = part.get("functionCall")
        if isinstance(call, dict):
            call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{n}_{len(calls)}"
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": call.get("name"), "arguments": c.dumps_text(call.get("args") or {})}})
    return "".join(text), "".join(thought), calls


def _finish(reason: JsonValue, has_calls: bool) -> str | None:
    if reason is None or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if has_calls and reason == "STOP":
        return "tool_calls"
    return FINISH_FROM_GEMINI.get(str(reason), "stop")


def completion_to_response(body: JsonObject, model: str) -> JsonObject:
    """A chat.completion as a GenerateContentResponse for the /v1beta front door."""
    candidates: list[JsonValue] = []
    choices = body.get("choices")
    for n, choice in enumerate(choices if isinstance(choices, list) else []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        parts = _response_parts(message if isinstance(message, dict) else {}, whole=True)
        candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts)},
                           "finishReason": FINISH_TO_GEMINI.get(str(choice.get("finish_reason")), "STOP"),
                           "index": choice.get("index", n)})
    usage = c.parse_usage(body.get("usage")) or Usage()
    return {"candidates": candidates, "usageMetadata": usage_to(usage), "modelVersion": model,
            "responseId": str(body.get("id") or "").removeprefix("chatcmpl-")}


def _response_parts(message: JsonObject, *, whole: bool) -> list[JsonObject]:
    parts: list[JsonObject] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"text": reasoning, "thought": True})
    text = c.text_of(message.get("content")) if whole else message.get("content")
    if isinstance(text, str) and text:
        parts.append({"text": text})
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(call, dict):
            try:
                args = c.arguments(fn.get("arguments"))
            except BadRequest:
                args = {}
            function_call: JsonObject = {"name": fn.get("name"), "args": args}
            if isinstance(call.get("id"), str):
                function_call["id"] = call["id"]
            parts.append({"functionCall": function_call})
    return parts


# ---------------------------------------------------------------- streams

@dataclass(slots=True)
class ResponsesToChunks:
    """streamGenerateContent responses → chat.completion.chunk objects (the Gemini channel type)."""

    model: str
    created: int
    id: str
    include_usage: bool
    usage: Usage | None = None
    finished: bool = False
    failure: str | None = None
    text: list[str] = field(default_factory=list)
    _started: set[int] = field(default_factory=set)
    _tools: dict[int, int] = field(default_factory=dict)

    def on_response(self, resp: JsonObject) -> list[JsonObject]:
        error = resp.get("error")
        if isinstance(error, dict):
            self.failure = str(error.get("message") or error.get("status") or "stream error")
            return []
        out: list[JsonObject] = []
        usage = usage_from(resp.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        candidates = resp.get("candidates")
        ended = False
        for n, cand in enumerate(candidates if isinstance(candidates, list) else []):
            if not isinstance(cand, dict):
                continue
            index = c.count_or_zero(cand.get("index", n))
            if index not in self._started:
                self._started.add(index)
                out.append(self._chunk(index, {"role": "assistant", "content": ""}))
            text, thought, calls = _candidate_parts(cand, index)
            if thought:
                self.text.append(thought)
                out.append(self._chunk(index, {"reasoning_content": thought}))
            if text:
                self.text.append(text)
                out.append(self._chunk(index, {"content": text}))
            for call in calls:
                position = self._tools.get(index, 0)
                self._tools[index] = position + 1
                fn = call["function"]
                assert isinstance(fn, dict)
                self.text.append(str(fn["name"]) + str(fn["arguments"]))
                out.append(self._chunk(index, c.tool_call_delta(position, id_=str(call["id"]), name=str(fn["name"]),
                                                                arguments=str(fn["arguments"]))))
            finish = _finish(cand.get("finishReason"), bool(self._tools.get(index)))
            if finish is not None:
                ended = True
                out.append(self._chunk(index, {}, finish))
        if not candidates and isinstance(resp.get("promptFeedback"), dict):
            ended = True
            out.append(self._chunk(0, {}, "content_filter"))
        if ended and usage is not None:
            self.finished = True
            if self.include_usage:
                out.append(c.chunk_object(id_=self.id, model=self.model, created=self.created, delta=None,
                                          usage=usage))
        return out

    def _chunk(self, index: int, delta: JsonObject, finish: str | None = None) -> JsonObject:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


@dataclass(slots=True)
class ChunksToResponses:
    """chat.completion.chunk objects → streamGenerateContent responses (the /v1beta front door)."""

    model: str
    response_id: str
    usage: Usage = field(default_factory=Usage)
    _calls: dict[int, dict[int, JsonObject]] = field(default_factory=dict)
    _finish: dict[int, str] = field(default_factory=dict)

    def on_chunk(self, chunk: JsonObject) -> list[JsonObject]:
        usage = c.parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        candidates: list[JsonValue] = []
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            index = c.count_or_zero(choice.get("index"))
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            assert isinstance(delta, dict)
            self._collect_calls(index, delta)
            parts = _response_parts({k: v for k, v in delta.items() if k != "tool_calls"}, whole=False)
            if choice.get("finish_reason"):
                self._finish[index] = FINISH_TO_GEMINI.get(str(choice["finish_reason"]), "STOP")
            if parts:
                candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts)}, "index": index})
        return [self._response(candidates)] if candidates else []

    def finish(self) -> list[JsonObject]:
        indexes = sorted(set(self._finish) | set(self._calls)) or [0]
        candidates: list[JsonValue] = []
        for index in indexes:
            calls = [call for _, call in sorted(self._calls.get(index, {}).items())]
            parts = _response_parts({"tool_calls": list[JsonValue](calls)}, whole=False) if calls else []
            candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts or [{"text": ""}])},
                               "finishReason": self._finish.get(index, "STOP"), "index": index})
        final = self._response(candidates)
        final["usageMetadata"] = usage_to(self.usage)
        return [final]

    def _collect_calls(self, index: int, delta: JsonObject) -> None:
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, dict):
                continue
            slot = self._calls.setdefault(index, {}).setdefault(
                c.count_or_zero(call.get("index")), {"id": None, "function": {"name": "", "arguments": ""}})
            fn = call.get("function") if isinstance(call.get("function"), dict) else {}
            assert isinstance(fn, dict)
            held = slot["function"]
            assert isinstance(held, dict)
            if call.get("id") is not None:
                slot["id"] = call["id"]
            if fn.get("name"):
                held["name"] = fn["name"]
            held["arguments"] = str(held["arguments"]) + str(fn.get("arguments") or "")

    def _response(self, candidates: list[JsonValue]) -> JsonObject:
        return {"candidates": candidates, "modelVersion": self.model, "responseId": self.response_id}
