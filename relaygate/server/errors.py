"""Rendering the error tree as OpenAI-shaped JSON responses."""

from __future__ import annotations

import math

import orjson
from aiohttp import web

from relaygate.core.errors import RateLimited, RelayError


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def error_response(err: RelayError, request_id: str) -> web.Response:
    headers = {"X-Request-Id": request_id}
    if isinstance(err, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    return web.Response(
        status=err.status,
        body=error_body(err.message, err.type, err.code, err.param),
        content_type="application/json",
        headers=headers,
    )
