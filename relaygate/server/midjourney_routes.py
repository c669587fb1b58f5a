"""The MidJourney query routes (the submits are the midjourney operation's, in relay_routes): GET task/{id}/fetch,
POST task/list-by-condition, GET task/{id}/image-seed under /mj and each mode prefix, answered from the task
store; and GET /mj/image/{id}, a task's image behind a signed link that needs no key."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from relaygate.core.errors import Forbidden, NotFound, RelayError
from relaygate.core.records import KeyRecord
from relaygate.protocols.midjourney import Mode
from relaygate.protocols.midjourney_submit import check_task_id, parse_task_ids
from relaygate.relay.auth import authenticate, check_ip, key_from_headers
from relaygate.relay.inbound import decode_body
from relaygate.server.body import HttpBody
from relaygate.server.cors import is_preflight
from relaygate.server.errors import midjourney_error_response
from relaygate.server.openai_routes import access_log, client_ip, new_request_id, unknown_route
from relaygate.server.state import services
from relaygate.tasks.links import LinkCheck
from relaygate.tasks.runtime import MidjourneyTasks

log = logging.getLogger("relaygate.server")

Query = Callable[[web.Request, KeyRecord, MidjourneyTasks], Awaitable[bytes]]
_MODES = frozenset(m.value for m in Mode)


def _tasks(request: web.Request) -> MidjourneyTasks:
    tasks = services(request).midjourney
    assert tasks is not None, "the MidJourney services are built in the app start-up"
    return tasks


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _respond(request: web.Request, request_id: str, started: float, status: int, body: bytes,
             content_type: str = "application/json", headers: dict[str, str] | None = None) -> web.Response:
    access_log(request, request_id, status, started)
    return web.Response(status=status, body=body, content_type=content_type,
                        headers={"X-Request-Id": request_id, **(headers or {})})


def query_handler(query: Query) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A query route: the caller's key checked as for any relayed request, errors in midjourney-proxy's shape."""

    async def handler(request: web.Request) -> web.Response:
        started, request_id = time.perf_counter(), new_request_id()
        try:
            mode = request.match_info.get("mode")
            if mode is not None and mode not in _MODES:
                raise NotFound(f"/mj-{mode} is not a MidJourney mode; the prefixes are /mj-fast, /mj-relax and "
                               "/mj-turbo (or none).", code="unknown_url")
            svc = services(request)
            key = authenticate(svc.catalogs.catalog, key_from_headers(request.headers), time.time())
            check_ip(key, client_ip(request))
            body = await query(request, key, _tasks(request))
        except RelayError as err:
            access_log(request, request_id, err.status, started)
            return midjourney_error_response(err, request_id)
        except Exception:
            log.exception("unexpected failure", extra={"request_id": request_id})
            access_log(request, request_id, 500, started)
            return midjourney_error_response(RelayError("The relay failed unexpectedly; try again."), request_id)
        return _respond(request, request_id, started, 200, body)

    return handler


async def fetch(request: web.Request, key: KeyRecord, tasks: MidjourneyTasks) -> bytes:
    task_id = check_task_id(request.match_info["id"], "id")
    return orjson.dumps(await tasks.queries.fetch(key, task_id, tasks.link_for(_base(request))))


async def list_by_condition(request: web.Request, key: KeyRecord, tasks: MidjourneyTasks) -> bytes:
    body = decode_body(await HttpBody(request).read(services(request).settings.max_body_bytes)) \
        if request.body_exists else {}
    ids = parse_task_ids(body)
    return orjson.dumps(await tasks.queries.list(key, ids, tasks.link_for(_base(request))))


async def image_seed(request: web.Request, key: KeyRecord, tasks: MidjourneyTasks) -> bytes:
    task_id = check_task_id(request.match_info["id"], "id")
    return orjson.dumps((await tasks.queries.image_seed(key, task_id)).to_json())


async def image(request: web.Request) -> web.Response:
    """A task's image for whoever holds its signed link (an `<img src>`: no key)."""
    started, request_id = time.perf_counter(), new_request_id()
    try:
        tasks = _tasks(request)
        task_id = request.match_info["id"]
        check = tasks.links.check(task_id, request.query.get("expires"), request.query.get("sig"), time.time())
        if check is LinkCheck.INVALID:
            raise Forbidden("This image link is not valid; fetch the task again for its link.", code="invalid_link")
        if check is LinkCheck.EXPIRED:
            raise Forbidden("This image link has expired; fetch the task again for a fresh one.", code="link_expired")
        found = await tasks.images.image(check_task_id(task_id, "id"))
    except RelayError as err:
        access_log(request, request_id, err.status, started)
        return midjourney_error_response(err, request_id)
    except Exception:
        log.exception("unexpected failure", extra={"request_id": request_id})
        access_log(request, request_id, 500, started)
        return midjourney_error_response(RelayError("The relay failed unexpectedly; try again."), request_id)
    cache = "private, max-age=86400, immutable" if found.final else "no-store"
    return _respond(request, request_id, started, 200, found.data, found.content_type, {"Cache-Control": cache})


async def unknown(request: web.Request) -> web.Response:
    """A path or method under /mj that no route takes: code 3 in midjourney-proxy's shape, as an unknown submit
    route is (a CORS preflight is answered as everywhere)."""
    if is_preflight(request):
        return await unknown_route(request)
    err = NotFound(f"Unknown MidJourney URL: {request.method} {request.path}. The routes are POST /mj/submit/..., "
                   "GET /mj/task/{id}/fetch, POST /mj/task/list-by-condition and GET /mj/task/{id}/image-seed "
                   "(and the same under /mj-fast, /mj-relax, /mj-turbo).", code="unknown_url")
    return midjourney_error_response(err, new_request_id())


def add_routes(app: web.Application) -> None:
    """After the submit routes (relay_routes): the last of these takes whatever under /mj no other route took."""
    for prefix in ("", "/mj-{mode}"):
        app.router.add_get(prefix + "/mj/task/{id}/fetch", query_handler(fetch))
        app.router.add_post(prefix + "/mj/task/list-by-condition", query_handler(list_by_condition))
        app.router.add_get(prefix + "/mj/task/{id}/image-seed", query_handler(image_seed))
    app.router.add_get("/mj/image/{id}", image)
    for prefix in ("", "/mj-{mode}"):
        app.router.add_route("*", prefix + "/mj/{tail:.*}", unknown)
