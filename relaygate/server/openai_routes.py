"""The OpenAI front door's own routes (models, unknown URLs) and what every front door's handler shares: request
ids, the client's address, the access line."""

from __future__ import annotations

import logging
import os
import time

import orjson
from aiohttp import web

from relaygate.core.errors import NotFound, RelayError
from relaygate.relay.auth import authenticate, check_ip, key_from_headers
from relaygate.server.cors import CORS, is_preflight
from relaygate.server.errors import error_response
from relaygate.server.logs import access_line
from relaygate.server.state import services

log = logging.getLogger("relaygate.server")


def new_request_id() -> str:
    """`req_`, the time in ms (12 hex digits), 48 random bits: ids sort by time, so each log row's request_id
    index entry lands on the index's last page, not a random one (a random page per request was a 4 KiB WAL
    frame per request and its copy at every checkpoint)."""
    return f"req_{time.time_ns() // 1_000_000:012x}{os.urandom(6).hex()}"


def client_ip(request: web.Request) -> str:
    if services(request).settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",", 1)[0].strip()
    return request.remote or ""


def access_log(request: web.Request, request_id: str, status: int, started: float) -> None:
    if services(request).settings.access_log:
        access_line({"request_id": request_id, "method": request.method, "path": request.path, "status": status,
                     "ms": round((time.perf_counter() - started) * 1000, 3)})


async def list_models(request: web.Request) -> web.Response:
    return await _models(request, None)


async def get_model(request: web.Request) -> web.Response:
    return await _models(request, request.match_info["model"])


def _model(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "relaygate"}


async def _models(request: web.Request, model_id: str | None) -> web.Response:
    """The models this key can call: the list names every one served by name; a lookup answers for any model a
    chat would accept, one served by a pattern (gpt-4-gizmo-*) too."""
    request_id = new_request_id()
    svc = services(request)
    try:
        catalog = svc.catalogs.catalog
        key = authenticate(catalog, key_from_headers(request.headers), time.time())
        check_ip(key, client_ip(request))
        if model_id is None:
            body = orjson.dumps({"object": "list", "data": [_model(name) for name in catalog.models_for(key)]})
        elif catalog.can_call(key, model_id):
            body = orjson.dumps(_model(model_id))
        else:
            raise NotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                           code="model_not_found", param="model")
    except RelayError as err:
        return error_response(err, request_id)
    return web.Response(body=body, content_type="application/json", headers={"X-Request-Id": request_id})


async def unknown_route(request: web.Request) -> web.Response:
    """Every request no route takes, and so every CORS preflight (no route takes OPTIONS)."""
    if is_preflight(request):
        return request.app[CORS].preflight(request, new_request_id())
    err = NotFound(f"Unknown request URL: {request.method} {request.path}. Check the path and method.",
                   code="unknown_url")
    return error_response(err, new_request_id())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    app.router.add_route("*", "/v1/{tail:.*}", unknown_route)
