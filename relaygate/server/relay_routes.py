"""The relayed routes, generated from the operation registry: one handler per (operation, route), its errors in
the shape of the route's front door."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from relaygate.core.errors import RelayError
from relaygate.core.types import Dialect
from relaygate.relay.auth import key_from_headers
from relaygate.relay.exchange import Inbound
from relaygate.relay.operation import Route
from relaygate.relay.operations import OPERATIONS
from relaygate.server.body import HttpBody
from relaygate.server.errors import (
    ErrorRenderer,
    anthropic_error_response,
    error_response,
    gemini_error_response,
    midjourney_error_response,
)
from relaygate.server.openai_routes import access_log, client_ip, new_request_id
from relaygate.server.sink import HttpSink
from relaygate.server.state import services

log = logging.getLogger("relaygate.server")

RENDERERS: dict[str, ErrorRenderer] = {
    Dialect.OPENAI: error_response,
    Dialect.ANTHROPIC: anthropic_error_response,
    Dialect.GEMINI: gemini_error_response,
    "midjourney": midjourney_error_response,
}
"""Each front door's error shape, by dialect or by the name a route gives (Route.errors)."""


def relay_handler(operation: str, route: Route) -> Handler:
    """The handler of one relayed route."""
    render = RENDERERS[route.errors or route.dialect.name]

    async def handler(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = new_request_id()
        sink = HttpSink(request, request_id)
        key = key_from_headers(request.headers, request.query.get("key"))
        inbound = Inbound(HttpBody(request), key, client_ip(request), request_id, request.match_info,
                          request.rel_url.raw_query_string)
        try:
            try:
                await services(request).relay.handle(operation, route, inbound, sink)
            finally:
                if inbound.held is not None:
                    inbound.held.close()
        except RelayError as err:
            if not sink.streaming:
                access_log(request, request_id, err.status, started)
                return render(err, request_id)
            log.warning("relay failed after the stream opened", extra={"request_id": request_id})
        except Exception:
            log.exception("unexpected failure", extra={"request_id": request_id})
            if not sink.streaming:
                access_log(request, request_id, 500, started)
                return render(RelayError("The relay failed unexpectedly; try again."), request_id)
        assert sink.response is not None
        access_log(request, request_id, sink.response.status, started)
        return sink.response

    return handler


def add_routes(app: web.Application) -> None:
    for op in OPERATIONS:
        for route in op.routes:
            app.router.add_route(route.method, route.path, relay_handler(op.name, route))
