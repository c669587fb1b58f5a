"""How an admin route answers: the caller's key, the body and parameters checked, the verb, errors as JSON.

Every answer, an error too, is JSON with an X-Request-Id; a failure nobody foresaw is logged and answered 500
in the same shape, never as aiohttp's plain text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from relaygate.admin.actor import Actor
from relaygate.admin.schemas import where
from relaygate.admin.service import Operator
from relaygate.core.errors import BadRequest, BodyTooLarge, Forbidden, RelayError
from relaygate.core.records import KeyRecord
from relaygate.relay.auth import authenticate, key_from_headers
from relaygate.server.errors import error_response
from relaygate.server.openai_routes import new_request_id
from relaygate.server.params import Param, path_id, path_text, read_query
from relaygate.server.state import Services, services

log = logging.getLogger("relaygate.admin")


@dataclass(slots=True)
class AdminCall:
    """One admin request as a verb sees it: the operator acting for the caller, the checked body and query."""

    op: Operator
    svc: Services
    request: web.Request
    body: Any
    caller: KeyRecord
    query: dict[str, Any]

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
    audience: str = "admin"
    """admin: an admin key of a user with the admin role; user: any usable key, acting on its own user."""
    query: tuple[Param, ...] = ()
    conflicts: bool = False
    """May answer 409: a name that exists, or the last admin's access."""


def _caller(svc: Services, request: web.Request, audience: str) -> KeyRecord:
    raw = key_from_headers(request.headers)
    key = authenticate(svc.catalogs.catalog, raw, time.time(), kind="admin" if audience == "admin" else None)
    if audience == "admin" and key.user_role != "admin":
        raise Forbidden("This admin key's user does not have the admin role (any more); an admin can restore it.",
                        code="admin_only")
    return key


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
    first = exc.errors(include_url=False, include_input=False)[0]
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
            caller = _caller(svc, request, route.audience)
            query = read_query(request.query, route.query)
            body = await _parse(request, route.body, svc.settings.max_body_bytes) if route.body is not None else None
            call = AdminCall(svc.operator.by(Actor.of_key(caller, request_id)), svc, request, body, caller, query)
            result = await route.call(call)
        except RelayError as err:
            return error_response(err, request_id)
        except ValidationError as exc:  # a verb's own model (a query's filters) refused what it was given
            return error_response(invalid(exc), request_id)
        except Exception:
            log.exception("admin request failed unexpectedly", extra={"request_id": request_id, "path": route.path})
            return error_response(RelayError("The admin request failed unexpectedly; the server log has the "
                                             "details under this request id."), request_id)
        return web.Response(body=_dump(result), content_type="application/json",
                            headers={"X-Request-Id": request_id})

    return handle
