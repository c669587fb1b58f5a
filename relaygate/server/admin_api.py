"""How an admin route answers: the caller (a key, or a console session with its CSRF token), the body and
parameters checked, the verb, errors as JSON.

Every answer, an error too, is JSON with an X-Request-Id; a failure nobody foresaw is logged and answered 500
in the same shape, never as aiohttp's plain text.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from relaygate.admin.actor import Actor
from relaygate.admin.schemas import first_error, where
from relaygate.admin.service import Operator
from relaygate.core.errors import BadRequest, BodyTooLarge, Forbidden, RelayError, Unauthorized
from relaygate.core.records import KeyRecord
from relaygate.relay.auth import authenticate, key_from_headers
from relaygate.server.errors import error_response
from relaygate.server.openai_routes import new_request_id
from relaygate.server.params import Param, path_id, path_text, read_query
from relaygate.server.state import Services, services

log = logging.getLogger("relaygate.admin")

SESSION_COOKIE = "relaygate_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Audience = Literal["admin", "user", "account", "public", "anyone"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a key's user, or the user of a console session (`session`: its cookie's value)."""

    user_id: int
    role: str
    name: str = ""
    key: KeyRecord | None = None
    session: str | None = None
    csrf_token: str | None = None

    def actor(self, request_id: str) -> Actor:
        if self.key is not None:
            return Actor.of_key(self.key, request_id)
        return Actor(f"console session of user {self.user_id} ({self.name})", None, self.user_id, request_id)


@dataclass(slots=True)
class AdminCall:
    """One admin request as a verb sees it: the operator acting for the caller, the checked body and query."""

    op: Operator
    svc: Services
    request: web.Request
    body: Any
    found: Caller | None
    query: dict[str, Any]
    then: list[Callable[[web.Response], None]] = field(default_factory=list)
    """What to do to the answer before it is sent (set or clear the session cookie)."""

    @property
    def caller(self) -> Caller:
        if self.found is None:
            raise Unauthorized("Log in first.", code="login_required")
        return self.found

    def id(self, name: str = "id") -> int:
        return path_id(self.request.match_info, name)

    def text(self, name: str) -> str:
        return path_text(self.request.match_info, name)


Call = Callable[[AdminCall], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AdminRoute:
    method: str
    path: str
    call: Call
    summary: str
    body: type[BaseModel] | None = None
    returns: type[BaseModel] | None = None
    many: bool = False
    audience: Audience = "admin"
    """admin: an admin key, or the session, of a user with the admin role; user: any usable key or any session,
    acting on its own user; account: a session or an admin key (not a client key: changing a password or issuing
    keys); public: no one needed (a session is read if there is one); anyone: no one, and no session read."""
    query: tuple[Param, ...] = ()
    conflicts: bool = False
    """May answer 409: a name that exists, or the last admin's access."""
    errors: tuple[int, ...] = ()
    """Other error statuses it may answer (429 for a locked log-in, 404 for an unknown code)."""


def _key_caller(svc: Services, raw: str, audience: Audience) -> Caller:
    key = authenticate(svc.catalogs.catalog, raw, time.time(), kind="admin" if audience == "admin" else None)
    if audience == "account" and key.kind != "admin":
        raise Forbidden("A client key cannot issue keys or change a password: log in to the console, or use an "
                        "admin key.", code="session_required")
    if audience == "admin" and key.user_role != "admin":
        raise Forbidden("This admin key's user does not have the admin role (any more); an admin can restore it.",
                        code="admin_only")
    return Caller(key.user_id, key.user_role, key.name, key=key)


async def _session_caller(svc: Services, request: web.Request, audience: Audience) -> Caller | None:
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        if audience in ("public", "anyone"):
            return None
        raise Unauthorized("Log in, or send an API key as 'Authorization: Bearer sk-...'.", code="invalid_api_key")
    found = await svc.logins.session(token)
    if found is None:
        if audience == "public":
            return None
        raise Unauthorized("Your session has ended; log in again.", code="invalid_session")
    # A browser marks a request a page of this very origin made (Fetch Metadata; no page can forge the header):
    # that is no forgery, so such a request needs no token.
    if request.method not in _SAFE_METHODS and request.headers.get("Sec-Fetch-Site") != "same-origin":
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise Forbidden(f"This change needs the session's {CSRF_HEADER} header; reload the console.",
                            code="csrf_failed")
    if audience == "admin" and found.role != "admin":
        raise Forbidden("admin only: this needs a user with the admin role.", code="admin_only")
    return Caller(found.user_id, found.role, found.name, session=token, csrf_token=found.csrf_token)


async def _caller(svc: Services, request: web.Request, audience: Audience) -> Caller | None:
    raw = key_from_headers(request.headers)
    if raw is not None and audience != "anyone":
        return _key_caller(svc, raw, audience)
    if audience == "anyone":
        return None
    return await _session_caller(svc, request, audience)


async def _parse(request: web.Request, model: type[BaseModel], max_bytes: int) -> BaseModel:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"The request body is larger than {max_bytes} bytes.") from None
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: ValidationError) -> BadRequest:
    first = first_error(exc)
    at = where(first["loc"])
    return BadRequest(f"{at or 'body'}: {first['msg']}", param=at or None)


def _dump(value: Any) -> bytes:
    if isinstance(value, list):
        return orjson.dumps([v.model_dump(mode="json") for v in value])
    if isinstance(value, BaseModel):
        return orjson.dumps(value.model_dump(mode="json"))
    return orjson.dumps({"ok": True})


def handler(route: AdminRoute) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        request_id = new_request_id()
        svc = services(request)
        try:
            caller = await _caller(svc, request, route.audience)
            query = read_query(request.query, route.query)
            body = await _parse(request, route.body, svc.settings.max_body_bytes) if route.body is not None else None
            op = svc.operator.by(caller.actor(request_id)) if caller is not None else svc.operator
            call = AdminCall(op, svc, request, body, caller, query)
            result = await route.call(call)
        except RelayError as err:
            return error_response(err, request_id)
        except ValidationError as exc:  # a verb's own model (a query's filters) refused what it was given
            return error_response(invalid(exc), request_id)
        except Exception:
            log.exception("admin request failed unexpectedly", extra={"request_id": request_id, "path": route.path})
            return error_response(RelayError("The admin request failed unexpectedly; the server log has the "
                                             "details under this request id."), request_id)
        response = web.Response(body=_dump(result), content_type="application/json",
                                headers={"X-Request-Id": request_id, "Cache-Control": "no-store"})
        for step in call.then:
            step(response)
        return response

    return handle
