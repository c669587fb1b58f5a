"""OpenAPI document of the admin API (built from its route table) and Swagger UI served offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import swagger_ui_bundle
from aiohttp import web
from pydantic import BaseModel

from relaygate import __version__
from relaygate.server.admin_routes import ROUTES

_REF = "#/components/schemas/{model}"
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>relaygate admin API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        op: dict[str, Any] = {
            "summary": route.summary,
            "security": [{"bearer": []}],
            "tags": ["self-service" if route.audience == "user" else route.path.split("/")[2]],
            "responses": {"401": {"description": "missing or wrong key"}},
        }
        params = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        if route.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _schema(route.body, components)}}}
        ok: dict[str, Any] = {"description": "OK"}
        if route.returns is not None:
            ref = _schema(route.returns, components)
            ok["content"] = {"application/json": {"schema": {"type": "array", "items": ref} if route.many else ref}}
        op["responses"]["200"] = ok
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "relaygate admin API", "version": __version__},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
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
