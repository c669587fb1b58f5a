"""The admin REST API under /api: one table of routes, from which the OpenAPI document is built."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from relaygate.admin import schemas as s
from relaygate.core.errors import BadRequest, Forbidden, RelayError
from relaygate.core.records import KeyRecord
from relaygate.relay.auth import authenticate, key_from_headers
from relaygate.server.errors import error_response
from relaygate.server.openai_routes import new_request_id
from relaygate.server.state import Services, services

Call = Callable[[Services, web.Request, Any, KeyRecord], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AdminRoute:
    method: str
    path: str
    call: Call
    summary: str
    body: type[BaseModel] | None = None
    returns: type[BaseModel] | None = None
    many: bool = False
    audience: str = "admin"


def _id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer.", param=name) from None


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"Query parameter '{name}' must be an integer.", param=name) from None


async def _logs(svc: Services, request: web.Request, user_id: int | None) -> list[s.LogOut]:
    limit = min(_query_int(request, "limit") or 100, 1000)
    since = request.query.get("since")
    try:
        since_value = float(since) if since is not None else None
    except ValueError:
        raise BadRequest("Query parameter 'since' must be a unix time.", param="since") from None
    return await svc.operator.logs(
        user_id=user_id if user_id is not None else _query_int(request, "user_id"),
        key_id=_query_int(request, "key_id"), model=request.query.get("model"),
        request_id=request.query.get("request_id"), since=since_value, limit=limit,
    )


async def _delete_channel(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> None:
    await svc.operator.delete_channel(_id(r))


async def _delete_group(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> None:
    await svc.operator.delete_group(r.match_info["name"])


async def _delete_price(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> None:
    await svc.operator.delete_price(r.match_info["model"])


async def _disable_channel(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> s.ChannelOut:
    return await svc.operator.update_channel(_id(r), s.ChannelPatch(status="disabled"))


async def _enable_channel(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> s.ChannelOut:
    return await svc.operator.update_channel(_id(r), s.ChannelPatch(status="enabled"))


async def _delete_all_tools(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> None:
    await svc.operator.delete_all_tools(r.match_info["model"])


async def _delete_fetch_allow(svc: Services, r: web.Request, b: Any, k: KeyRecord) -> None:
    await svc.operator.delete_fetch_allow(_id(r))


ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("GET", "/api/channels", lambda v, r, b, k: v.operator.channels(), "List channels",
               returns=s.ChannelOut, many=True),
    AdminRoute("POST", "/api/channels", lambda v, r, b, k: v.operator.create_channel(b), "Add a channel",
               body=s.ChannelIn, returns=s.ChannelOut),
    AdminRoute("GET", "/api/channels/{id}", lambda v, r, b, k: v.operator.channel(_id(r)), "Show a channel",
               returns=s.ChannelOut),
    AdminRoute("PATCH", "/api/channels/{id}", lambda v, r, b, k: v.operator.update_channel(_id(r), b),
               "Change a channel", body=s.ChannelPatch, returns=s.ChannelOut),
    AdminRoute("DELETE", "/api/channels/{id}", _delete_channel, "Delete a channel"),
    AdminRoute("POST", "/api/channels/{id}/test", lambda v, r, b, k: v.operator.test_channel(_id(r), v.upstream),
               "Probe a channel with a minimal request", returns=s.ChannelTestResult),
    AdminRoute("POST", "/api/channels/{id}/disable", _disable_channel, "Disable a channel", returns=s.ChannelOut),
    AdminRoute("POST", "/api/channels/{id}/enable", _enable_channel, "Enable a channel", returns=s.ChannelOut),
    AdminRoute("GET", "/api/keys", lambda v, r, b, k: v.operator.keys(_query_int(r, "user_id")), "List keys",
               returns=s.KeyOut, many=True),
    AdminRoute("POST", "/api/keys", lambda v, r, b, k: v.operator.create_key(b),
               "Issue a key (its value is shown once)", body=s.KeyIn, returns=s.KeyCreated),
    AdminRoute("GET", "/api/keys/{id}", lambda v, r, b, k: v.operator.key(_id(r)), "Show a key", returns=s.KeyOut),
    AdminRoute("PATCH", "/api/keys/{id}", lambda v, r, b, k: v.operator.update_key(_id(r), b), "Change a key",
               body=s.KeyPatch, returns=s.KeyOut),
    AdminRoute("DELETE", "/api/keys/{id}", lambda v, r, b, k: v.operator.revoke_key(_id(r)), "Revoke a key",
               returns=s.KeyOut),
    AdminRoute("GET", "/api/users", lambda v, r, b, k: v.operator.users(), "List users", returns=s.UserOut,
               many=True),
    AdminRoute("POST", "/api/users", lambda v, r, b, k: v.operator.create_user(b), "Create a user",
               body=s.UserIn, returns=s.UserOut),
    AdminRoute("GET", "/api/users/{id}", lambda v, r, b, k: v.operator.user(_id(r)), "Show a user",
               returns=s.UserOut),
    AdminRoute("PATCH", "/api/users/{id}", lambda v, r, b, k: v.operator.update_user(_id(r), b),
               "Change a user", body=s.UserPatch, returns=s.UserOut),
    AdminRoute("POST", "/api/users/{id}/topup", lambda v, r, b, k: v.operator.top_up(_id(r), b),
               "Add to a user's balance", body=s.TopUp, returns=s.UserOut),
    AdminRoute("GET", "/api/groups", lambda v, r, b, k: v.operator.groups(), "List groups", returns=s.GroupOut,
               many=True),
    AdminRoute("PUT", "/api/groups", lambda v, r, b, k: v.operator.set_group(b), "Create or change a group",
               body=s.GroupIn, returns=s.GroupOut),
    AdminRoute("DELETE", "/api/groups/{name}", _delete_group, "Delete a group"),
    AdminRoute("GET", "/api/prices", lambda v, r, b, k: v.operator.prices(), "List prices set by the operator",
               returns=s.PriceOut, many=True),
    AdminRoute("PUT", "/api/prices/{model}", lambda v, r, b, k: v.operator.set_price(r.match_info["model"], b),
               "Set a model's price", body=s.PriceIn, returns=s.PriceOut),
    AdminRoute("DELETE", "/api/prices/{model}", _delete_price, "Remove a model's price"),
    AdminRoute("GET", "/api/all-tools", lambda v, r, b, k: v.operator.all_tools(),
               "All-tools models (file analysis): the built-in ones and the operator's", returns=s.AllToolsOut,
               many=True),
    AdminRoute("PUT", "/api/all-tools/{model}",
               lambda v, r, b, k: v.operator.set_all_tools(r.match_info["model"], b),
               "Mark a model all-tools (or turn a built-in one off)", body=s.AllToolsIn, returns=s.AllToolsOut),
    AdminRoute("DELETE", "/api/all-tools/{model}", _delete_all_tools,
               "Remove the operator's mark (a built-in model returns to its default)"),
    AdminRoute("GET", "/api/fetch-allow", lambda v, r, b, k: v.operator.fetch_allow(v.settings.fetch_allow),
               "The fetcher's allow-list: RELAYGATE_FETCH_ALLOW, then the stored entries", returns=s.FetchAllowOut,
               many=True),
    AdminRoute("POST", "/api/fetch-allow", lambda v, r, b, k: v.operator.add_fetch_allow(b),
               "Exempt an intranet source from the private-address block", body=s.FetchAllowIn,
               returns=s.FetchAllowOut),
    AdminRoute("DELETE", "/api/fetch-allow/{id}", _delete_fetch_allow, "Remove a stored allow-list entry"),
    AdminRoute("GET", "/api/logs", lambda v, r, b, k: _logs(v, r, None), "Request logs (newest first)",
               returns=s.LogOut, many=True),
    AdminRoute("GET", "/api/self", lambda v, r, b, k: v.operator.user(k.user_id),
               "The calling key's user", returns=s.UserOut, audience="user"),
    AdminRoute("PATCH", "/api/self", lambda v, r, b, k: v.operator.update_user(k.user_id, b),
               "Change your own display name", body=s.SelfPatch, returns=s.UserOut, audience="user"),
    AdminRoute("GET", "/api/self/logs", lambda v, r, b, k: _logs(v, r, k.user_id), "Your own request logs",
               returns=s.LogOut, many=True, audience="user"),
)


def _caller(svc: Services, request: web.Request, audience: str) -> KeyRecord:
    raw = key_from_headers(request.headers)
    kind = "admin" if audience == "admin" else "client"
    key = authenticate(svc.catalogs.catalog, raw, time.time(), kind=kind)
    if audience == "admin" and key.user_role != "admin":
        raise Forbidden("This route needs the admin key.", code="admin_only")
    return key


async def _parse(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"{where or 'body'}: {first['msg']}", param=where or None) from None


def _dump(value: Any) -> bytes:
    if isinstance(value, list):
        return orjson.dumps([v.model_dump(mode="json") for v in value])
    if isinstance(value, BaseModel):
        return orjson.dumps(value.model_dump(mode="json"))
    return orjson.dumps({"ok": True})


def _handler(route: AdminRoute) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        request_id = new_request_id()
        svc = services(request)
        try:
            caller = _caller(svc, request, route.audience)
            body = await _parse(request, route.body) if route.body is not None else None
            result = await route.call(svc, request, body, caller)
        except RelayError as err:
            return error_response(err, request_id)
        return web.Response(body=_dump(result), content_type="application/json",
                            headers={"X-Request-Id": request_id})

    return handle


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _handler(route))
