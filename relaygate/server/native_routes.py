"""The Anthropic and Gemini front doors: their clients use relaygate with any upstream behind it."""

from __future__ import annotations

from aiohttp import web

from relaygate.core.errors import NotFound
from relaygate.core.types import Endpoint
from relaygate.relay.dialects import ANTHROPIC, GEMINI, RouteHints
from relaygate.server.errors import anthropic_error_response, gemini_error_response
from relaygate.server.openai_routes import new_request_id, relay_route

_GEMINI_METHODS = {"generateContent": False, "streamGenerateContent": True}


def gemini_hints(request: web.Request) -> RouteHints:
    model, _, method = request.match_info["target"].rpartition(":")
    return RouteHints(model=model or None, stream=_GEMINI_METHODS.get(method, False))


_messages = relay_route(Endpoint.CHAT, ANTHROPIC, render=anthropic_error_response)
_generate = relay_route(Endpoint.CHAT, GEMINI, gemini_hints, render=gemini_error_response)


async def gemini_call(request: web.Request) -> web.StreamResponse:
    model, _, method = request.match_info["target"].rpartition(":")
    if not model or method not in _GEMINI_METHODS:
        err = NotFound(f"Unknown method '{method or request.match_info['target']}'; relaygate serves "
                       "models/{model}:generateContent and :streamGenerateContent.")
        return gemini_error_response(err, new_request_id())
    return await _generate(request)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages", _messages)
    app.router.add_post("/v1beta/models/{target}", gemini_call)
