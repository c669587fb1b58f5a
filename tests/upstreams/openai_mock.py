"""MockOpenAI: a strict OpenAI-compatible upstream, a real aiohttp server on 127.0.0.1 in its own thread."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import openai_media
from tests.upstreams import openai_wire as wire
from tests.upstreams.openai_responses import ResponsesAPI, azure_path
from tests.upstreams.server import MockServer, reset_connection

MODES = ("ok", "500", "429", "401", "400", "timeout", "reset", "stream_cut", "stream_failed", "stream_error",
         *openai_media.MODES)
"""stream_failed and stream_error break a Responses API stream with `response.failed` or an `error` event."""

log = logging.getLogger("tests.upstreams.openai_mock")
_UNPARSABLE = object()
SERIAL = web.RequestKey("serial", int)

Handler = Callable[[web.Request, dict[str, Any], int, str], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    query: str = ""


class MockOpenAI(MockServer):
    """Behaviour is set by attributes (`mode`, `stream_delay`, …) and by one-shot `fail_next` modes."""

    NAME = "MockOpenAI"
    MODES = MODES

    def __init__(self, *, api_keys: Iterable[str] = ("sk-upstream-test",),
                 models: Iterable[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")) -> None:
        self.api_keys = frozenset(api_keys)
        self.models = list(models)
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.media = openai_media.MediaUpstream(self._lock)
        """The audio and image endpoints: their settings and the MediaRequest of every call to them."""
        self._serial = 0
        self.responses = ResponsesAPI(self)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()
        self.media.reset()
        self.mode = "ok"
        self.stream_delay = 0.0
        self.stream_at_once = False
        self.stream_first_delay = 0.0
        """Seconds before a stream's first event, after its head (a model thinking before its first token)."""
        """Send a stream's events and `[DONE]` in one write (as a fast upstream or a buffering proxy does)."""
        self.stream_chunks = 5
        self.reply_text: str | None = None
        self.hang_seconds = 30.0
        self.streams_finished_at: list[float] = []
        self.reasoning_models: tuple[str, ...] = ("o1*", "o3*", "o4*")
        self.system_refusing_models: tuple[str, ...] = ("o1-mini*",)
        self.no_stream_models: tuple[str, ...] = ()
        self.reasoning_tokens = 64
        self.finish_reason_override: str | None = None
        """Force the answer's finish_reason (e.g. "content_filter", as Azure's content filter ends an answer)."""
        self.responses.reset()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = _UNPARSABLE
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), raw,
                                                 None if parsed is _UNPARSABLE else parsed, request.query_string))
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
            return _json(err.body(), serial, status=err.status, headers=err.headers)
        except Exception as exc:
            log.exception("MockOpenAI failed on %s %s", request.method, request.path)
            return _json(wire.WireError(500, f"MockOpenAI bug: {exc!r}", type_="mock_bug").body(), serial, status=500)

    def _authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if request.path.startswith("/openai/"):
            # Azure OpenAI: an api-key header (its v1 API also takes the key as a bearer token) and, on deployment
            # URLs, an api-version query parameter
            key = request.headers.get("api-key", "") or (key if request.path.startswith("/openai/v1/") else "")
            if request.path.startswith("/openai/deployments/") and not request.query.get("api-version"):
                raise wire.WireError(404, "Resource not found", code="404")
        if not key:
            raise wire.WireError(401, "You didn't provide an API key. You need to provide your API key in an "
                                      "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                                 code="invalid_api_key")
        if key not in self.api_keys:
            shown = (key[:3] + "***" + key[-4:]) if len(key) > 8 else key + "***"
            raise wire.WireError(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                      "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def knows(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, m) for m in self.models)

    async def _route(self, request: web.Request, body: Any, serial: int, mode: str) -> web.StreamResponse:
        path, method = request.path, request.method
        deployment = None
        if path.startswith("/api/v1/"):  # OpenRouter serves OpenAI's API under /api/v1
            path = path.removeprefix("/api")
        if path == "/openai/models":  # Azure's model list (an api-version is required)
            if not request.query.get("api-version"):
                raise wire.WireError(404, "Resource not found", code="404")
            path = "/v1/models"
        elif path.startswith("/openai/deployments/"):
            deployment, _, rest = path.removeprefix("/openai/deployments/").partition("/")
            path = "/v1/" + rest
        else:
            path = azure_path(request) or path
        if self.responses.serves(path):
            return await self.responses.handle(request, path, body, serial, mode)
        if path in openai_media.PATHS:
            return await self.media.answer(request, path, deployment, serial, mode)
        if method == "GET" and path == "/v1/models":
            return _json({"object": "list", "data": [_model(m) for m in self.models]}, serial)
        if method == "GET" and path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name not in self.models:
                raise _model_not_found(name)
            return _json(_model(name), serial)
        handlers: dict[str, Handler] = {"/v1/chat/completions": self._chat, "/v1/completions": self._completions,
                                        "/v1/embeddings": self._embeddings}
        handler = handlers.get(path)
        if handler is None or method != "POST":
            raise wire.WireError(404, f"Invalid URL ({method} {path})", code="unknown_url")
        body = self.json_body(request, body)
        self.check_model(body, deployment)
        return await handler(request, body, serial, mode)

    def json_body(self, request: web.Request, body: Any) -> dict[str, Any]:
        """The request's JSON object, or OpenAI's refusal of a body that is not one."""
        if request.content_type != "application/json":
            raise wire.WireError(400, f"Invalid Content-Type header ({request.content_type or 'none'}), expected "
                                      "application/json.")
        if body is _UNPARSABLE:
            raise wire.WireError(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                                      "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                                      "payload, but what was sent was not valid JSON.)")
        if not isinstance(body, dict):
            raise wire.invalid_type("body", "an object", body)
        return body

    def check_model(self, body: dict[str, Any], deployment: str | None) -> None:
        model = body.get("model")
        if model is None:
            raise wire.missing("model")
        if not isinstance(model, str):
            raise wire.invalid_type("model", "a string", model)
        if not model:
            raise wire.WireError(400, "Invalid 'model': empty string. Expected a string with minimum length 1.",
                                 param="model", code="empty_string")
        if deployment is not None and model != deployment:
            raise wire.WireError(400, f"The model '{model}' does not match the deployment '{deployment}'.")
        if not self.knows(model):
            raise _model_not_found(model)

    async def _chat(self, request: web.Request, body: dict[str, Any], serial: int, mode: str) -> web.StreamResponse:
        wire.validate_chat(body)
        model = body["model"]
        if any(fnmatch.fnmatchcase(model, p) for p in self.reasoning_models):
            wire.validate_reasoning(
                body, refuses_system=any(fnmatch.fnmatchcase(model, p) for p in self.system_refusing_models),
                can_stream=not any(fnmatch.fnmatchcase(model, p) for p in self.no_stream_models))
        text, finish = wire.answer_text(body, self.reply_text)
        finish = self.finish_reason_override or finish
        call = wire.tool_call(body)
        prompt = wire.chat_prompt_tokens(body["messages"])
        completion = len((call["function"]["arguments"] if call else text).split())
        base = {"id": f"chatcmpl-mock{serial}", "object": "chat.completion", "created": wire.now(),
                "model": body["model"], "system_fingerprint": "fp_mock"}
        if body.get("stream"):
            return await self._stream_chat(request, body, base, text, finish, call, wire.usage(prompt, completion),
                                           mode)
        n = body.get("n") or 1
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if call is not None:
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
            finish = "tool_calls"
        logprobs = wire.logprobs_for(text, body.get("top_logprobs") or 0) if body.get("logprobs") and not call else None
        choices = [{"index": i, "message": message, "logprobs": logprobs, "finish_reason": finish} for i in range(n)]
        totals = wire.usage(prompt, completion * n)
        if any(fnmatch.fnmatchcase(body["model"], p) for p in self.reasoning_models):
            # reasoning models think before answering: those tokens are part of completion_tokens
            totals = {**wire.usage(prompt, completion * n + self.reasoning_tokens),
                      "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens}}
        return _json({**base, "choices": choices, "usage": totals}, serial)

    async def _stream_chat(self, request: web.Request, body: dict[str, Any], base: dict[str, Any], text: str,
                           finish: str, call: dict[str, Any] | None, totals: dict[str, int],
                           mode: str) -> web.StreamResponse:
        include_usage = _include_usage(body)
        extra: dict[str, Any] = {"usage": None} if include_usage else {}
        base = {**base, "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
                    **extra}

        events = [chunk({"role": "assistant", "content": ""})]
        if call is not None:
            args = call["function"]["arguments"]
            head = {"index": 0, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(chunk({"tool_calls": [head]}))
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            finish = "tool_calls"
        else:
            events += [chunk({"content": piece}) for piece in wire.split_pieces(text, self.stream_chunks)]
        events.append(chunk({}, finish))
        if include_usage:
            events.append({**base, "choices": [], "usage": totals})
        return await self._send_events(request, events, cut_after=3 if mode == "stream_cut" else None,
                                       error_after=3 if mode == "stream_error" else None)

    async def _completions(self, request: web.Request, body: dict[str, Any], serial: int,
                           mode: str) -> web.StreamResponse:
        wire.validate_completions(body)
        text, finish = wire.answer_text(body, self.reply_text)
        prompt = wire.completion_prompt_tokens(body["prompt"])
        base = {"id": f"cmpl-mock{serial}", "object": "text_completion", "created": wire.now(),
                "model": body["model"], "system_fingerprint": "fp_mock"}
        if not body.get("stream"):
            n = body.get("n") or 1
            choices = [{"index": i, "text": text, "logprobs": None, "finish_reason": finish} for i in range(n)]
            return _json({**base, "choices": choices, "usage": wire.usage(prompt, len(text.split()) * n)}, serial)
        extra: dict[str, Any] = {"usage": None} if _include_usage(body) else {}

        def chunk(piece: str, reason: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": reason}],
                    **extra}

        events = [chunk(piece) for piece in wire.split_pieces(text, self.stream_chunks)]
        events.append(chunk("", finish))
        if extra:
            events.append({**base, "choices": [], "usage": wire.usage(prompt, len(text.split()))})
        return await self._send_events(request, events, cut_after=2 if mode == "stream_cut" else None,
                                       error_after=2 if mode == "stream_error" else None)

    async def _embeddings(self, request: web.Request, body: dict[str, Any], serial: int,
                          mode: str) -> web.StreamResponse:
        wire.validate_embeddings(body)
        inputs = wire.embedding_inputs(body["input"])
        dims = body.get("dimensions") or 8
        fmt = body.get("encoding_format") or "float"
        tokens = wire.embedding_tokens(inputs)
        data = [{"object": "embedding", "index": i, "embedding": wire.embedding(i, dims, fmt)}
                for i in range(len(inputs))]
        return _json({"object": "list", "data": data, "model": body["model"],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, serial)

    async def _send_events(self, request: web.Request, events: list[dict[str, Any]],
                           cut_after: int | None, *, error_after: int | None = None) -> web.StreamResponse:
        """The events as SSE ending in `[DONE]`; `cut_after` drops the connection after that many events,
        `error_after` ends the stream there with an error event, as OpenAI ends a stream that failed."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "x-request-id": f"req_mock{request[SERIAL]}"})
        await resp.prepare(request)
        if self.stream_first_delay > 0:
            await asyncio.sleep(self.stream_first_delay)
        if self.stream_at_once and cut_after is None:
            self.streams_finished_at.append(time.monotonic())
            await resp.write_eof(b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n")
            return resp
        try:
            for i, event in enumerate(events):
                if i and self.stream_delay > 0:
                    await asyncio.sleep(self.stream_delay)
                await resp.write(b"data: " + orjson.dumps(event) + b"\n\n")
                if cut_after is not None and i + 1 >= cut_after:
                    return await reset_connection(request, resp)
                if error_after is not None and i + 1 >= error_after:
                    await resp.write_eof(b"data: " + orjson.dumps(wire.WireError(
                        500, "The server had an error while processing your request. Sorry about that!",
                        type_="server_error").body()) + b"\n\n")
                    return resp
            self.streams_finished_at.append(time.monotonic())  # before the end reaches the client
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "mock"}


def _model_not_found(name: str) -> wire.WireError:
    return wire.WireError(404, f"The model `{name}` does not exist or you do not have access to it.",
                          code="model_not_found")


def _json(obj: Any, serial: int, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json",
                        headers={"x-request-id": f"req_mock{serial}", **(headers or {})})
