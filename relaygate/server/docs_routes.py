"""The OpenAPI document (the admin API from its route table, the client routes from client_docs.py, every error
status each route can answer) and Swagger UI, served offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import swagger_ui_bundle
from aiohttp import web
from pydantic import BaseModel

from relaygate import __version__
from relaygate.server.admin_api import AdminRoute
from relaygate.server.admin_routes import ROUTES
from relaygate.server.client_docs import ERROR_SCHEMAS, SECURITY_SCHEMES, client_paths, error_responses

_REF = "#/components/schemas/{model}"
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>relaygate API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def admin_errors(route: AdminRoute) -> tuple[int, ...]:
    """The error statuses an admin route can answer."""
    params = [part for part in route.path.split("/") if part.startswith("{")]
    statuses = {400, 401, 403, 431, 503}
    if params:
        statuses.add(404)
    if route.body is not None:
        statuses.add(413)
    if route.conflicts:
        statuses.add(409)
    return tuple(sorted(statuses | set(route.errors)))


def _admin_operation(route: AdminRoute, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "security": [] if route.audience in ("public", "anyone") else [{"bearer": []}, {"session": []}],
        "tags": ["self-service" if route.path.startswith("/api/self") else route.path.split("/")[2]],
        "responses": error_responses(admin_errors(route)),
    }
    params = [{"name": part[1:-1], "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} if part == "{id}"
               else {"type": "string", "maxLength": 128}}
              for part in route.path.split("/") if part.startswith("{")]
    params += [{"name": p.name, "in": "query", "required": False, "description": p.description,
                "schema": _QUERY_SCHEMAS[p.type]} for p in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _schema(route.body, components)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if route.returns is not None:
        ref = _schema(route.returns, components)
        ok["content"] = {"application/json": {"schema": {"type": "array", "items": ref} if route.many else ref}}
    op["responses"]["200"] = ok
    return op


_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "time": {"type": "number", "minimum": 0},
    "text": {"type": "string", "maxLength": 128},
    "kind": {"enum": ["client", "admin"]},
}


def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = dict(ERROR_SCHEMAS)
    paths = client_paths()
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _admin_operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "relaygate API", "version": __version__,
                 "description": "Client routes (/v1, /v1beta) take a client key; the admin API (/api) an admin "
                                "key or a console session (its cookie, with X-CSRF-Token on every change). Every "
                                "error is JSON with an X-Request-Id header."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def add_routes(app: web.Application) -> None:
    document = orjson.dumps(openapi_document())

    async def spec(_: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=_PAGE, content_type="text/html")

    app.router.add_get("/openapi.json", spec)
    app.router.add_get("/docs", page)
    app.router.add_static("/docs/static", Path(swagger_ui_bundle.swagger_ui_path))
