"""The client routes in the OpenAPI document: the OpenAI front door and the native Anthropic and Gemini ones, with
every error status each can answer (the statuses come from core/errors.py; the README's table says when)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relaygate.relay.operation import RouteDoc
from relaygate.relay.operations import OPERATIONS

OPENAI_ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "param", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}},
}
ANTHROPIC_ERROR = {
    "type": "object", "required": ["type", "error"],
    "properties": {"type": {"const": "error"}, "request_id": {"type": "string"}, "error": {
        "type": "object", "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}},
}
GEMINI_ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "integer"}, "message": {"type": "string"}, "status": {"type": "string"}}}},
}
MIDJOURNEY_ERROR = {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "integer", "description": "midjourney-proxy's code: 3 not found, 4 invalid, 9 "
                                                              "failure (a missing or wrong key is OpenAI-shaped)"},
                   "description": {"type": "string"}, "result": {}, "properties": {"type": "object"}}}
ERROR_SCHEMAS = {"OpenAIError": OPENAI_ERROR, "AnthropicError": ANTHROPIC_ERROR, "GeminiError": GEMINI_ERROR,
                 "MidjourneyError": MIDJOURNEY_ERROR}

STATUS_TEXT = {
    400: "invalid request: malformed JSON, a wrong type, a missing field, a bad parameter, or malformed HTTP",
    401: "invalid_api_key: missing, unknown, disabled or expired key (all get the same answer)",
    403: "permission_error or insufficient_quota: a key of the other kind, a model, IP or origin the key may not "
         "use, an unpriced model, or a balance / key quota that cannot cover the request",
    404: "not found: no such model for this key (model_not_found), or no such id",
    409: "conflict: the name is taken (already_exists), or the change would remove the last admin access "
         "(last_admin)",
    413: "request_too_large: the body is over RELAYGATE_MAX_BODY_BYTES (a multipart upload: over "
         "RELAYGATE_MAX_UPLOAD_BYTES)",
    429: "rate_limit_exceeded: the key's RPM or TPM is used up, or too many wrong passwords locked a log-in; "
         "Retry-After says when to retry",
    431: "header_too_large: a request header (or the request line) is over 32 KiB",
    502: "upstream_error: every eligible channel failed",
    503: "no_available_channel: every channel serving the model is disabled; or the store is unavailable",
    504: "upstream_timeout: the upstream did not answer in time",
    "4XX": "the upstream refused the request because of its content (e.g. context_length_exceeded), passed through",
}
RELAYED = (400, 401, 403, 404, 413, 429, 431, 502, 503, 504, "4XX")

_MODEL = {"type": "object", "properties": {"id": {"type": "string"}, "object": {"const": "model"},
                                           "created": {"type": "integer"}, "owned_by": {"type": "string"}}}
_MODEL_LIST = {"type": "object", "properties": {"object": {"const": "list"}, "data": {"type": "array",
                                                                                      "items": _MODEL}}}
_SUBSCRIPTION = {"type": "object", "properties": {
    "object": {"const": "billing_subscription"}, "has_payment_method": {"type": "boolean"},
    "soft_limit_usd": {"type": "number"}, "hard_limit_usd": {"type": "number"},
    "system_hard_limit_usd": {"type": "number"}, "access_until": {"type": "integer"}}}
_USAGE = {"type": "object", "properties": {"object": {"const": "list"},
                                           "total_usage": {"type": "number", "description": "US cents"}}}


@dataclass(frozen=True, slots=True)
class ClientRoute:
    method: str
    path: str
    summary: str
    tag: str
    request: Mapping[str, Any] | None
    errors: tuple[int | str, ...]
    error_schema: str = "OpenAIError"
    answer: dict[str, Any] | None = None
    streams: bool = False
    body_type: str = "application/json"
    answers: tuple[str, ...] = ("application/json",)


_ERROR_SCHEMA = {"openai": "OpenAIError", "anthropic": "AnthropicError", "gemini": "GeminiError",
                 "midjourney": "MidjourneyError"}


def _relayed() -> tuple[ClientRoute, ...]:
    """Every operation's routes, from the operation registry (a new operation documents itself)."""
    routes: list[ClientRoute] = []
    for op in OPERATIONS:
        for route in op.routes:
            doc = route.doc or RouteDoc(f"{op.name}")
            dialect = str(route.dialect.name)
            for path in doc.paths or (route.path,):
                routes.append(ClientRoute(route.method, path, doc.summary, dialect, doc.body, RELAYED,
                                          _ERROR_SCHEMA.get(route.errors or dialect, "OpenAIError"),
                                          streams=doc.streams,
                                          body_type=doc.body_type, answers=doc.answers))
    return tuple(routes)


CLIENT_ROUTES: tuple[ClientRoute, ...] = (
    *_relayed(),
    ClientRoute("GET", "/v1/models", "The models this key can call", "openai", None, (400, 401, 403, 431),
                answer=_MODEL_LIST),
    ClientRoute("GET", "/v1/models/{model}", "One model this key can call (a pattern's names too)", "openai", None,
                (400, 401, 403, 404, 431), answer=_MODEL),
    *(ClientRoute("GET", prefix + "/dashboard/billing/subscription", "The key's limit in USD (one-api's answer, "
                  "for chat apps that show a balance)", "billing", None, (401, 403, 431), answer=_SUBSCRIPTION)
      for prefix in ("", "/v1")),
    *(ClientRoute("GET", prefix + "/dashboard/billing/usage", "What the key has spent, in US cents (one-api's "
                  "answer)", "billing", None, (401, 403, 431), answer=_USAGE) for prefix in ("", "/v1")),
)

CLIENT_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"x-api-key": []}, {"x-goog-api-key": []}]
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "x-goog-api-key": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"},
    "key-query": {"type": "apiKey", "in": "query", "name": "key"},
    "session": {"type": "apiKey", "in": "cookie", "name": "relaygate_session",
                "description": "a console log-in (POST /api/auth/login); changes also need X-CSRF-Token"},
}


def error_responses(statuses: tuple[int | str, ...], schema: str = "OpenAIError") -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {str(code): {"description": STATUS_TEXT[code], "content": {"application/json": {"schema": ref}}}
            for code in statuses}


def client_paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for route in CLIENT_ROUTES:
        ok: dict[str, Any] = {"description": "OK", "content": {
            kind: {"schema": route.answer or {"type": "object"}} if kind == "application/json"
            else {"schema": {"type": "string"}} for kind in route.answers}}
        if route.streams:
            ok["content"]["text/event-stream"] = {"schema": {"type": "string"}}
        op: dict[str, Any] = {
            "summary": route.summary, "tags": [route.tag],
            "security": [*CLIENT_SECURITY, {"key-query": []}] if route.tag == "gemini" else CLIENT_SECURITY,
            "responses": {"200": ok, **error_responses(route.errors, route.error_schema)},
        }
        names = re.findall(r"\{([^}]+)\}", route.path)
        if names:
            op["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                for n in names]
        if route.request is not None:
            op["requestBody"] = {"required": True, "content": {route.body_type: {"schema": dict(route.request)}}}
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return paths
