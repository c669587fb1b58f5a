"""MockMidjourney: a strict midjourney-proxy upstream (novicezk's protocol with trueai's "plus" routes), a real
aiohttp server on 127.0.0.1 in its own thread.

Routes, under /mj and the same under /mj-fast/mj, /mj-relax/mj and /mj-turbo/mj (each request records the mode
it came under): POST submit/imagine, submit/action, submit/blend, submit/describe, submit/modal, submit/shorten,
insight-face/swap, task/list-by-condition; GET task/{id}/fetch, task/{id}/image-seed. Every one needs the
`mj-api-secret` header (401 with no body otherwise, as midjourney-proxy answers). Result images are real PNGs
served without credentials from GET /attachments/{task id}/{name}.png, as Discord's CDN serves them.

Tasks progress one phase per `step_seconds` (or per `advance()` when it is None): NOT_START → SUBMITTED 0% →
IN_PROGRESS 25/50/75% → SUCCESS 100% with an image and buttons, or as the outcome says (`outcome`, or a marker in
the prompt: "[mock fail]", "[mock cancel]", "[mock stuck]", "[mock vanish]"). Submissions answer codes 1, 21
(exists; or a MODAL task for buttons a modal confirms), 22, 23, 24, 4, 9 and 3, on demand through `submit_code`,
`refuse_next()` or a prompt marker ("[mock exists]", "[mock queued]", "[mock queue full]", "[mock banned]",
"[mock invalid]", "[mock error]", "[mock no account]").
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import midjourney_wire as wire
from tests.upstreams.midjourney_submits import Refusal, Submits
from tests.upstreams.server import MockServer, reset_connection

MODES = ("ok", "500", "401", "timeout", "reset")
SUBMIT_CODES = (3, 4, 9, 21, 22, 23, 24)

log = logging.getLogger("tests.upstreams.midjourney_mock")
_UNPARSABLE = object()
_PATH = re.compile(r"/mj(?:-(?P<mode>fast|relax|turbo)/mj)?/(?P<route>.+)")
_IMAGE = re.compile(r"/attachments/(?P<task>[^/]+)/(?P<name>[A-Za-z0-9_]+)\.png")
_TASK_ROUTE = re.compile(r"task/(?P<id>[^/]+)/(?P<what>fetch|image-seed)")

Handler = Callable[[dict[str, Any], str | None], Awaitable[web.Response]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    route: str | None
    """The route after the /mj/ prefix ("submit/imagine", "task/1/fetch"), "image" for an image, None if neither."""
    mode: str | None
    """fast, relax or turbo when the path carried that prefix, None under plain /mj."""
    headers: dict[str, str]
    body: bytes
    json: Any


class MockMidjourney(MockServer):
    """Behaviour is set by attributes (`step_seconds`, `outcome`, `submit_code`, `remix`, …), by `refuse_next()`
    and by one-shot `fail_next` transport modes; `reset()` restores the defaults and forgets every task."""

    NAME = "MockMidjourney"
    MODES = MODES

    def __init__(self, *, secret: str = "mj-upstream-secret") -> None:
        self.secret = secret
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, wire.MockTask] = {}
        self._codes: list[int] = []
        self._serial = 0
        self.submits = Submits(self)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()
            self.tasks.clear()
            self._codes.clear()
        self.mode = "ok"
        self.step_seconds: float | None = 0.05
        """Seconds per phase; None moves tasks only when a test calls advance()."""
        self.outcome = "success"
        self.submit_code: int | None = None
        """A code every submission answers (after validation), instead of 1."""
        self.remix = False
        """The account's remix mode: variation, reroll and pan wait for a modal (code 21) like inpaint does."""
        self.fail_reason = wire.DEFAULT_FAIL_REASON
        self.banned_words: tuple[str, ...] = ("nude", "[mock banned]")
        self.image_base: str | None = None
        """Where task images point (another host than this one, say); this server's own URL when None."""
        self.hang_seconds = 30.0

    @property
    def base_url(self) -> str:
        """The channel base URL: routes are under {base_url}/mj."""
        return f"http://127.0.0.1:{self._port}"

    # ---------------------------------------------------------------- what tests drive and read

    def refuse_next(self, *codes: int) -> None:
        """The next submissions answer these codes (after validation), one each."""
        unknown = [c for c in codes if c not in SUBMIT_CODES]
        if unknown:
            raise ValueError(f"unknown submit codes {unknown}; known: {SUBMIT_CODES}")
        with self._lock:
            self._codes.extend(codes)

    def advance(self, task_id: str | None = None, steps: int = 1) -> None:
        """Move one task (or every task) on by `steps` phases."""
        with self._lock:
            for task in [self.tasks[task_id]] if task_id else list(self.tasks.values()):
                task.manual_steps += steps
                task.settle(self.step_seconds, self.fail_reason)

    def task(self, task_id: str) -> dict[str, Any] | None:
        """The task as fetch answers it now; None when unknown or forgotten."""
        with self._lock:
            task = self.settled_task(task_id)
            return task.json(self._image_base()) if task is not None else None

    def calls(self, route: str) -> list[RecordedRequest]:
        """Requests to a route: "submit/imagine", "task/list-by-condition", "fetch", "image-seed" or "image"."""
        with self._lock:
            return [r for r in self.requests if r.route is not None and (
                r.route == route or r.route.endswith("/" + route))]

    @property
    def fetch_calls(self) -> int:
        return len(self.calls("fetch"))

    @property
    def list_calls(self) -> int:
        return len(self.calls("task/list-by-condition"))

    def list_batches(self) -> list[list[Any]]:
        """The ids each list-by-condition call asked for, in order."""
        return [r.json.get("ids") if isinstance(r.json, dict) else None for r in self.calls("task/list-by-condition")]

    # ---------------------------------------------------------------- serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: Any = orjson.loads(raw) if raw else _UNPARSABLE
        except orjson.JSONDecodeError:
            parsed = _UNPARSABLE
        match, image = _PATH.fullmatch(request.path), _IMAGE.fullmatch(request.path)
        route = match["route"] if match else ("image" if image else None)
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, route, match["mode"] if match else None,
                                                 dict(request.headers), raw, None if parsed is _UNPARSABLE else parsed))
        try:
            if image is not None and request.method == "GET":
                return self._image(image["task"], image["name"])
            if match is None:
                raise wire.SpringError(404)
            if request.headers.get("mj-api-secret") != self.secret:
                return web.Response(status=401)
            mode = self._next_mode()
            if mode == "500":
                raise wire.SpringError(500)
            if mode == "401":
                return web.Response(status=401)
            if mode == "timeout":
                await asyncio.sleep(self.hang_seconds)
            elif mode == "reset":
                return await reset_connection(request)
            return await self._route(request, match["route"], match["mode"], parsed)
        except wire.SpringError as err:
            return _json(err.body(request.path), status=err.status)
        except Refusal as refusal:
            return _json(refusal.answer, status=refusal.status)
        except Exception as exc:
            log.exception("MockMidjourney failed on %s %s", request.method, request.path)
            return _json({"status": 500, "error": f"MockMidjourney bug: {exc!r}", "path": request.path}, status=500)

    async def _route(self, request: web.Request, route: str, mode: str | None, body: Any) -> web.Response:
        task_route = _TASK_ROUTE.fullmatch(route)
        if task_route is not None:
            if request.method != "GET":
                raise wire.SpringError(405)
            if task_route["what"] == "fetch":
                return self._fetch(task_route["id"])
            return self._image_seed(task_route["id"])
        submits = self.submits
        handlers: dict[str, Handler] = {
            "submit/imagine": submits.imagine, "submit/action": submits.action, "submit/blend": submits.blend,
            "submit/describe": submits.describe, "submit/modal": submits.modal, "submit/shorten": submits.shorten,
            "insight-face/swap": submits.swap_face, "task/list-by-condition": self._list_by_condition,
        }
        handler = handlers.get(route)
        if handler is None:
            raise wire.SpringError(404)
        if request.method != "POST":
            raise wire.SpringError(405)
        if request.content_type != "application/json":
            raise wire.SpringError(415)
        if not isinstance(body, dict):  # unparsable, empty, or JSON that is no object: Jackson cannot bind it
            raise wire.SpringError(400)
        return await handler(body, mode)

    def _fetch(self, task_id: str) -> web.Response:
        with self._lock:
            task = self.settled_task(task_id)
            if task is None:
                # midjourney-proxy's controller returns null for an unknown id: 200 with an empty body
                return web.Response(status=200, content_type="application/json")
            return _json(task.json(self._image_base()))

    async def _list_by_condition(self, body: dict[str, Any], mode: str | None) -> web.Response:
        ids = wire.text_list(body, "ids") or []
        with self._lock:
            found = [self.settled_task(i) for i in ids if i is not None]
            return _json([t.json(self._image_base()) for t in found if t is not None])

    def _image_seed(self, task_id: str) -> web.Response:
        with self._lock:
            task = self.settled_task(task_id)
            if task is None:
                return _json({"code": 3, "description": "关联任务不存在或已失效", "result": None, "properties": {}},
                             status=404)
            if task.status != "SUCCESS":
                return _json({"code": 4, "description": "关联任务状态错误", "result": None, "properties": {}},
                             status=400)
            seed = str(int(task.hash.replace("-", "")[:8], 16))
            return _json({"code": 1, "description": "成功", "result": seed, "properties": {}})

    def _image(self, task_id: str, name: str) -> web.Response:
        with self._lock:
            known = task_id in self.tasks
        if not known:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=wire.png(f"{task_id}/{name}"), content_type="image/png",
                            headers={"Cache-Control": "public, max-age=86400"})

    # ---------------------------------------------------------------- the task store (the submit routes use it)

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def settled_task(self, task_id: str) -> wire.MockTask | None:
        """The task brought up to date; None when unknown or forgotten. Call with the lock held."""
        task = self.tasks.get(task_id)
        if task is None:
            return None
        task.settle(self.step_seconds, self.fail_reason)
        return None if task.gone else task

    def new_id(self) -> str:
        with self._lock:
            self._serial += 1
            task_id = f"{int(time.time() * 1000)}{self._serial % 1000:03d}"
            while task_id in self.tasks:
                task_id = str(int(task_id) + 1)
            return task_id

    def take_code(self) -> int | None:
        with self._lock:
            return self._codes.pop(0) if self._codes else self.submit_code

    def _image_base(self) -> str:
        return self.image_base or self.base_url


def _json(obj: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")
