"""The web console, served by relaygate itself: one page (plain HTML, CSS and JavaScript modules shipped in the
package, nothing built or fetched at run time) for every console URL, its assets and the favicon.

The page's Content-Security-Policy lets it load scripts, styles, images and fonts from this origin only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

PAGES = ("/", "/login", "/register", "/dashboard", "/channels", "/keys", "/users", "/logs", "/prices",
         "/redemptions", "/redeem", "/account")
"""The console's own URLs (the page picks what to show from its address)."""
STATIC = Path(str(resources.files("relaygate.console"))) / "static"
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def add_routes(app: web.Application) -> None:
    page = (STATIC / "index.html").read_bytes()
    icon = (STATIC / "favicon.svg").read_bytes()

    async def console(_: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=_HEADERS)

    async def favicon(_: web.Request) -> web.Response:
        return web.Response(body=icon, content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"})

    for path in PAGES:
        app.router.add_get(path, console)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/assets", STATIC, append_version=False)

    async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/assets/"):
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Cache-Control", "no-cache")

    app.on_response_prepare.append(security_headers)
