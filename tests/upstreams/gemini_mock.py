"""MockGemini: a strict Google Gemini API (Generative Language API v1beta) upstream, a real aiohttp server on
127.0.0.1 in its own thread.

It serves POST /v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse (plus GET /v1beta/models
and /v1beta/models/{model}), checks the API key (x-goog-api-key header or ?key=) and validates every body the way
Google does, answering errors in Google's shape: {"error": {"code", "message", "status", "details"?}}.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import gemini_wire as wire
from tests.upstreams.server import MockServer, reset_connection

MODES = ("ok", "500", "503", "429", "400", "403", "timeout", "reset", "stream_cut", "stream_error")
METHODS = ("generateContent", "streamGenerateContent")

log = logging.getLogger("tests.upstreams.gemini_mock")
_UNPARSABLE = object()
_GENERATE = re.compile(r"/v1beta/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any


class MockGemini(MockServer):
    """Behaviour is set by attributes (`mode`, `reply_text`, `finish_reason_override`, …) and by one-shot
    `fail_next` modes; `reset()` restores the defaults."""

    NAME = "MockGemini"
    MODES = MODES

    def __init__(self, *, api_keys: Iterable[str] = ("gemini-upstream-test",),
                 models: Iterable[str] = ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro")) -> None:
        self.api_keys = frozenset(api_keys)
        self.models = list(models)
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self._serial = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()
        self.mode = "ok"
        self.stream_delay = 0.0
        self.stream_chunks = 3
        self.reply_text: str | None = None
        self.hang_seconds = 30.0
        self.streams_finished_at: list[float] = []
        self.finish_reason_override: str | None = None
        """Force every candidate's finishReason; a blocking one (SAFETY, RECITATION, …) comes without content."""
        self.prompt_block_reason: str | None = None
        """Block the prompt (e.g. "SAFETY"): no candidates, a promptFeedback with this blockReason."""
        self.parallel_tools = False
        """Answer a function-calling request with two functionCall parts instead of one."""
        self.thoughts_tokens = 64
        """thoughtsTokenCount when thinking is on (capped by a positive thinkingBudget)."""
        self.call_ids = False
        """Give functionCall parts an id, as Vertex AI and newer models do."""
        self.require_thought_signatures = False
        """Gemini 3 rules: functionCall parts carry a thoughtSignature, and function calls of the current turn sent
        back without theirs are refused."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def url(self, model: str, method: str = "generateContent") -> str:
        """The full URL of a model method; streamGenerateContent gets ?alt=sse."""
        suffix = "?alt=sse" if method == "streamGenerateContent" else ""
        return f"{self.base_url}/v1beta/models/{model}:{method}{suffix}"

    def knows(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, m) for m in self.models)

    def _behaviour(self) -> wire.Behaviour:
        return wire.Behaviour(reply_text=self.reply_text, finish_reason_override=self.finish_reason_override,
                              prompt_block_reason=self.prompt_block_reason, parallel_tools=self.parallel_tools,
                              thoughts_tokens=self.thoughts_tokens, call_ids=self.call_ids,
                              thought_signatures=self.require_thought_signatures)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: Any = orjson.loads(raw) if raw else _UNPARSABLE
        except orjson.JSONDecodeError:
            parsed = _UNPARSABLE
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, dict(request.query),
                                                 dict(request.headers), raw,
                                                 None if parsed is _UNPARSABLE else parsed))
            self._serial += 1
            serial = self._serial
        try:
            self._authenticate(request)
            mode = self._next_mode()
            failure = wire.mode_error(mode)
            if failure is not None:
                raise failure
            if mode == "timeout":
                await asyncio.sleep(self.hang_seconds)
            elif mode == "reset":
                return await reset_connection(request)
            return await self._route(request, parsed, serial, mode)
        except wire.GeminiError as err:
            return _json(err.body(), status=err.code, headers=err.headers)
        except Exception as exc:
            log.exception("MockGemini failed on %s %s", request.method, request.path)
            bug = wire.GeminiError(500, f"MockGemini bug: {exc!r}", "INTERNAL")
            return _json(bug.body(), status=500)

    def _authenticate(self, request: web.Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
        if not key:
            if request.headers.get("Authorization"):
                raise wire.bearer_instead_of_key()
            raise wire.missing_key()
        if key not in self.api_keys:
            raise wire.bad_key()

    async def _route(self, request: web.Request, body: Any, serial: int, mode: str) -> web.StreamResponse:
        path = request.path
        if request.method == "GET" and path == "/v1beta/models":
            return _json({"models": [wire.model_resource(m) for m in self.models]})
        if request.method == "GET" and path.startswith("/v1beta/models/") and ":" not in path:
            name = path.removeprefix("/v1beta/models/")
            if not self.knows(name):
                raise wire.GeminiError(404, f"models/{name} is not found for API version v1beta, or is not "
                                            "supported for getModel.", "NOT_FOUND")
            return _json(wire.model_resource(name))
        match = _GENERATE.fullmatch(path)
        if match is None or request.method != "POST":
            raise wire.GeminiError(404, f"MockGemini: no such method: {request.method} {path} (it serves POST "
                                        "/v1beta/models/{model}:generateContent and "
                                        ":streamGenerateContent?alt=sse)", "NOT_FOUND")
        model, method = match["model"], match["method"]
        if method not in METHODS:
            raise wire.GeminiError(404, f"MockGemini: method {method} is not served (only generateContent and "
                                        "streamGenerateContent)", "NOT_FOUND")
        if not self.knows(model):
            raise wire.model_not_found(model, method)
        stream = method == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            raise wire.invalid_argument("MockGemini: streamGenerateContent without alt=sse answers one JSON array "
                                        "at the end instead of server-sent events; a relay must call "
                                        f":streamGenerateContent?alt=sse (got alt={request.query.get('alt')!r}).")
        if request.content_type != "application/json":
            raise wire.invalid_argument(f"MockGemini: Content-Type must be application/json, not "
                                        f"{request.content_type or 'none'}.")
        if body is _UNPARSABLE:
            raise wire.invalid_argument("Invalid JSON payload received. Unexpected token.")
        req = wire.validate(body, require_thought_signatures=self.require_thought_signatures)
        answer = wire.plan(req, self._behaviour(), serial)
        if not stream:
            return _json(wire.response(answer, model, serial))
        events = wire.stream_responses(answer, model, serial, self.stream_chunks)
        return await self._send_events(request, events, mode)

    async def _send_events(self, request: web.Request, events: list[dict[str, Any]], mode: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        cut_after = 2 if mode in ("stream_cut", "stream_error") else None
        try:
            for i, event in enumerate(events):
                if i and self.stream_delay > 0:
                    await asyncio.sleep(self.stream_delay)
                await resp.write(b"data: " + orjson.dumps(event) + b"\r\n\r\n")
                if cut_after is not None and i + 1 >= cut_after:
                    if mode == "stream_cut":
                        return await reset_connection(request, resp)
                    await resp.write(b"data: " + orjson.dumps(wire.internal_error().body()) + b"\r\n\r\n")
                    break
            if cut_after is None:  # noted before the end reaches the client, which may look right after
                self.streams_finished_at.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp


def _json(obj: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json",
                        charset="utf-8", headers=headers)
