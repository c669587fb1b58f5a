"""The OpenAI-style billing routes browser chat apps (NextChat and others) call to show a balance, answered as
one-api and new-api answer them: a client key's limit and use in USD."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from relaygate.core.errors import RelayError
from relaygate.relay.auth import authenticate, check_ip, key_from_headers
from relaygate.server.errors import error_response
from relaygate.server.openai_routes import client_ip, new_request_id
from relaygate.server.state import services


async def _answer(request: web.Request, usage: bool) -> web.Response:
    request_id = new_request_id()
    svc = services(request)
    try:
        key = authenticate(svc.catalogs.catalog, key_from_headers(request.headers), time.time())
        check_ip(key, client_ip(request))
        limit, used, until = await svc.operator.billing(key)
    except RelayError as err:
        return error_response(err, request_id)
    if usage:
        body = {"object": "list", "total_usage": round(used * 100, 6)}
    else:
        body = {"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": limit,
                "hard_limit_usd": limit, "system_hard_limit_usd": limit, "access_until": until}
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers={"X-Request-Id": request_id})


async def subscription(request: web.Request) -> web.Response:
    return await _answer(request, usage=False)


async def usage(request: web.Request) -> web.Response:
    """start_date and end_date are accepted and, as in one-api, not read: the total is the key's whole use."""
    return await _answer(request, usage=True)


def add_routes(app: web.Application) -> None:
    for prefix in ("", "/v1"):
        app.router.add_get(prefix + "/dashboard/billing/subscription", subscription)
        app.router.add_get(prefix + "/dashboard/billing/usage", usage)
