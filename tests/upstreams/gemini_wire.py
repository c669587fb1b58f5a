"""Gemini (Generative Language API v1beta) wire rules for the fake upstream: strict request parsing and answers.

A request is checked in two passes, as Google does. The first reads the JSON into the proto messages and reports
every unknown field and every value of the wrong type at once ("Invalid JSON payload received. Unknown name ..."),
with the snake_case paths Google prints. The second applies the API's own rules ("* GenerateContentRequest.x: ...").
Field names are accepted in camelCase and, like the proto JSON parser does, in snake_case; the parsed request is
returned with camelCase names only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.upstreams.openai_wire import split_pieces

API = "type.googleapis.com/google.ai.generativelanguage.v1beta."
DEFAULT_REPLY = "hello from gemini mock 1 2 3 4 5 6 7 8"
JSON_REPLY: dict[str, Any] = {"answer": "mock"}
TOOL_ARGS: tuple[dict[str, Any], ...] = ({"location": "Paris"}, {"location": "London"})
THOUGHT_TEXT = "**Considering the request** The user wants a short, friendly answer."
THOUGHT_SIGNATURE = base64.b64encode(b"mock-thought-signature").decode()
MEDIA_TOKENS = 258
"""What one image costs in the prompt (Gemini counts 258 tokens per image up to 384 px)."""
PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
             "codeExecutionResult")
"""The members of Part's `data` oneof: a part holds exactly one of them."""
BLOCKING_FINISH = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                             "MALFORMED_FUNCTION_CALL"})
"""Finish reasons that come with no candidate content."""
RESPONSE_MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
SAFETY_CATEGORIES = ("HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_HARASSMENT",
                     "HARM_CATEGORY_SEXUALLY_EXPLICIT")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")
INT32 = (-(2**31), 2**31 - 1)


class GeminiError(Exception):
    """A Google-shaped error answer: {"error": {"code", "message", "status", "details"?}}."""

    def __init__(self, code: int, message: str, status: str, *, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str, violations: list[tuple[str, str]] | None = None) -> GeminiError:
    details = None
    if violations:
        fields = [{"field": f, "description": d} if f else {"description": d} for f, d in violations]
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": fields}]
    return GeminiError(400, message, "INVALID_ARGUMENT", details=details)


def model_not_found(model: str, method: str) -> GeminiError:
    return GeminiError(404, f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
                            "Call ListModels to see the list of available models and their supported methods.",
                       "NOT_FOUND")


def missing_key() -> GeminiError:
    return GeminiError(403, "Method doesn't allow unregistered callers (callers without established identity). "
                            "Please use API Key or other form of API consumer identity to call this API.",
                       "PERMISSION_DENIED")


def bad_key() -> GeminiError:
    message = "API key not valid. Please pass a valid API key."
    return GeminiError(400, message, "INVALID_ARGUMENT", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
         "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message}])


def bearer_instead_of_key() -> GeminiError:
    return GeminiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                            "cookie or other valid authentication credential. See https://developers.google.com/"
                            "identity/sign-in/web/devconsole-project. (MockGemini: an API key goes in the "
                            "x-goog-api-key header or the ?key= query parameter, not in Authorization.)",
                       "UNAUTHENTICATED")


def mode_error(mode: str) -> GeminiError | None:
    """The canned error answer of a failure mode, None for modes that do not answer with an error."""
    if mode == "500":
        return internal_error()
    if mode == "503":
        return GeminiError(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")
    if mode == "429":
        return GeminiError(429, "You exceeded your current quota, please check your plan and billing details. For "
                                "more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
                                "rate-limits.", "RESOURCE_EXHAUSTED", details=[
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}])
    if mode == "400":
        return GeminiError(400, "The input token count (1048577) exceeds the maximum number of tokens allowed "
                                "(1048576).", "INVALID_ARGUMENT")
    if mode == "403":
        return GeminiError(403, "The caller does not have permission", "PERMISSION_DENIED")
    return None


def internal_error() -> GeminiError:
    return GeminiError(500, "An internal error has occurred. Please retry or report in "
                            "https://developers.generativeai.google/guide/troubleshooting", "INTERNAL")


# ---------------------------------------------------------------- the request messages

@dataclass(frozen=True, slots=True)
class Field:
    kind: str
    """string, bool, int32, int64, float, double, bytes, enum, message, map (of message), object (any JSON object,
    not checked further), struct (google.protobuf.Struct) or value (google.protobuf.Value: any JSON)."""
    ref: str = ""
    repeated: bool = False


def _f(kind: str, ref: str = "", *, many: bool = False) -> Field:
    return Field(kind, ref, many)


STRING, BOOL, INT, FLOAT = _f("string"), _f("bool"), _f("int32"), _f("float")
STRINGS = _f("string", many=True)

MESSAGES: dict[str, dict[str, Field]] = {
    "GenerateContentRequest": {
        "contents": _f("message", "Content", many=True), "systemInstruction": _f("message", "Content"),
        "tools": _f("message", "Tool", many=True), "toolConfig": _f("message", "ToolConfig"),
        "safetySettings": _f("message", "SafetySetting", many=True),
        "generationConfig": _f("message", "GenerationConfig"), "cachedContent": STRING},
    "Content": {"role": STRING, "parts": _f("message", "Part", many=True)},
    "Part": {
        "text": STRING, "inlineData": _f("message", "Blob"), "fileData": _f("message", "FileData"),
        "functionCall": _f("message", "FunctionCall"), "functionResponse": _f("message", "FunctionResponse"),
        "executableCode": _f("message", "ExecutableCode"),
        "codeExecutionResult": _f("message", "CodeExecutionResult"), "thought": BOOL,
        "thoughtSignature": _f("bytes"), "videoMetadata": _f("message", "VideoMetadata"),
        "partMetadata": _f("struct"), "mediaResolution": _f("object", "Part.MediaResolution")},
    "Blob": {"mimeType": STRING, "data": _f("bytes")},
    "FileData": {"mimeType": STRING, "fileUri": STRING},
    "FunctionCall": {"id": STRING, "name": STRING, "args": _f("struct")},
    "FunctionResponse": {
        "id": STRING, "name": STRING, "response": _f("struct"),
        "parts": _f("object", "FunctionResponsePart", many=True), "willContinue": BOOL,
        "scheduling": _f("enum", "FunctionResponse.Scheduling")},
    "ExecutableCode": {"language": _f("enum", "ExecutableCode.Language"), "code": STRING},
    "CodeExecutionResult": {"outcome": _f("enum", "CodeExecutionResult.Outcome"), "output": STRING},
    "VideoMetadata": {"startOffset": STRING, "endOffset": STRING, "fps": _f("double")},
    "Tool": {
        "functionDeclarations": _f("message", "FunctionDeclaration", many=True),
        "googleSearchRetrieval": _f("object", "GoogleSearchRetrieval"),
        "codeExecution": _f("object", "CodeExecution"), "googleSearch": _f("object", "Tool.GoogleSearch"),
        "urlContext": _f("object", "UrlContext"), "computerUse": _f("object", "Tool.ComputerUse"),
        "fileSearch": _f("object", "FileSearch"), "googleMaps": _f("object", "GoogleMaps")},
    "FunctionDeclaration": {
        "name": STRING, "description": STRING, "behavior": _f("enum", "FunctionDeclaration.Behavior"),
        "parameters": _f("message", "Schema"), "parametersJsonSchema": _f("value"),
        "response": _f("message", "Schema"), "responseJsonSchema": _f("value")},
    # the OpenAPI 3.0 subset Gemini understands: no additionalProperties, $schema, $ref, oneOf, allOf, const, ...
    "Schema": {
        "type": _f("enum", "Type"), "format": STRING, "title": STRING, "description": STRING, "nullable": BOOL,
        "enum": STRINGS, "maxItems": _f("int64"), "minItems": _f("int64"), "properties": _f("map", "Schema"),
        "required": STRINGS, "minProperties": _f("int64"), "maxProperties": _f("int64"),
        "minLength": _f("int64"), "maxLength": _f("int64"), "pattern": STRING, "example": _f("value"),
        "anyOf": _f("message", "Schema", many=True), "propertyOrdering": STRINGS, "default": _f("value"),
        "items": _f("message", "Schema"), "minimum": _f("double"), "maximum": _f("double")},
    "ToolConfig": {"functionCallingConfig": _f("message", "FunctionCallingConfig"),
                   "retrievalConfig": _f("object", "RetrievalConfig")},
    "FunctionCallingConfig": {"mode": _f("enum", "FunctionCallingConfig.Mode"), "allowedFunctionNames": STRINGS},
    "SafetySetting": {"category": _f("enum", "HarmCategory"),
                      "threshold": _f("enum", "SafetySetting.HarmBlockThreshold")},
    "GenerationConfig": {
        "stopSequences": STRINGS, "responseMimeType": STRING, "responseSchema": _f("message", "Schema"),
        "responseJsonSchema": _f("value"), "responseModalities": _f("enum", "GenerationConfig.Modality", many=True),
        "candidateCount": INT, "maxOutputTokens": INT, "temperature": FLOAT, "topP": FLOAT, "topK": INT,
        "seed": INT, "presencePenalty": FLOAT, "frequencyPenalty": FLOAT, "responseLogprobs": BOOL,
        "logprobs": INT, "enableEnhancedCivicAnswers": BOOL, "speechConfig": _f("object", "SpeechConfig"),
        "thinkingConfig": _f("message", "ThinkingConfig"), "imageConfig": _f("object", "ImageConfig"),
        "mediaResolution": _f("enum", "GenerationConfig.MediaResolution")},
    "ThinkingConfig": {"includeThoughts": BOOL, "thinkingBudget": INT,
                       "thinkingLevel": _f("enum", "ThinkingConfig.ThinkingLevel")},
}

ENUMS: dict[str, tuple[str, ...]] = {
    "Type": ("TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"),
    "FunctionCallingConfig.Mode": ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"),
    "HarmCategory": ("HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY",
                     "HARM_CATEGORY_VIOLENCE", "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL",
                     "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                     "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
                     "HARM_CATEGORY_CIVIC_INTEGRITY"),
    "SafetySetting.HarmBlockThreshold": ("HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE",
                                         "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"),
    "GenerationConfig.Modality": ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"),
    "GenerationConfig.MediaResolution": ("MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW",
                                         "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"),
    "ThinkingConfig.ThinkingLevel": ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"),
    "FunctionDeclaration.Behavior": ("UNSPECIFIED", "BLOCKING", "NON_BLOCKING"),
    "FunctionResponse.Scheduling": ("SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"),
    "ExecutableCode.Language": ("LANGUAGE_UNSPECIFIED", "PYTHON"),
    "CodeExecutionResult.Outcome": ("OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED",
                                    "OUTCOME_DEADLINE_EXCEEDED"),
}
CASE_INSENSITIVE_ENUMS = frozenset({"Type"})
"""Schema types are written "object" as often as "OBJECT" (Google's own REST samples do), and both are accepted."""

SCALAR_TYPES = {"string": "TYPE_STRING", "bool": "TYPE_BOOL", "int32": "TYPE_INT32", "int64": "TYPE_INT64",
                "float": "TYPE_FLOAT", "double": "TYPE_DOUBLE", "bytes": "TYPE_BYTES"}


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


_ALIASES = {message: {snake(name): name for name in fields} for message, fields in MESSAGES.items()}


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def decodes_base64(value: str) -> bool:
    """Proto JSON bytes: standard or URL-safe base64, with or without padding."""
    if not re.fullmatch(r"[A-Za-z0-9+/\-_]*={0,2}", value):
        return False
    body = value.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        return False
    try:
        base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        return False
    return True


class _Reader:
    """JSON → the proto messages, collecting every violation like Google's parser does."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def invalid(self, path: str, type_name: str, value: Any, note: str = "") -> None:
        self.violations.append((path, f"Invalid value at '{path}' ({type_name}), {_shown(value)}{note}"))

    def message(self, value: Any, name: str, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.invalid(path, API + name, value)
            return {}
        fields, aliases = MESSAGES[name], _ALIASES[name]
        out: dict[str, Any] = {}
        for key, item in value.items():
            camel = key if key in fields else aliases.get(key)
            if camel is None:
                at = f" at '{path}'" if path else ""
                self.violations.append((path, f"Invalid JSON payload received. Unknown name \"{key}\"{at}: "
                                              "Cannot find field."))
                continue
            if item is None:
                continue  # proto JSON: null is the default value, i.e. the field is unset
            if name == "Part" and camel in PART_DATA:
                already = [k for k in PART_DATA if k in out]
                if already:
                    self.violations.append((path, f"Invalid JSON payload received. Oneof field 'data' is already "
                                                  f"set. Cannot set '{camel}' (at '{path}' a Part holds exactly one "
                                                  f"of {', '.join(PART_DATA)}; this one already has '{already[0]}')"))
                    continue
            out[camel] = self.field(item, fields[camel], f"{path}.{snake(camel)}" if path else snake(camel))
        return out

    def field(self, value: Any, spec: Field, path: str) -> Any:
        if not spec.repeated:
            return self.single(value, spec, path)
        if not isinstance(value, list):
            self.invalid(path, self.type_name(spec), value, " (a repeated field takes a JSON array)")
            return []
        return [self.single(item, spec, f"{path}[{i}]") for i, item in enumerate(value)]

    @staticmethod
    def type_name(spec: Field) -> str:
        if spec.kind in SCALAR_TYPES:
            return SCALAR_TYPES[spec.kind]
        if spec.kind in ("struct", "value"):
            return "type.googleapis.com/google.protobuf." + ("Struct" if spec.kind == "struct" else "Value")
        return API + spec.ref

    def single(self, value: Any, spec: Field, path: str) -> Any:
        kind = spec.kind
        if kind == "message":
            return self.message(value, spec.ref, path)
        if kind == "value":
            return value
        if kind == "map":
            if not isinstance(value, dict):
                self.invalid(path, API + spec.ref, value)
                return {}
            return {key: self.message(item, spec.ref, f"{path}[{i}].value")
                    for i, (key, item) in enumerate(value.items())}
        if kind == "enum":
            return self.enum(value, spec.ref, path)
        ok, parsed = _scalar(kind, value)
        if not ok:
            if kind == "bytes" and isinstance(value, str):
                self.violations.append((path, f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed "
                                              f"for {_shown(value)}"))
            else:
                self.invalid(path, self.type_name(spec), value)
        return parsed

    def enum(self, value: Any, name: str, path: str) -> str:
        names = ENUMS[name]
        if isinstance(value, str):
            wanted = value.upper() if name in CASE_INSENSITIVE_ENUMS else value
            if wanted in names:
                return wanted
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        self.invalid(path, API + name, value)
        return names[0]


def _scalar(kind: str, value: Any) -> tuple[bool, Any]:
    if kind == "string":
        return isinstance(value, str), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "bytes":
        return isinstance(value, str) and decodes_base64(value), value
    if isinstance(value, bool):
        return False, value
    if kind in ("int32", "int64"):
        number: Any = value
        if (isinstance(value, str) and re.fullmatch(r"-?\d+", value)) or (isinstance(value, float)
                                                                          and value.is_integer()):
            number = int(value)
        if not isinstance(number, int) or (kind == "int32" and not INT32[0] <= number <= INT32[1]):
            return False, value
        return True, number
    if kind in ("object", "struct"):
        return isinstance(value, dict), value
    # float, double
    if isinstance(value, int | float):
        return True, float(value)
    if isinstance(value, str):
        try:
            return True, float(value)
        except ValueError:
            return False, value
    return False, value


def parse_request(body: Any) -> dict[str, Any]:
    """The JSON body as a GenerateContentRequest (camelCase names), or the 400 Google's parser would answer."""
    if not isinstance(body, dict):
        raise invalid_argument('Invalid JSON payload received. Unknown name "": Root element must be a message.')
    reader = _Reader()
    request = reader.message(body, "GenerateContentRequest", "")
    if reader.violations:
        raise invalid_argument("\n".join(d for _, d in reader.violations), reader.violations)
    return request


# ---------------------------------------------------------------- the API's rules

class _Rules:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def bad(self, path: str, message: str) -> None:
        self.lines.append(f"* GenerateContentRequest.{path}: {message}\n")

    def plain(self, message: str) -> None:
        self.lines.append(message + "\n")


def _role(content: dict[str, Any]) -> str:
    return str(content.get("role") or "user")


def _parts_with(content: dict[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    return [p[kind] for p in (content or {}).get("parts", []) if kind in p]


def validate_request(req: dict[str, Any], *, require_thought_signatures: bool = False) -> None:
    """The rules Google applies to a parsed GenerateContentRequest; raises the 400 they produce."""
    rules = _Rules()
    contents: list[dict[str, Any]] = req.get("contents", [])
    if not contents:
        rules.bad("contents", "contents is not specified")
    for i, content in enumerate(contents):
        role = content.get("role") or ""
        if role not in ("", "user", "model"):
            raise invalid_argument(f"Please use a valid role: user, model. (contents[{i}].role is \"{role}\"; a "
                                   "system prompt goes in systemInstruction, and the assistant's turns have role "
                                   "\"model\".)")
        if not content.get("parts"):
            rules.bad(f"contents[{i}].parts", "contents.parts must not be empty.")
        for j, part in enumerate(content.get("parts", [])):
            _check_part(rules, part, f"contents[{i}].parts[{j}]", role or "user")
    _check_turn_order(rules, contents)
    if require_thought_signatures:
        _check_thought_signatures(rules, contents)
    system = req.get("systemInstruction")
    if system is not None:
        if not system.get("parts"):
            rules.bad("system_instruction.parts", "contents.parts must not be empty.")
        for j, part in enumerate(system.get("parts", [])):
            if [k for k in PART_DATA if k in part] != ["text"]:
                rules.bad(f"system_instruction.parts[{j}]", "system instructions take text parts only")
    names = _check_tools(rules, req.get("tools", []))
    _check_tool_config(rules, req.get("toolConfig") or {}, names)
    _check_generation_config(rules, req.get("generationConfig") or {})
    seen: set[str] = set()
    for k, setting in enumerate(req.get("safetySettings", [])):
        category = setting.get("category", "HARM_CATEGORY_UNSPECIFIED")
        if category in seen:
            rules.bad(f"safety_settings[{k}].category", f"duplicate setting for {category}: one SafetySetting per "
                                                         "category")
        seen.add(category)
    cached = req.get("cachedContent")
    if cached is not None and not re.fullmatch(r"cachedContents/[^/]+", cached):
        rules.bad("cached_content", f"\"{cached}\" is not a CachedContent name (cachedContents/{{id}})")
    if rules.lines:
        raise invalid_argument("".join(rules.lines))


_GOOGLE_FILE = re.compile(r"https://generativelanguage\.googleapis\.com/v1beta/files/[a-z0-9-]+$"
                          r"|https://(www\.)?youtube\.com/watch\?v=[\w-]+$|https://youtu\.be/[\w-]+$")


def _check_part(rules: _Rules, part: dict[str, Any], path: str, role: str) -> None:
    data = [k for k in PART_DATA if k in part]
    if not data:
        rules.bad(f"{path}.data", "required oneof field 'data' must have one initialized field")
        return
    kind = data[0]
    if part.get("thought") and kind != "text":
        rules.bad(f"{path}.thought", f"thought marks a text part (a thought summary), not {snake(kind)}")
    if kind == "inlineData":
        blob = part[kind]
        if not blob.get("mimeType"):
            rules.bad(f"{path}.inline_data.mime_type", "mime_type is required")
        if not blob.get("data"):
            rules.bad(f"{path}.inline_data.data", "data is required")
    elif kind == "fileData" and not part[kind].get("fileUri"):
        rules.bad(f"{path}.file_data.file_uri", "file_uri is required")
    elif kind == "fileData" and not _GOOGLE_FILE.match(str(part[kind]["fileUri"])):
        # fileData names a file Google holds (the Files API; YouTube for video), never a page on the web
        rules.plain(f"Invalid or unsupported file uri: {part[kind]['fileUri']}")
    elif kind in ("functionCall", "executableCode", "codeExecutionResult") and role != "model":
        rules.bad(f"{path}.{snake(kind)}", f"{snake(kind)} comes from the model: it belongs in a turn with role "
                                           f"\"model\", not \"{role}\"")
    elif kind == "functionResponse" and role != "user":
        rules.bad(f"{path}.function_response", "function_response is the client's answer to a function call: it "
                                               "belongs in a turn with role \"user\", not \"model\"")
    if kind in ("functionCall", "functionResponse"):
        if not part[kind].get("name"):
            rules.bad(f"{path}.{snake(kind)}.name", "name is required")
        if kind == "functionResponse" and "response" not in part[kind]:
            rules.bad(f"{path}.function_response.response", "response is required (a JSON object)")


def _check_turn_order(rules: _Rules, contents: list[dict[str, Any]]) -> None:
    for i, content in enumerate(contents):
        previous = contents[i - 1] if i else None
        calls = _parts_with(content, "functionCall")
        if _role(content) == "model" and calls and (previous is None or _role(previous) != "user"):
            rules.plain("Please ensure that function call turn comes immediately after a user turn or after a "
                        f"function response turn. (contents[{i}] calls functions but "
                        + ("is the first turn.)" if previous is None else "follows a model turn.)"))
        if _role(content) != "user":
            continue
        responses = _parts_with(content, "functionResponse")
        called = _parts_with(previous, "functionCall") if previous is not None and _role(previous) == "model" else []
        if responses and not called:
            rules.plain("Please ensure that function response turn comes immediately after a function call turn. "
                        f"(contents[{i}] answers function calls, but contents[{i - 1}] made none.)")
        elif called and len(responses) != len(called):
            rules.plain("Please ensure that the number of function response parts is equal to the number of "
                        f"function call parts of the function call turn. (contents[{i - 1}] makes {len(called)} "
                        f"call(s), contents[{i}] answers {len(responses)}.)")
        elif called and Counter(r.get("name") for r in responses) != Counter(c.get("name") for c in called):
            rules.bad(f"contents[{i}].parts", "the function responses name other functions than the calls of "
                                              f"contents[{i - 1}]: {sorted(str(r.get('name')) for r in responses)} "
                                              f"answer {sorted(str(c.get('name')) for c in called)}")


def _check_thought_signatures(rules: _Rules, contents: list[dict[str, Any]]) -> None:
    """Gemini 3: the first function call of each model step of the current turn must carry its thoughtSignature."""
    start = 0
    for i, content in enumerate(contents):
        if _role(content) == "user" and any("text" in p for p in content.get("parts", [])):
            start = i
    for i in range(start, len(contents)):
        parts = contents[i].get("parts", [])
        calls = [(j, p) for j, p in enumerate(parts) if "functionCall" in p]
        if _role(contents[i]) == "model" and calls and "thoughtSignature" not in calls[0][1]:
            j, part = calls[0]
            rules.plain("Function call is missing a thought_signature in functionCall parts. This is required for "
                        "tools to work correctly, and missing thought_signature may lead to degraded model "
                        f"performance. Additional data, function call `{part['functionCall'].get('name')}` , "
                        f"position {j + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures "
                        f"for more details. (contents[{i}].parts[{j}])")


def _check_schema(rules: _Rules, schema: dict[str, Any], path: str) -> None:
    kind = schema.get("type")
    if schema.get("enum") and kind not in (None, "STRING"):
        rules.bad(f"{path}.enum", "only allowed for STRING type")
    properties: dict[str, Any] = schema.get("properties", {})
    for k, name in enumerate(schema.get("required", [])):
        if name not in properties:
            rules.bad(f"{path}.required[{k}]", "property is not defined")
    for name, sub in properties.items():
        _check_schema(rules, sub, f"{path}.properties[{name}]")
    if "items" in schema:
        _check_schema(rules, schema["items"], f"{path}.items")
    for k, sub in enumerate(schema.get("anyOf", [])):
        _check_schema(rules, sub, f"{path}.any_of[{k}]")


def _check_tools(rules: _Rules, tools: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for t, tool in enumerate(tools):
        for d, decl in enumerate(tool.get("functionDeclarations", [])):
            path = f"tools[{t}].function_declarations[{d}]"
            name = decl.get("name", "")
            if not FUNCTION_NAME.fullmatch(name):
                rules.bad(f"{path}.name", "Invalid function name. Must start with a letter or an underscore. Must be "
                                          "alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or "
                                          "dashes (-), with a maximum length of 64.")
            elif name in names:
                rules.bad(f"{path}.name", f"duplicate function name \"{name}\"")
            names.append(name)
            for plain, raw in (("parameters", "parametersJsonSchema"), ("response", "responseJsonSchema")):
                if plain in decl and raw in decl:
                    rules.bad(path, f"{plain} and {snake(raw)} are mutually exclusive: set one of them")
                if plain in decl:
                    _check_schema(rules, decl[plain], f"{path}.{plain}")
                if raw in decl and not isinstance(decl[raw], dict):
                    rules.bad(f"{path}.{snake(raw)}", "must be a JSON Schema object")
    return names


def _check_tool_config(rules: _Rules, config: dict[str, Any], names: list[str]) -> None:
    calling = config.get("functionCallingConfig")
    if not calling:
        return
    path = "tool_config.function_calling_config"
    mode = calling.get("mode", "MODE_UNSPECIFIED")
    allowed: list[str] = calling.get("allowedFunctionNames", [])
    if allowed and mode not in ("ANY", "VALIDATED"):
        rules.bad(f"{path}.allowed_function_names", f"may only be set when mode is ANY or VALIDATED, not {mode}")
    for k, name in enumerate(allowed):
        if name not in names:
            rules.bad(f"{path}.allowed_function_names[{k}]", f"\"{name}\" is not one of the function declarations")
    if mode in ("ANY", "VALIDATED") and not names:
        rules.bad(f"{path}.mode", f"mode {mode} needs function_declarations in tools")


def _check_generation_config(rules: _Rules, config: dict[str, Any]) -> None:
    path = "generation_config"
    limits = {"candidateCount": (1, 8), "temperature": (0.0, 2.0), "topP": (0.0, 1.0), "maxOutputTokens": (0, None),
              "topK": (0, None), "logprobs": (0, 20)}
    for name, (low, high) in limits.items():
        value = config.get(name)
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            rules.bad(f"{path}.{snake(name)}", f"must be {bound}, got {value}")
    if len(config.get("stopSequences", [])) > 5:
        rules.bad(f"{path}.stop_sequences", "at most 5 stop sequences are supported")
    mime = config.get("responseMimeType")
    if mime is not None and mime not in RESPONSE_MIME_TYPES:
        rules.bad(f"{path}.response_mime_type", "allowed mimetypes are `text/plain`, `application/json`, "
                                                "`application/xml`, `application/yaml` and `text/x.enum`.")
    if "responseSchema" in config and "responseJsonSchema" in config:
        rules.bad(path, "response_schema and response_json_schema are mutually exclusive: set one of them")
    if ("responseSchema" in config or "responseJsonSchema" in config) and mime not in ("application/json",
                                                                                      "text/x.enum"):
        rules.bad(f"{path}.response_mime_type", "a response schema needs response_mime_type application/json (or "
                                                f"text/x.enum), not {mime or 'unset'}")
    if "responseSchema" in config:
        _check_schema(rules, config["responseSchema"], f"{path}.response_schema")
    thinking = config.get("thinkingConfig") or {}
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        rules.bad(f"{path}.thinking_config", "thinking_budget and thinking_level are mutually exclusive")
    if thinking.get("thinkingBudget", 0) < -1:
        rules.bad(f"{path}.thinking_config.thinking_budget", "must be -1 (dynamic), 0 (off) or a positive budget")


def validate(body: Any, *, require_thought_signatures: bool = False) -> dict[str, Any]:
    """Both passes: the parsed request (camelCase) or a GeminiError."""
    request = parse_request(body)
    validate_request(request, require_thought_signatures=require_thought_signatures)
    return request


# ---------------------------------------------------------------- answers

@dataclass(frozen=True, slots=True)
class Behaviour:
    """The mock's settings that shape an answer."""

    reply_text: str | None = None
    finish_reason_override: str | None = None
    prompt_block_reason: str | None = None
    parallel_tools: bool = False
    thoughts_tokens: int = 64
    call_ids: bool = False
    thought_signatures: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """One planned answer: the parts of every candidate, with counts."""

    parts: list[dict[str, Any]]
    thought: str | None
    finish: str
    candidates: int
    prompt_tokens: int
    prompt_media: int
    output_tokens: int
    thoughts_tokens: int
    blocked_prompt: str | None = None

    @property
    def has_content(self) -> bool:
        return self.finish not in BLOCKING_FINISH


def _texts(content: dict[str, Any]) -> list[str]:
    return [p["text"] for p in content.get("parts", []) if "text" in p]


def prompt_counts(req: dict[str, Any]) -> tuple[int, int]:
    """(text tokens, media tokens): whitespace words of the texts, calls and responses; 258 per inline/file part."""
    words = media = 0
    for content in [*req.get("contents", []), *([req["systemInstruction"]] if "systemInstruction" in req else [])]:
        for part in content.get("parts", []):
            if "text" in part:
                words += len(part["text"].split())
            elif "inlineData" in part or "fileData" in part:
                media += MEDIA_TOKENS
            for kind in ("functionCall", "functionResponse"):
                if kind in part:
                    words += len(json.dumps(part[kind]).split())
    return max(words, 1 if not media else 0), media


def images_in(req: dict[str, Any]) -> int:
    return sum(1 for content in req.get("contents", []) for part in content.get("parts", [])
               if str((part.get("inlineData") or part.get("fileData") or {}).get("mimeType", "")).startswith("image/"))


def sample(schema: Any, depth: int = 0) -> Any:
    """A value that fits a response schema (OpenAPI Schema or JSON Schema), deterministic."""
    if not isinstance(schema, dict) or depth > 8:
        return "mock"
    if schema.get("enum"):
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if isinstance(schema.get(union), list) and schema[union]:
            return sample(schema[union][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    kind = str(kind).lower() if kind else ("object" if "properties" in schema else "string")
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not properties:
            return dict(JSON_REPLY)
        return {name: sample(sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [sample(schema.get("items"), depth + 1)]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "mock")


def _reply_text(req: dict[str, Any], behaviour: Behaviour) -> str:
    if behaviour.reply_text is not None:
        return behaviour.reply_text
    contents = req.get("contents", [])
    responses = _parts_with(contents[-1], "functionResponse") if contents else []
    if responses:
        return " ".join(f"The function {r.get('name')} returned {json.dumps(r.get('response', {}))}."
                        for r in responses)
    config = req.get("generationConfig") or {}
    last_user: dict[str, Any] = next((c for c in reversed(contents) if _role(c) == "user"), {})
    if config.get("responseMimeType") == "application/json" or any("json" in t.lower() for t in _texts(last_user)):
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        return json.dumps(sample(schema) if schema is not None else JSON_REPLY)
    images = images_in(req)
    if images:
        return f"I see {images} image{'s' if images > 1 else ''}. {DEFAULT_REPLY}"
    return DEFAULT_REPLY


def _function_calls(req: dict[str, Any], behaviour: Behaviour, serial: int) -> list[dict[str, Any]]:
    declared = [d["name"] for tool in req.get("tools", []) for d in tool.get("functionDeclarations", [])]
    calling = (req.get("toolConfig") or {}).get("functionCallingConfig") or {}
    contents = req.get("contents", [])
    if not declared or calling.get("mode") == "NONE" or _parts_with(contents[-1], "functionResponse"):
        return []
    names = calling.get("allowedFunctionNames") or declared
    picked = [names[0], names[1] if len(names) > 1 else names[0]] if behaviour.parallel_tools else [names[0]]
    parts: list[dict[str, Any]] = []
    for k, name in enumerate(picked):
        call: dict[str, Any] = {"name": name, "args": dict(TOOL_ARGS[k])}
        if behaviour.call_ids:
            call = {"id": f"call_mock{serial}_{k}", **call}
        part: dict[str, Any] = {"functionCall": call}
        if behaviour.thought_signatures and k == 0:
            part["thoughtSignature"] = THOUGHT_SIGNATURE
        parts.append(part)
    return parts


def _thinking(config: dict[str, Any], behaviour: Behaviour) -> tuple[int, bool]:
    """(thought tokens, whether a thought summary part is included)."""
    thinking = config.get("thinkingConfig") or {}
    budget = thinking.get("thinkingBudget")
    include = bool(thinking.get("includeThoughts"))
    level = thinking.get("thinkingLevel", "THINKING_LEVEL_UNSPECIFIED")
    on = (budget is not None and budget != 0) or level != "THINKING_LEVEL_UNSPECIFIED" or (include and budget is None)
    if not on:
        return 0, False
    return (min(behaviour.thoughts_tokens, budget) if budget and budget > 0 else behaviour.thoughts_tokens), include


def plan(req: dict[str, Any], behaviour: Behaviour, serial: int) -> Answer:
    """What the model answers, deterministically, to a validated request."""
    config = req.get("generationConfig") or {}
    prompt, media = prompt_counts(req)
    thoughts, include = _thinking(config, behaviour)
    n = config.get("candidateCount") or 1
    if behaviour.prompt_block_reason is not None:
        return Answer([], None, "", 0, prompt, media, 0, 0, blocked_prompt=behaviour.prompt_block_reason)
    parts = _function_calls(req, behaviour, serial)
    finish = "STOP"
    if parts:
        output = sum(len(json.dumps(p["functionCall"]).split()) for p in parts)
    else:
        text = _reply_text(req, behaviour)
        stops = [text.find(s) for s in config.get("stopSequences", []) if s and s in text]
        if stops:
            text = text[:min(stops)]
        words = text.split()
        limit = config.get("maxOutputTokens") or 0
        if 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "MAX_TOKENS"
        parts = [{"text": text}]
        output = len(text.split())
    if behaviour.finish_reason_override is not None:
        finish = behaviour.finish_reason_override
    if finish in BLOCKING_FINISH:
        parts, output, include = [], 0, False
    return Answer(parts, THOUGHT_TEXT if include else None, finish, n, prompt, media, output, thoughts)


def usage_metadata(answer: Answer, *, final: bool = True) -> dict[str, Any]:
    prompt = answer.prompt_tokens + answer.prompt_media
    details = [{"modality": "TEXT", "tokenCount": answer.prompt_tokens}]
    if answer.prompt_media:
        details.append({"modality": "IMAGE", "tokenCount": answer.prompt_media})
    if not final:
        return {"promptTokenCount": prompt, "totalTokenCount": prompt, "promptTokensDetails": details}
    output = answer.output_tokens * answer.candidates
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": output,
                             "totalTokenCount": prompt + output + answer.thoughts_tokens,
                             "promptTokensDetails": details}
    if answer.thoughts_tokens:
        usage["thoughtsTokenCount"] = answer.thoughts_tokens
    if not output:
        del usage["candidatesTokenCount"]
    return usage


def safety_ratings(blocked: bool) -> list[dict[str, Any]]:
    ratings: list[dict[str, Any]] = [{"category": c, "probability": "NEGLIGIBLE"} for c in SAFETY_CATEGORIES]
    if blocked:
        ratings[0] = {"category": SAFETY_CATEGORIES[0], "probability": "HIGH", "blocked": True}
    return ratings


def _candidate(index: int, parts: list[dict[str, Any]] | None, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = index
    if finish is not None:
        candidate["safetyRatings"] = safety_ratings(finish == "SAFETY")
    return candidate


def _envelope(candidates: list[dict[str, Any]], usage: dict[str, Any], model: str, serial: int) -> dict[str, Any]:
    return {"candidates": candidates, "usageMetadata": usage, "modelVersion": model, "responseId": f"mock{serial}"}


def _blocked_prompt(answer: Answer, model: str, serial: int) -> dict[str, Any]:
    return {"promptFeedback": {"blockReason": answer.blocked_prompt, "safetyRatings": safety_ratings(True)},
            "usageMetadata": usage_metadata(answer, final=False), "modelVersion": model,
            "responseId": f"mock{serial}"}


def response(answer: Answer, model: str, serial: int) -> dict[str, Any]:
    """The whole GenerateContentResponse of generateContent."""
    if answer.blocked_prompt is not None:
        return _blocked_prompt(answer, model, serial)
    thought = [{"text": answer.thought, "thought": True}] if answer.thought else []
    parts = [*thought, *answer.parts] if answer.has_content else None
    candidates = [_candidate(i, parts, answer.finish) for i in range(answer.candidates)]
    return _envelope(candidates, usage_metadata(answer), model, serial)


def stream_responses(answer: Answer, model: str, serial: int, chunks: int) -> list[dict[str, Any]]:
    """The GenerateContentResponse chunks of streamGenerateContent: partial text, the last with the finish reason
    and the full usage (earlier ones carry the prompt's usage only)."""
    if answer.blocked_prompt is not None:
        return [_blocked_prompt(answer, model, serial)]
    steps: list[list[dict[str, Any]]] = []
    if answer.thought:
        steps.append([{"text": answer.thought, "thought": True}])
    if answer.parts and "functionCall" in answer.parts[0]:
        steps.append(answer.parts)  # Gemini streams function calls whole
    elif answer.parts:
        steps += [[{"text": piece}] for piece in split_pieces(answer.parts[0]["text"], chunks) if piece]
    if not answer.has_content:
        steps.append([])
    elif not steps or "thought" in steps[-1][0]:
        steps.append([{"text": ""}])
    events: list[dict[str, Any]] = []
    for k, parts in enumerate(steps):
        last = k == len(steps) - 1
        candidates = [_candidate(i, parts if parts or answer.has_content else None, answer.finish if last else None)
                      for i in range(answer.candidates)]
        events.append(_envelope(candidates, usage_metadata(answer, final=last), model, serial))
    return events


def model_resource(name: str) -> dict[str, Any]:
    return {"name": f"models/{name}", "version": "001", "displayName": name, "description": "MockGemini model",
            "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
            "supportedGenerationMethods": ["generateContent", "countTokens"], "temperature": 1.0, "topP": 0.95,
            "topK": 64, "maxTemperature": 2.0}
