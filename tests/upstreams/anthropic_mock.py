"""MockAnthropic: a strict Anthropic Messages API upstream, a real aiohttp server on 127.0.0.1 in its own thread."""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import anthropic_wire as wire
from tests.upstreams.server import MockServer, reset_connection

MODES = ("ok", "500", "529", "429", "401", "400", "timeout", "reset", "stream_cut", "stream_error")

log = logging.getLogger("tests.upstreams.anthropic_mock")
_UNPARSABLE = object()
SERIAL = web.RequestKey("serial", int)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


class MockAnthropic(MockServer):
    """Behaviour is set by attributes and by one-shot `fail_next` modes.

    mode / fail_next: "ok"; "500" api_error; "529" overloaded_error; "429" rate_limit_error with retry-after;
    "401" authentication_error; "400" invalid_request_error (prompt is too long); "timeout" waits `hang_seconds`
    before answering; "reset" aborts the TCP connection; "stream_cut" aborts a stream after STREAM_CUT_AFTER
    events; "stream_error" sends an `error` event there and ends the stream (both stream modes answer non-streamed
    requests normally). Answers: `reply_text` (None: a fixed sentence, JSON when asked for json, tool results
    echoed), `parallel_tools` (two tool_use blocks), `cache_read_tokens` / `cache_creation_tokens` (reported in
    usage), `stream_chunks` text deltas per text block, `stream_delay` seconds between events.
    """

    NAME = "MockAnthropic"
    MODES = MODES

    def __init__(self, *, api_keys: Iterable[str] = ("sk-upstream-test",),
                 models: Iterable[str] = ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022",
                                          "claude-sonnet-4-20250514")) -> None:
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
            self._serial = 0  # ids (msg_mock1, toolu_mock1_1, req_mock1) count from 1 again
        self.mode = "ok"
        self.stream_delay = 0.0
        self.stream_chunks = 5
        self.reply_text: str | None = None
        self.hang_seconds = 30.0
        self.streams_finished_at: list[float] = []
        self.parallel_tools = False
        self.cache_read_tokens = 0
        self.cache_creation_tokens = 0
        self.stop_reason_override: str | None = None
        """Force the answer's stop_reason (e.g. "refusal", as Claude 4 models end a refused answer)."""

    @property
    def base_url(self) -> str:
        """What the anthropic SDK takes as base_url: the API paths (/v1/messages) are appended to it."""
        return f"http://127.0.0.1:{self._port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: Any = orjson.loads(raw) if raw else _UNPARSABLE
        except orjson.JSONDecodeError:
            parsed = _UNPARSABLE
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), raw,
                                                 None if parsed is _UNPARSABLE else parsed))
            self._serial += 1
            serial = self._serial
        request[SERIAL] = serial
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
        except wire.WireError as err:
            return _json(err.body(_request_id(serial)), serial, status=err.status, headers=err.headers)
        except Exception as exc:
            log.exception("MockAnthropic failed on %s %s", request.method, request.path)
            return _json(wire.WireError(500, f"MockAnthropic bug: {exc!r}", type_="api_error").body(
                _request_id(serial)), serial, status=500)

    def _authenticate(self, request: web.Request) -> None:
        """An API key goes in x-api-key (the classic form, what relays send) or, as the anthropic SDK 2.x sends it,
        as a Bearer token in Authorization; every key presented must be valid."""
        auth = request.headers.get("Authorization", "")
        keys = [k for k in (request.headers.get("x-api-key", ""), auth[7:] if auth.startswith("Bearer ") else "")
                if k]
        if not keys:
            raise wire.WireError(401, "x-api-key header is required", type_="authentication_error")
        if any(k not in self.api_keys for k in keys):
            raise wire.WireError(401, "invalid x-api-key", type_="authentication_error")

    def knows(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, m) for m in self.models)

    async def _route(self, request: web.Request, body: Any, serial: int, mode: str) -> web.StreamResponse:
        path, method = request.path, request.method
        known = path == "/v1/messages" or path == "/v1/models" or path.startswith("/v1/models/")
        if not known:
            raise wire.WireError(404, f"Not Found: {method} {path} (the Messages API is POST /v1/messages)",
                                 type_="not_found_error")
        version = wire.check_version(request.headers.get("anthropic-version"))
        if path == "/v1/models" and method == "GET":
            data = [wire.model_info(m) for m in self.models]
            return _json({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                          "last_id": data[-1]["id"] if data else None}, serial)
        if path.startswith("/v1/models/") and method == "GET":
            name = path.removeprefix("/v1/models/")
            if name not in self.models:
                raise wire.not_found(name)
            return _json(wire.model_info(name), serial)
        if path != "/v1/messages" or method != "POST":
            raise wire.WireError(405, f"Method Not Allowed: {method} {path}")
        if request.content_type != "application/json":
            raise wire.WireError(400, f"Content-Type must be application/json, got "
                                      f"'{request.content_type or 'none'}'")
        if body is _UNPARSABLE:
            raise wire.WireError(400, "The request body is not valid JSON")
        wire.validate_request(body, version)
        if not self.knows(body["model"]):
            raise wire.not_found(body["model"])
        reply = wire.build_reply(body, serial=serial, reply_text=self.reply_text, parallel_tools=self.parallel_tools)
        if self.stop_reason_override is not None:
            reply = dataclasses.replace(reply, stop_reason=self.stop_reason_override)
        msg = wire.message(body, reply, serial=serial, cache_read=self.cache_read_tokens,
                           cache_creation=self.cache_creation_tokens)
        if not body.get("stream"):
            return _json(msg, serial)
        events = wire.stream_events(msg, self.stream_chunks)
        return await self._send_events(request, events, mode)

    async def _send_events(self, request: web.Request, events: list[tuple[str, dict[str, Any]]],
                           mode: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "request-id": _request_id(request[SERIAL])})
        await resp.prepare(request)
        try:
            for i, (name, data) in enumerate(events):
                if i and self.stream_delay > 0:
                    await asyncio.sleep(self.stream_delay)
                await resp.write(_sse(name, data))
                if i + 1 >= wire.STREAM_CUT_AFTER and mode == "stream_cut":
                    return await reset_connection(request, resp)
                if i + 1 >= wire.STREAM_CUT_AFTER and mode == "stream_error":
                    await resp.write(_sse("error", wire.stream_error_event()))
                    await resp.write_eof()
                    return resp
            self.streams_finished_at.append(time.monotonic())  # before the end reaches the client
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp


def _request_id(serial: int) -> str:
    return f"req_mock{serial}"


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _json(obj: Any, serial: int, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json",
                        headers={"request-id": _request_id(serial), **(headers or {})})
