"""CORS, so browser apps (NextChat, LobeChat in client mode) can call the relay: preflights answered, and every
answer to an allowed Origin carries Access-Control-Allow-Origin.

Two lists (config.py): RELAYGATE_CORS_ORIGINS for /v1 and the native front doors (default `*`), and
RELAYGATE_ADMIN_CORS_ORIGINS for /api (default none: the admin API is not for web pages unless the operator
says so). Keys travel in headers, never cookies, so credentials are never allowed.
"""

from __future__ import annotations

from aiohttp import web

from relaygate.config import Settings
from relaygate.core.errors import Forbidden
from relaygate.server.errors import error_response

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSE_HEADERS = "X-Request-Id, Retry-After"
MAX_AGE = "600"
_ADMIN_PREFIXES = ("/api/", "/openapi.json", "/docs")


class CorsPolicy:
    """Which origins may call which routes."""

    def __init__(self, settings: Settings) -> None:
        self._client = settings.allowed_origins(admin=False)
        self._admin = settings.allowed_origins(admin=True)

    @property
    def active(self) -> bool:
        return bool(self._client or self._admin)

    def allowed(self, path: str, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for this origin on this path, None if it may not call it."""
        origins = self._admin if self._is_admin(path) else self._client
        if "*" in origins:
            return "*"
        return origin if origin in origins else None

    @staticmethod
    def _is_admin(path: str) -> bool:
        return path == "/api" or path.startswith(_ADMIN_PREFIXES)

    def preflight(self, request: web.Request, request_id: str) -> web.Response:
        """The answer to a browser's OPTIONS preflight: 204 with what it may send, or 403 for an origin
        that may not call this route (no CORS headers, so the browser refuses)."""
        origin = request.headers.get("Origin", "")
        allow = self.allowed(request.path, origin) if origin else None
        if allow is None:
            setting = "RELAYGATE_ADMIN_CORS_ORIGINS" if self._is_admin(request.path) else "RELAYGATE_CORS_ORIGINS"
            return error_response(Forbidden(f"This origin may not call {request.path} from a browser; the operator "
                                            f"lists the origins that may in {setting}.", code="origin_not_allowed"),
                                  request_id)
        headers = {
            "Access-Control-Allow-Origin": allow,
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Max-Age": MAX_AGE,
            "Vary": "Origin, Access-Control-Request-Headers",
        }
        wanted = request.headers.get("Access-Control-Request-Headers")
        if wanted:
            headers["Access-Control-Allow-Headers"] = wanted  # any header: keys come as headers, never cookies
        return web.Response(status=204, headers=headers)

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None or request.method == "OPTIONS":
            return
        allow = self.allowed(request.path, origin)
        if allow is not None:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            if allow != "*":
                response.headers["Vary"] = "Origin"


CORS = web.AppKey("cors", CorsPolicy)


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
