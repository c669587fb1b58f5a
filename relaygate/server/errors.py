"""Rendering the error tree as OpenAI-shaped JSON responses."""

from __future__ import annotations

import math
from collections.abc import Callable

import orjson
from aiohttp import web

from relaygate.core.errors import RateLimited, RelayError, UpstreamClientError
from relaygate.protocols import anthropic, gemini
from relaygate.protocols.midjourney import TASK_NOT_FOUND, ReturnCode

ErrorRenderer = Callable[[RelayError, str], web.Response]


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def _response(err: RelayError, request_id: str, body: bytes) -> web.Response:
    headers = {"X-Request-Id": request_id}
    if isinstance(err, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    return web.Response(status=err.status, body=body, content_type="application/json", headers=headers)


def error_response(err: RelayError, request_id: str) -> web.Response:
    """SPEC §3: OpenAI's error shape."""
    return _response(err, request_id, error_body(err.message, err.type, err.code, err.param))


def anthropic_error_response(err: RelayError, request_id: str) -> web.Response:
    """Anthropic's error shape, for the /v1/messages front door."""
    if isinstance(err, UpstreamClientError) and err.type in anthropic.ERROR_STATUS_BY_TYPE:
        kind = err.type  # a Claude upstream's own refusal, passed through
    else:
        kind = anthropic.ERROR_TYPE_BY_STATUS.get(
            err.status, "api_error" if err.status >= 500 else "invalid_request_error")
    return _response(err, request_id, orjson.dumps({"type": "error", "error": {"type": kind, "message": err.message},
                                                    "request_id": request_id}))


def gemini_error_response(err: RelayError, request_id: str) -> web.Response:
    """Google's error shape, for the /v1beta front door."""
    status = gemini.STATUS_BY_HTTP.get(err.status, "INVALID_ARGUMENT" if err.status < 500 else "INTERNAL")
    return _response(err, request_id, orjson.dumps({"error": {"code": err.status, "message": err.message,
                                                              "status": status}}))


def midjourney_error_response(err: RelayError, request_id: str) -> web.Response:
    """midjourney-proxy's shape {code, description, result, properties}, for the /mj front door: code 4 for an
    invalid request, 3 for what is not there (a task, a channel able to run it), 9 for an upstream failure, an
    upstream's own code as it gave it. Key, quota and rate-limit errors stay OpenAI-shaped (SPEC §3)."""
    if err.status in (401, 403, 429):
        return error_response(err, request_id)
    if isinstance(err, UpstreamClientError) and err.code.isdigit():
        code = int(err.code)
    elif err.status == 404 or err.code == TASK_NOT_FOUND:
        code = ReturnCode.NOT_FOUND
    else:
        code = ReturnCode.VALIDATION_ERROR if err.status < 500 else ReturnCode.FAILURE
    return _response(err, request_id, orjson.dumps({"code": int(code), "description": err.message, "result": None,
                                                    "properties": {}}))
