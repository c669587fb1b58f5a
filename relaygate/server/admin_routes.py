"""The admin REST API under /api: one table of routes, from which the OpenAPI document is built."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from relaygate.admin import file_schemas as fs
from relaygate.admin import schemas as s
from relaygate.server.account_routes import ACCOUNT_ROUTES
from relaygate.server.admin_api import AdminCall, AdminRoute, handler
from relaygate.server.params import Param

_LOG_QUERY = (
    Param("key_id", "id", "only this key's requests"),
    Param("user_id", "id", "only this user's requests"),
    Param("model", "text", "only requests for this model (as the client named it)"),
    Param("request_id", "text", "the request with this X-Request-Id"),
    Param("status", "text", "ok (answered below 400), error (400 and up) or one HTTP status such as 429"),
    Param("since", "time", "only requests from this unix time on"),
    Param("until", "time", "only requests before this unix time"),
    Param("before", "id", "only rows older than this log id: the next page after a page's last id"),
    Param("limit", "limit", "at most this many rows, newest first (default 100, at most 1000)"),
)
_SELF_LOG_QUERY = tuple(p for p in _LOG_QUERY if p.name != "user_id")
_KEY_QUERY = (Param("user_id", "id", "only this user's keys"), Param("kind", "kind", "client or admin keys only"))
_AUDIT_QUERY = (
    Param("target", "text", "changes to one thing: 'user 5', 'channel 2', 'price gpt-4o', 'group vip'"),
    Param("action", "text", "one kind of change: user.update, key.rotate, price.set, …"),
    Param("actor_user_id", "id", "changes made with this user's keys"),
    Param("since", "time", "only changes from this unix time on"),
    Param("limit", "limit", "at most this many rows, newest first (default 100, at most 1000)"),
)


async def _logs(c: AdminCall, user_id: int | None = None) -> list[s.LogOut]:
    filters = {**c.query, "user_id": user_id} if user_id is not None else c.query
    return await c.op.logs(s.LogQuery(**filters))


async def _audit(c: AdminCall) -> list[s.AuditOut]:
    return await c.op.audit_log(s.AuditQuery(**c.query))


async def _done(step: Awaitable[None]) -> None:
    await step


ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("GET", "/api/channels", lambda c: c.op.channels(), "List channels", returns=s.ChannelOut, many=True),
    AdminRoute("POST", "/api/channels", lambda c: c.op.create_channel(c.body), "Add a channel",
               body=s.ChannelIn, returns=s.ChannelOut, conflicts=True),
    AdminRoute("GET", "/api/channels/{id}", lambda c: c.op.channel(c.id()), "Show a channel", returns=s.ChannelOut),
    AdminRoute("PATCH", "/api/channels/{id}", lambda c: c.op.update_channel(c.id(), c.body), "Change a channel",
               body=s.ChannelPatch, returns=s.ChannelOut, conflicts=True),
    AdminRoute("DELETE", "/api/channels/{id}", lambda c: _done(c.op.delete_channel(c.id())), "Delete a channel"),
    AdminRoute("POST", "/api/channels/{id}/test", lambda c: c.op.test_channel(c.id(), c.svc.upstream),
               "Probe a channel with a minimal request", returns=s.ChannelTestResult),
    AdminRoute("POST", "/api/channels/{id}/disable",
               lambda c: c.op.update_channel(c.id(), s.ChannelPatch(status="disabled")), "Disable a channel",
               returns=s.ChannelOut),
    AdminRoute("POST", "/api/channels/{id}/enable",
               lambda c: c.op.update_channel(c.id(), s.ChannelPatch(status="enabled")), "Enable a channel",
               returns=s.ChannelOut),
    AdminRoute("GET", "/api/keys", lambda c: c.op.keys(c.query.get("user_id"), c.query.get("kind")),
               "List keys, client and admin", returns=s.KeyOut, many=True, query=_KEY_QUERY),
    AdminRoute("POST", "/api/keys", lambda c: c.op.create_key(c.body),
               "Issue a key, client or admin (its value is shown once)", body=s.KeyIn, returns=s.KeyCreated,
               conflicts=True),
    AdminRoute("GET", "/api/keys/{id}", lambda c: c.op.key(c.id()), "Show a key", returns=s.KeyOut),
    AdminRoute("PATCH", "/api/keys/{id}", lambda c: c.op.update_key(c.id(), c.body), "Change a key",
               body=s.KeyPatch, returns=s.KeyOut, conflicts=True),
    AdminRoute("DELETE", "/api/keys/{id}", lambda c: c.op.revoke_key(c.id()), "Revoke (disable) a key",
               returns=s.KeyOut, conflicts=True),
    AdminRoute("POST", "/api/keys/{id}/rotate", lambda c: c.op.rotate_key(c.id()),
               "Give a key a new value (shown once); the old one stops working", returns=s.KeyCreated),
    AdminRoute("GET", "/api/users", lambda c: c.op.users(), "List users", returns=s.UserOut, many=True),
    AdminRoute("POST", "/api/users", lambda c: c.op.create_user(c.body), "Create a user", body=s.UserIn,
               returns=s.UserOut, conflicts=True),
    AdminRoute("GET", "/api/users/{id}", lambda c: c.op.user(c.id()), "Show a user", returns=s.UserOut),
    AdminRoute("PATCH", "/api/users/{id}", lambda c: c.op.update_user(c.id(), c.body), "Change a user",
               body=s.UserPatch, returns=s.UserOut, conflicts=True),
    AdminRoute("DELETE", "/api/users/{id}", lambda c: _done(c.op.delete_user(c.id())),
               "Delete a user and their keys (log rows stay)", conflicts=True),
    AdminRoute("POST", "/api/users/{id}/topup", lambda c: c.op.top_up(c.id(), c.body), "Add to a user's balance",
               body=s.TopUp, returns=s.UserOut),
    AdminRoute("PUT", "/api/users/{id}/balance", lambda c: c.op.set_balance(c.id(), c.body),
               "Set a user's balance (corrections)", body=s.BalanceSet, returns=s.UserOut),
    AdminRoute("GET", "/api/groups", lambda c: c.op.groups(), "List groups (with the built-in default)",
               returns=s.GroupOut, many=True),
    AdminRoute("PUT", "/api/groups", lambda c: c.op.set_group(c.body), "Create or change a group", body=s.GroupIn,
               returns=s.GroupOut),
    AdminRoute("DELETE", "/api/groups/{name}", lambda c: _done(c.op.delete_group(c.text("name"))), "Delete a group"),
    AdminRoute("GET", "/api/prices", lambda c: c.op.prices(),
               "Every model's effective price: the operator's, else the built-in default (source says which)",
               returns=s.PriceOut, many=True),
    AdminRoute("PUT", "/api/prices/{model}", lambda c: c.op.set_price(c.text("model"), c.body),
               "Set a model's price", body=s.PriceIn, returns=s.PriceOut),
    AdminRoute("DELETE", "/api/prices/{model}", lambda c: _done(c.op.delete_price(c.text("model"))),
               "Remove the operator's price of a model"),
    AdminRoute("GET", "/api/all-tools", lambda c: c.op.all_tools(),
               "All-tools models (file analysis): the built-in ones and the operator's", returns=fs.AllToolsOut,
               many=True),
    AdminRoute("PUT", "/api/all-tools/{model}", lambda c: c.op.set_all_tools(c.text("model"), c.body),
               "Mark a model all-tools (or turn a built-in one off)", body=fs.AllToolsIn, returns=fs.AllToolsOut),
    AdminRoute("DELETE", "/api/all-tools/{model}",
               lambda c: _done(c.op.delete_all_tools(c.text("model"))),
               "Remove the operator's mark (a built-in model returns to its default)"),
    AdminRoute("GET", "/api/fetch-allow", lambda c: c.op.fetch_allow(c.svc.settings.fetch_allow),
               "The fetcher's allow-list: RELAYGATE_FETCH_ALLOW, then the stored entries", returns=fs.FetchAllowOut,
               many=True),
    AdminRoute("POST", "/api/fetch-allow", lambda c: c.op.add_fetch_allow(c.body),
               "Exempt an intranet source from the private-address block", body=fs.FetchAllowIn,
               returns=fs.FetchAllowOut),
    AdminRoute("DELETE", "/api/fetch-allow/{id}", lambda c: _done(c.op.delete_fetch_allow(c.id())),
               "Remove a stored allow-list entry"),
    AdminRoute("GET", "/api/logs", _logs, "Request logs (newest first)", returns=s.LogOut, many=True,
               query=_LOG_QUERY),
    AdminRoute("GET", "/api/audit", _audit, "Who changed what, newest first", returns=s.AuditOut, many=True,
               query=_AUDIT_QUERY),
    AdminRoute("GET", "/api/self", lambda c: c.op.user(c.caller.user_id), "The calling key's user",
               returns=s.UserOut, audience="user"),
    AdminRoute("PATCH", "/api/self", lambda c: c.op.update_user(c.caller.user_id, c.body),
               "Change your own display name", body=s.SelfPatch, returns=s.UserOut, audience="user",
               conflicts=True),
    AdminRoute("GET", "/api/self/logs", lambda c: _logs(c, c.caller.user_id), "Your own request logs",
               returns=s.LogOut, many=True, audience="user", query=_SELF_LOG_QUERY),
    *ACCOUNT_ROUTES,
)


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        # a model name may hold slashes (OpenRouter's openai/gpt-4o): taken whole, as /v1/models/{model} does
        app.router.add_route(route.method, route.path.replace("{model}", "{model:.+}"), handler(route))
